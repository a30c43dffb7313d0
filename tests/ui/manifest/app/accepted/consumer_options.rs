//! Consumers and suppliers the manifest gives a token, with either option.
use maskinporten_actix::{require_consumer, require_scope};

#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", suppliers("991825827"))]
async fn listed() {}

// Open to all: any supplier is one Maskinporten may give a token.
#[require_consumer("974760673", suppliers("974761076"))]
#[require_scope("nav:helse:afp.open")]
async fn open() {}

#[require_consumer("991825827", refuse_delegated)]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn refused() {}

// Without a scope in sight: a consumer of some scope the manifest exposes.
#[require_consumer("991825827", suppliers("974760673"))]
async fn unscoped() {}

fn main() {
    let _ = (listed, open, refused, unscoped);
}

// Checked, not run (tests/ui.rs says why): the one error expected here.
compile_error!("checked against the manifest");

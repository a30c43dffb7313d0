//! The same templated manifest rendered with its variables file (JSON, as
//! NAIS deploy accepts): the templated scope and consumers are checked.
use maskinporten_actix::{exposed_scopes, require_consumer, require_scope};

#[require_scope("nav:helse:afp.extra")]
async fn extra() {}

#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", "974760673")]
async fn read() {}

const _: () = assert!(maskinporten_tests::same_scopes(
    exposed_scopes!(),
    &["nav:helse/sykepenger/afp.read", "nav:helse:afp.extra"]
));

fn main() {
    let _ = (extra, read);
}

// Checked, not run (tests/ui.rs says why): the one error expected here.
compile_error!("checked against the manifest");

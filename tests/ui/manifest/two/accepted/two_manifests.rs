//! One manifest per environment: a scope must be exposed in each, and a
//! consumer listed in one of them.
use maskinporten_actix::{exposed_scopes, orgnos, require_consumer, require_scope, RequireConsumer};

#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("974760673", "991825827")]
async fn read() {}

const _: () = assert!(maskinporten_tests::same_scopes(
    exposed_scopes!(),
    &["nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.test"]
));

fn main() {
    let _ = RequireConsumer::one_of(orgnos!["974760673"]);
    let _ = read;
}

// Checked, not run (tests/ui.rs says why): the one error expected here.
compile_error!("checked against the manifest");

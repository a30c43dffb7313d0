use maskinporten_actix::{require_scope, scopes, RequireScope};

#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read() {}

fn main() {
    let _ = RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]);
}

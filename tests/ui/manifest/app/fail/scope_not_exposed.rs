use maskinporten_actix::{require_scope, scopes, RequireScope};

#[require_scope("nav:helse/sykepenger/afp.raed")]
async fn typo() {}

#[require_scope("nav:arbeid/helt.annet")]
async fn elsewhere() {}

fn main() {
    let _ = RequireScope::any(scopes!["nav:helse:afp.writ", "nav:helse:afp.write"]);
}

use maskinporten_actix::{require_scope, scopes, RequireScope};

#[require_scope("nav:helse/sykepenger/afp.raed")]
async fn typo() {}

#[require_scope("nav:arbeid/helt.annet")]
async fn elsewhere() {}

// Another name of the product, not a typo of one: no suggestion.
#[require_scope("nav:helse/sykepenger/afp.admin")]
async fn admin() {}

fn main() {
    let _ = RequireScope::any(scopes!["nav:helse:afp.writ", "nav:helse:afp.write"]);
}

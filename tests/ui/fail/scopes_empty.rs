use maskinporten_actix::{scopes, RequireScope};

fn main() {
    let _ = RequireScope::any(scopes![]);
}

use maskinporten_actix::{scopes, RequireScope};

const READ: &str = "nav:helse/sykepenger/afp.read";

fn main() {
    let _ = RequireScope::all(scopes![READ, 42, any("nav:helse/sykepenger/afp.read")]);
}

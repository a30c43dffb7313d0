use maskinporten_actix::{scopes, RequireScope};

fn main() {
    let _ = RequireScope::all(scopes![
        "nav:helse/sykepenger/afp.read",
        "nav:test/a",
        "nav:helse/Sykepenger",
        "nav:helse/sykepenger/afp.read",
    ]);
}

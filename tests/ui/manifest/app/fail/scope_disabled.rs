use maskinporten_actix::require_scope;

#[require_scope("nav:helse:afp.old")]
async fn old() {}

fn main() {}

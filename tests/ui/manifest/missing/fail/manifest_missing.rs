use maskinporten_actix::require_scope;

#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read() {}

fn main() {}

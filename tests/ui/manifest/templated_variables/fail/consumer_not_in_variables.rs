use maskinporten_actix::{require_consumer, require_scope};

#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("974761076")]
async fn read() {}

fn main() {}

use maskinporten_actix::{require_consumer, require_scope};

// The suppliers of `suppliers(...)` are checked against the manifest like
// the consumers, whichever attribute expands first.
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", suppliers("974760673"))]
async fn scope_first() {}

#[require_consumer("991825827", suppliers("974761076"))]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn consumer_first() {}

fn main() {}

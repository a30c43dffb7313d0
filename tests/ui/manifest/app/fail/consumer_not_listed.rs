use maskinporten_actix::{require_consumer, require_scope};

// Scope above: it expands first and checks the consumers below it.
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", "974760673")]
async fn scope_first() {}

// Consumer above: it expands first and checks against the scope below it.
#[require_consumer("974761076")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse:afp.write")]
async fn consumer_first() {}

fn main() {}

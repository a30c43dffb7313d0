use maskinporten_actix::require_consumer;

// A misspelt option.
#[require_consumer("991825827", refuse_delegation)]
async fn misspelt() {}

// A function that is not an option.
#[require_consumer("991825827", supplier("974760673"))]
async fn singular() {}

// `refuse_delegated` takes nothing.
#[require_consumer("991825827", refuse_delegated("974760673"))]
async fn with_arguments() {}

fn main() {}

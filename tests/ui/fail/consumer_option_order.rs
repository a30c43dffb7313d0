use maskinporten_actix::require_consumer;

// The consumers come first.
#[require_consumer("991825827", refuse_delegated, "974760673")]
async fn literal_after_option() {}

// An option is not a consumer.
#[require_consumer(suppliers("974760673"))]
async fn options_only() {}

fn main() {}

use maskinporten_actix::require_consumer;

#[require_consumer("991825827", suppliers())]
async fn empty() {}

#[require_consumer("991825827", suppliers)]
async fn bare() {}

fn main() {}

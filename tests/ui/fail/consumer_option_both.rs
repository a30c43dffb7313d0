use maskinporten_actix::require_consumer;

#[require_consumer("991825827", refuse_delegated, suppliers("974760673"))]
async fn refused_first() {}

#[require_consumer("991825827", suppliers("974760673"), refuse_delegated)]
async fn suppliers_first() {}

fn main() {}

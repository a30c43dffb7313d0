use maskinporten_actix::require_consumer;

#[require_consumer("991825827", refuse_delegated, refuse_delegated)]
async fn refused_twice() {}

#[require_consumer("991825827", suppliers("974760673"), suppliers("889640782"))]
async fn suppliers_twice() {}

fn main() {}

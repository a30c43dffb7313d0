use maskinporten_actix::require_consumer;

const SUPPLIER: &str = "974760673";

// Each supplier is checked like a consumer, with the same messages.
#[require_consumer(
    "991825827",
    suppliers("123456789", "97476067", "974760673", "974760673", 974760673, SUPPLIER)
)]
async fn afp() {}

fn main() {}

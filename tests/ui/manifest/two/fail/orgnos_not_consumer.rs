use maskinporten_actix::{orgnos, require_consumer, RequireConsumer};

// No scope in sight (a route tree's, perhaps): each organisation must be a
// consumer of some scope one of the manifests exposes.
#[require_consumer("974760673", "974761076")]
async fn alone() {}

fn main() {
    let _ = RequireConsumer::one_of(orgnos!["991825827", "910000020"]);
}

use maskinporten_actix::require_scope;

// Exposed in dev only: in production no token would hold it.
#[require_scope("nav:helse/sykepenger/afp.test")]
async fn test_only() {}

fn main() {}

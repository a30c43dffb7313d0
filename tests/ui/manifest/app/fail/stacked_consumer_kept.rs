use maskinporten_actix::{require_consumer, require_scope};

// The scope is disabled in the manifest: that is the one message. The
// `#[require_consumer]` below still expands, so its import is used, as it
// must stay once the scope is fixed.
#[require_scope("nav:helse:afp.old")]
#[require_consumer("991825827")]
async fn old() {}

fn main() {}

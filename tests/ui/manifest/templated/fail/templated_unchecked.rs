use maskinporten_actix::{require_consumer, require_scope};

// Only a templated entry could expose it: not claimed missing, but unchecked.
#[require_scope("nav:helse:afp.extra")]
async fn extra() {}

// The consumers are an `{{#each}}` over variables the build does not have.
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827")]
async fn read() {}

fn main() {}

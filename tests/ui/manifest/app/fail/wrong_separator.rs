use maskinporten_actix::require_scope;

// The manifest does not say `separator: "/"`, and the name has no `/`: NAIS
// exposes `nav:helse:afp.write`.
#[require_scope("nav:helse/afp.write")]
async fn write() {}

fn main() {}

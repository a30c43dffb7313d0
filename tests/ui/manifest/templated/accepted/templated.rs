//! A templated manifest without its variables file: the scope written out
//! is checked, the templated ones around it do not break the build.
use maskinporten_actix::require_scope;

#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read() {}

fn main() {
    let _ = read;
}

// Checked, not run (tests/ui.rs says why): the one error expected here.
compile_error!("checked against the manifest");

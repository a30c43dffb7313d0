use maskinporten_actix::require_scope;

#[require_scope("nav:helse/sykepenger/afp.read")]
pub struct Afp {
    pub year: u32,
}

fn main() {
    let _ = Afp { year: 2024 };
}

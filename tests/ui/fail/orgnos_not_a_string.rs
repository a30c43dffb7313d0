use maskinporten_actix::{orgnos, RequireConsumer};

fn main() {
    let configured = String::from("991825827");
    let _ = RequireConsumer::one_of(orgnos![991825827, configured]);
}

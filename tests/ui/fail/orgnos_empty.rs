use maskinporten_actix::{orgnos, RequireConsumer};

fn main() {
    let _ = RequireConsumer::one_of(orgnos![]);
}

use maskinporten_actix::{orgnos, RequireConsumer};

fn main() {
    let _ = RequireConsumer::one_of(orgnos!["123456789", "99182582", "9918258270", "99182582x"]);
}

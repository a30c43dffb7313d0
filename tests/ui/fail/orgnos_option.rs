use maskinporten_actix::{orgnos, RequireConsumer};

fn main() {
    let _ = RequireConsumer::one_of(orgnos!["991825827", refuse_delegated]);
    let _ = RequireConsumer::one_of(orgnos!["991825827", suppliers("974760673")]);
}

// More arguments than actix-web extracts as one tuple (16): the macro nests
// them, so the guarded handler takes 18.
use actix_web::{get, HttpRequest, HttpResponse};
use maskinporten_actix::{require_scope, MaskinportenClaims};

#[get("/many")]
#[require_scope("nav:helse/many")]
#[allow(clippy::too_many_arguments)]
async fn many(
    claims: MaskinportenClaims,
    r1: HttpRequest,
    r2: HttpRequest,
    r3: HttpRequest,
    r4: HttpRequest,
    r5: HttpRequest,
    r6: HttpRequest,
    r7: HttpRequest,
    r8: HttpRequest,
    r9: HttpRequest,
    r10: HttpRequest,
    r11: HttpRequest,
    r12: HttpRequest,
    r13: HttpRequest,
    r14: HttpRequest,
    r15: HttpRequest,
    r16: HttpRequest,
    body: String,
) -> HttpResponse {
    let paths = [
        &r1, &r2, &r3, &r4, &r5, &r6, &r7, &r8, &r9, &r10, &r11, &r12, &r13, &r14, &r15, &r16,
    ]
    .map(|r| r.path().len())
    .iter()
    .sum::<usize>();
    HttpResponse::Ok().body(format!("{paths} {body} {}", claims.scope_claim()))
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(many);
}

//! Trust under composition, tried as an attacker would: two handles in one
//! app, in every nesting and registration form, with every guard form
//! between them. The handle registered nearest the handler decides; a
//! validation made by one handle never decides for another; and where
//! actix-web cannot tell which of two handles is nearer, the request is
//! refused rather than judged by the weaker one.

use actix_web::{web, HttpResponse};
use maskinporten_actix::{
    orgnos, scopes, testing::LocalTexas, Maskinporten, MaskinportenClaims, RequireConsumer,
    RequireScope,
};
use maskinporten_tests::{
    ask,
    handlers::{listed_consumer, read_afp, whoami},
    read_token, Answer, TestApi, LISTED, READ,
};
use serde_json::json;

const AUDIENCE: &str = "https://afp.nav.no";

/// The lenient handle: any token for this API.
fn lenient(texas: &LocalTexas) -> Maskinporten {
    maskinporten_tests::handle(texas)
}

/// The strict handle: only tokens restricted to [`AUDIENCE`].
fn strict(texas: &LocalTexas) -> Maskinporten {
    texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// How a handle is registered.
#[derive(Clone, Copy, Debug)]
enum Form {
    Plain,
    Data,
}

fn scope_with(path: &str, form: Form, handle: Maskinporten) -> actix_web::Scope {
    let scope = web::scope(path);
    match form {
        Form::Plain => scope.app_data(handle),
        Form::Data => scope.app_data(web::Data::new(handle)),
    }
}

fn app_data(cfg: &mut web::ServiceConfig, form: Form, handle: Maskinporten) {
    match form {
        Form::Plain => {
            cfg.app_data(handle);
        }
        Form::Data => {
            cfg.app_data(web::Data::new(handle));
        }
    }
}

/// An outer guard validated with the lenient App handle must not let a
/// request into an inner scope whose own handle refuses the token: every
/// guard form inside, every registration form of either handle.
#[actix_web::test]
async fn an_outer_guard_never_decides_for_an_inner_handle() {
    let texas = LocalTexas::start();
    let for_others = texas.token().scope(READ).consumer(LISTED).sign();
    let for_us = texas
        .token()
        .scope(READ)
        .consumer(LISTED)
        .claim("aud", json!(AUDIENCE))
        .sign();
    for outer in [Form::Plain, Form::Data] {
        for inner in [Form::Plain, Form::Data] {
            let (a, b) = (lenient(&texas), strict(&texas));
            let api = TestApi::start(None, move |cfg| {
                app_data(cfg, outer, a.clone());
                cfg.service(
                    web::scope("/outer")
                        .wrap(RequireConsumer::one_of(orgnos!["991825827"]))
                        .service(
                            scope_with("/inner", inner, b.clone())
                                .service(read_afp)
                                .service(listed_consumer)
                                .service(whoami)
                                .service(
                                    web::scope("/tree")
                                        .wrap(RequireScope::all(scopes![
                                            "nav:helse/sykepenger/afp.read"
                                        ]))
                                        .route("/leaf", web::get().to(HttpResponse::Ok)),
                                ),
                        ),
                );
            });
            let same_form = matches!(
                (outer, inner),
                (Form::Plain, Form::Plain) | (Form::Data, Form::Data)
            );
            for path in ["afp", "consumer", "whoami", "tree/leaf"] {
                let url = api.url(&format!("/outer/inner/{path}"));
                let Answer {
                    status: refused,
                    body,
                    ..
                } = ask(&url, Some(&for_others)).await;
                let allowed = ask(&url, Some(&for_us)).await.status;
                if same_form {
                    // The inner, strict handle decides.
                    assert_eq!(refused, 401, "{outer:?}/{inner:?} {path}: {body}");
                    assert_eq!(body["error"], "invalid_token", "{path}");
                    assert_eq!(allowed, 200, "{outer:?}/{inner:?} {path}");
                } else {
                    // Two different handles in two forms: actix-web cannot
                    // tell which is nearer, so neither decides.
                    assert_eq!(refused, 500, "{outer:?}/{inner:?} {path}: {body}");
                    assert_eq!(allowed, 500, "{outer:?}/{inner:?} {path}");
                }
            }
        }
    }
}

/// A scope's stricter handle registered as `web::Data` under an App with a
/// plain one (and the other way round) is never passed over for the App's:
/// the nearer handle's verdict, or a refusal.
#[actix_web::test]
async fn a_nearer_handle_is_never_passed_over_for_its_form() {
    let texas = LocalTexas::start();
    let for_others = texas.token().scope(READ).consumer(LISTED).sign();
    for (outer, inner) in [(Form::Plain, Form::Data), (Form::Data, Form::Plain)] {
        let (a, b) = (lenient(&texas), strict(&texas));
        let api = TestApi::start(None, move |cfg| {
            app_data(cfg, outer, a.clone());
            cfg.service(scope_with("/inner", inner, b.clone()).service(read_afp));
            cfg.service(web::scope("/outer").service(read_afp));
        });
        let inner_status = api.status("/inner/afp", &for_others).await;
        assert_ne!(inner_status, 200, "{outer:?}/{inner:?}");
        assert_eq!(inner_status, 500, "{outer:?}/{inner:?}");
        // Outside the scope only the App's handle is in sight.
        let outer_status = api.status("/outer/afp", &for_others).await;
        assert_eq!(outer_status, 200, "{outer:?}/{inner:?}");
    }
}

/// One handle registered in both forms is one handle: it decides.
#[actix_web::test]
async fn one_handle_in_both_forms_decides() {
    let texas = LocalTexas::start();
    let handle = strict(&texas);
    let api = TestApi::start(None, move |cfg| {
        cfg.app_data(handle.clone());
        cfg.service(scope_with("/inner", Form::Data, handle.clone()).service(read_afp));
    });
    let for_others = texas.token().scope(READ).consumer(LISTED).sign();
    let for_us = texas
        .token()
        .scope(READ)
        .claim("aud", json!(AUDIENCE))
        .sign();
    assert_eq!(api.status("/inner/afp", &for_others).await, 401);
    assert_eq!(api.status("/inner/afp", &for_us).await, 200);
}

/// A handle on a resource is nearer than the App's.
#[actix_web::test]
async fn a_resource_handle_decides_for_its_routes() {
    let texas = LocalTexas::start();
    for form in [Form::Plain, Form::Data] {
        let (a, b) = (lenient(&texas), strict(&texas));
        let api = TestApi::start(None, move |cfg| {
            app_data(cfg, form, a.clone());
            let resource = web::resource("/resource");
            let resource = match form {
                Form::Plain => resource.app_data(b.clone()),
                Form::Data => resource.app_data(web::Data::new(b.clone())),
            };
            cfg.service(resource.route(
                web::get().to(|_claims: MaskinportenClaims| async { HttpResponse::Ok().finish() }),
            ));
            cfg.service(whoami);
        });
        let for_others = read_token(&texas);
        assert_eq!(api.status("/resource", &for_others).await, 401, "{form:?}");
        assert_eq!(api.status("/whoami", &for_others).await, 200, "{form:?}");
    }
}

/// However the guards nest, a request is validated once per handle: the
/// App's middleware with handle A, and three guards of the inner scope with
/// handle B, cost one introspection each for a new token.
#[actix_web::test]
async fn a_request_is_validated_once_per_handle() {
    let texas = LocalTexas::start();
    let (a, b) = (maskinporten_tests::local_handle(&texas), strict(&texas));
    let api = TestApi::start(None, move |cfg| {
        cfg.app_data(a.clone());
        cfg.service(
            web::scope("/outer")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]))
                .service(
                    web::scope("/inner")
                        .app_data(b.clone())
                        .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                        .service(read_afp),
                ),
        );
    });
    let token = texas
        .token()
        .scope(READ)
        .consumer(LISTED)
        .claim("aud", json!(AUDIENCE))
        .sign();
    texas.reset_introspections();
    let fetches = texas.jwks_fetches();
    let code = api.status("/outer/inner/afp", &token).await;
    assert_eq!(code, 200);
    // B (introspection) once, for the inner middleware, the attribute and
    // the extractor together; A (local) validated without the sidecar.
    assert_eq!(texas.introspections(), 1);
    assert!(texas.jwks_fetches() <= fetches + 1);
}

/// Which handle a middleware consults: the one registered where it wraps or
/// above. actix-web runs a middleware before the data of a resource (or
/// scope) further in is in place, so an `App`-level `RequireScope` judges
/// with the `App`'s handle even for a resource that registers a stricter
/// one; where that resource's handler takes no extractor, the stricter
/// handle is never asked. Pinned, as the threat model documents it.
#[actix_web::test]
async fn a_middleware_consults_the_handle_where_it_wraps_not_a_resources() {
    let texas = LocalTexas::start();
    let outer = lenient(&texas);
    let inner = strict(&texas);
    // The App itself wrapped, as an application would write it.
    let api = TestApi::serve(1, move || {
        actix_web::App::new()
            .app_data(outer.clone())
            .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
            .service(
                web::resource("/no-extractor")
                    .app_data(inner.clone())
                    .route(web::get().to(HttpResponse::Ok)),
            )
            .service(web::resource("/extractor").app_data(inner.clone()).route(
                web::get().to(|_: MaskinportenClaims| async { HttpResponse::Ok().finish() }),
            ))
    });
    // A token the outer handle takes and the inner one refuses (no audience).
    let token = read_token(&texas);
    // The middleware judged with the outer handle; nothing asked the inner.
    assert_eq!(api.status("/no-extractor", &token).await, 200);
    // The extractor consults the handle nearest the handler: the inner one.
    assert_eq!(api.status("/extractor", &token).await, 401);
    // A token both take passes both.
    let restricted = texas
        .token()
        .scope(READ)
        .claim("aud", json!(AUDIENCE))
        .sign();
    for path in ["/no-extractor", "/extractor"] {
        assert_eq!(api.status(path, &restricted).await, 200, "{path}");
    }
}

/// A middleware on a scope or a resource sees a handle registered on that
/// same scope or resource.
#[actix_web::test]
async fn a_middleware_consults_a_handle_registered_where_it_wraps() {
    let texas = LocalTexas::start();
    let outer = lenient(&texas);
    let inner = strict(&texas);
    let api = TestApi::start(None, move |cfg| {
        cfg.app_data(outer.clone())
            .service(
                web::scope("/tree")
                    .app_data(inner.clone())
                    .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                    .route("/leaf", web::get().to(HttpResponse::Ok)),
            )
            .service(
                web::resource("/resource")
                    .app_data(inner.clone())
                    .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                    .route(web::get().to(HttpResponse::Ok)),
            );
    });
    let token = read_token(&texas);
    for path in ["/tree/leaf", "/resource"] {
        assert_eq!(api.status(path, &token).await, 401, "{path}");
    }
}

//! The HTML pages under `/accounts/` (Django's URL names and flow), with cookie sessions and
//! synchronizer CSRF tokens. Thin adapters over the same core as the JSON API.

mod authorize;
mod csrf;
mod form;
mod login;
mod middleware;
pub(crate) mod page;
mod password;
mod profile;
mod recovery;
mod register;
mod render;
mod session;
mod social;
mod words;

pub use render::PageTemplates;
pub use session::session_middleware;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};

use crate::config::Settings;

/// The `/accounts/` pages (with cookie sessions) and `/static/`.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &Settings) {
    cfg.service(
        web::scope("/accounts")
            .wrap(from_fn(middleware::page_middleware))
            // Identity sits inside the session layer: the session is loaded first.
            .wrap(actix_identity::IdentityMiddleware::default())
            .wrap(session_middleware(settings))
            .route("/login", web::get().to(login::login_form))
            .route("/login", throttled(web::post().to(login::login_submit)))
            // Logging out changes state, so it is POST only (as in Django 5).
            .service(
                web::resource("/logout")
                    .route(web::post().to(login::logout))
                    .default_service(allow("POST")),
            )
            .route("/profile", web::get().to(profile::profile))
            .route("/profile", web::post().to(profile::profile_submit))
            .route("/email", web::post().to(profile::email_submit))
            .route(
                "/email/confirm/{uid}/{token}",
                web::get().to(recovery::email_confirm_page),
            )
            .route(
                "/email/confirm/{uid}/{token}",
                throttled(web::post().to(recovery::email_confirm_submit)),
            )
            .route(
                "/sessions/end-others",
                web::post().to(profile::end_other_sessions),
            )
            .route(
                "/sessions/{handle}/end",
                web::post().to(profile::end_session),
            )
            .route(
                "/apps/{client_id}/revoke",
                web::post().to(profile::revoke_app),
            )
            .route("/social/{provider}/login", web::get().to(social::start))
            .route(
                "/social/{provider}/callback",
                web::get().to(social::callback),
            )
            .route(
                "/social/{provider}/link",
                web::post().to(social::link_start),
            )
            .route("/social/{provider}/unlink", web::post().to(social::unlink))
            .route("/register", web::get().to(register::register_form))
            .route(
                "/register",
                throttled(web::post().to(register::register_submit)),
            )
            .route(
                "/password_change",
                web::get().to(password::password_change_form),
            )
            .route(
                "/password_change",
                web::post().to(password::password_change_submit),
            )
            .route(
                "/password_change/done",
                web::get().to(password::password_change_done),
            )
            .route("/password_reset", web::get().to(recovery::reset_form))
            .route(
                "/password_reset",
                throttled(web::post().to(recovery::reset_submit)),
            )
            .route("/password_reset/done", web::get().to(recovery::reset_done))
            .route("/reset/done", web::get().to(recovery::reset_complete))
            .route("/reset/{uid}/{token}", web::get().to(recovery::reset_link))
            .route(
                "/reset/{uid}/set-password",
                throttled(web::post().to(recovery::set_password_submit)),
            )
            .route(
                "/activate/{uid}/{token}",
                web::get().to(recovery::activate_page),
            )
            .route(
                "/activate/{uid}/{token}",
                throttled(web::post().to(recovery::activate_submit)),
            )
            .configure(other_methods),
    )
    // The provider's browser endpoints live outside /accounts but are pages all the same.
    .service(
        web::resource("/oauth/authorize")
            .wrap(from_fn(middleware::page_middleware))
            .wrap(actix_identity::IdentityMiddleware::default())
            .wrap(session_middleware(settings))
            .route(web::get().to(authorize::authorize))
            .route(web::post().to(authorize::consent_submit))
            .default_service(allow("GET, POST")),
    )
    .service(
        web::resource("/oauth/logout")
            .wrap(from_fn(middleware::page_middleware))
            .wrap(actix_identity::IdentityMiddleware::default())
            .wrap(session_middleware(settings))
            .route(web::get().to(authorize::logout))
            .default_service(allow("GET")),
    )
    .route("/static/{path:.*}", web::get().to(static_file))
    .service(web::resource("/static/{path:.*}").default_service(allow("GET")));
}

/// Each page's other methods answer 405 with `Allow`, as Django's views do. The routes above
/// carry their method as a guard, so a request with another one falls through to these.
fn other_methods(cfg: &mut web::ServiceConfig) {
    for (path, methods) in [
        ("/login", "GET, POST"),
        ("/profile", "GET, POST"),
        ("/email", "POST"),
        ("/email/confirm/{uid}/{token}", "GET, POST"),
        ("/sessions/end-others", "POST"),
        ("/sessions/{handle}/end", "POST"),
        ("/apps/{client_id}/revoke", "POST"),
        ("/social/{provider}/login", "GET"),
        ("/social/{provider}/callback", "GET"),
        ("/social/{provider}/link", "POST"),
        ("/social/{provider}/unlink", "POST"),
        ("/register", "GET, POST"),
        ("/password_change", "GET, POST"),
        ("/password_change/done", "GET"),
        ("/password_reset", "GET, POST"),
        ("/password_reset/done", "GET"),
        ("/reset/done", "GET"),
        // Before `/reset/{uid}/{token}`, which would swallow it (GET works on both).
        ("/reset/{uid}/set-password", "GET, POST"),
        ("/reset/{uid}/{token}", "GET"),
        ("/activate/{uid}/{token}", "GET, POST"),
    ] {
        cfg.service(web::resource(path).default_service(allow(methods)));
    }
}

/// 405 with `Allow: <methods>`.
fn allow(methods: &'static str) -> actix_web::Route {
    web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header(("allow", methods))
            .finish()
    })
}

/// The per-IP token bucket of the JSON API, on every form that needs no login (they guess
/// passwords or links, create accounts or send mail). Its JSON 429 becomes the HTML "too many
/// attempts" page in `page_middleware`.
fn throttled(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(crate::web::ip_throttle))
}

/// The few static files, compiled in and served with a day of caching.
async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, content_type): (&'static [u8], &str) = match path.as_str() {
        "vendor/pico/pico.classless.min.css" => (
            include_bytes!("../../../static/vendor/pico/pico.classless.min.css"),
            "text/css; charset=utf-8",
        ),
        "css/latchkey.css" => (
            include_bytes!("../../../static/css/latchkey.css"),
            "text/css; charset=utf-8",
        ),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "public, max-age=86400"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

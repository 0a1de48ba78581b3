//! The JSON API (Djoser + SimpleJWT dialect, plus the ninja-jwt, FastAPI and dj-rest-auth routes) and
//! the DRF-shaped error mapping.

mod auth;
mod body;
mod compat;
mod error;
mod input;
mod jwt;
pub(crate) mod openapi;
mod restauth;
mod sessions;
mod social;
mod users;

pub use auth::BearerUser;
pub use error::ApiError;
pub use input::{Input, body_error};

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// Registers the JSON routes (paths without trailing slash; `NormalizePath` trims it).
pub fn routes(cfg: &mut web::ServiceConfig) {
    users::routes(cfg);
    jwt::routes(cfg);
    compat::routes(cfg);
    restauth::routes(cfg);
    social::routes(cfg);
    openapi::routes(cfg);
}

/// Puts a route behind the per-IP token bucket.
fn throttled(route: actix_web::Route) -> actix_web::Route {
    route.wrap(actix_web::middleware::from_fn(crate::web::ip_throttle))
}

/// Default service: unknown routes answer DRF's JSON 404.
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound(error::NOT_FOUND).error_response()
}

/// Default service of a resource: another method answers 405 with `Allow` listing `allow`
/// (RFC 9110 §15.5.6; DRF sends it too).
pub fn allow_only(allow: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        let mut response = ApiError::MethodNotAllowed(req.method().to_string()).error_response();
        response.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        response
    })
}

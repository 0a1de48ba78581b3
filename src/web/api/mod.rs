//! The JSON API (Djoser + SimpleJWT dialect) and the DRF-shaped error mapping.

mod error;
mod input;
mod users;

pub use error::ApiError;
pub use input::Input;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// Registers the JSON routes (paths without trailing slash; `NormalizePath` trims it).
pub fn routes(cfg: &mut web::ServiceConfig) {
    users::routes(cfg);
}

/// Default service: unknown routes answer DRF's JSON 404.
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}

/// Default service of a resource: a known path with the wrong method answers 405.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::MethodNotAllowed(req.method().to_string()).error_response()
}

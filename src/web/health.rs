use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::state::AppState;

/// `{"status": "ok" | "unavailable"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when the database does not answer.
    status: &'static str,
}

const OK: HealthResponse = HealthResponse { status: "ok" };

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/health", web::get().to(live)),
        ("/health/ready", web::get().to(ready)),
    ] {
        cfg.service(
            web::resource(path)
                .route(handler)
                .default_service(crate::web::api::allow_only("GET")),
        );
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    operation_id = "health_live",
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "OK", body = crate::web::health::HealthResponse),
    ),
)]
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(OK)
}

/// Readiness: the database answers within a second.
#[utoipa::path(
    operation_id = "health_ready",
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "OK", body = crate::web::health::HealthResponse),
        (status = 503, description = "Database unavailable", body = crate::web::health::HealthResponse),
    ),
)]
pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.db.is_ready(Duration::from_secs(1)).await {
        HttpResponse::Ok().json(OK)
    } else {
        tracing::warn!("readiness check failed: database unavailable");
        HttpResponse::ServiceUnavailable().json(HealthResponse {
            status: "unavailable",
        })
    }
}

//! HTTP adapters: they parse requests, call one core function and map its result.

pub mod api;
pub mod client;
pub(crate) mod health;
pub mod html;
pub mod jwks;
mod middleware;
pub mod oidc;

pub use middleware::{
    RequestSpan, body_deadline, catch_panics, ip_throttle, limit_body_size, request_id_header,
};

use actix_web::web;

/// DRF's message for text containing NUL characters (refused by both adapters at parsing:
/// PostgreSQL cannot store them).
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &crate::config::Settings) {
    health::routes(cfg);
    jwks::routes(cfg);
    oidc::routes(cfg);
    api::routes(cfg);
    html::routes(cfg, settings);
}

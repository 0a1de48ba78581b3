//! HTTP adapters: they parse requests, call one core function and map its result.

pub mod api;
pub(crate) mod health;
pub mod html;
mod middleware;

pub use middleware::{
    RequestSpan, body_deadline, catch_panics, ip_throttle, limit_body_size, request_id_header,
};

use actix_web::web;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &crate::config::Settings) {
    health::routes(cfg);
    api::routes(cfg);
    html::routes(cfg, settings);
}

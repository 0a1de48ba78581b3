use std::panic::AssertUnwindSafe;

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use super::api::{ApiError, client_ip};
use crate::state::AppState;
use crate::throttle::whole_seconds;

/// Answers 413 from the `Content-Length` header alone, before any handler reads the body;
/// chunked bodies are capped by the extractors' limits.
pub async fn limit_body_size<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(64 * 1024, |state| state.settings.max_body_bytes);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        let response = ApiError::PayloadTooLarge(limit).error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Turns a panic in a handler into the generic 500 body (with the panic logged) instead of a
/// dropped connection. It answers with an error rather than a response because no clone of the
/// request may be held while routing runs (actix needs it uniquely owned).
pub async fn catch_panics<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(ApiError::Unexpected(anyhow::anyhow!("handler panicked: {message}")).into())
        }
    }
}

/// Echoes the request id (the one in every log line of the request) as `X-Request-Id`.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Per-IP token bucket for the endpoints that guess passwords or mint tokens: 429 with
/// `Retry-After` when the bucket is empty.
pub async fn ip_throttle<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let verdict = match (
        req.app_data::<web::Data<AppState>>(),
        client_ip(req.request()),
    ) {
        (Some(state), Some(ip)) => state.ip_limiter.check(ip, state.clock.now()),
        _ => Ok(()),
    };
    if let Err(wait) = verdict {
        let response = ApiError::Throttled(whole_seconds(wait)).error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

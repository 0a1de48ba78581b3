use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use futures_util::Stream;

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use super::api::ApiError;
use super::client::client_ip;
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
        .map_or(64 * 1024, |state| state.settings.server.max_body_bytes);
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

/// Cuts off a request body that arrives too slowly: reading it fails after `body_read_timeout`
/// (the extractors answer 408), so a client trickling bytes cannot hold a worker and a
/// connection for ever. (Headers have actix's own timeout.)
pub async fn body_deadline<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(10, |state| state.settings.server.body_read_timeout);
    let payload = req.take_payload();
    let limited = Deadline {
        inner: payload,
        sleep: Box::pin(tokio::time::sleep(Duration::from_secs(timeout))),
        expired: false,
    };
    let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> = Box::pin(limited);
    req.set_payload(Payload::from(stream));
    next.call(req).await
}

/// A payload stream that fails with `TimedOut` once its deadline passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            let timed_out =
                std::io::Error::new(std::io::ErrorKind::TimedOut, "request body too slow");
            return Poll::Ready(Some(Err(PayloadError::Io(timed_out))));
        }
        Poll::Pending
    }
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

/// Per-IP token bucket for the endpoints that guess passwords, links or tokens, create accounts
/// or send mail: 429 with `Retry-After` when the bucket is empty (shared by every process on
/// PostgreSQL).
pub async fn ip_throttle<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if let Some(refusal) = ip_refusal(&req).await {
        let response = refusal.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Why the client's bucket refuses this request, if it does (empty, or unreachable).
async fn ip_refusal(req: &ServiceRequest) -> Option<ApiError> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let ip = client_ip(req.request())?;
    match state
        .ip_limiter
        .take_from(&state.db, ip, state.clock.now())
        .await
    {
        Ok(Ok(())) => None,
        Ok(Err(wait)) => Some(ApiError::Throttled(whole_seconds(wait))),
        Err(e) if e.is_unavailable() => Some(ApiError::Unavailable),
        Err(e) => Some(ApiError::Unexpected(e.into())),
    }
}

/// The root span of every request: method, route pattern (never the raw path, which may carry
/// a one-time token), the client address as [`client_ip`] decides it (the socket's, or the
/// configured trusted proxy header's; never an unchecked `X-Forwarded-For`), user agent,
/// request id, and on the way out the status and any error.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        // Routing has not run yet, and NormalizePath trims the trailing slash only later.
        let route = request
            .match_pattern()
            .or_else(|| {
                let trimmed = request.path().trim_end_matches('/');
                request.request().resource_map().match_pattern(trimmed)
            })
            .unwrap_or_else(|| "unmatched".to_owned());
        let client = client_ip(request.request()).map(|ip| ip.to_string());
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect::<String>());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.client_ip = client.as_deref().unwrap_or(""),
            http.user_agent = user_agent.as_deref().unwrap_or(""),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

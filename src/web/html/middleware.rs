//! Around every page: the HTML page for an error status that arrives without one (an unknown
//! page, a handler's [`HtmlError`](super::page::HtmlError), the per-IP limit's JSON 429, an
//! unreadable form), then the security headers.

use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use tera::Context;

use super::page::{request_id, wait_text};
use super::{PageTemplates, csrf};
use crate::accounts::User;
use crate::state::AppState;

/// Friendly HTML for errors that arrive as bare or JSON bodies, then the security headers.
pub async fn page_middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let private_url = is_private(req.path());
    let res = next.call(req).await?;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let mut res = if !is_html && has_page(res.status()) {
        with_error_page(res).map_into_right_body()
    } else {
        res.map_into_left_body()
    };
    let hsts = res
        .request()
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.settings.sessions.secure_cookies);
    security_headers(res.headers_mut(), private_url, hsts);
    Ok(res)
}

/// The HTML page of the response's status in place of its body. The page replaces the error
/// response, so a client's fault is logged here (the server's own were logged where they
/// happened).
fn with_error_page<B>(res: ServiceResponse<B>) -> ServiceResponse {
    let status = res.status();
    if let Some(error) = res.response().error()
        && status.is_client_error()
    {
        tracing::warn!(%status, %error, "answered with the HTML error page");
    }
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let page = friendly_error(res.request(), status, retry_after.as_ref());
    res.into_response(page)
}

/// Pages whose URL carries a one-time token (they must never leak it in a Referer).
fn is_private(path: &str) -> bool {
    [
        "/accounts/reset/",
        "/accounts/activate/",
        "/accounts/email/confirm/",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

fn has_page(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::TOO_MANY_REQUESTS
    )
}

fn security_headers(headers: &mut header::HeaderMap, private_url: bool, hsts: bool) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let referrer = if private_url {
        "no-referrer"
    } else {
        "same-origin"
    };
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// The HTML page for an error status, with the request id.
fn friendly_error(
    req: &HttpRequest,
    status: StatusCode,
    retry_after: Option<&HeaderValue>,
) -> HttpResponse {
    let (Some(state), Some(templates)) = (
        req.app_data::<web::Data<AppState>>(),
        req.app_data::<web::Data<PageTemplates>>(),
    ) else {
        return HttpResponse::build(status).finish();
    };
    let mut context = Context::new();
    context.insert("site_name", &state.settings.mail.site_name);
    context.insert("user", &None::<User>);
    context.insert("messages", &Vec::<String>::new());
    context.insert("csrf_token", "");
    context.insert("request_id", &request_id(req));
    let name = match status {
        StatusCode::NOT_FOUND => "errors/404.html",
        StatusCode::SERVICE_UNAVAILABLE => "errors/503.html",
        // A failed CSRF check: a new token, so the form works once the page is reloaded.
        StatusCode::FORBIDDEN => {
            context.insert("csrf_token", &csrf::rotate(&req.get_session()));
            "errors/403_csrf.html"
        }
        StatusCode::BAD_REQUEST | StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE => {
            let message = match status {
                StatusCode::REQUEST_TIMEOUT => "The form was not received in time.",
                StatusCode::PAYLOAD_TOO_LARGE => "The form is too large.",
                _ => "The form could not be read: it may contain characters that are not allowed.",
            };
            context.insert("message", message);
            "errors/400.html"
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let seconds = retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(60);
            context.insert("wait", &wait_text(seconds));
            "accounts/throttled.html"
        }
        _ => "errors/500.html",
    };
    let mut response = templates.page(status, name, &context);
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, value.clone());
    }
    response
}

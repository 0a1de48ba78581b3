use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, USER_AGENT};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::ApiError;
use crate::domain::ClientMeta;
use crate::state::AppState;
use crate::tokens::service::{self, Authenticated};

/// What the `Authorization` header holds.
pub enum BearerHeader {
    /// No header, an empty one, or a scheme other than Bearer/JWT.
    Missing,
    /// `Bearer` with no token, or with more than one value.
    Malformed,
    /// A token to check.
    Token(String),
}

/// Reads `Authorization: Bearer <token>` (scheme in any case; `JWT` accepted, as djoser's docs
/// advise front ends to send).
pub fn bearer_header(req: &HttpRequest) -> BearerHeader {
    let Some(value) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return BearerHeader::Missing;
    };
    let mut parts = value.split_whitespace();
    let Some(scheme) = parts.next() else {
        return BearerHeader::Missing;
    };
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("jwt") {
        return BearerHeader::Missing;
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => BearerHeader::Token(token.to_owned()),
        _ => BearerHeader::Malformed,
    }
}

/// DRF's authentication step, before any view of Djoser's runs: no `Authorization` header
/// (or another scheme) lets the request through anonymous; a present but bad one answers 401
/// with SimpleJWT's bodies, on open endpoints too; a good one is kept for [`BearerUser`].
pub async fn drf_authentication<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let header = bearer_header(req.request());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let verdict = match (header, state) {
        (BearerHeader::Missing, _) | (_, None) => Ok(None),
        (BearerHeader::Malformed, _) => Err(malformed_header()),
        (BearerHeader::Token(token), Some(state)) => service::authenticate_access(&state, &token)
            .await
            .map(Some)
            .map_err(ApiError::from_bearer),
    };
    match verdict {
        Ok(authenticated) => {
            if let Some(authenticated) = authenticated {
                req.extensions_mut().insert(authenticated);
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

fn malformed_header() -> ApiError {
    ApiError::Unauthorized {
        detail: "Authorization header must contain two space-delimited values".into(),
        code: Some("bad_authorization_header"),
    }
}

/// A request authenticated by a bearer access token (SimpleJWT's 401 bodies otherwise).
pub struct BearerUser(pub Authenticated);

impl FromRequest for BearerUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already authenticated by `drf_authentication`: no second lookup (and no copy).
        let done = req.extensions_mut().remove::<Authenticated>();
        let header = bearer_header(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            if let Some(authenticated) = done {
                return Ok(BearerUser(authenticated));
            }
            let state =
                state.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no app state")))?;
            match header {
                BearerHeader::Missing => Err(ApiError::not_authenticated()),
                BearerHeader::Malformed => Err(malformed_header()),
                BearerHeader::Token(token) => service::authenticate_access(&state, &token)
                    .await
                    .map(BearerUser)
                    .map_err(ApiError::from_bearer),
            }
        })
    }
}

/// The client's address: from the trusted proxy's header when one is configured (for
/// `X-Forwarded-For`, the right-most entry, the one that proxy added), else from the socket.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let state = req.app_data::<web::Data<AppState>>();
    let from_proxy = state
        .and_then(|s| s.settings.trusted_proxy_header.as_deref())
        .and_then(|name| req.headers().get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    from_proxy.or_else(|| req.peer_addr().map(|a| a.ip()))
}

/// The client's address and user agent (truncated), for sessions and audit.
pub fn client_meta(req: &HttpRequest) -> ClientMeta {
    ClientMeta {
        ip: client_ip(req).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    }
}

//! What both adapters read off a request: the client's address and user agent (for sessions,
//! audit, throttling and logs) and the bearer token of the `Authorization` header.

use std::net::IpAddr;

use actix_web::http::header::{AUTHORIZATION, USER_AGENT};
use actix_web::{HttpRequest, web};

use crate::domain::ClientMeta;
use crate::state::AppState;

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

/// The client's address: from the trusted proxy's header when one is configured (for
/// `X-Forwarded-For`, the right-most entry, the one that proxy added), else from the socket.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let state = req.app_data::<web::Data<AppState>>();
    let from_proxy = state
        .and_then(|s| s.settings.server.trusted_proxy_header.as_deref())
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

//! Synchronizer CSRF tokens: a random token in the (encrypted) session, echoed in a hidden
//! field of every form, compared in constant time on every POST, plus an `Origin` check.

use actix_session::Session;
use actix_web::HttpRequest;
use actix_web::http::header::ORIGIN;

use crate::domain::base64url_encode;

const KEY: &str = "csrf";

fn fresh() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64url_encode(&bytes)
}

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    match session.get::<String>(KEY) {
        Ok(Some(token)) => token,
        _ => rotate(session),
    }
}

/// A new token (at login and logout, so a token seen before authentication is useless after).
pub fn rotate(session: &Session) -> String {
    let token = fresh();
    if let Err(e) = session.insert(KEY, &token) {
        tracing::error!(error = %e, "cannot store the CSRF token in the session");
    }
    token
}

/// True when the submitted token matches the session's and the request's `Origin` (when the
/// browser sends one) is this site. `Origin: null` is what browsers send from a page with
/// `Referrer-Policy: no-referrer` (the reset and activation pages), so it is let through to the
/// token check, which alone decides then.
pub fn verify(req: &HttpRequest, session: &Session, submitted: Option<&str>) -> bool {
    if let Some(origin) = req
        .headers()
        .get(ORIGIN)
        .filter(|o| o.as_bytes() != b"null")
    {
        let info = req.connection_info();
        let expected = format!("{}://{}", info.scheme(), info.host());
        if origin.as_bytes() != expected.as_bytes() {
            return false;
        }
    }
    match (session.get::<String>(KEY), submitted) {
        (Ok(Some(stored)), Some(given)) => constant_time_eq(stored.as_bytes(), given.as_bytes()),
        _ => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

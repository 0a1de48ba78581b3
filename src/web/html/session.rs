use actix_session::SessionMiddleware;
use actix_session::config::PersistentSession;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite, time};
use sha2::{Digest, Sha512};

use crate::config::Settings;

/// The session cookie's name: with secure cookies the `__Host-` prefix makes browsers insist on
/// `Secure`, `Path=/` and no `Domain`, so no subdomain can plant or read it.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.sessions.secure_cookies {
        "__Host-latchkey_session"
    } else {
        "latchkey_session"
    }
}

/// Encrypted cookie sessions keyed by a key derived from the server secret (a different key
/// from the JWT one). The cookie holds the session row's id and the CSRF token; every request
/// checks the row, so ending a session ends the cookie's use at once.
pub fn session_middleware(settings: &Settings) -> SessionMiddleware<CookieSessionStore> {
    let digest = Sha512::new()
        .chain_update(b"latchkey:cookie-key:")
        .chain_update(settings.tokens.secret_key.expose().as_bytes())
        .finalize();
    // 64 bytes from SHA-512: exactly what `Key` needs, so this cannot fail; the fallback only
    // keeps the code free of panics.
    let key = Key::try_from(&digest[..]).unwrap_or_else(|_| Key::generate());
    let idle = i64::try_from(settings.sessions.session_idle_timeout).unwrap_or(i64::MAX / 2);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(cookie_name(settings).to_owned())
        .cookie_secure(settings.sessions.secure_cookies)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .session_lifecycle(PersistentSession::default().session_ttl(time::Duration::seconds(idle)))
        .build()
}

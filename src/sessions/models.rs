use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{refresh_tokens, sessions};
use crate::domain::ClientMeta;

/// Where a session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser with a session cookie.
    Browser,
    /// An API client with JWTs.
    Api,
    /// A grant to an OpenID client (stored as an `api` session that names its client).
    OAuth,
}

impl SessionKind {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Api => "api",
            Self::OAuth => "oauth",
        }
    }
}

/// One login: a browser cookie or a refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    /// 128-bit random id (hex).
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// "browser" or "api".
    pub kind: String,
    /// Login time.
    pub created_at: NaiveDateTime,
    /// Last activity seen.
    pub last_seen_at: NaiveDateTime,
    /// When it lapses without activity (the newest refresh token's expiry for API sessions).
    pub expires_at: NaiveDateTime,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Set when ended (logout, password change, reuse detection, operator).
    pub revoked_at: Option<NaiveDateTime>,
    /// A FastAPI-style session: `/users/session/` renews its access token while it lives, even
    /// past the token's expiry (idle timeout and absolute lifetime as for browser sessions).
    pub renewable: bool,
    /// The OpenID client of a grant.
    pub client_id: Option<String>,
    /// The scope granted to that client.
    pub scope: Option<String>,
    /// When the person last entered their password for the grant (the ID token's `auth_time`).
    pub auth_time: Option<NaiveDateTime>,
}

/// Where, when and until when a session is being opened: what a login knows before it knows
/// whose session it is.
#[derive(Debug, Clone)]
pub struct Opening {
    /// The client at login.
    pub meta: ClientMeta,
    /// Login time.
    pub now: NaiveDateTime,
    /// When the session lapses.
    pub expires_at: NaiveDateTime,
}

impl Opening {
    /// A new live session of `kind` for `user_id`.
    pub fn session(&self, user_id: i64, kind: SessionKind) -> Session {
        Session::open(user_id, kind, &self.meta, self.now, self.expires_at)
    }
}

impl Session {
    /// A new live session of `user_id`, opened now from the client described by `meta`.
    pub fn open(
        user_id: i64,
        kind: SessionKind,
        meta: &ClientMeta,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Self {
        let mut id = [0u8; 16];
        rand::fill(&mut id);
        Self {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            user_id,
            // Grants are stored as `api` sessions (see `kind`).
            kind: match kind {
                SessionKind::Browser => SessionKind::Browser.as_str().to_owned(),
                SessionKind::Api | SessionKind::OAuth => SessionKind::Api.as_str().to_owned(),
            },
            created_at: now,
            last_seen_at: now,
            expires_at,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            revoked_at: None,
            renewable: false,
            client_id: None,
            scope: None,
            auth_time: None,
        }
    }

    /// What the session is: a grant when it names a client, else its stored kind.
    pub fn kind(&self) -> SessionKind {
        if self.client_id.is_some() {
            SessionKind::OAuth
        } else if self.kind == SessionKind::Browser.as_str() {
            SessionKind::Browser
        } else {
            SessionKind::Api
        }
    }

    /// A public handle for the session, for pages and lists: the id itself (a bearer secret for
    /// a browser session) never leaves the server.
    pub fn handle(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"latchkey:session-handle:")
            .chain_update(self.id.as_bytes())
            .finalize();
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// A refresh token issued (only its claims' facts: the JWT itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    /// The JWT's `jti`.
    pub jti: String,
    /// The session (family) it belongs to.
    pub session_id: String,
    /// Owner.
    pub user_id: i64,
    /// The token it was rotated from.
    pub parent_jti: Option<String>,
    /// `iat`.
    pub issued_at: NaiveDateTime,
    /// `exp`.
    pub expires_at: NaiveDateTime,
    /// When it was rotated (presented to `jwt/refresh` successfully).
    pub used_at: Option<NaiveDateTime>,
    /// When it stopped being accepted.
    pub blacklisted_at: Option<NaiveDateTime>,
}

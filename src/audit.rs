//! Security-relevant events, written in the same transaction as what they record.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::audit_events;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A successful password login.
    LoginSucceeded,
    /// A failed login (unknown user, wrong password or inactive account).
    LoginFailed,
    /// A wrong current password given by a signed-in user (set_password, set_email, deletion).
    PasswordCheckFailed,
    /// A new account.
    UserCreated,
    /// A password was set or changed.
    PasswordChanged,
    /// A change of address was asked for (a link went to the new address).
    EmailChangeRequested,
    /// The address changed (its link was used).
    EmailChanged,
    /// An account was activated: by an operator, or by its activation link (the detail says).
    UserActivated,
    /// An operator deactivated an account.
    UserDeactivated,
    /// An account was deleted.
    UserDeleted,
    /// Sessions were revoked.
    SessionsRevoked,
    /// A password-reset mail was queued.
    PasswordResetRequested,
    /// A password was reset through a mailed link.
    PasswordReset,
    /// An account reached the failed-login limit and was locked.
    AccountLocked,
    /// An operator unlocked an account.
    AccountUnlocked,
    /// A rotated refresh token was presented after the grace window: its session was revoked.
    RefreshReuseDetected,
    /// A person allowed an OpenID client to see their account (the detail names the client).
    ConsentGranted,
    /// A person withdrew a client's consent (its grants ended).
    ConsentRevoked,
    /// An OpenID client was given tokens for an authorization code (the detail names it).
    ClientAuthorized,
    /// An authorization code was presented twice: the grant it bought was revoked.
    CodeReplayed,
    /// An identity at an upstream provider was linked to the account (the detail names it).
    IdentityLinked,
    /// An identity at an upstream provider was unlinked from the account (the detail names it).
    IdentityUnlinked,
    /// Users were imported from Django (the detail has the counts).
    DjangoImport,
}

impl AuditKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::PasswordCheckFailed => "password_check_failed",
            Self::UserCreated => "user_created",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::UserActivated => "user_activated",
            Self::UserDeactivated => "user_deactivated",
            Self::UserDeleted => "user_deleted",
            Self::SessionsRevoked => "sessions_revoked",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::AccountLocked => "account_locked",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::AccountUnlocked => "account_unlocked",
            Self::ConsentGranted => "consent_granted",
            Self::ConsentRevoked => "consent_revoked",
            Self::ClientAuthorized => "client_authorized",
            Self::CodeReplayed => "code_replayed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::DjangoImport => "django_import",
        }
    }
}

/// Appends one event. `detail` must never contain a secret.
pub fn record(
    conn: &mut DbConn,
    kind: AuditKind,
    user_id: Option<i64>,
    ip: Option<&str>,
    detail: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::kind.eq(kind.as_str()),
            audit_events::user_id.eq(user_id),
            audit_events::ip.eq(ip),
            audit_events::detail.eq(detail),
            audit_events::at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

use crate::db::DbError;
use crate::domain::PasswordProblem;
use crate::mail::MailError;

/// Outcomes of the accounts use cases other than success. Each variant is a meaning; the
/// adapters choose the words (Djoser's field errors in the API, Django's form messages on the
/// pages, one line in the CLI). The `Display` texts are for logs.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// No username was given and the address cannot serve as one.
    #[error("a username is required")]
    UsernameRequired,
    /// A username shaped like an email address that is not the account's own address: it could
    /// squat someone else's address.
    #[error("the username is another email address")]
    UsernameIsAnotherEmail,
    /// The username, the address, or both already belong to an account.
    #[error("taken: username {username}, email {email}")]
    Taken {
        /// The username is in use.
        username: bool,
        /// The address is in use (case-insensitively).
        email: bool,
    },
    /// The new password breaks the policy; the problems in the policy's order.
    #[error("weak password: {0:?}")]
    WeakPassword(Vec<PasswordProblem>),
    /// The new password and its retype differ.
    #[error("the two passwords differ")]
    PasswordMismatch,
    /// A user acting on an account must give their current password, and gave none.
    #[error("the current password is required")]
    CurrentPasswordRequired,
    /// The current password is wrong (a locked account's password is always wrong).
    #[error("wrong current password")]
    WrongCurrentPassword,
    /// Setting a first password, for an account that has one (it is changed with the old one).
    #[error("the account has a password already")]
    PasswordAlreadySet,
    /// A mailed link (uid and token) is malformed, unknown, used up or expired.
    #[error("invalid link")]
    InvalidLink,
    /// A profile update tried to change the address, which needs the password and a link.
    #[error("the address is read-only here")]
    EmailReadOnly,
    /// An activation link for an account that does not wait for one (already active, or
    /// deactivated by an operator).
    #[error("the account does not wait for activation")]
    NotAwaitingActivation,
    /// Activation mail is switched off.
    #[error("activation is not enabled")]
    ActivationDisabled,
    /// Unknown user, wrong password or inactive account: deliberately one answer for all three.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed password checks: try again after this many seconds.
    #[error("throttled for {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The actor may not do this to that user (checked before whether the user exists, so a
    /// refusal reveals nothing).
    #[error("forbidden")]
    Forbidden,
    /// The database could not be reached, or the hashing queue is full: try again shortly.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else: a bug or an outage. The cause chain is logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AccountsError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %crate::telemetry::error_chain(&e), "database unavailable");
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for AccountsError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<super::HashError> for AccountsError {
    fn from(e: super::HashError) -> Self {
        match e {
            super::HashError::QueueFull => Self::Unavailable,
            super::HashError::AccountBusy => Self::Throttled { retry_after: 1 },
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<MailError> for AccountsError {
    fn from(e: MailError) -> Self {
        Self::Unexpected(anyhow::Error::new(e))
    }
}

//! What the account use cases are given: the parts of the application they use, nothing more.

use std::ops::Deref;
use std::sync::Arc;

use super::Hasher;
use crate::config::Settings;
use crate::domain::PasswordPolicy;
use crate::mail::MailTemplates;
use crate::sessions::SessionContext;

/// The account use cases' view of the application: the session context (database, clock,
/// session lifetimes) plus hashing, the password policy, the mail templates and the outbox's
/// wake-up. No token codec, no mail transport, no HTTP. Cheap to clone: every part is shared.
#[derive(Debug, Clone)]
pub struct AccountsContext {
    /// Database, clock and session lifetimes (the account use cases end sessions too).
    pub sessions: SessionContext,
    /// Bounded password hashing.
    pub hasher: Hasher,
    /// Password rules for new passwords.
    pub policy: Arc<PasswordPolicy>,
    /// The mail templates (mail is rendered and queued in the use case's transaction).
    pub templates: Arc<MailTemplates>,
    /// Wakes the outbox worker when mail is queued.
    pub mail_queued: Arc<tokio::sync::Notify>,
    /// The settings the use cases read (accounts, mail, throttle).
    pub settings: Arc<Settings>,
}

// The account use cases call the session use cases with their own context: each layer's
// context is the one below it plus what the layer adds.
impl Deref for AccountsContext {
    type Target = SessionContext;

    fn deref(&self) -> &SessionContext {
        &self.sessions
    }
}

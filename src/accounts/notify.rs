//! The mail the accounts use cases send. Every mail is rendered and written to the outbox inside
//! the transaction of the change it reports, so a change is never made without its mail, nor a
//! mail sent for a change that rolled back.

use serde::Serialize;

use super::AccountsContext;
use super::onetime::Purpose;
use super::{AccountsError, User};
use crate::db::DbConn;
use crate::domain::encode_uid;
use crate::mail::{MailKind, cooldown, outbox};

#[derive(Serialize)]
struct UserContext<'a> {
    id: i64,
    username: &'a str,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
}

/// Djoser's mail context: `site_name`, `domain`, `protocol`, `user`, and for links `url`,
/// `uid`, `token` (the link is `{protocol}://{domain}/{url}`).
#[derive(Serialize)]
struct MailContext<'a> {
    site_name: &'a str,
    domain: &'a str,
    protocol: &'a str,
    user: UserContext<'a>,
    url: String,
    uid: String,
    token: &'a str,
    expires_in: String,
    new_email: &'a str,
}

/// A one-time link to put in a mail.
pub(super) struct Link<'a> {
    /// What the link does.
    pub purpose: Purpose,
    /// The token in plaintext.
    pub token: &'a str,
}

/// One mail to queue: what, to whom, about which user.
pub(super) struct Notice<'a> {
    /// Which template.
    pub kind: MailKind,
    /// The recipient (the user's address, or the new one for an address change).
    pub to: &'a str,
    /// The account the mail is about.
    pub user: &'a User,
    /// The link it carries, if any.
    pub link: Option<Link<'a>>,
    /// The new address, for the address-change mails.
    pub new_email: &'a str,
}

impl<'a> Notice<'a> {
    /// A mail of `kind` to the user's own address, without a link.
    pub fn to_user(kind: MailKind, user: &'a User) -> Self {
        Self {
            kind,
            to: &user.email,
            user,
            link: None,
            new_email: "",
        }
    }
}

pub(super) fn human_duration(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The front-end link for `link` (the configured template, else this server's own page) and
/// how long it lasts, in words.
fn link_url(state: &AccountsContext, link: &Link<'_>, uid: &str) -> (String, String) {
    let mail = &state.settings.mail;
    let (template, own, lifetime) = match link.purpose {
        Purpose::PasswordReset => (
            mail.password_reset_confirm_url.as_deref(),
            "accounts/reset/{uid}/{token}/",
            mail.password_reset_timeout,
        ),
        Purpose::Activation => (
            mail.activation_url.as_deref(),
            "accounts/activate/{uid}/{token}/",
            mail.activation_timeout,
        ),
        Purpose::EmailChange => (
            mail.email_change_confirm_url.as_deref(),
            "accounts/email/confirm/{uid}/{token}/",
            mail.email_change_timeout,
        ),
    };
    // A template may start with a slash or not: the link is `{protocol}://{domain}/{url}`.
    let url = template
        .map_or(own, |t| t.trim_start_matches('/'))
        .replace("{uid}", uid)
        .replace("{token}", link.token);
    (url, human_duration(lifetime))
}

/// Renders `notice` and queues it (inside the caller's transaction).
pub(super) fn queue(
    conn: &mut DbConn,
    state: &AccountsContext,
    notice: Notice<'_>,
) -> Result<(), AccountsError> {
    // An account imported from Django without an address has nowhere to be written to.
    if notice.to.is_empty() {
        return Ok(());
    }
    let mail = &state.settings.mail;
    let user = notice.user;
    let uid = encode_uid(user.id);
    let (url, expires_in) = notice
        .link
        .as_ref()
        .map_or_else(Default::default, |link| link_url(state, link, &uid));
    let context = MailContext {
        site_name: &mail.site_name,
        domain: &mail.frontend_domain,
        protocol: mail.frontend_protocol,
        user: UserContext {
            id: user.id,
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        },
        url,
        uid,
        token: notice.link.as_ref().map_or("", |l| l.token),
        expires_in,
        new_email: notice.new_email,
    };
    let rendered = state.templates.render(notice.kind, &context)?;
    outbox::enqueue(
        conn,
        &mail.default_from_email,
        notice.to,
        &rendered,
        state.clock.now_naive(),
    )?;
    Ok(())
}

/// Issues an activation token and queues its mail.
pub(super) fn queue_activation(
    conn: &mut DbConn,
    state: &AccountsContext,
    user: &User,
) -> Result<(), AccountsError> {
    let now = state.clock.now_naive();
    let lifetime = seconds(state.settings.mail.activation_timeout);
    let token = super::onetime::issue(conn, user.id, Purpose::Activation, now, lifetime)?;
    let link = Link {
        purpose: Purpose::Activation,
        token: &token,
    };
    queue(
        conn,
        state,
        Notice {
            link: Some(link),
            ..Notice::to_user(MailKind::Activation, user)
        },
    )
}

/// Tells the owner of an address that someone tried to register with it (enumeration
/// protection), at most once per cooldown; returns whether a mail was queued.
pub(super) fn queue_registration_attempt(
    conn: &mut DbConn,
    state: &AccountsContext,
    owner: &User,
) -> Result<bool, AccountsError> {
    let now = state.clock.now_naive();
    let period = seconds(state.settings.mail.mail_cooldown);
    let key = cooldown::key("registration_attempt", &owner.email_lookup);
    if !cooldown::try_start(conn, &key, now, period)? {
        return Ok(false);
    }
    queue(
        conn,
        state,
        Notice::to_user(MailKind::RegistrationAttempt, owner),
    )?;
    Ok(true)
}

/// Wakes the outbox worker after a commit that queued mail.
pub(super) fn wake_worker(state: &AccountsContext, queued: bool) {
    if queued {
        state.mail_queued.notify_one();
    }
}

/// A setting in seconds as a duration (saturating: settings are validated to be sane).
pub(super) fn seconds(n: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(259_200), "3 days");
        assert_eq!(human_duration(90), "90 seconds");
        assert_eq!(human_duration(120), "2 minutes");
    }
}

//! The flows that send mail: password reset, activation, notices. Every mail is rendered and
//! written to the outbox inside the transaction of the change it reports, so a change is never
//! made without its mail, nor a mail sent for a change that rolled back.

use chrono::Duration;
use serde::Serialize;

use super::onetime::{self, Purpose};
use super::ops;
use super::service::{PASSWORD_MISMATCH, password_errors};
use super::{AccountsError, User};
use crate::audit::{self, AuditKind};
use crate::db::DbConn;
use crate::db::write_transaction;
use crate::domain::{Email, FieldErrors, NewPassword, UserAttributes, decode_uid, encode_uid};
use crate::mail::{MailError, MailKind, cooldown, outbox};
use crate::sessions::ops as session_ops;
use crate::state::AppState;
use crate::throttle;

/// Djoser's message for a bad, used or expired token.
pub const INVALID_TOKEN: &str = "Invalid token for given user.";

impl From<MailError> for AccountsError {
    fn from(e: MailError) -> Self {
        Self::Unexpected(anyhow::Error::new(e))
    }
}

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
pub(crate) struct Link<'a> {
    purpose: Purpose,
    token: &'a str,
}

fn human_duration(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Renders a mail for `user` and queues it to `to` (inside the caller's transaction).
pub(crate) fn queue_mail(
    conn: &mut DbConn,
    state: &AppState,
    kind: MailKind,
    to: &str,
    user: &User,
    link: Option<Link<'_>>,
    new_email: &str,
) -> Result<(), AccountsError> {
    let mail = &state.settings.mail;
    let uid = encode_uid(user.id);
    let (url, expires) = match &link {
        Some(Link { purpose, token }) => {
            let (template, own, lifetime) = match purpose {
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
            let url = template
                .unwrap_or(own)
                .replace("{uid}", &uid)
                .replace("{token}", token);
            (url, human_duration(lifetime))
        }
        None => (String::new(), String::new()),
    };
    let context = MailContext {
        site_name: &mail.site_name,
        domain: &mail.frontend_domain,
        protocol: &mail.frontend_protocol,
        user: UserContext {
            id: user.id,
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        },
        url,
        uid,
        token: link.as_ref().map_or("", |l| l.token),
        expires_in: expires,
        new_email,
    };
    let rendered = state.templates.render(kind, &context)?;
    outbox::enqueue(
        conn,
        &mail.default_from_email,
        to,
        &rendered,
        state.clock.now_naive(),
    )?;
    Ok(())
}

/// Issues an activation token and queues its mail.
pub(crate) fn queue_activation(
    conn: &mut DbConn,
    state: &AppState,
    user: &User,
) -> Result<(), AccountsError> {
    let now = state.clock.now_naive();
    let lifetime = seconds(state.settings.mail.activation_timeout);
    let token = onetime::issue(conn, user.id, Purpose::Activation, now, lifetime)?;
    let link = Link {
        purpose: Purpose::Activation,
        token: &token,
    };
    queue_mail(
        conn,
        state,
        MailKind::Activation,
        &user.email,
        user,
        Some(link),
        "",
    )
}

fn seconds(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// Stores a new password hash and everything that must go with it, inside the caller's
/// transaction: every reset or activation link of the user dies, every session and refresh
/// family except `keep` ends, the failed-login backoff and lock lift, the change is audited, and
/// the "password changed" notice is queued when enabled (returns whether it was).
pub(crate) fn apply_new_password(
    conn: &mut DbConn,
    state: &AppState,
    user: &User,
    hash: &str,
    keep: Option<&str>,
    kind: AuditKind,
) -> Result<bool, AccountsError> {
    let now = state.clock.now_naive();
    ops::set_password_hash(conn, user.id, hash)?;
    onetime::revoke_all(conn, user.id, now)?;
    session_ops::revoke_user_sessions(conn, user.id, keep, now)?;
    throttle::clear(conn, &throttle::user_key(user.id))?;
    audit::record(conn, kind, Some(user.id), None, None, now)?;
    let notice = state.settings.mail.password_changed_email_confirmation;
    if notice {
        queue_mail(
            conn,
            state,
            MailKind::PasswordChanged,
            &user.email,
            user,
            None,
            "",
        )?;
    }
    Ok(notice)
}

/// Wakes the outbox worker after a commit that queued mail.
pub(crate) fn mail_queued(state: &AppState) {
    state.mail_queued.notify_one();
}

fn field_error(field: &str, message: &str) -> AccountsError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    AccountsError::Validation(errors)
}

/// `users/reset_password/`: the same answer, after the same work, whether or not the address
/// has an account. An active user with a usable password gets a reset link, at most one per
/// `mail_cooldown`; the cooldown is recorded for unknown addresses too.
pub async fn request_password_reset(state: &AppState, email: &Email) -> Result<(), AccountsError> {
    let now = state.clock.now_naive();
    let lookup = email.lookup_key().to_owned();
    let period = seconds(state.settings.mail.mail_cooldown);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let state = &worker_state;
                let fresh = cooldown::try_start(
                    conn,
                    &cooldown::key("password_reset", &lookup),
                    now,
                    period,
                )?;
                let user = ops::find_by_email(conn, &lookup)?
                    .filter(|u| u.is_active && u.has_usable_password());
                let Some(user) = user.filter(|_| fresh) else {
                    return Ok(false);
                };
                let lifetime = seconds(state.settings.mail.password_reset_timeout);
                let token = onetime::issue(conn, user.id, Purpose::PasswordReset, now, lifetime)?;
                let link = Link {
                    purpose: Purpose::PasswordReset,
                    token: &token,
                };
                queue_mail(
                    conn,
                    state,
                    MailKind::PasswordReset,
                    &user.email,
                    &user,
                    Some(link),
                    "",
                )?;
                audit::record(
                    conn,
                    AuditKind::PasswordResetRequested,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                Ok(true)
            })
        })
        .await?;
    if queued {
        mail_queued(state);
    }
    Ok(())
}

/// The user a `uid` names. A bad or unknown uid answers exactly as a bad token does (Djoser
/// answers "Invalid user id" instead, which tells anyone which user ids exist).
async fn user_for_uid(state: &AppState, uid: &str) -> Result<User, AccountsError> {
    let Some(id) = decode_uid(uid) else {
        return Err(field_error("token", INVALID_TOKEN));
    };
    state
        .db
        .run(move |conn| ops::find_by_id(conn, id).map_err(AccountsError::from))
        .await?
        .ok_or_else(|| field_error("token", INVALID_TOKEN))
}

async fn token_is_valid(
    state: &AppState,
    user_id: i64,
    purpose: Purpose,
    token: &str,
) -> Result<bool, AccountsError> {
    let now = state.clock.now_naive();
    let token = token.to_owned();
    state
        .db
        .run(move |conn| {
            onetime::is_valid(conn, user_id, purpose, &token, now).map_err(AccountsError::from)
        })
        .await
}

/// `users/reset_password_confirm/`: the policy, the retype, then uid and token, then the
/// similarity to the user's details (Djoser's order, plus Django's similarity check). Success
/// consumes the token, kills the user's other tokens, ends every session and refresh family,
/// lifts the failed-login lock, and queues the "password changed" notice.
pub async fn confirm_password_reset(
    state: &AppState,
    uid: &str,
    token: &str,
    new_password: String,
    retype: Option<&str>,
) -> Result<(), AccountsError> {
    // Djoser checks the password before the link (its serializer validates the password with
    // no user at hand, then the uid, then the token): the policy, then the retype...
    NewPassword::parse(
        new_password.clone(),
        &state.policy,
        &UserAttributes::default(),
    )
    .map_err(|problems| password_errors("new_password", &problems))?;
    if retype.is_some_and(|r| r != new_password) {
        return Err(field_error("non_field_errors", PASSWORD_MISMATCH));
    }
    // ...then the link...
    let user = user_for_uid(state, uid).await?;
    if !token_is_valid(state, user.id, Purpose::PasswordReset, token).await? {
        return Err(field_error("token", INVALID_TOKEN));
    }
    // ...and, once the user is known, the similarity to their details (as Django's own form).
    let attributes = UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    };
    let password = NewPassword::parse(new_password, &state.policy, &attributes)
        .map_err(|problems| password_errors("new_password", &problems))?;
    let hash = state.hasher.hash(&password).await?;
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                // Two confirmations racing: the compare-and-swap lets exactly one through.
                if !onetime::consume(conn, user.id, Purpose::PasswordReset, &token, now)? {
                    return Err(field_error("token", INVALID_TOKEN));
                }
                apply_new_password(
                    conn,
                    &worker_state,
                    &user,
                    &hash,
                    None,
                    AuditKind::PasswordReset,
                )
            })
        })
        .await?;
    if queued {
        mail_queued(state);
    }
    Ok(())
}

/// `users/activation/`: a valid unused token activates an account that waits for it (and, when
/// enabled, queues the "account created" mail). An account that does not wait answers
/// `StaleToken`: an active one, and one an operator deactivated (a link must never undo that).
pub async fn activate(state: &AppState, uid: &str, token: &str) -> Result<(), AccountsError> {
    let user = user_for_uid(state, uid).await?;
    if !token_is_valid(state, user.id, Purpose::Activation, token).await? {
        return Err(field_error("token", INVALID_TOKEN));
    }
    if !user.activation_pending {
        return Err(AccountsError::StaleToken);
    }
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let worker_state = state.clone();
    let confirm = state.settings.mail.send_confirmation_email;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                if !onetime::consume(conn, user.id, Purpose::Activation, &token, now)? {
                    return Err(field_error("token", INVALID_TOKEN));
                }
                // An operator may have deactivated the account since it was read.
                if !ops::activate_pending(conn, user.id)? {
                    return Err(AccountsError::StaleToken);
                }
                audit::record(
                    conn,
                    AuditKind::UserActivated,
                    Some(user.id),
                    None,
                    Some("activation link"),
                    now,
                )?;
                if confirm {
                    queue_mail(
                        conn,
                        &worker_state,
                        MailKind::Confirmation,
                        &user.email,
                        &user,
                        None,
                        "",
                    )?;
                }
                Ok(())
            })
        })
        .await?;
    if confirm {
        mail_queued(state);
    }
    Ok(())
}

/// `users/resend_activation/`: a new activation mail for an inactive account with a usable
/// password, within the cooldown; the same answer whatever the address.
pub async fn resend_activation(state: &AppState, email: &Email) -> Result<(), AccountsError> {
    if !state.settings.mail.send_activation_email {
        return Err(AccountsError::ActivationDisabled);
    }
    let now = state.clock.now_naive();
    let lookup = email.lookup_key().to_owned();
    let period = seconds(state.settings.mail.mail_cooldown);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let fresh =
                    cooldown::try_start(conn, &cooldown::key("activation", &lookup), now, period)?;
                let user = ops::find_by_email(conn, &lookup)?
                    .filter(|u| u.activation_pending && u.has_usable_password());
                match user.filter(|_| fresh) {
                    Some(user) => {
                        queue_activation(conn, &worker_state, &user)?;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })
        })
        .await?;
    if queued {
        mail_queued(state);
    }
    Ok(())
}

/// Tells the owner of an address that someone tried to register with it (enumeration
/// protection), at most once per cooldown.
pub(crate) fn queue_registration_attempt(
    conn: &mut DbConn,
    state: &AppState,
    owner: &User,
) -> Result<bool, AccountsError> {
    let now = state.clock.now_naive();
    let period = seconds(state.settings.mail.mail_cooldown);
    if !cooldown::try_start(
        conn,
        &cooldown::key("registration_attempt", &owner.email_lookup),
        now,
        period,
    )? {
        return Ok(false);
    }
    queue_mail(
        conn,
        state,
        MailKind::RegistrationAttempt,
        &owner.email,
        owner,
        None,
        "",
    )?;
    Ok(true)
}

/// Djoser's message for a taken address.
const EMAIL_TAKEN: &str = super::service::EMAIL_TAKEN;

/// `users/set_email/` and the account page: after the current password (checked first, under
/// the account's backoff, so a wrong one reveals nothing else), a one-time link goes to the
/// new address; the address changes only when that link is used ([`confirm_email_change`]).
/// A taken address is reported, unless `prevent_enumeration` is on: then the answer is the same
/// as for a free one and no link is sent. `keep` is the asking session, which survives the change.
pub async fn request_email_change(
    state: &AppState,
    user: &User,
    current_password: &str,
    new_email: Email,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    if !super::service::check_current_password(state, user, current_password).await? {
        return Err(field_error(
            "current_password",
            super::service::INVALID_PASSWORD,
        ));
    }
    let now = state.clock.now_naive();
    let user = user.clone();
    let conceal = state.settings.mail.prevent_enumeration;
    let lifetime = seconds(state.settings.mail.email_change_timeout);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                if new_email.lookup_key() == user.email_lookup {
                    // The same mailbox: at most the spelling changes, which needs no proof.
                    ops::set_email(conn, user.id, &new_email)?;
                    return Ok(false);
                }
                if ops::email_used_by_other(conn, new_email.lookup_key(), user.id)? {
                    return if conceal {
                        Ok(false)
                    } else {
                        Err(field_error("new_email", EMAIL_TAKEN))
                    };
                }
                let pending = onetime::PendingEmail {
                    new_email: new_email.as_str().to_owned(),
                    session_id: keep,
                };
                let token = onetime::issue_email_change(conn, user.id, &pending, now, lifetime)?;
                let link = Link {
                    purpose: Purpose::EmailChange,
                    token: &token,
                };
                queue_mail(
                    conn,
                    &worker_state,
                    MailKind::EmailChange,
                    new_email.as_str(),
                    &user,
                    Some(link),
                    new_email.as_str(),
                )?;
                audit::record(
                    conn,
                    AuditKind::EmailChangeRequested,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                Ok(true)
            })
        })
        .await?;
    if queued {
        mail_queued(state);
    }
    Ok(())
}

/// The link mailed to a new address: the address changes (if still free), every other link of
/// the user dies (a reset link sent to the old address must not outlive it), every session but
/// the one that asked ends, and the old address is told when that notice is on.
pub async fn confirm_email_change(
    state: &AppState,
    uid: &str,
    token: &str,
) -> Result<User, AccountsError> {
    let user = user_for_uid(state, uid).await?;
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let notice = state.settings.mail.email_changed_email_confirmation;
    let worker_state = state.clone();
    let changed = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<User, AccountsError> {
                let pending = onetime::consume_email_change(conn, user.id, &token, now)?
                    .ok_or_else(|| field_error("token", INVALID_TOKEN))?;
                let email = Email::parse(&pending.new_email)
                    .map_err(|_| field_error("token", INVALID_TOKEN))?;
                if ops::email_used_by_other(conn, email.lookup_key(), user.id)? {
                    return Err(field_error("new_email", EMAIL_TAKEN));
                }
                ops::set_email(conn, user.id, &email)?;
                onetime::revoke_all(conn, user.id, now)?;
                session_ops::revoke_user_sessions(
                    conn,
                    user.id,
                    pending.session_id.as_deref(),
                    now,
                )?;
                audit::record(
                    conn,
                    AuditKind::EmailChanged,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                if notice {
                    queue_mail(
                        conn,
                        &worker_state,
                        MailKind::EmailChanged,
                        &user.email,
                        &user,
                        None,
                        email.as_str(),
                    )?;
                }
                ops::find_by_id(conn, user.id)?.ok_or(AccountsError::NotFound)
            })
        })
        .await?;
    if notice {
        mail_queued(state);
    }
    Ok(changed)
}

/// True when `uid`/`token` name an unused, unexpired link of that purpose (the link is not
/// used up: the pages check it on GET and consume it on POST).
pub async fn link_is_valid(
    state: &AppState,
    uid: &str,
    token: &str,
    purpose: Purpose,
) -> Result<bool, AccountsError> {
    let Some(id) = decode_uid(uid) else {
        return Ok(false);
    };
    token_is_valid(state, id, purpose, token).await
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

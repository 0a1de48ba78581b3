//! The mailed links (uid and one-time token) and the activation flow that uses them.

use chrono::NaiveDateTime;

use super::AccountsContext;
use super::django_links::{django_token_valid, django_uid_candidates};
use super::notify::{self, Notice};
use super::onetime::{self, Purpose};
use super::{AccountsError, User, ops};
use crate::audit::{self, AuditKind};
use crate::db::{DbConn, write_transaction};
use crate::domain::{Email, decode_uid};
use crate::mail::{MailKind, cooldown};

/// The user of a link whose token is valid for `purpose` (not used up: that happens in the
/// transaction of the change). A malformed or unknown uid is `InvalidLink`, exactly as a bad
/// token is (Djoser answers "Invalid user id" instead, which tells anyone which ids exist).
pub(super) async fn user_with_link(
    state: &AccountsContext,
    uid: &str,
    token: &str,
    purpose: Purpose,
) -> Result<User, AccountsError> {
    let now = state.clock.now_naive();
    // Latchkey's own uids are base64 of the id; Django's links may be base 36 (allauth).
    let found = match decode_uid(uid) {
        Some(id) => {
            let token = token.to_owned();
            state
                .db
                .run(move |conn| -> Result<Option<User>, AccountsError> {
                    let Some(user) = ops::find_by_id(conn, id)? else {
                        return Ok(None);
                    };
                    let valid = onetime::is_valid(conn, user.id, purpose, &token, now)?;
                    Ok(valid.then_some(user))
                })
                .await?
        }
        None => None,
    };
    match found {
        Some(user) => Ok(user),
        None => django_link_user(state, uid, token, purpose)
            .await?
            .ok_or(AccountsError::InvalidLink),
    }
}

/// The user of a link Django mailed before the switch (while `django_secret_key` is set): a
/// password-reset or activation token of Django's `PasswordResetTokenGenerator`, for the
/// account as it is now.
async fn django_link_user(
    state: &AccountsContext,
    uid: &str,
    token: &str,
    purpose: Purpose,
) -> Result<Option<User>, AccountsError> {
    let django = &state.settings.django;
    let Some(secret) = django.secret_key.clone() else {
        return Ok(None);
    };
    if !matches!(purpose, Purpose::PasswordReset | Purpose::Activation) {
        return Ok(None);
    }
    let (ids, timeout) = (django_uid_candidates(uid), django.password_reset_timeout);
    let (token, now) = (token.to_owned(), state.clock.now_naive());
    state
        .db
        .run(move |conn| -> Result<Option<User>, AccountsError> {
            for id in ids {
                if let Some(user) = ops::find_by_id(conn, id)?
                    && django_token_valid(&secret, timeout, &user, &token, now)
                {
                    return Ok(Some(user));
                }
            }
            Ok(None)
        })
        .await
}

/// Uses a link up inside the transaction of the change it allows: Latchkey's one-time token,
/// or a token Django mailed, checked again against the user's locked row (the change that
/// follows, a new password or the activation, makes it unusable, so it works once).
pub(super) fn consume_link(
    conn: &mut DbConn,
    state: &AccountsContext,
    user_id: i64,
    purpose: Purpose,
    token: &str,
    now: NaiveDateTime,
) -> Result<bool, AccountsError> {
    if onetime::consume(conn, user_id, purpose, token, now)? {
        return Ok(true);
    }
    let django = &state.settings.django;
    let Some(secret) = django.secret_key.as_deref() else {
        return Ok(false);
    };
    let Some(user) = ops::find_by_id_for_update(conn, user_id)? else {
        return Ok(false);
    };
    Ok(django_token_valid(
        secret,
        django.password_reset_timeout,
        &user,
        token,
        now,
    ))
}

/// `Ok` when `uid`/`token` name an unused, unexpired link of that purpose, else `InvalidLink`.
/// Nothing is used up: the pages check a link on GET and use it on POST (mail scanners open
/// links).
pub async fn check_link(
    state: &AccountsContext,
    uid: &str,
    token: &str,
    purpose: Purpose,
) -> Result<(), AccountsError> {
    user_with_link(state, uid, token, purpose).await.map(drop)
}

/// `users/activation/`: a valid unused token activates an account that waits for it (and, when
/// enabled, queues the "account created" mail). An account that does not wait answers
/// `NotAwaitingActivation`: an active one, and one an operator deactivated (a link must never
/// undo that).
pub async fn activate(
    state: &AccountsContext,
    uid: &str,
    token: &str,
) -> Result<(), AccountsError> {
    let user = user_with_link(state, uid, token, Purpose::Activation).await?;
    if !user.activation_pending {
        return Err(AccountsError::NotAwaitingActivation);
    }
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let worker_state = state.clone();
    let confirm = state.settings.mail.send_confirmation_email;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                if !consume_link(
                    conn,
                    &worker_state,
                    user.id,
                    Purpose::Activation,
                    &token,
                    now,
                )? {
                    return Err(AccountsError::InvalidLink);
                }
                // An operator may have deactivated the account since it was read.
                if !ops::activate_pending(conn, user.id)? {
                    return Err(AccountsError::NotAwaitingActivation);
                }
                let detail = Some("activation link");
                audit::record(
                    conn,
                    AuditKind::UserActivated,
                    Some(user.id),
                    None,
                    detail,
                    now,
                )?;
                if confirm {
                    let notice = Notice::to_user(MailKind::Confirmation, &user);
                    notify::queue(conn, &worker_state, notice)?;
                }
                Ok(())
            })
        })
        .await?;
    notify::wake_worker(state, confirm);
    Ok(())
}

/// `users/resend_activation/`: a new activation mail for an account that waits for one and has
/// a usable password, within the cooldown; the same answer whatever the address.
pub async fn resend_activation(
    state: &AccountsContext,
    email: &Email,
) -> Result<(), AccountsError> {
    if !state.settings.mail.send_activation_email {
        return Err(AccountsError::ActivationDisabled);
    }
    let now = state.clock.now_naive();
    let lookup = email.lookup_key().to_owned();
    let period = notify::seconds(state.settings.mail.mail_cooldown);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let key = cooldown::key("activation", &lookup);
                let fresh = cooldown::try_start(conn, &key, now, period)?;
                let user = ops::find_by_email(conn, &lookup)?
                    .filter(|u| u.activation_pending && u.has_usable_password());
                match user.filter(|_| fresh) {
                    Some(user) => {
                        notify::queue_activation(conn, &worker_state, &user)?;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })
        })
        .await?;
    notify::wake_worker(state, queued);
    Ok(())
}

//! Setting a password: changing it while signed in, an operator setting it, and the reset by a
//! mailed link. The new-password rules (the policy, then the retype) are here once.

use super::AccountsContext;
use super::credentials::{CheckedPassword, require_current_password};
use super::notify::{self, Link, Notice};
use super::onetime::{self, Purpose};
use super::{AccountsError, Actor, User, links, ops};
use crate::audit::{self, AuditKind};
use crate::db::{DbConn, write_transaction};
use crate::domain::{Email, NewPassword, PasswordProblem, UserAttributes};
use crate::mail::{MailKind, cooldown};
use crate::sessions::ops as session_ops;
use crate::throttle;

/// `PasswordMismatch` when a retype was given and differs from the password.
pub fn check_retype(password: &str, retype: Option<&str>) -> Result<(), AccountsError> {
    match retype {
        Some(retype) if retype != password => Err(AccountsError::PasswordMismatch),
        _ => Ok(()),
    }
}

/// The user's own details that a password must not resemble.
pub fn attributes_of(user: &User) -> UserAttributes<'_> {
    UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    }
}

/// Every rule a candidate password breaks for `who` (the CLI offers to bypass them).
pub fn password_problems(
    state: &AccountsContext,
    password: &str,
    who: &UserAttributes<'_>,
) -> Vec<PasswordProblem> {
    state.policy.problems(password, who)
}

/// A new password that passes the policy for `who` (`WeakPassword`), then matches its retype
/// when one was given (`PasswordMismatch`): Djoser's order.
pub fn accept_new_password(
    state: &AccountsContext,
    password: String,
    retype: Option<&str>,
    who: &UserAttributes<'_>,
) -> Result<NewPassword, AccountsError> {
    let retyped = check_retype(&password, retype);
    let accepted =
        NewPassword::parse(password, &state.policy, who).map_err(AccountsError::WeakPassword)?;
    retyped.map(|()| accepted)
}

/// Stores a new password hash and everything that must go with it, inside the caller's
/// transaction: every reset or activation link of the user dies, every session and refresh
/// family except `keep` ends, the failed-login backoff and lock lift, the change is audited, and
/// the "password changed" notice is queued when enabled (returns whether it was).
fn apply_new_password(
    conn: &mut DbConn,
    state: &AccountsContext,
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
        notify::queue(
            conn,
            state,
            Notice::to_user(MailKind::PasswordChanged, user),
        )?;
    }
    Ok(notice)
}

/// What must still hold when a new password is stored (checked under the row's lock, in the
/// transaction that stores it).
enum Precondition {
    /// Nothing: the operator needs no proof.
    None,
    /// The account still has no usable password (a first password).
    NoPassword,
    /// The account still has the password its owner just gave as the current one (a reset in
    /// between wins: its owner's old password no longer proves anything).
    Current(CheckedPassword),
}

/// Hashes `password` and applies it to `user_id` (see [`apply_new_password`]) if `precondition`
/// still holds.
async fn store_password(
    state: &AccountsContext,
    user_id: i64,
    password: &NewPassword,
    keep: Option<String>,
    precondition: Precondition,
) -> Result<(), AccountsError> {
    let hash = state.hasher.hash(password).await?;
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let user = match &precondition {
                    Precondition::Current(checked) => checked
                        .confirm(conn)?
                        .ok_or(AccountsError::WrongCurrentPassword)?,
                    Precondition::None | Precondition::NoPassword => {
                        ops::find_by_id_for_update(conn, user_id)?.ok_or(AccountsError::NotFound)?
                    }
                };
                if matches!(precondition, Precondition::NoPassword) && user.has_usable_password() {
                    return Err(AccountsError::PasswordAlreadySet);
                }
                apply_new_password(
                    conn,
                    &worker_state,
                    &user,
                    &hash,
                    keep.as_deref(),
                    AuditKind::PasswordChanged,
                )
            })
        })
        .await?;
    notify::wake_worker(state, queued);
    Ok(())
}

/// The operator sets `user`'s password (already checked against the policy, or let through on
/// purpose); every session of the user ends.
pub async fn set_password(
    state: &AccountsContext,
    actor: &Actor,
    user: &User,
    password: &NewPassword,
) -> Result<(), AccountsError> {
    actor.require_operator()?;
    store_password(state, user.id, password, None, Precondition::None).await
}

/// A signed-in user changes their password (Djoser's set_password, the account page): the
/// current password (under the account's backoff), then the policy, then the retype when
/// given; every other session of the user ends, `keep` stays.
pub async fn change_password(
    state: &AccountsContext,
    user: &User,
    current: &str,
    new: String,
    retype: Option<&str>,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    let checked = require_current_password(state, user, current).await?;
    let password = accept_new_password(state, new, retype, &attributes_of(user))?;
    let precondition = Precondition::Current(checked);
    store_password(state, user.id, &password, keep, precondition).await
}

/// A signed-in person whose account has no usable password (made by a social sign-in) sets
/// one, so that they can unlink their last identity or change their address. No current
/// password exists to ask for; the account must still have none when the new one is stored
/// (checked in the same transaction). Every other session ends, `keep` stays.
pub async fn set_first_password(
    state: &AccountsContext,
    user: &User,
    new: String,
    retype: Option<&str>,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    if user.has_usable_password() {
        return Err(AccountsError::PasswordAlreadySet);
    }
    let password = accept_new_password(state, new, retype, &attributes_of(user))?;
    store_password(state, user.id, &password, keep, Precondition::NoPassword).await
}

/// `users/reset_password/`: the same answer, after the same work, whether or not the address
/// has an account. An active user with a usable password gets a reset link, at most one per
/// `mail_cooldown`; the cooldown is recorded for unknown addresses too.
pub async fn request_password_reset(
    state: &AccountsContext,
    email: &Email,
) -> Result<(), AccountsError> {
    let now = state.clock.now_naive();
    let lookup = email.lookup_key().to_owned();
    let period = notify::seconds(state.settings.mail.mail_cooldown);
    let lifetime = notify::seconds(state.settings.mail.password_reset_timeout);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let key = cooldown::key("password_reset", &lookup);
                let fresh = cooldown::try_start(conn, &key, now, period)?;
                let user = ops::find_by_email(conn, &lookup)?
                    .filter(|u| u.is_active && u.has_usable_password());
                let Some(user) = user.filter(|_| fresh) else {
                    return Ok(false);
                };
                let token = onetime::issue(conn, user.id, Purpose::PasswordReset, now, lifetime)?;
                let link = Link {
                    purpose: Purpose::PasswordReset,
                    token: &token,
                };
                let notice = Notice {
                    link: Some(link),
                    ..Notice::to_user(MailKind::PasswordReset, &user)
                };
                notify::queue(conn, &worker_state, notice)?;
                let kind = AuditKind::PasswordResetRequested;
                audit::record(conn, kind, Some(user.id), None, None, now)?;
                Ok(true)
            })
        })
        .await?;
    notify::wake_worker(state, queued);
    Ok(())
}

/// `users/reset_password_confirm/`: the policy, the retype, then uid and token, then the
/// similarity to the user's details (Djoser's order, plus Django's similarity check). Success
/// consumes the token, kills the user's other tokens, ends every session and refresh family,
/// lifts the failed-login lock, and queues the "password changed" notice.
pub async fn confirm_password_reset(
    state: &AccountsContext,
    uid: &str,
    token: &str,
    new_password: String,
    retype: Option<&str>,
) -> Result<(), AccountsError> {
    // Djoser checks the password before the link (its serializer validates the password with
    // no user at hand, then the uid, then the token)...
    accept_new_password(
        state,
        new_password.clone(),
        retype,
        &UserAttributes::default(),
    )?;
    // ...then the link...
    let user = links::user_with_link(state, uid, token, Purpose::PasswordReset).await?;
    // ...and, once the user is known, the similarity to their details (as Django's own form).
    let password = accept_new_password(state, new_password, None, &attributes_of(&user))?;
    let hash = state.hasher.hash(&password).await?;
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                // Two confirmations racing: the compare-and-swap lets exactly one through.
                let purpose = Purpose::PasswordReset;
                if !links::consume_link(conn, &worker_state, user.id, purpose, &token, now)? {
                    return Err(AccountsError::InvalidLink);
                }
                let kind = AuditKind::PasswordReset;
                apply_new_password(conn, &worker_state, &user, &hash, None, kind)
            })
        })
        .await?;
    notify::wake_worker(state, queued);
    Ok(())
}

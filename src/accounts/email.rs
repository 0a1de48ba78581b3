//! Changing the address: the current password, then a link to the new address; the address
//! changes only when that link is used.

use super::AccountsContext;
use super::credentials::require_current_password;
use super::notify::{self, Link, Notice};
use super::onetime::{self, Purpose};
use super::{AccountsError, User, links, ops};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::domain::Email;
use crate::mail::MailKind;
use crate::sessions::ops as session_ops;

const TAKEN: AccountsError = AccountsError::Taken {
    username: false,
    email: true,
};

/// `users/set_email/` and the account page: after the current password (checked first, under
/// the account's backoff, so a wrong one reveals nothing else), a one-time link goes to the
/// new address; the address changes only when that link is used ([`confirm_email_change`]).
/// A taken address is reported, unless `prevent_enumeration` is on: then the answer is the same
/// as for a free one and no link is sent. `keep` is the asking session, which survives the change.
pub async fn request_email_change(
    state: &AccountsContext,
    user: &User,
    current_password: &str,
    new_email: Email,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    let checked = require_current_password(state, user, current_password).await?;
    let now = state.clock.now_naive();
    let conceal = state.settings.mail.prevent_enumeration;
    let lifetime = notify::seconds(state.settings.mail.email_change_timeout);
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                // A reset while the password was checked wins: no link for the old password.
                let user = checked
                    .confirm(conn)?
                    .ok_or(AccountsError::WrongCurrentPassword)?;
                if new_email.lookup_key() == user.email_lookup {
                    // The same mailbox: at most the spelling changes, which needs no proof.
                    ops::set_email(conn, user.id, &new_email, user.email_verified)?;
                    return Ok(false);
                }
                if ops::email_used_by_other(conn, new_email.lookup_key(), user.id)? {
                    return if conceal { Ok(false) } else { Err(TAKEN) };
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
                let notice = Notice {
                    to: new_email.as_str(),
                    link: Some(link),
                    new_email: new_email.as_str(),
                    ..Notice::to_user(MailKind::EmailChange, &user)
                };
                notify::queue(conn, &worker_state, notice)?;
                let kind = AuditKind::EmailChangeRequested;
                audit::record(conn, kind, Some(user.id), None, None, now)?;
                Ok(true)
            })
        })
        .await?;
    notify::wake_worker(state, queued);
    Ok(())
}

/// The link mailed to a new address: the address changes (if still free), every other link of
/// the user dies (a reset link sent to the old address must not outlive it), every session but
/// the one that asked ends, and the old address is told when that notice is on.
pub async fn confirm_email_change(
    state: &AccountsContext,
    uid: &str,
    token: &str,
) -> Result<User, AccountsError> {
    let user = links::user_with_link(state, uid, token, Purpose::EmailChange).await?;
    let now = state.clock.now_naive();
    let token = token.to_owned();
    let notice = state.settings.mail.email_changed_email_confirmation;
    let worker_state = state.clone();
    let changed = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<User, AccountsError> {
                let pending = onetime::consume_email_change(conn, user.id, &token, now)?
                    .ok_or(AccountsError::InvalidLink)?;
                let email =
                    Email::parse(&pending.new_email).map_err(|_| AccountsError::InvalidLink)?;
                if ops::email_used_by_other(conn, email.lookup_key(), user.id)? {
                    return Err(TAKEN);
                }
                ops::set_email(conn, user.id, &email, true)?;
                onetime::revoke_all(conn, user.id, now)?;
                let keep = pending.session_id.as_deref();
                session_ops::revoke_user_sessions(conn, user.id, keep, now)?;
                audit::record(
                    conn,
                    AuditKind::EmailChanged,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                if notice {
                    let told = Notice {
                        new_email: email.as_str(),
                        ..Notice::to_user(MailKind::EmailChanged, &user)
                    };
                    notify::queue(conn, &worker_state, told)?;
                }
                ops::find_by_id(conn, user.id)?.ok_or(AccountsError::NotFound)
            })
        })
        .await?;
    notify::wake_worker(state, notice);
    Ok(changed)
}

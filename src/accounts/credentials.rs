//! Password checks under the per-account backoff: logins, and a signed-in user's current
//! password before a sensitive change. Each attempt is reserved before any hashing.

use chrono::NaiveDateTime;

use super::AccountsContext;
use super::{AccountsError, Actor, HashFormat, PasswordCheck, User, ops};
use crate::audit::{self, AuditKind};
use crate::db::{DbConn, write_transaction};
use crate::domain::{ClientMeta, NewPassword};
use crate::throttle::{self, Reservation, ThrottleLimits};

/// Checks credentials. The identifier may be a username or an email (case-insensitive).
/// Unknown user, wrong password and inactive account all give `InvalidCredentials`, after the
/// same work: one lookup, one full argon2 verification, one write. Consecutive failures earn an
/// escalating delay (`Throttled`), counted per account, or per identifier when no account
/// matches, so the delay itself reveals nothing; each attempt is reserved (and counted) before
/// any hashing, so concurrent guesses cannot share one slot. The `lock_after`th failure locks
/// the account until an operator unlocks it or the password is reset.
pub async fn authenticate(
    state: &AccountsContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<User, AccountsError> {
    let limits = state.settings.throttle;
    let now = state.clock.now_naive();
    let ident = identifier.to_owned();
    let (user, key, reservation) = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<_, AccountsError> {
                let user = ops::find_by_identifier(conn, &ident)?;
                let key = throttle_key(user.as_ref(), &ident);
                let reservation = reserve(conn, &key, now, &limits)?;
                Ok((user, key, reservation))
            })
        })
        .await?;
    let (failures, locked) = admitted(reservation)?;
    let check = state
        .hasher
        .verify(
            password,
            user.as_ref().map(|u| u.password.as_str()),
            Some(&key),
        )
        .await?;
    let accepted = user
        .clone()
        .filter(|u| check == PasswordCheck::Match && u.is_active && !locked);
    let upgrade = match &accepted {
        Some(user) => upgraded_hash(state, user, password).await,
        None => None,
    };
    let known_id = user.as_ref().map(|u| u.id);
    let ip = meta.ip.clone();
    let accepted_id = accepted.as_ref().map(|u| u.id);
    state
        .db
        .run(move |conn| -> Result<(), AccountsError> {
            write_transaction(conn, |conn| {
                if let Some(id) = accepted_id {
                    ops::touch_last_login(conn, id, now)?;
                    throttle::clear(conn, &key)?;
                    let detail = match &upgrade {
                        Some(upgrade) => upgrade.apply(conn, id)?,
                        None => None,
                    };
                    audit::record(
                        conn,
                        AuditKind::LoginSucceeded,
                        Some(id),
                        ip.as_deref(),
                        detail.as_deref(),
                        now,
                    )?;
                    return Ok(());
                }
                let failure = Failure {
                    kind: AuditKind::LoginFailed,
                    user_id: known_id,
                    ip: ip.as_deref(),
                    failures,
                };
                record_failure(conn, &failure, &limits, now)
            })
        })
        .await?;
    match accepted {
        Some(mut user) => {
            user.last_login = Some(now);
            Ok(user)
        }
        None => Err(AccountsError::InvalidCredentials),
    }
}

/// A stored hash of another format (Django's, or argon2 with other parameters) replaced by
/// Latchkey's argon2id of the password that just matched it.
struct Upgrade {
    from: String,
    to: String,
}

impl Upgrade {
    /// Stores the new hash if the old one is still there (a password change in between wins);
    /// the audit detail when it was stored.
    fn apply(&self, conn: &mut DbConn, user_id: i64) -> Result<Option<String>, AccountsError> {
        let replaced = ops::replace_password_hash(conn, user_id, &self.from, &self.to)?;
        Ok(replaced.then(|| {
            let format = HashFormat::of(&self.from).name();
            format!("password hash upgraded from {format}")
        }))
    }
}

/// Latchkey's hash of `password` when `user`'s stored hash is of another format. Hashing is
/// refused only when the pool is saturated; the login goes on and a later one upgrades.
async fn upgraded_hash(state: &AccountsContext, user: &User, password: &str) -> Option<Upgrade> {
    if HashFormat::of(&user.password) == HashFormat::Current {
        return None;
    }
    let password = NewPassword::parse_bypassing_policy(password.to_owned()).ok()?;
    match state.hasher.hash(&password).await {
        Ok(to) => Some(Upgrade {
            from: user.password.clone(),
            to,
        }),
        Err(e) => {
            tracing::warn!(error = %e, user_id = user.id, "password hash not upgraded this time");
            None
        }
    }
}

/// Takes a slot of the key's backoff (nothing to take when throttling is off).
fn reserve(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    limits: &ThrottleLimits,
) -> Result<Reservation, AccountsError> {
    if !limits.enabled {
        return Ok(Reservation::Granted {
            failures: 0,
            locked: false,
        });
    }
    Ok(throttle::reserve_attempt(conn, key, now, limits)?)
}

/// The reservation's failure count and lock state, or `Throttled` when it must wait.
fn admitted(reservation: Reservation) -> Result<(i32, bool), AccountsError> {
    match reservation {
        Reservation::Granted { failures, locked } => Ok((failures, locked)),
        Reservation::Wait(wait) => Err(AccountsError::Throttled {
            retry_after: throttle::whole_seconds(wait),
        }),
    }
}

/// A failed password check, already counted by its reservation.
struct Failure<'a> {
    kind: AuditKind,
    user_id: Option<i64>,
    ip: Option<&'a str>,
    failures: i32,
}

/// Audits a failed check, and the lock when this failure was the one that locked the account.
fn record_failure(
    conn: &mut DbConn,
    failure: &Failure<'_>,
    limits: &ThrottleLimits,
    now: NaiveDateTime,
) -> Result<(), AccountsError> {
    audit::record(conn, failure.kind, failure.user_id, failure.ip, None, now)?;
    let locked_now = u32::try_from(failure.failures).is_ok_and(|f| f == limits.lock_after);
    if limits.enabled && failure.user_id.is_some() && locked_now {
        audit::record(
            conn,
            AuditKind::AccountLocked,
            failure.user_id,
            failure.ip,
            None,
            now,
        )?;
    }
    Ok(())
}

fn throttle_key(user: Option<&User>, identifier: &str) -> String {
    user.map_or_else(
        || throttle::identifier_key(identifier),
        |u| throttle::user_key(u.id),
    )
}

/// The operator lifts the failed-login backoff and lock of an account.
pub async fn unlock(
    state: &AccountsContext,
    actor: &Actor,
    username: &str,
) -> Result<bool, AccountsError> {
    actor.require_operator()?;
    let user = super::users::get_by_username(state, actor, username).await?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let cleared = throttle::clear(conn, &throttle::user_key(user.id))?;
                audit::record(
                    conn,
                    AuditKind::AccountUnlocked,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                Ok(cleared)
            })
        })
        .await
}

/// Checks a signed-in user's current password (set_password, set_email, account deletion,
/// the HTML forms) under the same per-account backoff as logins: the attempt is reserved
/// before hashing, a wrong password counts towards the delay and the lock, a right one lifts
/// them, and a locked account's password never matches. Always one full verification.
pub async fn check_current_password(
    state: &AccountsContext,
    user: &User,
    password: &str,
) -> Result<bool, AccountsError> {
    let limits = state.settings.throttle;
    let now = state.clock.now_naive();
    let key = throttle::user_key(user.id);
    let reserve_key = key.clone();
    let reservation = state
        .db
        .run(move |conn| write_transaction(conn, |conn| reserve(conn, &reserve_key, now, &limits)))
        .await?;
    let (failures, locked) = admitted(reservation)?;
    let check = state
        .hasher
        .verify(password, Some(&user.password), Some(&key))
        .await?;
    let matched = check == PasswordCheck::Match && !locked;
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                if matched {
                    throttle::clear(conn, &key)?;
                    return Ok(());
                }
                let failure = Failure {
                    kind: AuditKind::PasswordCheckFailed,
                    user_id: Some(user_id),
                    ip: None,
                    failures,
                };
                record_failure(conn, &failure, &limits, now)
            })
        })
        .await?;
    Ok(matched)
}

/// [`check_current_password`], with a wrong password as `WrongCurrentPassword`.
pub(super) async fn require_current_password(
    state: &AccountsContext,
    user: &User,
    password: &str,
) -> Result<(), AccountsError> {
    if check_current_password(state, user, password).await? {
        Ok(())
    } else {
        Err(AccountsError::WrongCurrentPassword)
    }
}

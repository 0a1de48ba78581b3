//! Copying Django's users into Latchkey: validated first (nothing is guessed), then written in
//! batches, each one transaction, so a failed run keeps whole batches only and a new run goes
//! on from where it stands. Running it again updates what changed in Django and adds new users.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{BlacklistedToken, DjangoUser, ImportError};
use crate::accounts::{User, ops};
use crate::audit::{self, AuditKind};
use crate::clock::Clock;
use crate::db::schema::{django_blacklist, django_imports, users};
use crate::db::{Db, DbConn, DbError, write_transaction};
use crate::domain::{Email, Username};
use crate::sessions::ops as session_ops;

/// What to do with Django accounts that share an address (Latchkey has one account per
/// address, compared case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateEmails {
    /// Refuse every account of the group, and list them.
    Refuse,
    /// The most recently active account (last login, then date joined, then the higher id)
    /// keeps the address; the others are imported without one (they log in by username).
    KeepMostRecent,
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Report what would happen and change nothing.
    pub dry_run: bool,
    /// The duplicate-address policy.
    pub duplicates: DuplicateEmails,
    /// Users per transaction.
    pub batch_size: usize,
}

/// What happened to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Added.
    Imported,
    /// Changed to match Django.
    Updated,
    /// Already as in Django.
    Unchanged,
    /// Not imported, for this reason.
    Refused(String),
}

/// The closing report.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Users added.
    pub imported: usize,
    /// Users changed.
    pub updated: usize,
    /// Users already up to date.
    pub unchanged: usize,
    /// Users imported without an address (blank in Django, or another account keeps it):
    /// (id, username, why).
    pub without_address: Vec<(i64, String, String)>,
    /// Users not imported: (id, username, reason).
    pub refused: Vec<(i64, String, String)>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Told after each batch: (users done, users in all).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// A user ready to write: its parsed username and the address it gets (none when blank or
/// given to another account).
#[derive(Debug, Clone)]
struct Prepared {
    user: DjangoUser,
    email: Option<Email>,
}

/// Stores SimpleJWT's blacklisted refresh tokens (those already stored are skipped); how many
/// were new.
pub async fn import_blacklist(
    db: &Db,
    tokens: Vec<BlacklistedToken>,
    dry_run: bool,
) -> Result<usize, ImportError> {
    let total = tokens.len();
    db.run(move |conn| {
        write_transaction(conn, |conn| -> QueryResult<usize> {
            let mut added = 0;
            for token in &tokens {
                let known: bool = diesel::select(diesel::dsl::exists(
                    django_blacklist::table.find(&token.jti),
                ))
                .get_result(conn)?;
                if known || dry_run {
                    added += usize::from(!known);
                    continue;
                }
                diesel::insert_into(django_blacklist::table)
                    .values((
                        django_blacklist::jti.eq(&token.jti),
                        django_blacklist::expires_at.eq(token.expires_at),
                        django_blacklist::blacklisted_at.eq(token.blacklisted_at),
                    ))
                    .execute(conn)?;
                added += 1;
            }
            Ok(added)
        })
        .map_err(DbError::Query)
    })
    .await
    .map_err(|cause| ImportError::Stopped {
        done: 0,
        total,
        cause,
    })
}

/// Imports `users` (see the module's rules); Latchkey's id sequence continues after the highest
/// id afterwards.
pub async fn import_users(
    db: &Db,
    clock: &Clock,
    users: Vec<DjangoUser>,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<Summary, ImportError> {
    let total = users.len();
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    let prepared = prepare(users, options.duplicates, &mut summary);
    let mut done = total - prepared.len();
    progress(done, total);
    let now = clock.now_naive();
    for batch in prepared.chunks(options.batch_size.max(1)) {
        let (rows, dry_run) = (batch.to_vec(), options.dry_run);
        let outcomes = db
            .run(move |conn| write_batch(conn, &rows, dry_run, now))
            .await
            .map_err(|cause| ImportError::Stopped { done, total, cause })?;
        for (prepared, outcome) in batch.iter().zip(outcomes) {
            let (id, name) = (prepared.user.id, prepared.user.username.clone());
            match outcome {
                Outcome::Imported => summary.imported += 1,
                Outcome::Updated => summary.updated += 1,
                Outcome::Unchanged => summary.unchanged += 1,
                Outcome::Refused(reason) => summary.refused.push((id, name, reason)),
            }
        }
        done += batch.len();
        progress(done, total);
    }
    if !options.dry_run {
        let detail = format!(
            "django import: {} imported, {} updated, {} unchanged, {} refused",
            summary.imported,
            summary.updated,
            summary.unchanged,
            summary.refused.len()
        );
        db.run(move |conn| finish(conn, &detail, now))
            .await
            .map_err(|cause| ImportError::Stopped { done, total, cause })?;
    }
    summary.refused.sort();
    Ok(summary)
}

/// Validates every user (a username or address Latchkey would not accept is refused with the
/// reason, never rewritten) and applies the duplicate-address policy.
fn prepare(
    users: Vec<DjangoUser>,
    policy: DuplicateEmails,
    summary: &mut Summary,
) -> Vec<Prepared> {
    let mut ready = Vec::with_capacity(users.len());
    for user in users {
        let refuse = |reason: String| (user.id, user.username.clone(), reason);
        match Username::parse(&user.username) {
            Ok(name) if name.as_str() == user.username => {}
            Ok(_) => {
                summary.refused.push(refuse(
                    "the username is not in Unicode NFKC form (Django's normalize_username)".into(),
                ));
                continue;
            }
            Err(e) => {
                summary
                    .refused
                    .push(refuse(format!("invalid username: {e}")));
                continue;
            }
        }
        let email = match user.email.trim() {
            "" => None,
            given => match Email::parse(given) {
                Ok(email) => Some(email),
                Err(e) => {
                    summary
                        .refused
                        .push(refuse(format!("invalid email {given:?}: {e}")));
                    continue;
                }
            },
        };
        if email.is_none() {
            summary.without_address.push((
                user.id,
                user.username.clone(),
                "blank in Django".into(),
            ));
        }
        ready.push(Prepared { user, email });
    }
    resolve_duplicates(ready, policy, summary)
}

/// Accounts sharing an address (case-insensitively): all refused, or the most recently active
/// keeps it and the others lose it.
fn resolve_duplicates(
    ready: Vec<Prepared>,
    policy: DuplicateEmails,
    summary: &mut Summary,
) -> Vec<Prepared> {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in ready.iter().enumerate() {
        if let Some(email) = &p.email {
            groups
                .entry(email.lookup_key().to_owned())
                .or_default()
                .push(i);
        }
    }
    let mut refused = vec![false; ready.len()];
    let mut stripped = vec![false; ready.len()];
    for (address, members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        let ids: Vec<String> = members
            .iter()
            .map(|&i| ready[i].user.id.to_string())
            .collect();
        let ids = ids.join(", ");
        match policy {
            DuplicateEmails::Refuse => {
                for &i in &members {
                    refused[i] = true;
                    let user = &ready[i].user;
                    summary.refused.push((
                        user.id,
                        user.username.clone(),
                        format!(
                            "{address} is shared by accounts {ids} (choose --on-duplicate-email)"
                        ),
                    ));
                }
            }
            DuplicateEmails::KeepMostRecent => {
                let owner = members.iter().copied().max_by_key(|&i| {
                    let u = &ready[i].user;
                    (u.last_login.unwrap_or(u.date_joined), u.date_joined, u.id)
                });
                for &i in members.iter().filter(|&&i| Some(i) != owner) {
                    stripped[i] = true;
                    let user = &ready[i].user;
                    let owner_id = owner.map(|o| ready[o].user.id).unwrap_or_default();
                    summary.without_address.push((
                        user.id,
                        user.username.clone(),
                        format!("{address} stays with the more recently active account {owner_id}"),
                    ));
                }
            }
        }
    }
    ready
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !refused[*i])
        .map(|(i, mut p)| {
            if stripped[i] {
                p.email = None;
            }
            p
        })
        .collect()
}

/// Why a batch's transaction ends without committing: a dry run, or the database.
enum BatchEnd {
    DryRun(Vec<Outcome>),
    Failed(diesel::result::Error),
}

impl From<diesel::result::Error> for BatchEnd {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e)
    }
}

/// Writes one batch in one transaction (rolled back for a dry run, after the same work).
fn write_batch(
    conn: &mut DbConn,
    rows: &[Prepared],
    dry_run: bool,
    now: NaiveDateTime,
) -> Result<Vec<Outcome>, DbError> {
    let written = write_transaction(conn, |conn| -> Result<Vec<Outcome>, BatchEnd> {
        let outcomes = rows
            .iter()
            .map(|row| write_one(conn, row, now))
            .collect::<QueryResult<Vec<_>>>()?;
        if dry_run {
            return Err(BatchEnd::DryRun(outcomes));
        }
        Ok(outcomes)
    });
    match written {
        Ok(outcomes) | Err(BatchEnd::DryRun(outcomes)) => Ok(outcomes),
        Err(BatchEnd::Failed(e)) => Err(DbError::Query(e)),
    }
}

/// The address key an account without an address gets: unique, and no typed address can ever
/// match it (lookups are of parsed addresses, which never start with `!`).
fn no_address_key(id: i64) -> String {
    format!("!no-address:{id}")
}

/// Adds or updates one user, or says why it cannot.
fn write_one(conn: &mut DbConn, row: &Prepared, now: NaiveDateTime) -> QueryResult<Outcome> {
    let user = &row.user;
    let (email, lookup) = match &row.email {
        Some(email) => (email.as_str().to_owned(), email.lookup_key().to_owned()),
        None => (String::new(), no_address_key(user.id)),
    };
    let existing = ops::find_by_id(conn, user.id)?;
    if let Some(reason) = taken_here(conn, user, &lookup, existing.as_ref())? {
        return Ok(Outcome::Refused(reason));
    }
    let Some(existing) = existing else {
        insert(conn, user, &email, &lookup)?;
        record(conn, user, now)?;
        return Ok(Outcome::Imported);
    };
    let recorded: Option<String> = django_imports::table
        .find(user.id)
        .select(django_imports::password)
        .first(conn)
        .optional()?;
    let Some(recorded) = recorded else {
        return Ok(Outcome::Refused(format!(
            "id {} belongs to Latchkey account {}, which was not imported from Django",
            user.id, existing.username
        )));
    };
    // A hash changed in Django since the last import wins; otherwise Latchkey's stays (a login
    // here may have upgraded it).
    let password = if user.password == recorded {
        existing.password.clone()
    } else {
        user.password.clone()
    };
    // The later of the two last logins (people may already log in here).
    let last_login = existing.last_login.max(user.last_login);
    let user = &DjangoUser {
        last_login,
        ..user.clone()
    };
    if same(&existing, user, &email, &password) && recorded == user.password {
        return Ok(Outcome::Unchanged);
    }
    diesel::update(users::table.find(user.id))
        .set((
            users::email.eq(&email),
            users::email_lookup.eq(&lookup),
            users::username.eq(&user.username),
            users::first_name.eq(&user.first_name),
            users::last_name.eq(&user.last_name),
            users::password.eq(&password),
            users::is_active.eq(user.is_active),
            users::is_staff.eq(user.is_staff),
            users::is_superuser.eq(user.is_superuser),
            users::date_joined.eq(user.date_joined),
            users::last_login.eq(user.last_login),
            users::activation_pending.eq(existing.activation_pending && !user.is_active),
        ))
        .execute(conn)?;
    // Deactivated in Django since: whatever sessions it has here end, as a deactivation here
    // would end them.
    if existing.is_active && !user.is_active {
        session_ops::revoke_user_sessions(conn, user.id, None, now)?;
        let detail = Some("deactivated in Django");
        audit::record(
            conn,
            AuditKind::UserDeactivated,
            Some(user.id),
            None,
            detail,
            now,
        )?;
    }
    record(conn, user, now)?;
    Ok(Outcome::Updated)
}

/// Why the user's username or address cannot be theirs here: another Latchkey account has it.
/// Only what differs from the account's current row is looked up (a re-import of unchanged
/// users costs one query each for this).
fn taken_here(
    conn: &mut DbConn,
    user: &DjangoUser,
    lookup: &str,
    existing: Option<&User>,
) -> QueryResult<Option<String>> {
    if existing.is_none_or(|e| e.username != user.username)
        && let Some(other) = ops::find_by_username(conn, &user.username)?
        && other.id != user.id
    {
        return Ok(Some(format!(
            "the username belongs to Latchkey account {}",
            other.id
        )));
    }
    if existing.is_none_or(|e| e.email_lookup != lookup)
        && let Some(other) = ops::find_by_email(conn, lookup)?
        && other.id != user.id
    {
        return Ok(Some(format!(
            "the address belongs to Latchkey account {} ({})",
            other.id, other.username
        )));
    }
    Ok(None)
}

/// A Django account that is inactive and never logged in: Djoser's registration waiting for
/// its activation link.
fn awaits_activation(user: &DjangoUser) -> bool {
    !user.is_active && user.last_login.is_none()
}

fn same(existing: &User, user: &DjangoUser, email: &str, password: &str) -> bool {
    existing.email == email
        && existing.username == user.username
        && existing.first_name == user.first_name
        && existing.last_name == user.last_name
        && existing.password == password
        && existing.is_active == user.is_active
        && existing.is_staff == user.is_staff
        && existing.is_superuser == user.is_superuser
        && existing.date_joined == user.date_joined
        && existing.last_login == user.last_login
}

fn insert(conn: &mut DbConn, user: &DjangoUser, email: &str, lookup: &str) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.id),
            users::email.eq(email),
            users::email_lookup.eq(lookup),
            users::username.eq(&user.username),
            users::first_name.eq(&user.first_name),
            users::last_name.eq(&user.last_name),
            users::password.eq(&user.password),
            users::is_active.eq(user.is_active),
            users::is_staff.eq(user.is_staff),
            users::is_superuser.eq(user.is_superuser),
            users::date_joined.eq(user.date_joined),
            users::last_login.eq(user.last_login),
            // Djoser's accounts that never activated wait for their (Django-made) link.
            users::activation_pending.eq(awaits_activation(user)),
            users::email_verified.eq(false),
        ))
        .execute(conn)
        .map(drop)
}

/// Remembers Django's hash as imported now (keeping when the account's sessions last ended
/// here, which a re-import must not forget: Django's older tokens stay refused).
fn record(conn: &mut DbConn, user: &DjangoUser, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(django_imports::table.find(user.id))
        .set((
            django_imports::password.eq(&user.password),
            django_imports::imported_at.eq(now),
        ))
        .execute(conn)?;
    if updated > 0 {
        return Ok(());
    }
    diesel::insert_into(django_imports::table)
        .values((
            django_imports::user_id.eq(user.id),
            django_imports::password.eq(&user.password),
            django_imports::imported_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// After the batches: PostgreSQL's id sequence continues after the highest id (SQLite's
/// AUTOINCREMENT already does), and the run is audited.
fn finish(conn: &mut DbConn, detail: &str, now: NaiveDateTime) -> Result<(), DbError> {
    write_transaction(conn, |conn| -> QueryResult<()> {
        if let DbConn::Pg(pg) = conn {
            diesel::sql_query(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM users))",
            )
            .execute(pg)?;
        }
        audit::record(conn, AuditKind::DjangoImport, None, None, Some(detail), now)
    })
    .map_err(DbError::Query)
}

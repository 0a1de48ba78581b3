//! Synchronous, connection-first operations: the building blocks use cases run inside
//! `Db::run`, composable in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{NewUser, ProfileChanges, User};
use crate::db::DbConn;
use crate::db::schema::users;
use crate::domain::{Email, PersonName, normalize_username};

/// Which unique column a failed insert collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// `users.username`.
    Username,
    /// `users.email_lookup`.
    Email,
}

/// Finds a user by username (NFKC-normalised, then exact) or by case-insensitive email (the
/// identifier may be either). An identifier with `@` matches an email first, so a username
/// shaped like someone's address can never catch that person's login; otherwise a username
/// match wins, as Django's `USERNAME_FIELD` lookup would.
pub fn find_by_identifier(conn: &mut DbConn, identifier: &str) -> QueryResult<Option<User>> {
    let email = identifier.trim().to_lowercase();
    let username = normalize_username(identifier);
    if identifier.contains('@') {
        if let Some(user) = find_by_email(conn, &email)? {
            return Ok(Some(user));
        }
        return find_by_username(conn, &username);
    }
    if let Some(user) = find_by_username(conn, &username)? {
        return Ok(Some(user));
    }
    find_by_email(conn, &email)
}

/// Finds a user by (lower-cased) email.
pub fn find_by_email(conn: &mut DbConn, email_lookup: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email_lookup.eq(email_lookup))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a user by exact (case-sensitive) username.
pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a user by id.
pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The next `limit` (id, password hash) pairs after id `after`, by id.
pub fn password_hashes_after(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.gt(after))
        .order(users::id)
        .limit(limit)
        .select((users::id, users::password))
        .load(conn)
}

/// Finds a user by id and, on PostgreSQL, locks the row until the transaction ends (SQLite's
/// write transactions are serialized already), so that checks on the user's ways in and the
/// change that follows them cannot interleave with another transaction's.
pub fn find_by_id_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    match conn {
        DbConn::Pg(pg) => users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConn::Sqlite(_) => find_by_id(conn, id),
    }
}

/// True when the username is in use.
pub fn username_exists(conn: &mut DbConn, username: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username.eq(username)),
    ))
    .get_result(conn)
}

/// True when an account has this (lower-cased) email.
pub fn email_exists(conn: &mut DbConn, email_lookup: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::email_lookup.eq(email_lookup)),
    ))
    .get_result(conn)
}

/// Inserts a user and reads it back. A unique violation comes back as `Ok(Err(Taken))` so the
/// caller can name the field even when a concurrent insert won the race: the insert runs in a
/// savepoint, so the transaction stays usable to ask which value is taken (SQLite names no
/// constraint in its error, and the message text is not an interface).
pub fn insert_user(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<Result<User, Taken>> {
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(users::table)
            .values(new)
            .returning(users::id)
            .get_result::<i64>(conn)
    });
    match inserted {
        Ok(id) => users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .map(Ok),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(Err(if username_exists(conn, new.username)? {
                Taken::Username
            } else {
                Taken::Email
            }))
        }
        Err(e) => Err(e),
    }
}

/// Stores a new password hash.
pub fn set_password_hash(conn: &mut DbConn, user_id: i64, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::password.eq(hash))
        .execute(conn)
        .map(drop)
}

/// Sets `is_active`; the account stops waiting for an activation link either way.
pub fn set_active(conn: &mut DbConn, user_id: i64, active: bool) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::is_active.eq(active),
            users::activation_pending.eq(false),
        ))
        .execute(conn)
        .map(drop)
}

/// Turns on an account that waits for its activation link; false when it does not wait (an
/// active account, or one an operator deactivated).
pub fn activate_pending(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::activation_pending.eq(true)),
    )
    .set((
        users::is_active.eq(true),
        users::activation_pending.eq(false),
        // The activation link was opened: the address reads its mail.
        users::email_verified.eq(true),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records whether the address is known to read its mail (an upstream provider's word).
pub fn set_email_verified(conn: &mut DbConn, user_id: i64, verified: bool) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::email_verified.eq(verified))
        .execute(conn)
        .map(drop)
}

/// Records a successful login time.
pub fn touch_last_login(conn: &mut DbConn, user_id: i64, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::last_login.eq(Some(at)))
        .execute(conn)
        .map(drop)
}

/// Deletes a user; sessions and tokens go with it (ON DELETE CASCADE).
pub fn delete_user(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(users::table.find(user_id)).execute(conn)
}

/// True when another account already uses this (lower-cased) email.
pub fn email_used_by_other(
    conn: &mut DbConn,
    email_lookup: &str,
    user_id: i64,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::email_lookup.eq(email_lookup))
            .filter(users::id.ne(user_id)),
    ))
    .get_result(conn)
}

/// Stores a new address (display form and lookup key), and whether its owner proved it.
pub fn set_email(
    conn: &mut DbConn,
    user_id: i64,
    email: &Email,
    verified: bool,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::email.eq(email.as_str()),
            users::email_lookup.eq(email.lookup_key()),
            users::email_verified.eq(verified),
        ))
        .execute(conn)
        .map(drop)
}

/// The name columns a profile update sets (`None` leaves a column alone).
#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct NameChanges<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
}

/// Applies name changes (only the fields given) in one UPDATE.
pub fn update_names(conn: &mut DbConn, user_id: i64, changes: &ProfileChanges) -> QueryResult<()> {
    let names = NameChanges {
        first_name: changes.first_name.as_ref().map(PersonName::as_str),
        last_name: changes.last_name.as_ref().map(PersonName::as_str),
    };
    if names.first_name.is_none() && names.last_name.is_none() {
        return Ok(());
    }
    diesel::update(users::table.find(user_id))
        .set(&names)
        .execute(conn)
        .map(drop)
}

/// Which users a listing shows.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this user (what a non-staff viewer may see).
    pub only: Option<i64>,
    /// A piece of the username or address (case-insensitive).
    pub search: Option<String>,
    /// Staff only.
    pub staff: bool,
    /// Inactive accounts only.
    pub inactive: bool,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

type BoxedUsers<'a> = users::BoxedQuery<'a, crate::db::DbBackend>;

fn filtered(filter: &UserFilter) -> BoxedUsers<'_> {
    let mut query = users::table.into_boxed();
    if let Some(id) = filter.only {
        query = query.filter(users::id.eq(id));
    }
    if let Some(search) = &filter.search {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            users::email_lookup
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::username).like(pattern).escape('\\')),
        );
    }
    if filter.staff {
        query = query.filter(users::is_staff.eq(true));
    }
    if filter.inactive {
        query = query.filter(users::is_active.eq(false));
    }
    query
}

/// How many users the filter matches.
pub fn count_filtered(conn: &mut DbConn, filter: &UserFilter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn)
}

/// Up to `limit` matching users with an id above `after`, by id: a keyset page, as fast at the
/// millionth row as at the first.
pub fn users_after(
    conn: &mut DbConn,
    filter: &UserFilter,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<User>> {
    filtered(filter)
        .filter(users::id.gt(after))
        .order(users::id.asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

/// Up to `limit` matching users with an id below `before`, by id (the page before a keyset
/// page).
pub fn users_before(
    conn: &mut DbConn,
    filter: &UserFilter,
    before: i64,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut page: Vec<User> = filtered(filter)
        .filter(users::id.lt(before))
        .order(users::id.desc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)?;
    page.reverse();
    Ok(page)
}

/// Page `number` (1-based) of `size` matching users by id. The rows skipped are counted on the
/// narrow id index only, then the page is read from where it starts.
pub fn page_users(
    conn: &mut DbConn,
    filter: &UserFilter,
    number: i64,
    size: i64,
) -> QueryResult<Vec<User>> {
    let skip = (number - 1).saturating_mul(size);
    let start: Option<i64> = filtered(filter)
        .order(users::id.asc())
        .select(users::id)
        .offset(skip)
        .first(conn)
        .optional()?;
    match start {
        Some(start) => users_after(conn, filter, start - 1, size),
        None => Ok(Vec::new()),
    }
}

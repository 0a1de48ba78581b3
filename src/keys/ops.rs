//! The `signing_keys` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::signing_keys;

/// One stored key: its private part sealed, its public part as a JWK.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    /// The key id (the JWS `kid`).
    pub kid: String,
    /// The JOSE algorithm name.
    pub alg: String,
    /// The PKCS#8 private key, sealed (see [`super::Sealer`]).
    pub private_key: String,
    /// The public key as a JWK (JSON).
    pub public_jwk: String,
    /// When it was made (and published).
    pub created_at: NaiveDateTime,
    /// From when it signs (unless a newer key of its algorithm signs by then).
    pub activates_at: NaiveDateTime,
    /// When it leaves the published set; `None` while it is current.
    pub unpublish_at: Option<NaiveDateTime>,
}

/// Every stored key, oldest first (by the time it was made, then the time it signs from).
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<KeyRow>> {
    signing_keys::table
        .select(KeyRow::as_select())
        .order((
            signing_keys::created_at,
            signing_keys::activates_at,
            signing_keys::kid,
        ))
        .load(conn)
}

/// Stores a new key.
pub fn insert(conn: &mut DbConn, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Schedules every still-current key of `alg` other than `except` to leave the published set
/// at `at`; returns how many.
pub fn retire_current(
    conn: &mut DbConn,
    alg: &str,
    except: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::kid.ne(except))
            .filter(signing_keys::unpublish_at.is_null()),
    )
    .set(signing_keys::unpublish_at.eq(Some(at)))
    .execute(conn)
}

/// Whether a current (not yet scheduled to retire) key of `alg` exists.
pub fn has_current(conn: &mut DbConn, alg: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::unpublish_at.is_null()),
    ))
    .get_result(conn)
}

/// Deletes keys unpublished by `now` (nothing they signed is accepted any more).
pub fn flush_unpublished(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::unpublish_at.le(now))).execute(conn)
}

//! Reading Django's users: straight from its database (PostgreSQL or SQLite, any table and
//! column names of a custom user model), or from `manage.py dumpdata` (any database Django
//! speaks, MySQL included).

use std::path::PathBuf;

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde::Deserialize;

use super::ImportError;
use crate::db::Backend;

/// One Django user, as Django stores it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Deserialize)]
pub struct DjangoUser {
    /// Its primary key (kept: `user_id` claims and other services' foreign keys name it).
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `USERNAME_FIELD`'s value.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// The address (Django allows it blank, and shared between accounts).
    #[diesel(sql_type = Text)]
    pub email: String,
    /// First name.
    #[diesel(sql_type = Text)]
    pub first_name: String,
    /// Last name.
    #[diesel(sql_type = Text)]
    pub last_name: String,
    /// The password hash, in Django's format.
    #[diesel(sql_type = Text)]
    pub password: String,
    /// Whether the account may log in.
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    /// Staff flag.
    #[diesel(sql_type = Bool)]
    pub is_staff: bool,
    /// Superuser flag.
    #[diesel(sql_type = Bool)]
    pub is_superuser: bool,
    /// When the account was made (UTC).
    #[diesel(sql_type = Timestamp)]
    pub date_joined: NaiveDateTime,
    /// The last login (UTC), if any.
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_login: Option<NaiveDateTime>,
}

/// Where Django's users are.
#[derive(Debug, Clone)]
pub enum Source {
    /// Django's database itself.
    Database {
        /// `postgres://…`, `sqlite:///path` or a SQLite file path.
        url: String,
        /// The user table (`auth_user`, or a custom model's).
        table: String,
        /// The column holding the address.
        email_column: String,
        /// The column holding the username.
        username_column: String,
    },
    /// `manage.py dumpdata` output (JSON).
    Dumpdata {
        /// The file.
        path: PathBuf,
        /// The user model's label (`auth.user`, or `app.user` for a custom model).
        model: String,
        /// The field holding the address.
        email_field: String,
        /// The field holding the username.
        username_field: String,
    },
}

/// A refresh token SimpleJWT blacklisted.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BlacklistedToken {
    /// Its `jti`.
    #[diesel(sql_type = Text)]
    pub jti: String,
    /// Its expiry (UTC).
    #[diesel(sql_type = Timestamp)]
    pub expires_at: NaiveDateTime,
    /// When it was blacklisted (UTC).
    #[diesel(sql_type = Timestamp)]
    pub blacklisted_at: NaiveDateTime,
}

/// SimpleJWT's blacklisted refresh tokens (`token_blacklist` app) of the source.
pub fn read_blacklist(source: &Source) -> Result<Vec<BlacklistedToken>, ImportError> {
    let source_error = |e: &dyn std::fmt::Display| {
        ImportError::Source(format!(
            "token_blacklist: {e} (is rest_framework_simplejwt.token_blacklist installed?)"
        ))
    };
    let select = "SELECT o.jti AS jti, o.expires_at::timestamp AS expires_at, \
                  b.blacklisted_at::timestamp AS blacklisted_at \
                  FROM token_blacklist_blacklistedtoken b \
                  JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id";
    match source {
        Source::Database { url, .. } => match Backend::from_url(url)
            .map_err(|e| source_error(&e))?
        {
            Backend::Postgres(url) => {
                let mut conn = PgConnection::establish(&url).map_err(|e| source_error(&e))?;
                diesel::sql_query("SET TIME ZONE 'UTC'")
                    .execute(&mut conn)
                    .map_err(|e| source_error(&e))?;
                diesel::sql_query(select)
                    .load(&mut conn)
                    .map_err(|e| source_error(&e))
            }
            Backend::Sqlite(path) => {
                let uri = format!("file:{path}?mode=ro");
                let mut conn = SqliteConnection::establish(&uri).map_err(|e| source_error(&e))?;
                diesel::sql_query(select.replace("::timestamp", ""))
                    .load(&mut conn)
                    .map_err(|e| source_error(&e))
            }
        },
        Source::Dumpdata { path, .. } => dumped_blacklist(path),
    }
}

/// The blacklist from dumpdata: `token_blacklist.outstandingtoken` (jti, expires_at) and
/// `token_blacklist.blacklistedtoken` (token: the outstanding token's pk, blacklisted_at).
fn dumped_blacklist(path: &PathBuf) -> Result<Vec<BlacklistedToken>, ImportError> {
    let objects = read_dumped(path)?;
    let bad = |what: &str| ImportError::Source(format!("{}: {what}", path.display()));
    let field = |o: &Dumped, name: &str| o.fields.get(name).cloned().unwrap_or_default();
    let outstanding: std::collections::HashMap<i64, (String, NaiveDateTime)> = objects
        .iter()
        .filter(|o| o.model == "token_blacklist.outstandingtoken")
        .filter_map(|o| {
            let jti = field(o, "jti").as_str()?.to_owned();
            let expires = parse_django_time(field(o, "expires_at").as_str()?)?;
            Some((o.pk.as_i64()?, (jti, expires)))
        })
        .collect();
    objects
        .iter()
        .filter(|o| o.model == "token_blacklist.blacklistedtoken")
        .map(|o| {
            let token = field(o, "token")
                .as_i64()
                .ok_or_else(|| bad("a blacklisted token without its outstanding token"))?;
            let (jti, expires_at) = outstanding.get(&token).cloned().ok_or_else(|| {
                bad("a blacklisted token whose outstanding token is not in the file")
            })?;
            let blacklisted_at = field(o, "blacklisted_at")
                .as_str()
                .and_then(parse_django_time)
                .ok_or_else(|| bad("a blacklisted token without blacklisted_at"))?;
            Ok(BlacklistedToken {
                jti,
                expires_at,
                blacklisted_at,
            })
        })
        .collect()
}

/// Every user of the source, by id.
pub fn read_users(source: &Source) -> Result<Vec<DjangoUser>, ImportError> {
    let mut users = match source {
        Source::Database {
            url,
            table,
            email_column,
            username_column,
        } => {
            for name in [table, email_column, username_column] {
                identifier(name)?;
            }
            read_database(url, table, email_column, username_column)?
        }
        Source::Dumpdata {
            path,
            model,
            email_field,
            username_field,
        } => read_dumpdata(path, model, email_field, username_field)?,
    };
    users.sort_by_key(|u| u.id);
    Ok(users)
}

/// Table and column names go into SQL, so they must be plain identifiers.
fn identifier(name: &str) -> Result<(), ImportError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(ImportError::Option(format!(
            "{name:?} is not a table or column name (letters, digits and _)"
        )))
    }
}

fn read_database(
    url: &str,
    table: &str,
    email: &str,
    username: &str,
) -> Result<Vec<DjangoUser>, ImportError> {
    let source = |e: &dyn std::fmt::Display| ImportError::Source(format!("{table}: {e}"));
    match Backend::from_url(url).map_err(|e| source(&e))? {
        Backend::Postgres(url) => {
            let mut conn = PgConnection::establish(&url).map_err(|e| source(&e))?;
            // Django's columns are timestamptz (USE_TZ) or naive; read in UTC, both become
            // the naive UTC Latchkey keeps.
            diesel::sql_query("SET TIME ZONE 'UTC'")
                .execute(&mut conn)
                .map_err(|e| source(&e))?;
            let sql = format!(
                "SELECT id::bigint AS id, \"{username}\"::text AS username, \"{email}\"::text AS email, \
                 first_name, last_name, password, is_active, is_staff, is_superuser, \
                 date_joined::timestamp AS date_joined, last_login::timestamp AS last_login \
                 FROM \"{table}\" ORDER BY id"
            );
            diesel::sql_query(sql)
                .load(&mut conn)
                .map_err(|e| source(&e))
        }
        Backend::Sqlite(path) => {
            // Opened read-only, and never created: a mistyped path is an error, not a new file.
            if !std::path::Path::new(&path).is_file() {
                return Err(source(&format!("no SQLite file at {path}")));
            }
            let uri = format!("file:{path}?mode=ro");
            let mut conn = SqliteConnection::establish(&uri).map_err(|e| source(&e))?;
            let sql = format!(
                "SELECT id, \"{username}\" AS username, \"{email}\" AS email, first_name, last_name, \
                 password, is_active, is_staff, is_superuser, date_joined, last_login \
                 FROM \"{table}\" ORDER BY id"
            );
            diesel::sql_query(sql)
                .load(&mut conn)
                .map_err(|e| source(&e))
        }
    }
}

/// One object of dumpdata's output.
#[derive(Deserialize)]
struct Dumped {
    model: String,
    pk: serde_json::Value,
    fields: serde_json::Map<String, serde_json::Value>,
}

fn read_dumpdata(
    path: &PathBuf,
    model: &str,
    email: &str,
    username: &str,
) -> Result<Vec<DjangoUser>, ImportError> {
    read_dumped(path)?
        .into_iter()
        .filter(|o| o.model.eq_ignore_ascii_case(model))
        .map(|o| dumped_user(o, email, username))
        .collect()
}

fn dumped_user(o: Dumped, email: &str, username: &str) -> Result<DjangoUser, ImportError> {
    let id = o
        .pk
        .as_i64()
        .ok_or_else(|| ImportError::Source(format!("{} pk {} is not an integer", o.model, o.pk)))?;
    let bad = |field: &str| {
        ImportError::Source(format!(
            "{} {id}: field {field} is missing or of the wrong type",
            o.model
        ))
    };
    let text = |field: &str| -> Result<String, ImportError> {
        o.fields
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| bad(field))
    };
    let flag = |field: &str| {
        o.fields
            .get(field)
            .and_then(serde_json::Value::as_bool)
            .ok_or_else(|| bad(field))
    };
    let when = |field: &str| -> Result<Option<NaiveDateTime>, ImportError> {
        match o.fields.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(parse_django_time)
                .map(Some)
                .ok_or_else(|| bad(field)),
        }
    };
    Ok(DjangoUser {
        id,
        username: text(username)?,
        email: text(email)?,
        first_name: text("first_name").unwrap_or_default(),
        last_name: text("last_name").unwrap_or_default(),
        password: text("password")?,
        is_active: flag("is_active")?,
        is_staff: flag("is_staff").unwrap_or(false),
        is_superuser: flag("is_superuser").unwrap_or(false),
        date_joined: when("date_joined")?.ok_or_else(|| bad("date_joined"))?,
        last_login: when("last_login")?,
    })
}

/// Every object of a dumpdata file.
fn read_dumped(path: &PathBuf) -> Result<Vec<Dumped>, ImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ImportError::Source(format!("{}: {e}", path.display())))?;
    serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| ImportError::Source(format!("{}: not dumpdata JSON: {e}", path.display())))
}

/// Django's serialized datetimes: ISO 8601 with `Z` or an offset (`USE_TZ = True`, made UTC),
/// or naive (taken as UTC).
fn parse_django_time(text: &str) -> Option<NaiveDateTime> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.naive_utc());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_times_become_naive_utc() {
        let utc = |s: &str| parse_django_time(s).unwrap().to_string();
        assert_eq!(utc("2026-11-30T07:00:00.123Z"), "2026-11-30 07:00:00.123");
        assert_eq!(utc("2026-11-30T09:00:00+02:00"), "2026-11-30 07:00:00");
        assert_eq!(utc("2026-11-30T07:00:00"), "2026-11-30 07:00:00");
        assert!(parse_django_time("yesterday").is_none());
    }

    #[test]
    fn names_in_sql_must_be_identifiers() {
        assert!(identifier("auth_user").is_ok());
        assert!(identifier("accounts_customuser").is_ok());
        for bad in ["", "1abc", "auth_user; DROP TABLE users", "a\"b", "x-y"] {
            assert!(identifier(bad).is_err(), "{bad}");
        }
    }
}

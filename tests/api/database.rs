//! Migrations, time round-trips and readiness, on both backends.

use chrono::{TimeZone, Timelike, Utc};
use diesel::prelude::*;
use latchkey::accounts::ops;
use latchkey::accounts::{self as service, Registration};
use latchkey::clock::Clock;
use latchkey::db::{Db, DbError, run_pending_migrations};
use latchkey::domain::{Email, PersonName};

use crate::helpers::{Backend, Spawn, TestDb, backend_tests, json_body, spawn_app_with};

backend_tests!(
    migrations_apply_once_and_then_are_a_no_op,
    times_round_trip_equal_at_microsecond_precision,
    readiness_reports_unavailable_when_the_database_is_unreachable,
    a_bad_database_url_reports_the_drivers_error,
);

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Runs the backend's catalogue query and returns the `name` column.
async fn names(pool: &Db, sqlite: &'static str, postgres: &'static str) -> Vec<String> {
    let sql = match pool.backend() {
        latchkey::db::Backend::Sqlite(_) => sqlite,
        latchkey::db::Backend::Postgres(_) => postgres,
    };
    pool.run(move |conn| -> Result<Vec<String>, DbError> {
        Ok(diesel::sql_query(sql)
            .load::<Name>(conn)?
            .into_iter()
            .map(|n| n.name)
            .collect())
    })
    .await
    .unwrap()
}

async fn migrations_apply_once_and_then_are_a_no_op(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let pool = Db::connect(&db.url, 2, 1, std::time::Duration::from_secs(5)).unwrap();
    let first = pool.run(run_pending_migrations).await.unwrap();
    assert_eq!(
        first,
        [
            "20261122000001",
            "20261122000002",
            "20261122000003",
            "20261129000004",
            "20261129000005",
            "20261130000006",
            "20261130000007",
            "20261130000008",
            "20261130000009",
            "20261130000010",
            "20261130000011",
            "20261130000012",
        ]
    );
    let second: Vec<String> = pool.run(run_pending_migrations).await.unwrap();
    assert!(second.is_empty(), "second run applied {second:?}");

    let tables = names(
        &pool,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    .await;
    for table in [
        "audit_events",
        "django_blacklist",
        "django_imports",
        "email_outbox",
        "login_throttle",
        "mail_cooldowns",
        "oauth_clients",
        "one_time_tokens",
        "refresh_tokens",
        "sessions",
        "signing_keys",
        "users",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    let indexes = names(
        &pool,
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
        "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    )
    .await;
    for index in [
        "users_email_lookup_key",
        "users_username_key",
        "sessions_user_id_idx",
        "sessions_expires_at_idx",
        "refresh_tokens_session_id_idx",
        "refresh_tokens_expires_at_idx",
    ] {
        assert!(
            indexes.iter().any(|i| i == index),
            "{index} missing from {indexes:?}"
        );
    }
}

async fn times_round_trip_equal_at_microsecond_precision(backend: Backend) {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
        .unwrap()
        .with_nanosecond(987_654_321)
        .unwrap();
    let clock = Clock::manual(at);
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            clock: Some(clock.clone()),
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let user = service::register(
        &app.state,
        Registration {
            email: Email::parse("time@example.com").unwrap(),
            username: None,
            first_name: PersonName::default(),
            last_name: PersonName::default(),
            password: "a perfectly fine passphrase".into(),
            password_retype: None,
        },
    )
    .await
    .unwrap();
    let service::Registered::Created(user) = user else {
        panic!("a new address registers");
    };
    let stored = app
        .state
        .db
        .run(move |conn| ops::find_by_id(conn, user.id).map_err(DbError::from))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.date_joined, clock.now_naive());
    assert_eq!(stored.date_joined.nanosecond(), 987_654_000);
    assert_eq!(stored, user, "the returned user equals the stored one");
}

async fn readiness_reports_unavailable_when_the_database_is_unreachable(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_DB_POOL_SIZE", "1".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_body(response).await,
        serde_json::json!({"status": "ok"})
    );

    // PostgreSQL: the database disappears under the running server. SQLite has no server to
    // lose, so the equivalent outage is a pool with no connection to give.
    let _held = match backend {
        Backend::Postgres => {
            app.db.drop_postgres_database();
            None
        }
        Backend::Sqlite => Some(app.state.db.pool().get().unwrap()),
    };
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        json_body(response).await,
        serde_json::json!({"status": "unavailable"})
    );
    let live = app.get("/health").await;
    assert_eq!(
        live.status(),
        200,
        "liveness does not depend on the database"
    );
}

async fn a_bad_database_url_reports_the_drivers_error(backend: Backend) {
    let (url, expected) = match backend {
        Backend::Postgres => {
            let Some(admin) = crate::helpers::postgres_admin_url() else {
                return;
            };
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            (
                format!("{base}/latchkey_no_such_database"),
                "database \"latchkey_no_such_database\" does not exist",
            )
        }
        Backend::Sqlite => (
            "sqlite:///nonexistent-dir-for-latchkey/x.sqlite3".to_owned(),
            "unable to open database file",
        ),
    };
    let error = Db::connect(&url, 1, 0, std::time::Duration::from_secs(5))
        .unwrap_err()
        .to_string();
    assert!(error.contains(expected), "{error}");
}

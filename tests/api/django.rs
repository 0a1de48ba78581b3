//! Moving from Django (issue 13), against real Django from PyPI: a small Django project under
//! `tests/django` (its pinned requirements installed by `.ci/run` into a virtual environment
//! named by `LATCHKEY_DJANGO_PYTHON`) writes users with every password hasher Django has
//! shipped; Latchkey logs them in with their old passwords and upgrades each hash to argon2id.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;

use crate::helpers::{
    Backend, TestApp, backend_tests, base_env, run_cli, spawn_app_on_clock, stdout,
};
use latchkey::db::DbError;
use latchkey::db::schema::{audit_events, users};

backend_tests!(django_passwords_log_in_once_and_become_argon2id);

/// The Python of the virtual environment with Django (`LATCHKEY_DJANGO_PYTHON`); `None`, loudly
/// (a failure under CI=true), when it is not set up.
pub fn django_python() -> Option<PathBuf> {
    let python = std::env::var_os("LATCHKEY_DJANGO_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cache/latchkey-django/bin/python"))
        })
        .filter(|p| p.is_file());
    if python.is_none() {
        crate::helpers::missing_tool(
            "Django is not installed (python3 -m venv ~/.cache/latchkey-django && ~/.cache/latchkey-django/bin/pip install -r tests/django/requirements.txt, or set LATCHKEY_DJANGO_PYTHON)",
        );
    }
    python
}

/// One user the Django project wrote.
#[derive(Debug, Deserialize)]
pub struct Seeded {
    pub username: String,
    pub password: String,
    pub format: String,
    pub hash: String,
}

/// Runs `tests/django/seed.py` against a Django database (a SQLite path or a PostgreSQL URL).
pub fn seed_django(python: &PathBuf, database: &str) -> Vec<Seeded> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/seed.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .env("DJANGO_DATABASE", database)
        .output()
        .expect("run the Django project");
    assert!(
        out.status.success(),
        "seed.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed.py prints JSON")
}

/// Puts a Django user into Latchkey's database as it is (the importer's job, by hand).
async fn insert_as_is(app: &TestApp, user: &Seeded) -> i64 {
    use latchkey::accounts::{NewUser, ops};
    let (username, hash) = (user.username.clone(), user.hash.clone());
    app.state
        .db
        .run(move |conn| {
            let email = format!("{username}@example.com");
            let new = NewUser {
                email: &email,
                email_lookup: &email,
                username: &username,
                first_name: "",
                last_name: "",
                password: &hash,
                is_active: true,
                is_staff: false,
                is_superuser: false,
                date_joined: chrono::Utc::now().naive_utc(),
                activation_pending: false,
            };
            ops::insert_user(conn, &new)
                .map(|inserted| inserted.expect("a free username").id)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

async fn stored_hash(app: &TestApp, id: i64) -> String {
    use diesel::prelude::*;
    app.state
        .db
        .run(move |conn| {
            users::table
                .find(id)
                .select(users::password)
                .first::<String>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

async fn login_details(app: &TestApp, id: i64) -> Vec<String> {
    use diesel::prelude::*;
    app.state
        .db
        .run(move |conn| {
            audit_events::table
                .filter(audit_events::kind.eq("login_succeeded"))
                .filter(audit_events::user_id.eq(id))
                .select(audit_events::detail)
                .load::<Option<String>>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect()
}

fn hash_report(app: &TestApp) -> String {
    let out = run_cli(
        &["users", "hash-report"],
        &base_env(&app.db),
        app.db.dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

async fn django_passwords_log_in_once_and_become_argon2id(backend: Backend) {
    let Some(python) = django_python() else {
        return;
    };
    // Two dozen logins from one address would meet the per-IP limit; it is not under test here.
    let quiet = [("LATCHKEY_THROTTLE_ENABLED", "false")];
    let Some((app, _)) = spawn_app_on_clock(backend, &quiet).await else {
        return;
    };
    let django_db = app.db.dir.path().join("django.sqlite3");
    let seeded = seed_django(&python, django_db.to_str().unwrap());
    let formats: Vec<&str> = seeded.iter().map(|s| s.format.as_str()).collect();
    for expected in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "bcrypt",
        "scrypt",
        "md5",
        "sha1",
        "unsalted_sha1",
        "unsalted_md5",
        "unusable",
    ] {
        assert!(formats.contains(&expected), "{expected} in {formats:?}");
    }
    let mut ids = Vec::new();
    for user in &seeded {
        ids.push(insert_as_is(&app, user).await);
    }
    let before = hash_report(&app);
    assert!(before.contains("pbkdf2_sha256"), "{before}");
    assert!(
        before.contains("11 of 11 usable passwords still wait"),
        "{before}"
    );

    for (user, id) in seeded.iter().zip(&ids) {
        let wrong = app
            .post_json(
                "/auth/jwt/create/",
                &json!({"username": user.username, "password": "not the password"}),
            )
            .await;
        assert_eq!(wrong.status(), 401, "{}", user.username);
        assert_eq!(
            stored_hash(&app, *id).await,
            user.hash,
            "a wrong password changes nothing"
        );
        let right = app
            .post_json(
                "/auth/jwt/create/",
                &json!({"username": user.username, "password": user.password}),
            )
            .await;
        if user.format == "unusable" {
            assert_eq!(right.status(), 401, "an unusable password stays unusable");
            assert_eq!(stored_hash(&app, *id).await, user.hash);
            continue;
        }
        assert_eq!(right.status(), 200, "{} logs in", user.username);
        let upgraded = stored_hash(&app, *id).await;
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}: {upgraded}",
            user.username
        );
        assert_eq!(
            login_details(&app, *id).await,
            vec![format!("password hash upgraded from {}", user.format)]
        );
        // The new hash logs them in too, and is not upgraded again.
        app.login(&user.username, &user.password).await;
        assert_eq!(stored_hash(&app, *id).await, upgraded);
    }
    let after = hash_report(&app);
    assert!(after.contains("argon2id (Latchkey)"), "{after}");
    assert!(
        after.contains("0 of 11 usable passwords still wait"),
        "{after}"
    );
    assert!(after.contains("unusable"), "{after}");
}

//! Moving from Django (issue 13), against real Django from PyPI: a small Django project under
//! `tests/django` (its pinned requirements installed by `.ci/run` into a virtual environment
//! named by `LATCHKEY_DJANGO_PYTHON`) writes users with every password hasher Django has
//! shipped; Latchkey logs them in with their old passwords and upgrades each hash to argon2id.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;

use crate::helpers::{
    Backend, TestApp, TestDb, backend_tests, base_env, run_cli, spawn_app_on_clock, stderr, stdout,
};
use latchkey::db::DbError;
use latchkey::db::schema::users;

backend_tests!(
    django_passwords_log_in_once_and_become_argon2id,
    an_import_keeps_ids_and_passwords_and_a_second_one_updates,
    conflicts_are_reported_and_a_policy_resolves_duplicates,
    a_failed_import_keeps_whole_batches_only,
    simplejwt_tokens_minted_before_the_switch_keep_working,
);

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
    pub id: i64,
    pub username: String,
    pub password: String,
    pub format: String,
    pub hash: String,
}

/// Runs `tests/django/seed.py` against a Django database (a SQLite path or a PostgreSQL URL).
pub fn seed_django(python: &PathBuf, database: &str) -> Vec<Seeded> {
    seed_django_with(python, database, &[])
}

/// [`seed_django`] with the script's options (`SEED_CONFLICTS`, `SEED_DUMPDATA`, `SEED_CHANGE`).
pub fn seed_django_with(python: &PathBuf, database: &str, env: &[(&str, &str)]) -> Vec<Seeded> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/seed.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .env("DJANGO_DATABASE", database)
        .envs(env.iter().copied())
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

/// Django's database for a test: a SQLite file beside Latchkey's, or a fresh PostgreSQL
/// database (dropped with the returned value) — the same backend as Latchkey's.
fn django_database(backend: Backend, app: &TestApp) -> (String, Option<TestDb>) {
    match backend {
        Backend::Sqlite => {
            let path = app.db.dir.path().join("django.sqlite3");
            (path.display().to_string(), None)
        }
        Backend::Postgres => {
            let db = TestDb::create(Backend::Postgres).expect("PostgreSQL for Django");
            (db.url.clone(), Some(db))
        }
    }
}

/// Runs `latchkey import django <args>` against the app's database.
fn import(app: &TestApp, args: &[&str]) -> std::process::Output {
    let mut all = vec!["import", "django"];
    all.extend_from_slice(args);
    run_cli(&all, &base_env(&app.db), app.db.dir.path())
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
            crate::helpers::audit_details(&app, "login_succeeded", Some(*id)).await,
            vec![Some(format!("password hash upgraded from {}", user.format))]
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

async fn logs_in(app: &TestApp, username: &str, password: &str) -> u16 {
    app.post_json(
        "/auth/jwt/create/",
        &json!({"username": username, "password": password}),
    )
    .await
    .status()
    .as_u16()
}

async fn an_import_keeps_ids_and_passwords_and_a_second_one_updates(backend: Backend) {
    let Some(python) = django_python() else {
        return;
    };
    let quiet = [("LATCHKEY_THROTTLE_ENABLED", "false")];
    let Some((app, _)) = spawn_app_on_clock(backend, &quiet).await else {
        return;
    };
    let (django, _keep) = django_database(backend, &app);
    let seeded = seed_django(&python, &django);

    // A dry run says what it would do and writes nothing.
    let dry = import(&app, &["--from", &django, "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("Imported 12, updated 0, unchanged 0, refused 0. Dry run"),
        "{}",
        stdout(&dry)
    );
    assert!(crate::helpers::all_users(&app.state).await.is_empty());

    let first = import(&app, &["--from", &django]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("Imported 12, updated 0, unchanged 0, refused 0."),
        "{}",
        stdout(&first)
    );
    // Ids, names and the hashes as they are.
    let users = crate::helpers::all_users(&app.state).await;
    for s in &seeded {
        let user = users.iter().find(|u| u.username == s.username).unwrap();
        assert_eq!(user.id, s.id, "{} keeps its id", s.username);
        assert_eq!(user.password, s.hash);
        assert_eq!(user.email, format!("{}@example.com", s.username));
    }
    // Django's password logs in, and the JWT names Django's id.
    let pbkdf2 = seeded.iter().find(|s| s.format == "pbkdf2_sha256").unwrap();
    let tokens = app.login(&pbkdf2.username, &pbkdf2.password).await;
    let claims = crate::helpers::claims(&tokens.access);
    assert_eq!(
        claims["user_id"].to_string().trim_matches('"'),
        pbkdf2.id.to_string()
    );

    // Again: nothing changed, and the hash the login upgraded stays.
    let again = import(&app, &["--from", &django]);
    assert!(
        stdout(&again).starts_with("Imported 0, updated 0, unchanged 12, refused 0."),
        "{}",
        stdout(&again)
    );
    assert!(stored_hash(&app, pbkdf2.id).await.starts_with("$argon2id$"));

    // Someone changes their name and password on the live Django: the next import takes both.
    let bcrypt = seeded.iter().find(|s| s.format == "bcrypt").unwrap();
    let changed = seed_django_with(&python, &django, &[("SEED_CHANGE", &bcrypt.username)]);
    let third = import(&app, &["--from", &django]);
    assert!(
        stdout(&third).starts_with("Imported 0, updated 1, unchanged 11, refused 0."),
        "{}",
        stdout(&third)
    );
    assert_eq!(logs_in(&app, &bcrypt.username, &bcrypt.password).await, 401);
    assert_eq!(
        logs_in(&app, &bcrypt.username, &changed[0].password).await,
        200
    );

    // An admin deactivates someone on the live Django: the next import ends their sessions here.
    let scrypt = seeded.iter().find(|s| s.format == "scrypt").unwrap();
    let tokens = app.login(&scrypt.username, &scrypt.password).await;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &tokens.access)
            .await
            .status(),
        200
    );
    seed_django_with(&python, &django, &[("SEED_DEACTIVATE", &scrypt.username)]);
    let fourth = import(&app, &["--from", &django]);
    assert!(
        stdout(&fourth).starts_with("Imported 0, updated 1, unchanged 11, refused 0."),
        "{}",
        stdout(&fourth)
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &tokens.access)
            .await
            .status(),
        401
    );
    assert_eq!(app.refresh(&tokens.refresh).await.status(), 401);
    // Ended, not merely refused while inactive: reactivating here would not revive them.
    let live = crate::helpers::live_sessions(&app, scrypt.id).await;
    assert_eq!(live, 0, "the deactivation ended every session");

    // New accounts continue after the highest imported id.
    let registered = app
        .post_json(
            "/auth/users/",
            &json!({"username": "newcomer", "email": "new@example.com", "password": "a fine new passphrase 9", "re_password": "a fine new passphrase 9"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let max = seeded.iter().map(|s| s.id).max().unwrap();
    let newcomer = crate::helpers::all_users(&app.state)
        .await
        .into_iter()
        .find(|u| u.username == "newcomer")
        .unwrap();
    assert_eq!(newcomer.id, max + 1);
}

async fn conflicts_are_reported_and_a_policy_resolves_duplicates(backend: Backend) {
    let Some(python) = django_python() else {
        return;
    };
    let Some((app, _)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let (django, _keep) = django_database(backend, &app);
    let dump = app.db.dir.path().join("dump.json");
    let dump = dump.to_str().unwrap();
    let seeded = seed_django_with(
        &python,
        &django,
        &[("SEED_CONFLICTS", "1"), ("SEED_DUMPDATA", dump)],
    );
    let id_of = |name: &str| seeded.iter().find(|s| s.username == name).unwrap().id;

    // Refused by default, each with its reason; nothing half-imported.
    let refused = import(&app, &["--from", &django]);
    let text = stdout(&refused);
    assert!(refused.status.success(), "{}", stderr(&refused));
    assert!(
        text.starts_with("Imported 13, updated 0, unchanged 0, refused 4."),
        "{text}"
    );
    let (old, new) = (id_of("dup_old"), id_of("dup_new"));
    assert!(
        text.contains(&format!("id {old} (dup_old): shared@example.com is shared by accounts {old}, {new} (choose --on-duplicate-email)")),
        "{text}"
    );
    assert!(
        text.contains("(bad_address): invalid email \"not-an-address\""),
        "{text}"
    );
    assert!(text.contains("(bad name): invalid username"), "{text}");
    assert!(text.contains("(no_address): blank in Django"), "{text}");
    let users = crate::helpers::all_users(&app.state).await;
    assert!(users.iter().all(|u| !u.username.starts_with("dup_")));
    let no_address = users.iter().find(|u| u.username == "no_address").unwrap();
    assert_eq!(no_address.email, "");

    // From dumpdata, keeping the most recently active owner of the address.
    let resolved = import(
        &app,
        &[
            "--dumpdata",
            dump,
            "--on-duplicate-email",
            "keep-most-recent",
        ],
    );
    let text = stdout(&resolved);
    assert!(resolved.status.success(), "{}", stderr(&resolved));
    assert!(text.contains("Imported 2,"), "{text}");
    assert!(
        text.contains(&format!("id {old} (dup_old): shared@example.com stays with the more recently active account {new}")),
        "{text}"
    );
    let users = crate::helpers::all_users(&app.state).await;
    let owner = users.iter().find(|u| u.username == "dup_new").unwrap();
    assert_eq!(owner.email, "shared@example.com");
    let other = users.iter().find(|u| u.username == "dup_old").unwrap();
    assert_eq!(other.email, "");
    // The one without an address logs in by username.
    let password = &seeded[0].password;
    assert_eq!(logs_in(&app, "dup_old", password).await, 200);
    assert_eq!(logs_in(&app, "", password).await, 400);

    // Options that would put something else than a name into SQL are refused.
    let injected = import(
        &app,
        &["--from", &django, "--table", "auth_user; DROP TABLE users"],
    );
    assert!(!injected.status.success());
    assert!(
        stderr(&injected).contains("is not a table or column name"),
        "{}",
        stderr(&injected)
    );
    let missing = import(&app, &["--from", "/nonexistent/django.sqlite3"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no SQLite file at /nonexistent/django.sqlite3"));
}

async fn a_failed_import_keeps_whole_batches_only(backend: Backend) {
    let Some(python) = django_python() else {
        return;
    };
    let Some((app, _)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let (django, _keep) = django_database(backend, &app);
    let seeded = seed_django(&python, &django);
    // Latchkey's database refuses the 6th user (a real failure mid-run: a trigger that raises).
    let sixth = seeded[5].username.clone();
    let trigger = match backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER boom BEFORE INSERT ON users WHEN NEW.username = '{sixth}' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )],
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.username = '{sixth}' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER boom BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION boom()"
                .to_owned(),
        ],
    };
    run_sql(&app, trigger).await;
    let failed = import(&app, &["--from", &django, "--batch-size", "2"]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("stopped after 4 of 12 users"),
        "{}",
        stderr(&failed)
    );
    let imported: Vec<i64> = crate::helpers::all_users(&app.state)
        .await
        .iter()
        .map(|u| u.id)
        .collect();
    let first_four: Vec<i64> = seeded[..4].iter().map(|s| s.id).collect();
    assert_eq!(
        imported, first_four,
        "the failed batch (5th and 6th) left nothing"
    );

    run_sql(
        &app,
        vec![
            "DROP TRIGGER boom".to_owned()
                + if backend == Backend::Postgres {
                    " ON users"
                } else {
                    ""
                },
        ],
    )
    .await;
    let resumed = import(&app, &["--from", &django, "--batch-size", "2"]);
    assert!(
        stdout(&resumed).starts_with("Imported 8, updated 0, unchanged 4, refused 0."),
        "{}",
        stdout(&resumed)
    );
}

async fn run_sql(app: &TestApp, statements: Vec<String>) {
    use diesel::RunQueryDsl;
    app.state
        .db
        .run(move |conn| {
            for sql in &statements {
                diesel::sql_query(sql).execute(conn)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

/// What the live Django handed out before the switch (`SEED_TOKENS`).
#[derive(Debug, Deserialize)]
struct HandedOut {
    user_id: i64,
    access: String,
    refresh: String,
    blacklisted_refresh: String,
    ninja_refresh: String,
    reset: MailedLink,
    activation: MailedLink,
    secret_key: String,
}

/// A link Django mailed: its uid (base64, as Django and Djoser write it) and token; for the
/// reset link, a SimpleJWT pair its owner holds.
#[derive(Debug, Deserialize)]
struct MailedLink {
    user_id: i64,
    uid: String,
    token: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    refresh: String,
}

async fn simplejwt_tokens_minted_before_the_switch_keep_working(backend: Backend) {
    let Some(python) = django_python() else {
        return;
    };
    let clock = latchkey::clock::Clock::manual(chrono::Utc::now());
    let spawn = |env: Vec<(&'static str, String)>| crate::helpers::Spawn {
        env,
        clock: Some(clock.clone()),
        ..crate::helpers::Spawn::default()
    };
    // Without the setting, Django's tokens mean nothing here.
    let Some(off) = crate::helpers::spawn_app_with(backend, spawn(Vec::new())).await else {
        return;
    };
    let (django, _keep) = django_database(backend, &off);
    let path = off.db.dir.path().join("tokens.json");
    let dump = off.db.dir.path().join("dump.json");
    let seeding = [
        ("SEED_TOKENS", path.to_str().unwrap()),
        ("SEED_DUMPDATA", dump.to_str().unwrap()),
    ];
    seed_django_with(&python, &django, &seeding);
    let handed: HandedOut = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // The blacklist comes from dumpdata too (token_blacklist's objects).
    let dumped = import(
        &off,
        &[
            "--dumpdata",
            dump.to_str().unwrap(),
            "--with-token-blacklist",
        ],
    );
    assert!(
        stdout(&dumped).contains("Blacklisted refresh tokens: 1 in Django, 1 new here."),
        "{}{}",
        stdout(&dumped),
        stderr(&dumped)
    );
    let me = off.get_bearer("/auth/users/me/", &handed.access).await;
    assert_eq!(me.status(), 401);

    // With Django's SECRET_KEY: its access token authenticates as the same (imported) user.
    let on = vec![("LATCHKEY_DJANGO_SECRET_KEY", handed.secret_key.clone())];
    let app = crate::helpers::spawn_app_with(backend, spawn(on))
        .await
        .unwrap();
    let imported = import(&app, &["--from", &django, "--with-token-blacklist"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stdout(&imported).contains("Blacklisted refresh tokens: 1 in Django, 1 new here."),
        "{}",
        stdout(&imported)
    );
    let me = app.get_bearer("/auth/users/me/", &handed.access).await;
    assert_eq!(me.status(), 200);
    let body = crate::helpers::json_body(me).await;
    assert_eq!(body["id"], handed.user_id);

    // Its refresh token becomes a Latchkey session with Latchkey's pair.
    let refreshed = app.refresh(&handed.refresh).await;
    assert_eq!(refreshed.status(), 200);
    let pair = crate::helpers::json_body(refreshed).await;
    let (access, refresh) = (
        pair["access"].as_str().unwrap().to_owned(),
        pair["refresh"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        crate::helpers::claims(&access)["iss"],
        "http://localhost:8000",
        "a token of Latchkey's own"
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &access).await.status(),
        200
    );
    // The new refresh token is used; presenting Django's again after the grace window is
    // reuse: the session it became ends.
    clock.advance(chrono::Duration::seconds(30));
    let child = app.refresh(&refresh).await;
    assert_eq!(child.status(), 200);
    let child = crate::helpers::json_body(child).await;
    let replay = app.refresh(&handed.refresh).await;
    assert_eq!(replay.status(), 401);
    let newest = child["access"].as_str().unwrap();
    assert_eq!(
        app.get_bearer("/auth/users/me/", newest).await.status(),
        401,
        "reuse ended the session"
    );

    // What SimpleJWT blacklisted stays refused; a ninja-jwt token with an integer user_id works
    // on ninja's route.
    let blacklisted = app.refresh(&handed.blacklisted_refresh).await;
    assert_eq!(blacklisted.status(), 401);
    let body = crate::helpers::json_body(blacklisted).await;
    assert_eq!(body["detail"], "Token is blacklisted");
    let ninja = app
        .post_json(
            "/api/token/refresh",
            &json!({"refresh": handed.ninja_refresh}),
        )
        .await;
    assert_eq!(ninja.status(), 200);

    // A token signed with another key, or of another kind, is refused.
    let forged = {
        let mut parts: Vec<&str> = handed.access.split('.').collect();
        parts[2] = "AAAA";
        parts.join(".")
    };
    assert_eq!(
        app.get_bearer("/auth/users/me/", &forged).await.status(),
        401
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &handed.refresh)
            .await
            .status(),
        401
    );
    // Djoser's activation link of an account that never activated: once.
    let link = &handed.activation;
    let body = json!({"uid": link.uid, "token": link.token});
    let activated = app.post_json("/auth/users/activation/", &body).await;
    assert_eq!(activated.status(), 204);
    let users = crate::helpers::all_users(&app.state).await;
    assert!(users.iter().any(|u| u.id == link.user_id && u.is_active));
    let again = app.post_json("/auth/users/activation/", &body).await;
    assert_eq!(again.status(), 403, "stale, as Djoser says");

    // Django's reset link, through dj-rest-auth with allauth's base-36 uid: once, and it ends
    // the old password.
    let link = &handed.reset;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &link.access)
            .await
            .status(),
        200,
        "the owner of the link is signed in with Django's pair"
    );
    let new = "the password after the switch 77";
    let body = json!({
        "uid": radix36(link.user_id),
        "token": link.token,
        "new_password1": new,
        "new_password2": new,
    });
    let reset = app
        .post_json("/dj-rest-auth/password/reset/confirm/", &body)
        .await;
    assert_eq!(reset.status(), 200);
    let username = users
        .iter()
        .find(|u| u.id == link.user_id)
        .unwrap()
        .username
        .clone();
    assert_eq!(logs_in(&app, &username, new).await, 200);
    let replay = app
        .post_json("/dj-rest-auth/password/reset/confirm/", &body)
        .await;
    assert_eq!(replay.status(), 400, "a Django link works once");
    // The reset ended every session of the account, those Django's tokens stand for too: its
    // access token, its refresh token never presented here, and their verification.
    assert_eq!(
        app.get_bearer("/auth/users/me/", &link.access)
            .await
            .status(),
        401
    );
    assert_eq!(app.refresh(&link.refresh).await.status(), 401);
    for token in [&link.access, &link.refresh] {
        let verified = app
            .post_json("/auth/jwt/verify/", &json!({"token": token}))
            .await;
        assert_eq!(verified.status(), 401);
    }
    // The cut-over import does not bring them back.
    let again = import(&app, &["--from", &django]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(app.refresh(&link.refresh).await.status(), 401);
    // A token the still-running Django mints for the account afterwards is its own business.
    clock.advance(chrono::Duration::seconds(2));
    let now = clock.now().timestamp();
    let later = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": "later1", "user_id": link.user_id}),
        &jsonwebtoken::EncodingKey::from_secret(handed.secret_key.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get_bearer("/auth/users/me/", &later).await.status(),
        200
    );
    // Django's base64 uid works too (the link of another user is simply invalid here).
    let other = json!({"uid": link.uid, "token": link.token, "new_password": new});
    let refused = app
        .post_json("/auth/users/reset_password_confirm/", &other)
        .await;
    assert_eq!(refused.status(), 400);

    // Django's key speaks for Django's accounts only: an account made here (which may have the
    // id a newer Django account has) is not reachable with a token signed with it.
    let registered = app
        .post_json(
            "/auth/users/",
            &json!({"username": "native", "email": "native@example.com", "password": "a fine new passphrase 9", "re_password": "a fine new passphrase 9"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let native = crate::helpers::json_body(registered).await["id"]
        .as_i64()
        .unwrap();
    let now = clock.now().timestamp();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": "x1", "user_id": native}),
        &jsonwebtoken::EncodingKey::from_secret(handed.secret_key.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get_bearer("/auth/users/me/", &forged).await.status(),
        401
    );

    // Django's access token ends when it expires (SimpleJWT's five minutes).
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(
        app.get_bearer("/auth/users/me/", &handed.access)
            .await
            .status(),
        401
    );
}

fn radix36(mut n: i64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

//! The operator CLI, end to end: the real binary against each backend.

use std::collections::HashMap;
use std::process::Command;

use latchkey::accounts as service;
use latchkey::domain::ClientMeta;
use rexpect::session::{Options, spawn_with_options};

use crate::helpers::{
    Backend, TestDb, backend_tests, base_env, binary, run_cli, state_for, stderr, stdout,
};

backend_tests!(
    createsuperuser_noinput_creates_an_active_staff_superuser,
    createsuperuser_noinput_rejects_bad_input_with_one_line,
    createsuperuser_interactive_prompts_like_django,
    changepassword_allows_three_attempts_and_revokes_sessions,
    users_commands_list_activate_deactivate_and_delete,
    migrate_is_idempotent,
);

fn env_with(db: &TestDb, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = base_env(db);
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

async fn login_works(db: &TestDb, identifier: &str, password: &str) -> bool {
    let state = state_for(db);
    service::authenticate(&state, identifier, password, &ClientMeta::default())
        .await
        .is_ok()
}

async fn createsuperuser_noinput_creates_an_active_staff_superuser(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let env = env_with(
        &db,
        &[
            ("LATCHKEY_SUPERUSER_USERNAME", "admin"),
            ("LATCHKEY_SUPERUSER_EMAIL", "Admin@Example.com"),
            // Like Django, an operator-supplied password skips the policy.
            ("LATCHKEY_SUPERUSER_PASSWORD", "123"),
        ],
    );
    let output = run_cli(&["createsuperuser", "--noinput"], &env, db.dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "Superuser created successfully.");

    let state = state_for(&db);
    let admin = service::get_by_username(&state, &latchkey::accounts::Actor::Operator, "admin")
        .await
        .unwrap();
    assert!(admin.is_active && admin.is_staff && admin.is_superuser);
    assert_eq!(admin.email, "Admin@Example.com");
    assert!(login_works(&db, "admin@example.com", "123").await);

    // Flags win over the environment; no password means an unusable one.
    let env = env_with(&db, &[("LATCHKEY_SUPERUSER_EMAIL", "ignored@example.com")]);
    let output = run_cli(
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
        ],
        &env,
        db.dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let ops = service::get_by_username(&state, &latchkey::accounts::Actor::Operator, "ops")
        .await
        .unwrap();
    assert_eq!(ops.email, "ops@example.com");
    assert!(!ops.has_usable_password());
    assert!(ops.password.starts_with('!') && ops.password.len() == 41);
}

async fn createsuperuser_noinput_rejects_bad_input_with_one_line(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let env = env_with(&db, &[]);
    let ok = run_cli(
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "taken",
            "--email",
            "taken@example.com",
        ],
        &env,
        db.dir.path(),
    );
    assert!(ok.status.success(), "{}", stderr(&ok));

    let cases: [(&[&str], &str); 5] = [
        (
            &["--username", "taken", "--email", "new@example.com"],
            "Error: That username is already taken.",
        ),
        (
            &["--username", "new", "--email", "TAKEN@example.com"],
            "Error: That email address is already taken.",
        ),
        (
            &["--username", "new", "--email", "not-an-email"],
            "Error: Enter a valid email address.",
        ),
        (
            &["--username", "new"],
            "Error: You must use --email with --noinput.",
        ),
        (
            &["--username", "no spaces", "--email", "x@example.com"],
            "Error: Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["createsuperuser", "--noinput"];
        full.extend_from_slice(args);
        let output = run_cli(&full, &env, db.dir.path());
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&output).trim_end(), expected, "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
    let state = state_for(&db);
    assert_eq!(crate::helpers::all_users(&state).await.len(), 1);

    let no_tty = run_cli(&["createsuperuser"], &env, db.dir.path());
    assert_eq!(no_tty.status.code(), Some(1));
    assert!(
        stderr(&no_tty)
            .starts_with("Error: Superuser creation skipped due to not running in a TTY."),
        "{}",
        stderr(&no_tty)
    );
}

fn pty_command(db: &TestDb, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_clear()
        .envs(base_env(db))
        .env("TERM", "dumb")
        .current_dir(db.dir.path());
    command
}

fn pty_options() -> Options {
    Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true)
}

async fn createsuperuser_interactive_prompts_like_django(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    // Someone already owns "root" so the first answer is refused.
    let seed = run_cli(
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        &env_with(&db, &[]),
        db.dir.path(),
    );
    assert!(seed.status.success(), "{}", stderr(&seed));

    let command = pty_command(&db, &["createsuperuser"]);
    tokio::task::spawn_blocking(move || {
        let mut p = spawn_with_options(command, pty_options()).unwrap();
        p.exp_string("Username (leave blank to use the email address): ")
            .unwrap();
        p.send_line("root").unwrap();
        p.exp_string("Error: That username is already taken.")
            .unwrap();
        p.exp_string("Username (leave blank to use the email address): ")
            .unwrap();
        p.send_line("").unwrap();
        p.exp_string("Email address: ").unwrap();
        p.send_line("nope").unwrap();
        p.exp_string("Error: Enter a valid email address.").unwrap();
        p.exp_string("Email address: ").unwrap();
        p.send_line("Boss@Example.com").unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("one").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("two").unwrap();
        p.exp_string("Error: Your passwords didn't match.").unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("boss").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("boss").unwrap();
        p.exp_string("The password is too similar to the username.")
            .unwrap();
        p.exp_string("This password is too short. It must contain at least 8 characters.")
            .unwrap();
        p.exp_string("Bypass password validation and create user anyway? [y/N]: ")
            .unwrap();
        p.send_line("N").unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("boss").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("boss").unwrap();
        p.exp_string("Bypass password validation and create user anyway? [y/N]: ")
            .unwrap();
        p.send_line("y").unwrap();
        p.exp_string("Superuser created successfully.").unwrap();
        p.exp_eof().unwrap();
    })
    .await
    .unwrap();

    let state = state_for(&db);
    let boss = service::get_by_username(
        &state,
        &latchkey::accounts::Actor::Operator,
        "boss@example.com",
    )
    .await
    .unwrap();
    assert!(boss.is_superuser && boss.is_staff && boss.is_active);
    assert!(
        login_works(&db, "Boss@example.com", "boss").await,
        "the bypassed password works"
    );
}

async fn changepassword_allows_three_attempts_and_revokes_sessions(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let env = env_with(
        &db,
        &[
            ("LATCHKEY_SUPERUSER_EMAIL", "kim@example.com"),
            ("LATCHKEY_SUPERUSER_PASSWORD", "old password 1"),
        ],
    );
    let seed = run_cli(
        &["createsuperuser", "--noinput", "--username", "kim"],
        &env,
        db.dir.path(),
    );
    assert!(seed.status.success(), "{}", stderr(&seed));

    let unknown = run_cli(&["changepassword", "ghost"], &env, db.dir.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown).trim_end(),
        "Error: user 'ghost' does not exist"
    );

    let command = pty_command(&db, &["changepassword", "kim"]);
    tokio::task::spawn_blocking(move || {
        let mut p = spawn_with_options(command, pty_options()).unwrap();
        p.exp_string("Changing password for user 'kim'").unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("first try").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("different").unwrap();
        p.exp_string("Passwords do not match. Please try again.")
            .unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("12345678").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("12345678").unwrap();
        p.exp_string("This password is too common.").unwrap();
        p.exp_string("This password is entirely numeric.").unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("a brand new secret").unwrap();
        p.exp_string("Password (again): ").unwrap();
        p.send_line("a brand new secret").unwrap();
        p.exp_string("Password changed successfully for user 'kim'")
            .unwrap();
        p.exp_eof().unwrap();
    })
    .await
    .unwrap();
    assert!(login_works(&db, "kim", "a brand new secret").await);
    assert!(!login_works(&db, "kim", "old password 1").await);

    let command = pty_command(&db, &["changepassword", "kim"]);
    tokio::task::spawn_blocking(move || {
        let mut p = spawn_with_options(command, pty_options()).unwrap();
        for _ in 0..3 {
            p.exp_string("Password: ").unwrap();
            p.send_line("short").unwrap();
            p.exp_string("Password (again): ").unwrap();
            p.send_line("short").unwrap();
            p.exp_string("This password is too short.").unwrap();
        }
        p.exp_string("Error: Aborting password change for user 'kim' after 3 attempts")
            .unwrap();
        p.exp_eof().unwrap();
        let status = p.process_mut().wait().unwrap();
        // nix's WaitStatus is not re-exported by rexpect; its Debug form is stable enough.
        let status = format!("{status:?}");
        assert!(
            status.starts_with("Exited(") && status.ends_with(", 1)"),
            "{status}"
        );
    })
    .await
    .unwrap();
    assert!(
        login_works(&db, "kim", "a brand new secret").await,
        "an aborted change changes nothing"
    );
}

async fn users_commands_list_activate_deactivate_and_delete(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let env = env_with(&db, &[("LATCHKEY_SUPERUSER_PASSWORD", "the right one")]);
    for name in ["alice", "bob"] {
        let email = format!("{name}@example.com");
        let out = run_cli(
            &[
                "createsuperuser",
                "--noinput",
                "--username",
                name,
                "--email",
                &email,
            ],
            &env,
            db.dir.path(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }

    let list = run_cli(&["users", "list"], &env, db.dir.path());
    assert!(list.status.success());
    let text = stdout(&list);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID  USERNAME  EMAIL"), "{text}");
    assert!(
        lines[1].contains("alice")
            && lines[1].contains("alice@example.com")
            && lines[1].contains("never")
    );
    assert!(lines[2].contains("bob"));

    let out = run_cli(&["users", "deactivate", "alice"], &env, db.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "User 'alice' deactivated; their sessions have ended."
    );
    assert!(!login_works(&db, "alice", "the right one").await);
    let state = state_for(&db);
    assert!(
        !service::get_by_username(&state, &latchkey::accounts::Actor::Operator, "alice")
            .await
            .unwrap()
            .is_active
    );

    let out = run_cli(&["users", "activate", "alice"], &env, db.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "User 'alice' activated.");
    assert!(login_works(&db, "alice", "the right one").await);

    let out = run_cli(&["users", "delete", "bob"], &env, db.dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "no TTY and no --yes must not delete"
    );
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert!(
        service::get_by_username(&state, &latchkey::accounts::Actor::Operator, "bob")
            .await
            .is_ok()
    );

    let out = run_cli(&["users", "delete", "bob", "--yes"], &env, db.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "User 'bob' deleted.");
    assert!(
        service::get_by_username(&state, &latchkey::accounts::Actor::Operator, "bob")
            .await
            .is_err()
    );

    for args in [
        ["users", "activate", "nobody"],
        ["users", "deactivate", "nobody"],
    ] {
        let out = run_cli(&args, &env, db.dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out).trim_end(),
            "Error: user 'nobody' does not exist"
        );
    }
}

async fn migrate_is_idempotent(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let env = env_with(&db, &[]);
    let first = run_cli(&["migrate"], &env, db.dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        stdout(&first).trim(),
        "Applied migration 20261122000001.\nApplied migration 20261122000002.\nApplied migration 20261122000003.\nApplied migration 20261129000004.\nApplied migration 20261129000005.\nApplied migration 20261130000006.\nApplied migration 20261130000007.\nApplied migration 20261130000008.\nApplied migration 20261130000009.\nApplied migration 20261130000010.\nApplied migration 20261130000011.\nApplied migration 20261130000012."
    );
    let second = run_cli(&["migrate"], &env, db.dir.path());
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second).trim(), "No migrations to apply.");
}

backend_tests!(flushexpiredtokens_removes_only_dead_sessions_and_tokens);

async fn flushexpiredtokens_removes_only_dead_sessions_and_tokens(backend: Backend) {
    use latchkey::clock::Clock;
    // The CLI runs on the real clock; the app's starts two days behind it.
    let clock = Clock::manual(chrono::Utc::now() - chrono::Duration::days(2));
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        crate::helpers::Spawn {
            clock: Some(clock.clone()),
            ..crate::helpers::Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    crate::helpers::create_user(&app, "fay", "fay@example.com", "a long enough secret").await;
    let expired = app.login("fay", "a long enough secret").await;
    clock.advance(chrono::Duration::days(2));
    let live = app.login("fay", "a long enough secret").await;
    let revoked = app.login("fay", "a long enough secret").await;
    let out = app
        .post_json(
            "/auth/logout/",
            &serde_json::json!({"refresh": revoked.refresh}),
        )
        .await;
    assert_eq!(out.status(), 200);

    let env = base_env(&app.db);
    let out = run_cli(&["flushexpiredtokens"], &env, app.db.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "Deleted 2 sessions, 0 refresh tokens and 0 one-time tokens.\n\
         Deleted 0 delivered mails, 0 mail cooldowns and 0 throttle records.\n\
         Deleted 0 retired signing keys.\n\
         Deleted 0 expired authorization codes."
    );
    assert_eq!(
        app.refresh(&live.refresh).await.status(),
        200,
        "live sessions stay"
    );
    assert_eq!(app.refresh(&expired.refresh).await.status(), 401);
    let out = run_cli(&["flushexpiredtokens"], &env, app.db.dir.path());
    assert_eq!(
        stdout(&out).trim(),
        "Deleted 0 sessions, 0 refresh tokens and 0 one-time tokens.\n\
         Deleted 0 delivered mails, 0 mail cooldowns and 0 throttle records.\n\
         Deleted 0 retired signing keys.\n\
         Deleted 0 expired authorization codes.",
        "a second run finds nothing (the live session's rotated-out token has not expired)"
    );
}

#[test]
fn sendtestemail_on_the_console_prints_the_whole_message() {
    let dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([
        ("LATCHKEY_EMAIL_TRANSPORT".to_owned(), "console".to_owned()),
        (
            "LATCHKEY_DEFAULT_FROM_EMAIL".to_owned(),
            "Latchkey <no-reply@example.com>".to_owned(),
        ),
        ("LATCHKEY_LOG".to_owned(), "warn".to_owned()),
    ]);
    let out = run_cli(&["sendtestemail", "ops@example.com"], &env, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "From: Latchkey <no-reply@example.com>",
        "To: ops@example.com",
        "Subject: Test email from Latchkey",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "If you can read it, mail delivery works.",
        "Sent a test email to ops@example.com: printed to stdout",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let bad = run_cli(&["sendtestemail", "not-an-address"], &env, dir.path());
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr(&bad).trim(), "Error: Enter a valid email address.");
}

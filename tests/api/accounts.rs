//! Registration rules and authentication, through the real app on both backends.

use diesel::prelude::*;
use latchkey::accounts::AccountsError;
use latchkey::accounts::{self as service, NewSuperuser};
use latchkey::db::DbError;
use latchkey::db::schema::audit_events;
use latchkey::domain::{ClientMeta, Email, NewPassword, Username};
use serde_json::json;

use crate::helpers::{Backend, TestApp, backend_tests, json_body, spawn_app};

backend_tests!(
    registration_creates_an_active_user_with_an_argon2id_hash,
    registration_reports_every_password_problem_in_djangos_order,
    registration_rejects_passwords_over_4096_bytes_before_hashing,
    registration_reports_missing_and_invalid_fields,
    duplicate_username_or_email_hides_password_errors,
    authenticate_accepts_username_or_email_case_insensitively,
    authenticate_gives_one_error_for_unknown_wrong_and_inactive,
);

async fn register(app: &TestApp, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = app.post_json("/auth/users/", &body).await;
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

async fn registration_creates_an_active_user_with_an_argon2id_hash(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, body) = register(
        &app,
        json!({"email": "Ada@Example.COM", "username": "ada", "password": "analytical engine 1843",
               "first_name": "Ada", "last_name": "Lovelace"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "Ada@Example.COM");
    assert_eq!(body["username"], "ada");
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(body["is_active"], true);
    assert_eq!(body["is_staff"], false);
    assert_eq!(body["last_login"], serde_json::Value::Null);
    assert!(body["date_joined"].as_str().unwrap().ends_with('Z'));

    let stored = service::get_by_username(&app.state, &latchkey::accounts::Actor::Operator, "ada")
        .await
        .unwrap();
    assert_eq!(stored.id, body["id"].as_i64().unwrap());
    assert_eq!(stored.email_lookup, "ada@example.com");
    assert!(
        stored
            .password
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.password
    );
}

async fn registration_reports_every_password_problem_in_djangos_order(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, body) = register(
        &app,
        json!({"email": "u1234567@example.com", "username": "1234567", "password": "1234567"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"password": [
            "The password is too similar to the username.",
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]})
    );

    let (status, body) = register(
        &app,
        json!({"email": "grace.hopper@example.com", "username": "gh", "password": "GraceHopper"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"password": ["The password is too similar to the email address."]})
    );
    let users = crate::helpers::all_users(&app.state).await;
    assert!(users.is_empty(), "a refused registration stores nothing");
}

async fn registration_rejects_passwords_over_4096_bytes_before_hashing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // 4097 bytes of multi-byte characters: under 4096 characters but over 4096 bytes.
    let password = "é".repeat(2049);
    assert_eq!(password.len(), 4098);
    let (status, body) = register(
        &app,
        json!({"email": "long@example.com", "password": password}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"password": ["This password is too long. It must contain at most 4096 bytes."]})
    );
    let exactly = "Zq9!".repeat(1024);
    let (status, _) = register(
        &app,
        json!({"email": "max@example.com", "password": exactly}),
    )
    .await;
    assert_eq!(status, 201, "exactly 4096 bytes is allowed");
}

async fn registration_reports_missing_and_invalid_fields(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, body) = register(&app, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"email": ["This field is required."], "password": ["This field is required."]})
    );
    let (status, body) = register(
        &app,
        json!({"email": "not-an-address", "username": "bad name!", "password": ""}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "email": ["Enter a valid email address."],
            "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
            "password": ["This field may not be blank."],
        })
    );
    let (status, body) = register(
        &app,
        json!({"email": "weird!#chars@example.com", "password": "a decent passphrase"}),
    )
    .await;
    assert_eq!(
        status, 400,
        "an email that is no valid username needs an explicit one"
    );
    assert_eq!(body, json!({"username": ["This field is required."]}));
}

async fn duplicate_username_or_email_hides_password_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, _) = register(
        &app,
        json!({"email": "first@example.com", "username": "first", "password": "a decent passphrase"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = register(
        &app,
        json!({"email": "FIRST@example.com", "username": "first", "password": "123"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "email": ["user with this email address already exists."],
            "username": ["A user with that username already exists."],
        })
    );
    assert_eq!(crate::helpers::all_users(&app.state).await.len(), 1);
}

async fn make_user(app: &TestApp, username: &str, email: &str, password: &str) -> i64 {
    service::create_superuser(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        NewSuperuser {
            username: Username::parse(username).unwrap(),
            email: Email::parse(email).unwrap(),
            password: Some(NewPassword::parse_bypassing_policy(password.into()).unwrap()),
        },
    )
    .await
    .unwrap()
    .id
}

async fn authenticate_accepts_username_or_email_case_insensitively(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = make_user(&app, "Linus", "Linus@Example.org", "penguins all the way").await;
    let meta = ClientMeta {
        ip: Some("192.0.2.7".into()),
        user_agent: None,
    };
    for identifier in [
        "Linus",
        "linus@example.org",
        "LINUS@EXAMPLE.ORG",
        " Linus@Example.org ",
    ] {
        let user = service::authenticate(&app.state, identifier, "penguins all the way", &meta)
            .await
            .unwrap_or_else(|e| panic!("{identifier}: {e}"));
        assert_eq!(user.id, id);
        assert!(user.last_login.is_some());
    }
    let error = service::authenticate(&app.state, "linus", "penguins all the way", &meta)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AccountsError::InvalidCredentials),
        "usernames match case-sensitively, as in Django"
    );
    let stored =
        service::get_by_username(&app.state, &latchkey::accounts::Actor::Operator, "Linus")
            .await
            .unwrap();
    assert!(stored.last_login.is_some(), "last_login is recorded");
}

async fn authenticate_gives_one_error_for_unknown_wrong_and_inactive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    make_user(&app, "active", "active@example.com", "right password here").await;
    make_user(&app, "sleepy", "sleepy@example.com", "right password here").await;
    service::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "sleepy",
        false,
    )
    .await
    .unwrap();
    let meta = ClientMeta::default();

    for (identifier, password) in [
        ("nobody", "right password here"),
        ("active", "wrong password"),
        ("sleepy", "right password here"),
    ] {
        let error = service::authenticate(&app.state, identifier, password, &meta)
            .await
            .unwrap_err();
        assert!(
            matches!(error, AccountsError::InvalidCredentials),
            "{identifier}: {error:?}"
        );
    }

    let kinds: Vec<String> = app
        .state
        .db
        .run(|conn| {
            audit_events::table
                .select(audit_events::kind)
                .order(audit_events::id.asc())
                .load::<String>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    let logins: Vec<&String> = kinds.iter().filter(|k| k.starts_with("login")).collect();
    assert_eq!(logins, ["login_failed"; 3], "each failure is audited");
}

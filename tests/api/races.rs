//! A password checked while its owner resets it proves nothing once the reset has happened:
//! the attacker who knows the old password must not keep a session, nor take the account back,
//! by having a request under way when the owner resets. Each test performs the race (the
//! check of an imported account's slow Django hash under way while the reset commits), and
//! failed before the check was confirmed in the transaction of the change it allows.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use diesel::prelude::*;
use latchkey::db::DbError;
use latchkey::db::schema::users;
use serde_json::json;

use crate::helpers::{
    Backend, TestApp, audit_details, backend_tests, create_user, json_body, live_sessions,
    spawn_app,
};

backend_tests!(
    a_login_under_way_when_the_password_is_reset_opens_no_session,
    a_password_change_under_way_when_the_password_is_reset_is_refused,
);

const OLD: &str = "the old password known to an attacker";
const NEW: &str = "the owner's new password after the reset";
const ATTACKERS: &str = "the attacker's own password for the account";

/// Django's `pbkdf2_sha256` hash of `password` with a million rounds (Django 5.2's count, as an
/// imported account has): checking it takes seconds in a debug build, long enough for the
/// owner's reset to happen meanwhile.
fn slow_django_hash(password: &str) -> String {
    let (salt, rounds) = ("racesalt1234", 1_000_000);
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), rounds, &mut out);
    let hash = base64::engine::general_purpose::STANDARD.encode(out);
    format!("pbkdf2_sha256${rounds}${salt}${hash}")
}

async fn set_hash(app: &TestApp, id: i64, hash: String) {
    app.state
        .db
        .run(move |conn| {
            diesel::update(users::table.find(id))
                .set(users::password.eq(hash))
                .execute(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
}

/// Waits until a password check of account `id` is under way: its attempt is reserved (counted
/// in the backoff) before any hashing.
async fn wait_for_check(app: &TestApp, id: i64) {
    let key = latchkey::throttle::user_key(id);
    for _ in 0..400 {
        let key = key.clone();
        let reserved = app
            .state
            .db
            .run(move |conn| latchkey::throttle::find(conn, &key).map_err(DbError::from))
            .await
            .unwrap();
        if reserved.is_some_and(|r| r.failures > 0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no password check of account {id} began");
}

/// The owner's reset link (asked for before the race, so only its use is in it).
async fn reset_link(app: &TestApp, email: &str) -> (String, String) {
    let asked = app
        .post_json("/auth/users/reset_password/", &json!({"email": email}))
        .await;
    assert_eq!(asked.status(), 204);
    let mail = app.wait_for_mail(1).await.remove(0);
    crate::helpers::uid_and_token(&mail.link())
}

/// Runs `attack` and, once it is checking a password of account `id`, the owner's reset; fails
/// unless the reset ended while the attack was still under way. Returns the attack's response.
async fn race_with_reset<F>(
    app: &TestApp,
    id: i64,
    link: (String, String),
    attack: F,
) -> reqwest::Response
where
    F: std::future::Future<Output = reqwest::Response>,
{
    let attack_done = AtomicBool::new(false);
    let attack = async {
        let response = attack.await;
        attack_done.store(true, Ordering::SeqCst);
        response
    };
    let reset = async {
        wait_for_check(app, id).await;
        let (uid, token) = link;
        let confirmed = app
            .post_json(
                "/auth/users/reset_password_confirm/",
                &json!({"uid": uid, "token": token, "new_password": NEW}),
            )
            .await;
        assert_eq!(confirmed.status(), 204, "the owner's reset");
        attack_done.load(Ordering::SeqCst)
    };
    let (response, attack_ended_first) = tokio::join!(attack, reset);
    assert!(
        !attack_ended_first,
        "the race did not happen: the attack ended before the reset"
    );
    response
}

async fn logs_in(app: &TestApp, password: &str) -> u16 {
    app.post_json(
        "/auth/jwt/create/",
        &json!({"username": "vic", "password": password}),
    )
    .await
    .status()
    .as_u16()
}

async fn a_login_under_way_when_the_password_is_reset_opens_no_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = create_user(&app, "vic", "vic@example.com", OLD).await;
    set_hash(&app, id, slow_django_hash(OLD)).await;
    let link = reset_link(&app, "vic@example.com").await;

    let credentials = json!({"username": "vic", "password": OLD});
    let login = app.post_json("/auth/jwt/create/", &credentials);
    let response = race_with_reset(&app, id, link, login).await;
    // The old password was right when the check began, and is not the account's any more.
    assert_eq!(response.status(), 401);
    let body = json_body(response).await;
    assert_eq!(
        body["detail"],
        "No active account found with the given credentials"
    );
    assert_eq!(
        live_sessions(&app, id).await,
        0,
        "no session for the attacker"
    );
    assert_eq!(
        audit_details(&app, "login_failed", Some(id)).await,
        vec![Some(
            "the password changed or the account was deactivated during the check".to_owned()
        )],
        "the refused login is audited"
    );
    // Nor did the login's upgrade of the Django hash bring the old password back. (The right
    // password first: a failure first would start the backoff.)
    assert_eq!(logs_in(&app, NEW).await, 200);
    assert_eq!(logs_in(&app, OLD).await, 401);
}

async fn a_password_change_under_way_when_the_password_is_reset_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = create_user(&app, "vic", "vic@example.com", OLD).await;
    // The attacker is signed in already; the account is an imported one (a slow hash).
    let stolen = app.login("vic", OLD).await;
    set_hash(&app, id, slow_django_hash(OLD)).await;
    let link = reset_link(&app, "vic@example.com").await;

    let body = json!({"current_password": OLD, "new_password": ATTACKERS});
    let path = "/auth/users/set_password/";
    let change = app.send_bearer(reqwest::Method::POST, path, &stolen.access, &body);
    let response = race_with_reset(&app, id, link, change).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(response).await,
        json!({"current_password": ["Invalid password."]})
    );
    // The owner's reset stands: their password works, the attacker's does not, and every
    // session (the attacker's too) has ended.
    assert_eq!(live_sessions(&app, id).await, 0);
    assert_eq!(logs_in(&app, NEW).await, 200);
    assert_eq!(logs_in(&app, ATTACKERS).await, 401);
}

//! The attacks of the security review, each performed against the real server: every test
//! here failed before its protection existed (on SQLite and PostgreSQL alike).

use chrono::Duration;
use diesel::prelude::*;
use latchkey::accounts;
use latchkey::clock::Clock;
use latchkey::db::DbError;
use latchkey::db::schema::{email_outbox, login_throttle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, backend_tests, claims, create_staff, create_user, json_body,
};
use crate::helpers::{clock_start, spawn_app_on_clock};

backend_tests!(
    a_stolen_access_token_cannot_move_the_account_to_another_address,
    an_address_changes_only_through_the_link_sent_to_it,
    the_account_page_changes_the_address_the_same_way,
    an_expired_session_renews_nothing,
    concurrent_wrong_passwords_take_one_slot_each,
    current_password_guesses_count_towards_the_backoff,
    one_account_cannot_fill_the_hashing_queue,
    a_full_hashing_queue_answers_503,
    a_deactivated_user_cannot_reactivate_themselves,
    logout_with_a_rotated_token_ends_the_session,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

/// An app on a manual clock with these settings (and a per-IP bucket that the test's own
/// bursts never empty, unless the test sets it).
async fn app(backend: Backend, env: &[(&'static str, &str)]) -> Option<(TestApp, Clock)> {
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "LATCHKEY_THROTTLE_IP_BURST") {
        env.push(("LATCHKEY_THROTTLE_IP_BURST", "1000"));
    }
    spawn_app_on_clock(backend, &env).await
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> (u16, Value) {
    let response = app.send_bearer(method, path, token, &body).await;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn email_of(app: &TestApp, id: i64) -> String {
    accounts::get_user(&app.state, &latchkey::accounts::Actor::Operator, id)
        .await
        .unwrap()
        .email
}

async fn a_stolen_access_token_cannot_move_the_account_to_another_address(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    let victim = create_user(&app, "vic", "vic@example.com", PASSWORD).await;
    let stolen = app.login("vic", PASSWORD).await.access;
    let read_only = json!({"email": ["The email address cannot be changed here: use set_email (/auth/users/set_email/) with your current password, then confirm the new address from the link mailed to it."]});
    // PATCH and PUT on me, and on the detail route, with the attacker's address.
    for (method, path) in [
        (Method::PATCH, "/auth/users/me/".to_owned()),
        (Method::PUT, "/auth/users/me/".to_owned()),
        (Method::PATCH, format!("/auth/users/{victim}/")),
        (Method::PUT, format!("/auth/users/{victim}/")),
    ] {
        let (status, body) = send(
            &app,
            method.clone(),
            &path,
            &stolen,
            json!({"email": "mallory@evil.example"}),
        )
        .await;
        assert_eq!((status, body), (400, read_only.clone()), "{method} {path}");
    }
    // set_email needs the password the thief does not have.
    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/users/set_email/",
        &stolen,
        json!({"current_password": "a guess", "new_email": "mallory@evil.example"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"current_password": ["Invalid password."]}))
    );
    // Not even a stolen staff token moves someone else's account.
    create_staff(&app, "boss", "boss@example.com", PASSWORD).await;
    let staff = app.login("boss", PASSWORD).await.access;
    let (status, body) = send(
        &app,
        Method::PATCH,
        &format!("/auth/users/{victim}/"),
        &staff,
        json!({"email": "mallory@evil.example"}),
    )
    .await;
    assert_eq!((status, body), (400, read_only));
    // So a reset asked for the attacker's address reaches nobody, and the account is intact.
    let reset = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "mallory@evil.example"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(email_of(&app, victim).await, "vic@example.com");
    let queued: i64 = app
        .state
        .db
        .run(|conn| {
            email_outbox::table
                .count()
                .get_result(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(queued, 0, "no mail went anywhere");
}

async fn an_address_changes_only_through_the_link_sent_to_it(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "ivy", "ivy@old.example", PASSWORD).await;
    let asking = app.login("ivy", PASSWORD).await;
    let other = app.login("ivy", PASSWORD).await;
    // A reset link mailed to the old address before the change...
    let reset = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "ivy@old.example"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    let reset_link = app.wait_for_mail(1).await.remove(0).link();
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/users/set_email/",
        &asking.access,
        json!({"current_password": PASSWORD, "new_email": "Ivy@New.example"}),
    )
    .await;
    assert_eq!(status, 204);
    let mails = app.wait_for_mail(2).await;
    let confirm = mails.iter().find(|m| m.to == "Ivy@New.example").unwrap();
    assert!(
        confirm
            .text
            .contains("Until you do, your account keeps its current address")
    );
    assert_eq!(
        email_of(&app, id).await,
        "ivy@old.example",
        "nothing changes until the new address answers"
    );
    let (uid, token) = crate::helpers::uid_and_token(&confirm.link());
    // A wrong token, or the right one for another user, changes nothing.
    for (uid, token) in [(uid.as_str(), "wrong"), ("OTk5", token.as_str())] {
        let refused = app
            .post_json(
                "/auth/users/set_email_confirm/",
                &json!({"uid": uid, "token": token}),
            )
            .await;
        assert_eq!(refused.status(), 400);
        assert_eq!(
            json_body(refused).await,
            json!({"token": ["Invalid token for given user."]})
        );
    }
    let confirmed = app
        .post_json(
            "/auth/users/set_email_confirm/",
            &json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    assert_eq!(email_of(&app, id).await, "Ivy@New.example");
    let again = app
        .post_json(
            "/auth/users/set_email_confirm/",
            &json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(again.status(), 400, "the link works once");
    // The asking session stays; every other one ends.
    assert_eq!(
        app.get_bearer("/auth/users/me/", &asking.access)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &other.access)
            .await
            .status(),
        401
    );
    assert_eq!(app.refresh(&other.refresh).await.status(), 401);
    // The old address is told, and its reset link no longer works.
    let mails = app.wait_for_mail(3).await;
    assert!(
        mails
            .iter()
            .any(|m| m.to == "ivy@old.example" && m.text.contains("was changed to Ivy@New.example"))
    );
    let (uid, token) = crate::helpers::uid_and_token(&reset_link);
    let stale = app
        .post_json(
            "/auth/users/reset_password_confirm/",
            &json!({"uid": uid, "token": token, "new_password": "an entirely new one"}),
        )
        .await;
    assert_eq!(stale.status(), 400);
    app.login("ivy@new.example", PASSWORD).await;
}

async fn the_account_page_changes_the_address_the_same_way(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "ada", "ada@old.example", PASSWORD).await;
    create_user(&app, "bob", "bob@example.com", PASSWORD).await;
    let tab = app.tab_logged_in("ada").await;
    let submit = |new_email: &'static str, password: &'static str| {
        let tab = tab.clone();
        async move {
            let page = tab.page("/accounts/profile/").await;
            let fields = [("new_email", new_email), ("current_password", password)];
            tab.post_from(&page, "/accounts/email/", &fields).await
        }
    };
    let wrong = submit("ada@new.example", "not it").await;
    assert_eq!(wrong.status(), 400);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("Your password was entered incorrectly"),
        "{html}"
    );
    assert!(
        html.contains("value=\"ada@new.example\""),
        "the typed address stays"
    );
    let taken = submit("BOB@example.com", PASSWORD).await;
    assert_eq!(taken.status(), 400);
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("user with this email address already exists.")
    );
    let ok = submit("ada@new.example", PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let profile = tab.get("/accounts/profile/").await.text().await.unwrap();
    assert!(
        profile.contains("We sent a link to ada@new.example."),
        "{profile}"
    );
    assert!(profile.contains("ada@old.example"), "still the old address");
    let link = app.wait_for_mail(1).await.remove(0);
    assert_eq!(link.to, "ada@new.example");
    // The link opens a page; only its button (a POST) uses the link.
    let page = tab.page(&link.link_path()).await;
    assert!(page.contains("Use this address"), "{page}");
    assert_eq!(email_of(&app, id).await, "ada@old.example");
    let done = tab.post_from(&page, &link.link_path(), &[]).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("ada@new.example"));
    assert_eq!(email_of(&app, id).await, "ada@new.example");
    let profile = tab.get("/accounts/profile/").await;
    assert_eq!(
        profile.status(),
        200,
        "the browser that asked stays logged in"
    );
}

async fn an_expired_session_renews_nothing(backend: Backend) {
    let Some((app, clock)) = app(backend, &[("LATCHKEY_SESSION_ABSOLUTE_LIFETIME", "86400")]).await
    else {
        return;
    };
    create_user(&app, "sam", "sam@example.com", PASSWORD).await;
    let login = app
        .post_json(
            "/users/login/",
            &json!({"username": "sam", "password": PASSWORD}),
        )
        .await;
    let token = json_body(login).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The session lives as long as a browser session (a day, as configured here).
    let session_end = clock.now().timestamp() + 86_400;
    let renew = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/users/session/"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    // Renewed near the end, a token is cut at the session's end, never beyond it.
    let mut current = token;
    for _ in 0..((86_400 - 60) / 240) {
        clock.advance(Duration::seconds(240));
        let renewed = json_body(renew(current.clone()).await).await;
        current = renewed["access_token"].as_str().unwrap().to_owned();
    }
    clock.advance(Duration::seconds(
        session_end - clock.now().timestamp() - 30,
    ));
    let last = json_body(renew(current).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        claims(&last)["exp"].as_i64().unwrap(),
        session_end,
        "the renewed token ends with its session"
    );
    // Past the session's end the chain of renewals stops: the session is dead everywhere.
    clock.advance(Duration::seconds(31));
    assert_eq!(renew(last.clone()).await.status(), 401);
    assert_eq!(app.get_bearer("/auth/users/me/", &last).await.status(), 401);
    let sam = accounts::get_by_username(&app.state, &latchkey::accounts::Actor::Operator, "sam")
        .await
        .unwrap();
    let live = latchkey::sessions::service::list_sessions(&app.state, sam.id)
        .await
        .unwrap();
    assert!(live.is_empty(), "and gone from the account page: {live:?}");
}

async fn failures(app: &TestApp, key: String) -> i32 {
    app.state
        .db
        .run(move |conn| {
            login_throttle::table
                .find(key)
                .select(login_throttle::failures)
                .first(conn)
                .optional()
                .map_err(DbError::from)
        })
        .await
        .unwrap()
        .unwrap_or(0)
}

/// A JSON POST that owns its body (so many can be in flight at once).
async fn post(app: &TestApp, path: &'static str, body: Value) -> reqwest::Response {
    app.post_json(path, &body).await
}

/// Fires `n` requests at once and counts the answers by status.
async fn burst<F, Fut>(n: usize, request: F) -> std::collections::BTreeMap<u16, usize>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let answers = futures_util::future::join_all((0..n).map(|_| request())).await;
    let mut counts = std::collections::BTreeMap::new();
    for answer in answers {
        *counts.entry(answer.status().as_u16()).or_insert(0) += 1;
    }
    counts
}

async fn concurrent_wrong_passwords_take_one_slot_each(backend: Backend) {
    // One free failure, then a delay: each slot admits exactly one attempt.
    let Some((app, clock)) = app(backend, &[("LATCHKEY_THROTTLE_FREE_FAILURES", "1")]).await else {
        return;
    };
    let id = create_user(&app, "tia", "tia@example.com", PASSWORD).await;
    let guess = || {
        post(
            &app,
            "/auth/jwt/create/",
            json!({"username": "tia", "password": "a wrong guess"}),
        )
    };
    let counts = burst(20, guess).await;
    assert_eq!(
        counts.get(&401),
        Some(&1),
        "one hashed guess per slot: {counts:?}"
    );
    assert_eq!(counts.get(&429), Some(&19), "{counts:?}");
    assert_eq!(failures(&app, format!("user:{id}")).await, 1);
    // The next slot opens after the delay: again one guess, whoever races for it.
    clock.advance(Duration::seconds(1));
    let counts = burst(20, guess).await;
    assert_eq!(counts.get(&401), Some(&1), "{counts:?}");
    assert_eq!(failures(&app, format!("user:{id}")).await, 2);
    // Unknown accounts are counted the same way (per identifier).
    let counts = burst(20, || {
        post(
            &app,
            "/auth/jwt/create/",
            json!({"username": "nobody", "password": "x"}),
        )
    })
    .await;
    assert_eq!(counts.get(&401), Some(&1), "{counts:?}");
    assert_eq!(failures(&app, "ident:nobody".to_owned()).await, 1);
}

async fn current_password_guesses_count_towards_the_backoff(backend: Backend) {
    let Some((app, clock)) = app(
        backend,
        &[
            ("LATCHKEY_THROTTLE_FREE_FAILURES", "3"),
            ("LATCHKEY_THROTTLE_LOCK_AFTER", "6"),
            // The stolen token must outlive the hours of waiting below.
            ("LATCHKEY_ACCESS_TOKEN_LIFETIME", "86400"),
        ],
    )
    .await
    else {
        return;
    };
    let id = create_user(&app, "ula", "ula@example.com", PASSWORD).await;
    let stolen = app.login("ula", PASSWORD).await.access;
    let guesses: [(Method, &str, Value); 3] = [
        (
            Method::POST,
            "/auth/users/set_password/",
            json!({"current_password": "guess", "new_password": "a brand new secret"}),
        ),
        (
            Method::POST,
            "/auth/users/set_email/",
            json!({"current_password": "guess", "new_email": "thief@evil.example"}),
        ),
        (
            Method::DELETE,
            "/auth/users/me/",
            json!({"current_password": "guess"}),
        ),
    ];
    for (method, path, body) in &guesses {
        let (status, body) = send(&app, method.clone(), path, &stolen, body.clone()).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    // Three wrong guesses on three endpoints: the account's backoff now holds them all.
    for (method, path, body) in &guesses {
        let response = app.send_bearer(method.clone(), path, &stolen, body).await;
        assert_eq!(response.status(), 429, "{path}");
        assert_eq!(response.headers()["retry-after"], "1");
    }
    // Even the right password waits for the slot, and logins share the same backoff.
    let login = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "ula", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 429);
    // Keep guessing after each delay until the lock: then even the right password fails.
    for _ in 0..3 {
        clock.advance(Duration::seconds(3600));
        let (status, _) = send(
            &app,
            Method::POST,
            "/auth/users/set_password/",
            &stolen,
            json!({"current_password": "guess", "new_password": "a brand new secret"}),
        )
        .await;
        assert_eq!(status, 400);
    }
    assert_eq!(failures(&app, format!("user:{id}")).await, 6);
    clock.advance(Duration::seconds(3600));
    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/users/set_password/",
        &stolen,
        json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"current_password": ["Invalid password."]})),
        "locked: the right password does not match either"
    );
    // The HTML password change is counted too (and answers the HTML 429 page).
    accounts::unlock(&app.state, &latchkey::accounts::Actor::Operator, "ula")
        .await
        .unwrap();
    let tab = app.tab_logged_in("ula").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let fields = [
            ("old_password", "guess"),
            ("new_password1", "a brand new secret"),
            ("new_password2", "a brand new secret"),
        ];
        let response = tab.submit("/accounts/password_change/", &fields).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.text().await.unwrap().contains("Too many attempts"));
        }
    }
    assert_eq!(statuses, [400, 400, 400, 429]);
}

async fn one_account_cannot_fill_the_hashing_queue(backend: Backend) {
    // Throttling off: only the queue bound stands between one account and every hash thread.
    let Some((app, _clock)) = app(
        backend,
        &[
            ("LATCHKEY_THROTTLE_ENABLED", "false"),
            ("LATCHKEY_HASH_QUEUE_PER_ACCOUNT", "2"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "flo", "flo@example.com", PASSWORD).await;
    create_user(&app, "gus", "gus@example.com", PASSWORD).await;
    let flood = app.login("flo", PASSWORD).await.access;
    let guesses = burst(40, || {
        let (app, flood) = (&app, flood.clone());
        async move {
            app.send_bearer(
                Method::POST,
                "/auth/users/set_password/",
                &flood,
                &json!({"current_password": "guess", "new_password": "a brand new secret"}),
            )
            .await
        }
    });
    let other = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "gus", "password": PASSWORD}),
    );
    let (counts, other) = tokio::join!(guesses, other);
    assert_eq!(other.status(), 200, "another account's login is served");
    let refused = counts.get(&429).copied().unwrap_or(0);
    assert!(
        refused >= 30,
        "most of one account's flood is refused: {counts:?}"
    );
    assert_eq!(
        counts.get(&400).copied().unwrap_or(0) + refused,
        40,
        "{counts:?}"
    );
}

async fn a_full_hashing_queue_answers_503(backend: Backend) {
    let Some((app, _clock)) = app(
        backend,
        &[
            ("LATCHKEY_HASH_WORKERS", "1"),
            ("LATCHKEY_HASH_QUEUE_LIMIT", "1"),
        ],
    )
    .await
    else {
        return;
    };
    // Forty different identifiers at once: no per-account bound applies, only the overall one.
    let attempts = (0..40).map(|i| {
        post(
            &app,
            "/auth/jwt/create/",
            json!({"username": format!("nobody{i}"), "password": "x"}),
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut unavailable = 0;
    for answer in answers {
        match answer.status().as_u16() {
            401 => {}
            503 => {
                unavailable += 1;
                assert_eq!(answer.headers()["retry-after"], "1");
                assert_eq!(
                    json_body(answer).await,
                    json!({"detail": "Service temporarily unavailable, try again later."})
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(unavailable > 0, "a queue of one cannot take forty at once");
}

async fn a_deactivated_user_cannot_reactivate_themselves(backend: Backend) {
    let Some((app, _clock)) = app(
        backend,
        &[
            ("LATCHKEY_SEND_ACTIVATION_EMAIL", "true"),
            ("LATCHKEY_MAIL_COOLDOWN", "0"),
        ],
    )
    .await
    else {
        return;
    };
    let created = app
        .post_json(
            "/auth/users/",
            &json!({"email": "dee@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let (uid, token) = crate::helpers::uid_and_token(&app.wait_for_mail(1).await.remove(0).link());
    let activated = app
        .post_json(
            "/auth/users/activation/",
            &json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(activated.status(), 204);
    // An operator disables the account; its owner tries to turn it back on.
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dee@example.com",
        false,
    )
    .await
    .unwrap();
    let resend = app
        .post_json(
            "/auth/users/resend_activation/",
            &json!({"email": "dee@example.com"}),
        )
        .await;
    assert_eq!(resend.status(), 204, "the same answer as for anyone");
    // Mail is queued in the request's transaction: the outbox says at once what will be sent.
    assert_eq!(outbox(&app).await.len(), 1, "no new link was queued");
    // Even a link that exists (issued before, or leaked) cannot turn it on.
    let dee = accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dee@example.com",
    )
    .await
    .unwrap();
    let now = app.state.clock.now_naive();
    let leaked = app
        .state
        .db
        .run(move |conn| {
            latchkey::accounts::onetime::issue(
                conn,
                dee.id,
                latchkey::accounts::onetime::Purpose::Activation,
                now,
                Duration::hours(1),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let refused = app
        .post_json(
            "/auth/users/activation/",
            &json!({"uid": uid, "token": leaked}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        json_body(refused).await,
        json!({"detail": "Stale token for given user."})
    );
    let dee = accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dee@example.com",
    )
    .await
    .unwrap();
    assert!(!dee.is_active, "still off");
    let login = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "dee@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 401);
}

async fn logout_with_a_rotated_token_ends_the_session(backend: Backend) {
    let Some((app, clock)) = app(backend, &[]).await else {
        return;
    };
    create_user(&app, "rex", "rex@example.com", PASSWORD).await;
    for wait in [0, 11] {
        let first = app.login("rex", PASSWORD).await;
        let rotated = json_body(app.refresh(&first.refresh).await).await;
        let child = rotated["refresh"].as_str().unwrap().to_owned();
        let access = rotated["access"].as_str().unwrap().to_owned();
        // The front end logs out with the token it kept from login, in or after the grace.
        clock.advance(Duration::seconds(wait));
        for path in ["/auth/logout/", "/auth/jwt/blacklist/"] {
            let out = app
                .post_json(path, &json!({"refresh": first.refresh}))
                .await;
            if path == "/auth/logout/" {
                assert_eq!(out.status(), 200, "logout after {wait} s");
                assert_eq!(json_body(out).await, json!({}));
            } else {
                // The session already ended: now the contract's error.
                assert_eq!(out.status(), 401);
                assert_eq!(
                    json_body(out).await,
                    json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
                );
            }
        }
        assert_eq!(
            app.refresh(&child).await.status(),
            401,
            "the child is dead too"
        );
        assert_eq!(
            app.get_bearer("/auth/users/me/", &access).await.status(),
            401
        );
    }
}

backend_tests!(
    delivered_mail_keeps_no_working_link,
    a_dead_workers_mail_is_taken_over_within_seconds,
    a_live_worker_keeps_its_lease_while_it_sends,
    an_email_shaped_username_cannot_squat_an_address,
    prevent_enumeration_has_no_side_doors,
    unauthenticated_writes_share_the_ip_bucket,
    nul_characters_are_refused_everywhere,
    an_exhausted_pool_answers_503_within_a_second,
    tokens_must_name_this_issuer_and_audience,
    usernames_are_one_account_whatever_their_unicode_form,
);

async fn outbox(app: &TestApp) -> Vec<latchkey::mail::outbox::OutboxMessage> {
    app.state
        .db
        .run(|conn| latchkey::mail::outbox::all(conn).map_err(DbError::from))
        .await
        .unwrap()
}

async fn delivered_mail_keeps_no_working_link(backend: Backend) {
    let Some((app, clock)) = app(backend, &[]).await else {
        return;
    };
    create_user(&app, "kim", "kim@example.com", PASSWORD).await;
    let reset = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "kim@example.com"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    let mail = app.wait_for_mail(1).await.remove(0);
    let (_, token) = crate::helpers::uid_and_token(&mail.link());
    // Delivered: the row keeps who and what, but no body, so no link.
    let mut rows = outbox(&app).await;
    for _ in 0..500 {
        if rows.iter().all(|r| r.sent_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        rows = outbox(&app).await;
    }
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.sent_at.is_some());
    assert_eq!(row.to_address, "kim@example.com");
    assert_eq!((row.body_text.as_str(), row.body_html.as_str()), ("", ""));
    assert!(!format!("{row:?}").contains(&token));
    // The link itself still works for its owner.
    assert!(mail.text.contains(&token));
    // After the retention, flushexpiredtokens removes the row.
    let flushed = latchkey::maintenance::flush_expired(&app.state, &app.state.ip_limiter)
        .await
        .unwrap();
    assert_eq!(flushed.sent_mail, 0, "kept for the retention period");
    clock.advance(Duration::days(8));
    let flushed = latchkey::maintenance::flush_expired(&app.state, &app.state.ip_limiter)
        .await
        .unwrap();
    assert_eq!(flushed.sent_mail, 1);
    assert!(outbox(&app).await.is_empty());
}

async fn a_dead_workers_mail_is_taken_over_within_seconds(backend: Backend) {
    let Some((app, clock)) = app(backend, &[]).await else {
        return;
    };
    // A message claimed by a worker that then died (`kill -9`: it never sends, never renews):
    // queued and claimed in one transaction, so the live worker cannot take it first.
    let mail = latchkey::mail::RenderedMail {
        subject: "Held".into(),
        text: "held mail".into(),
        html: "<p>held mail</p>".into(),
    };
    let now = clock.now_naive();
    let claimed = app
        .state
        .db
        .run(move |conn| {
            latchkey::db::write_transaction(conn, |conn| {
                latchkey::mail::outbox::enqueue(
                    conn,
                    "from@example.com",
                    "lea@example.com",
                    &mail,
                    now,
                )?;
                latchkey::mail::outbox::claim_due(conn, now, 10, "dead")
            })
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // While the lease holds, a worker leaves it alone (a round run here, to the end)...
    clock.advance(Duration::seconds(5));
    let taken = latchkey::mail::deliver_due(&app.state.delivery, "live")
        .await
        .unwrap();
    assert_eq!(taken, 0, "a held lease is not taken");
    assert!(outbox(&app).await[0].sent_at.is_none());
    // ...and seconds later (not minutes) the lapsed lease is taken over and the mail goes out.
    clock.advance(latchkey::mail::outbox::LEASE);
    let mails = app.wait_for_mail(1).await;
    assert_eq!(mails[0].subject, "Held");
    let mut row = outbox(&app).await.remove(0);
    for _ in 0..500 {
        if row.sent_at.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        row = outbox(&app).await.remove(0);
    }
    assert!(row.sent_at.is_some());
    assert_eq!(row.attempts, 2, "the dead claim counted as an attempt");
    let again = latchkey::mail::deliver_due(&app.state.delivery, "live")
        .await
        .unwrap();
    assert_eq!(again, 0, "a sent message is never claimed again");
    assert_eq!(app.wait_for_mail(1).await.len(), 1, "sent once");
}

/// One outbox operation, run on a pooled connection.
type OutboxStep = dyn FnOnce(&mut latchkey::db::DbConn) -> QueryResult<usize> + Send;

async fn a_live_worker_keeps_its_lease_while_it_sends(backend: Backend) {
    use latchkey::mail::outbox;
    let Some(db) = crate::helpers::TestDb::create(backend) else {
        return;
    };
    let state = crate::helpers::state_for(&db);
    state
        .db
        .run(latchkey::db::run_pending_migrations)
        .await
        .unwrap();
    let t0 = clock_start().naive_utc();
    let at = move |seconds: i64| t0 + Duration::seconds(seconds);
    let run = |f: Box<OutboxStep>| {
        let state = state.clone();
        async move {
            state
                .db
                .run(move |conn| f(conn).map_err(DbError::from))
                .await
                .unwrap()
        }
    };
    let mail = latchkey::mail::RenderedMail {
        subject: "Slow".into(),
        text: "slow".into(),
        html: "<p>slow</p>".into(),
    };
    run(Box::new(move |conn| {
        outbox::enqueue(conn, "a@example.com", "b@example.com", &mail, t0).map(|()| 1)
    }))
    .await;
    let claimed = run(Box::new(move |conn| {
        outbox::claim_due(conn, t0, 10, "alive").map(|c| c.len())
    }))
    .await;
    assert_eq!(claimed, 1);
    // A slow SMTP server: the owner renews before the lease runs out, again and again.
    for second in [3, 6, 9, 12, 15] {
        let renewed = run(Box::new(move |conn| {
            outbox::renew(conn, &[1], "alive", at(second))
        }))
        .await;
        assert_eq!(renewed, 1, "renewed at {second} s");
        let stolen = run(Box::new(move |conn| {
            outbox::claim_due(conn, at(second + 1), 10, "other").map(|c| c.len())
        }))
        .await;
        assert_eq!(stolen, 0, "nobody else takes a renewed lease at {second} s");
    }
    // Another worker cannot renew what it does not hold.
    let renewed = run(Box::new(move |conn| {
        outbox::renew(conn, &[1], "other", at(16))
    }))
    .await;
    assert_eq!(renewed, 0);
    // When the owner stops (it died), the lease lapses LEASE after its last renewal.
    let lapse = 15 + outbox::LEASE.num_seconds() + 1;
    let taken = run(Box::new(move |conn| {
        outbox::claim_due(conn, at(lapse), 10, "other").map(|c| c.len())
    }))
    .await;
    assert_eq!(taken, 1);
}

async fn an_email_shaped_username_cannot_squat_an_address(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    let squat = app
        .post_json(
            "/auth/users/",
            &json!({"email": "mallory@evil.example", "username": "Carol@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(squat.status(), 400);
    assert_eq!(
        json_body(squat).await,
        json!({"username": ["A username that is an email address must be your own email address."]})
    );
    // One's own address, in any case, is a fine username.
    create_user(&app, "Carol@Example.com", "carol@example.com", PASSWORD).await;
    // An account from before this rule whose username is Dan's address: Dan's login still
    // reaches Dan's account (an identifier with @ is matched as an email first).
    let dan = create_user(&app, "dan", "dan@example.com", PASSWORD).await;
    let old = create_user(
        &app,
        "squatter",
        "old@evil.example",
        "squatter's own secret",
    )
    .await;
    app.state
        .db
        .run(move |conn| {
            diesel::update(latchkey::db::schema::users::table.find(old))
                .set(latchkey::db::schema::users::username.eq("Dan@example.com"))
                .execute(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    let tokens = app.login("Dan@example.com", PASSWORD).await;
    assert_eq!(claims(&tokens.access)["user_id"], dan.to_string());
    let wrong = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "Dan@example.com", "password": "squatter's own secret"}),
        )
        .await;
    assert_eq!(
        wrong.status(),
        401,
        "the squatter's password does not open Dan's account"
    );
}

async fn prevent_enumeration_has_no_side_doors(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[("LATCHKEY_PREVENT_ENUMERATION", "true")]).await
    else {
        return;
    };
    create_user(&app, "pat", "pat@example.com", PASSWORD).await;
    create_user(&app, "quin", "quin@example.com", PASSWORD).await;
    // Registration with an email-shaped username equal to a taken address answers like a new one.
    let register = |email: &'static str, username: &'static str| {
        post(
            &app,
            "/auth/users/",
            json!({"email": email, "username": username, "password": PASSWORD}),
        )
    };
    let taken = register("pat@example.com", "pat@example.com").await;
    let free = register("new@example.com", "new@example.com").await;
    assert_eq!(
        (taken.status().as_u16(), free.status().as_u16()),
        (201, 201)
    );
    let (taken, free) = (json_body(taken).await, json_body(free).await);
    assert_eq!(
        taken.as_object().unwrap().keys().collect::<Vec<_>>(),
        free.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let me = app.login("quin", PASSWORD).await.access;
    // PATCH me: a taken and a free address get the same refusal.
    let patch = |email: &'static str| {
        let (app, me) = (&app, me.clone());
        async move {
            send(
                app,
                Method::PATCH,
                "/auth/users/me/",
                &me,
                json!({"email": email}),
            )
            .await
        }
    };
    assert_eq!(
        patch("pat@example.com").await,
        patch("nobody@example.com").await
    );
    // set_email with a wrong password says only that, taken address or not.
    let set_email = |email: &'static str, password: &'static str| {
        let (app, me) = (&app, me.clone());
        async move {
            send(
                app,
                Method::POST,
                "/auth/users/set_email/",
                &me,
                json!({"current_password": password, "new_email": email}),
            )
            .await
        }
    };
    assert_eq!(
        set_email("pat@example.com", "wrong").await,
        set_email("nobody@example.com", "wrong").await
    );
    // With the right password a taken address answers as a free one (and nobody is mailed).
    let before = outbox(&app).await.len();
    assert_eq!(set_email("pat@example.com", PASSWORD).await.0, 204);
    assert_eq!(outbox(&app).await.len(), before);
    assert_eq!(set_email("nobody@example.com", PASSWORD).await.0, 204);
    assert_eq!(outbox(&app).await.len(), before + 1);
}

async fn unauthenticated_writes_share_the_ip_bucket(backend: Backend) {
    let Some((app, clock)) = app(
        backend,
        &[
            ("LATCHKEY_THROTTLE_IP_BURST", "2"),
            ("LATCHKEY_THROTTLE_IP_PER_MINUTE", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let endpoints: [(&str, Value); 5] = [
        (
            "/auth/users/reset_password/",
            json!({"email": "a@example.com"}),
        ),
        (
            "/auth/users/resend_activation/",
            json!({"email": "a@example.com"}),
        ),
        (
            "/auth/users/reset_password_confirm/",
            json!({"uid": "MQ", "token": "x", "new_password": "something long"}),
        ),
        (
            "/auth/users/activation/",
            json!({"uid": "MQ", "token": "x"}),
        ),
        (
            "/auth/users/set_email_confirm/",
            json!({"uid": "MQ", "token": "x"}),
        ),
    ];
    for (path, body) in &endpoints {
        // Each starts from a full bucket of two.
        clock.advance(Duration::minutes(3));
        for _ in 0..2 {
            let response = app.post_json(path, body).await;
            assert_ne!(response.status(), 429, "{path}");
        }
        let response = app.post_json(path, body).await;
        assert_eq!(response.status(), 429, "{path}");
        assert_eq!(response.headers()["retry-after"], "60");
    }
    // The HTML forms that need no login are in the same bucket, answered with the HTML page.
    for form in [
        "/accounts/password_reset/",
        "/accounts/activate/MQ/x/",
        "/accounts/email/confirm/MQ/x/",
        "/accounts/reset/MQ/set-password/",
    ] {
        let response = app
            .tab()
            .post(form)
            .form(&[("csrf_token", "x"), ("email", "a@example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429, "{form}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Too many attempts"), "{form}: {page}");
    }
    // The rows throttling leaves behind are flushed once they no longer matter.
    clock.advance(Duration::days(2));
    let flushed = latchkey::maintenance::flush_expired(&app.state, &app.state.ip_limiter)
        .await
        .unwrap();
    assert!(flushed.cooldowns >= 1, "{flushed:?}");
    if backend == Backend::Postgres {
        assert!(flushed.throttle >= 1, "the shared bucket: {flushed:?}");
    }
}

async fn nul_characters_are_refused_everywhere(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    create_user(&app, "nia", "nia@example.com", PASSWORD).await;
    let me = app.login("nia", PASSWORD).await.access;
    let nul = "ni\u{0}a";
    let refused = |field: &str| json!({field: ["Null characters are not allowed."]});
    for (path, body, field) in [
        (
            "/auth/users/",
            json!({"email": "x@example.com", "username": nul, "password": PASSWORD}),
            "username",
        ),
        (
            "/auth/users/",
            json!({"email": "x@example.com", "first_name": nul, "password": PASSWORD}),
            "first_name",
        ),
        (
            "/auth/jwt/create/",
            json!({"username": nul, "password": PASSWORD}),
            "username",
        ),
        (
            "/auth/jwt/create/",
            json!({"username": "nia", "password": nul}),
            "password",
        ),
        ("/auth/jwt/refresh/", json!({"refresh": nul}), "refresh"),
        (
            "/auth/users/reset_password/",
            json!({"email": nul}),
            "email",
        ),
    ] {
        let response = app.post_json(path, &body).await;
        assert_eq!(response.status(), 400, "{path} {field}");
        assert_eq!(json_body(response).await, refused(field), "{path} {field}");
    }
    let (status, body) = send(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        &me,
        json!({"last_name": nul}),
    )
    .await;
    assert_eq!((status, body), (400, refused("last_name")));
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/users/set_password/",
        &me,
        json!({"current_password": nul, "new_password": "another long one"}),
    )
    .await;
    assert_eq!(status, 400);
    // The compat dialects answer in their own shapes, never 500.
    for path in ["/api/token/pair", "/users/login/"] {
        let response = app
            .post_json(path, &json!({"username": nul, "password": PASSWORD}))
            .await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    // The HTML forms: a 400 page, nothing stored.
    for (form, fields) in [
        (
            "/accounts/login/",
            vec![("username", nul), ("password", PASSWORD)],
        ),
        (
            "/accounts/register/",
            vec![
                ("email", "y@example.com"),
                ("username", nul),
                ("password1", PASSWORD),
                ("password2", PASSWORD),
            ],
        ),
        ("/accounts/password_reset/", vec![("email", nul)]),
    ] {
        let tab = app.tab();
        let page = tab.page("/accounts/login/").await;
        let response = tab.post_from(&page, form, &fields).await;
        assert_eq!(response.status(), 400, "{form}");
        let html = response.text().await.unwrap();
        assert!(html.contains("could not be read"), "{form}: {html}");
    }
    let count = crate::helpers::all_users(&app.state).await.len();
    assert_eq!(count, 1, "nothing was created");
}

async fn an_exhausted_pool_answers_503_within_a_second(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[("LATCHKEY_DB_POOL_TIMEOUT_MS", "300")]).await else {
        return;
    };
    create_user(&app, "oli", "oli@example.com", PASSWORD).await;
    let token = app.login("oli", PASSWORD).await.access;
    let tab = app.tab_logged_in("oli").await;
    // Take every connection of the pool, as a lost or saturated database would.
    let pool = app.state.db.pool().clone();
    let held = tokio::task::spawn_blocking(move || {
        (0..pool.max_size())
            .map(|_| pool.get().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let api = app.get_bearer("/auth/users/me/", &token).await;
    assert_eq!(api.status(), 503);
    assert_eq!(api.headers()["retry-after"], "1");
    assert_eq!(
        json_body(api).await,
        json!({"detail": "Service temporarily unavailable, try again later."})
    );
    let page = tab.get("/accounts/profile/").await;
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "1");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Temporarily unavailable")
    );
    assert_eq!(app.get("/health/ready").await.status(), 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "answered within the checkout timeout, not after minutes: {:?}",
        started.elapsed()
    );
    drop(held);
    // As soon as connections are back, so is service, and the browser is still logged in.
    assert_eq!(
        app.get_bearer("/auth/users/me/", &token).await.status(),
        200
    );
    assert_eq!(
        tab.get("/accounts/profile/").await.status(),
        200,
        "the blip did not log the browser out"
    );
}

async fn tokens_must_name_this_issuer_and_audience(backend: Backend) {
    let Some((app, clock)) = app(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "iko", "iko@example.com", PASSWORD).await;
    let pair = app.login("iko", PASSWORD).await;
    let minted = claims(&pair.access);
    assert_eq!(minted["iss"], "http://localhost:8000");
    assert_eq!(minted["aud"], "http://localhost:8000");
    let forge = |sid: &str, iss: Option<&str>, aud: Option<&str>, iat: i64| {
        let mut c = app.state.jwt.claims(
            latchkey::tokens::TokenType::Access,
            iat + 300,
            iat,
            "f".repeat(32),
            id,
            sid.to_owned(),
        );
        c.iss = iss.map(str::to_owned);
        c.aud = aud.map(|a| latchkey::tokens::Audience::One(a.to_owned()));
        app.state.jwt.encode(&c).unwrap()
    };
    let sid = minted["sid"].as_str().unwrap().to_owned();
    let now = clock.now().timestamp();
    let ours = Some("http://localhost:8000");
    assert_eq!(
        app.get_bearer("/auth/users/me/", &forge(&sid, ours, ours, now))
            .await
            .status(),
        200
    );
    for (iss, aud, iat) in [
        (Some("https://other.example"), ours, now),
        (ours, Some("https://other.example"), now),
        (ours, None, now),
        (ours, ours, now + 120),
    ] {
        let token = forge(&sid, iss, aud, iat);
        let response = app.get_bearer("/auth/users/me/", &token).await;
        assert_eq!(response.status(), 401, "{iss:?} {aud:?} {iat}");
    }
    // Without iss/aud a token passes only if minted before this database got the upgrade:
    // move this test's clock past the upgrade, then mint one from just before and one after.
    let upgraded = latchkey_upgrade_time(&app).await;
    clock.advance(Duration::seconds(upgraded + 60 - now));
    let sid = claims(&app.login("iko", PASSWORD).await.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = forge(&sid, None, None, upgraded - 10);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &before).await.status(),
        200,
        "minted by the old version: accepted until it expires"
    );
    let after = forge(&sid, None, None, upgraded + 30);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &after).await.status(),
        401,
        "a new token must name its issuer"
    );
}

/// When this database got the migration that added `iss`/`aud` (Unix seconds).
async fn latchkey_upgrade_time(app: &TestApp) -> i64 {
    app.state
        .db
        .run(|conn| latchkey::db::applied_at(conn, latchkey::db::ISSUER_CLAIMS_MIGRATION))
        .await
        .unwrap()
        .unwrap()
        .and_utc()
        .timestamp()
}

async fn usernames_are_one_account_whatever_their_unicode_form(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    create_user(&app, "jose", "jose@example.com", PASSWORD).await;
    let fullwidth = "\u{ff4a}\u{ff4f}\u{ff53}\u{ff45}";
    let twin = app
        .post_json(
            "/auth/users/",
            &json!({"email": "other@example.com", "username": fullwidth, "password": PASSWORD}),
        )
        .await;
    assert_eq!(twin.status(), 400);
    assert_eq!(
        json_body(twin).await,
        json!({"username": ["A user with that username already exists."]})
    );
    let tokens = app.login(fullwidth, PASSWORD).await;
    assert!(
        !tokens.access.is_empty(),
        "the same account, typed in fullwidth"
    );
    // A number where text belongs is refused, never kept as a rounded float.
    let refused = app
        .client
        .post(app.url("/auth/users/"))
        .header("content-type", "application/json")
        .body(r#"{"email": "big@example.com", "username": 18446744073709551616, "password": "correct horse battery staple"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(
        json_body(refused).await,
        json!({"username": ["Not a valid string."]})
    );
}

backend_tests!(
    logs_name_routes_and_real_peers_and_keep_client_faults_below_error,
    a_slowly_sent_body_is_cut_off,
    a_lost_postgresql_database_answers_503_quickly,
    the_full_user_list_streams_and_deep_pages_follow_links,
);

/// The real binary, serving on a port of its own choosing (port 0) with JSON logs written to
/// a file; the address comes from its "latchkey listening" log line.
struct Served {
    child: std::process::Child,
    log: std::path::PathBuf,
    address: String,
}

impl Served {
    async fn start(db: &crate::helpers::TestDb) -> Self {
        let log = db.dir.path().join("server.log");
        let mut env = crate::helpers::base_env(db);
        // The default filter (info): what an operator gets without asking.
        env.remove("LATCHKEY_LOG");
        env.insert("LATCHKEY_LOG_FORMAT".into(), "json".into());
        let mut child = std::process::Command::new(crate::helpers::binary())
            .env_clear()
            .envs(&env)
            .current_dir(db.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // Waits for the line the server writes once it accepts connections.
        for _ in 0..400 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|entry| entry["message"] == "latchkey listening")
                .and_then(|entry| entry["port"].as_u64());
            if let Some(port) = port {
                return Self {
                    child,
                    log,
                    address: format!("http://127.0.0.1:{port}"),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the server exited ({status}): {text}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "the server did not start: {}",
            std::fs::read_to_string(&log).unwrap()
        );
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

async fn logs_name_routes_and_real_peers_and_keep_client_faults_below_error(backend: Backend) {
    let Some(db) = crate::helpers::TestDb::create(backend) else {
        return;
    };
    let server = Served::start(&db).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.address);
    let secret_link = "/accounts/activate/MQ/s3cr3t-link-t0ken/";
    // A 4xx on a URL that carries a one-time token, from a client claiming another address.
    let response = client
        .post(url(secret_link))
        .header("x-forwarded-for", "6.6.6.6")
        .header("forwarded", "for=6.6.6.7")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf_token=a%00b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Hostile but harmless input: every one a client's fault.
    let hostile: Vec<(&str, &str, String)> = vec![
        ("POST", "/auth/users/", "{".into()),
        ("POST", "/auth/users/", "[1, 2]".into()),
        (
            "POST",
            "/auth/users/",
            r#"{"email": 5, "password": null}"#.into(),
        ),
        (
            "POST",
            "/auth/users/",
            "{\"email\": \"a\u{0}@b.c\", \"password\": \"x\"}".into(),
        ),
        (
            "POST",
            "/auth/jwt/create/",
            r#"{"username": "x", "password": "y"}"#.into(),
        ),
        (
            "POST",
            "/auth/jwt/refresh/",
            r#"{"refresh": "not.a.jwt"}"#.into(),
        ),
        (
            "POST",
            "/auth/jwt/verify/",
            r#"{"token": "eyJhbGciOiJub25lIn0.e30."}"#.into(),
        ),
        (
            "POST",
            "/auth/users/reset_password_confirm/",
            r#"{"uid": "%%%", "token": "x", "new_password": "y"}"#.into(),
        ),
        ("POST", "/auth/users/", "x".repeat(70_000)),
        ("GET", "/auth/users/me/", String::new()),
        ("PUT", "/auth/jwt/create/", String::new()),
        ("GET", "/no/such/route", String::new()),
        ("GET", "/auth/users/%00/", String::new()),
    ];
    for (method, path, body) in &hostile {
        let response = client
            .request(method.parse().unwrap(), url(path))
            .header("content-type", "application/json")
            .header("authorization", "Bearer forged.token.here")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{method} {path}: {}",
            response.status()
        );
    }
    // A request line and a header no HTTP parser accepts.
    for garbage in [
        "GET /auth/users/ HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = server.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(garbage.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut answer),
        )
        .await;
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"),
            "{garbage:?}"
        );
    }
    let log = server.stop();
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !log.contains("s3cr3t-link-t0ken"),
        "a token reached the log:\n{log}"
    );
    assert!(
        !log.contains("6.6.6.6") && !log.contains("6.6.6.7"),
        "{log}"
    );
    let warned = lines
        .iter()
        .find(|l| {
            l["level"] == "WARN" && l["span"]["http.route"] == "/accounts/activate/{uid}/{token}"
        })
        .unwrap_or_else(|| panic!("no WARN line with the route pattern:\n{log}"));
    assert_eq!(warned["span"]["http.client_ip"], "127.0.0.1");
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(
        errors.is_empty(),
        "client faults logged as ERROR: {errors:#?}"
    );
}

async fn a_slowly_sent_body_is_cut_off(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((app, _clock)) = app(backend, &[("LATCHKEY_BODY_READ_TIMEOUT", "1")]).await else {
        return;
    };
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Headers promise 100 bytes; one arrives, the rest never do.
    stream
        .write_all(
            b"POST /auth/users/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the server cut the slow body off instead of waiting for ever")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("The request body was not received in time."),
        "{answer}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

async fn a_lost_postgresql_database_answers_503_quickly(backend: Backend) {
    if backend == Backend::Sqlite {
        // A SQLite file cannot go away underneath its process; the exhausted-pool test covers
        // the same path (no connection within the checkout timeout) on both backends.
        return;
    }
    let Some((app, _clock)) = app(backend, &[]).await else {
        return;
    };
    create_user(&app, "pia", "pia@example.com", PASSWORD).await;
    let token = app.login("pia", PASSWORD).await.access;
    app.db.drop_postgres_database();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let response = app.get_bearer("/auth/users/me/", &token).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
    }
}

async fn the_full_user_list_streams_and_deep_pages_follow_links(backend: Backend) {
    let Some((app, _clock)) = app(backend, &[("LATCHKEY_USERS_PAGE_SIZE", "100")]).await else {
        return;
    };
    create_staff(&app, "boss", "boss@example.com", PASSWORD).await;
    // 1,200 accounts (more than two streaming batches), written directly: hashing each would
    // take a minute.
    app.state
        .db
        .run(|conn| {
            latchkey::db::write_transaction(conn, |conn| {
                for i in 0..1200 {
                    let email = format!("user{i}@example.com");
                    let username = format!("user{i}");
                    let new = latchkey::accounts::NewUser {
                        email: &email,
                        email_lookup: &email,
                        username: &username,
                        first_name: "",
                        last_name: "",
                        password: "!unusable",
                        is_active: true,
                        activation_pending: false,
                        is_staff: false,
                        is_superuser: false,
                        date_joined: chrono::NaiveDateTime::default(),
                    };
                    latchkey::accounts::ops::insert_user(conn, &new)?.unwrap();
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let staff = app.login("boss", PASSWORD).await.access;
    let all = json_body(app.get_bearer("/auth/users/", &staff).await).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1201);
    let ids: Vec<i64> = all.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in id order, none twice"
    );
    // Walking the next links visits every user once; a deep page by number is the same page.
    let mut path = "/auth/users/?page=1".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = json_body(app.get_bearer(&path, &staff).await).await;
        pages += 1;
        assert_eq!(page["count"], 1201);
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => path = next[next.find("/auth").unwrap()..].to_owned(),
            None => break,
        }
        if pages == 11 {
            let by_number = json_body(app.get_bearer("/auth/users/?page=11", &staff).await).await;
            assert_eq!(by_number["results"], page["results"]);
        }
    }
    assert_eq!(pages, 13);
    assert_eq!(seen, ids);
    // The operator's listing pages and filters too, instead of printing a million rows.
    let env = crate::helpers::base_env(&app.db);
    let out = crate::helpers::run_cli(
        &["users", "list", "--search", "USER11", "--limit", "5"],
        &env,
        app.db.dir.path(),
    );
    assert!(out.status.success(), "{}", crate::helpers::stderr(&out));
    let table = crate::helpers::stdout(&out);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{table}");
    assert!(rows.iter().all(|r| r.contains("user11")), "{table}");
    let summary = crate::helpers::stderr(&out);
    assert!(
        summary.contains("5 shown, 111 matching in all."),
        "{summary}"
    );
    let last: i64 = rows[4].split_whitespace().next().unwrap().parse().unwrap();
    assert!(summary.contains(&format!("--after {last}")), "{summary}");
    let next = crate::helpers::run_cli(
        &[
            "users",
            "list",
            "--search",
            "user11",
            "--limit",
            "5",
            "--after",
            &last.to_string(),
        ],
        &env,
        app.db.dir.path(),
    );
    let next_table = crate::helpers::stdout(&next);
    let first_next: i64 = next_table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_next > last);
    let staff_only =
        crate::helpers::run_cli(&["users", "list", "--staff"], &env, app.db.dir.path());
    assert_eq!(
        crate::helpers::stdout(&staff_only).lines().count(),
        2,
        "header and boss"
    );
}

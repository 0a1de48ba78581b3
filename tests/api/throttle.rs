//! Throttling: per-IP token bucket, per-account backoff and lock, `users unlock`.

use chrono::Duration;
use serde_json::json;

use crate::helpers::spawn_app_on_clock;
use crate::helpers::{
    Backend, TestApp, backend_tests, base_env, create_user, json_body, run_cli, stderr, stdout,
};

backend_tests!(
    the_ip_bucket_answers_429_with_retry_after_and_refills,
    failed_logins_back_off_the_same_for_known_and_unknown_accounts,
    the_lock_holds_until_an_operator_unlocks,
    throttling_can_be_turned_off_for_load_tests,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn attempt(app: &TestApp, who: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/jwt/create/",
        &json!({"username": who, "password": password}),
    )
    .await
}

async fn assert_throttled(response: reqwest::Response, seconds: u64) {
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some(seconds.to_string().as_str())
    );
    assert_eq!(
        json_body(response).await,
        json!({"detail": format!("Request was throttled. Expected available in {seconds} seconds.")})
    );
}

async fn the_ip_bucket_answers_429_with_retry_after_and_refills(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(
        backend,
        &[
            ("LATCHKEY_THROTTLE_IP_BURST", "3"),
            ("LATCHKEY_THROTTLE_IP_PER_MINUTE", "2"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "una", "una@example.com", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(attempt(&app, "una", PASSWORD).await.status(), 200);
    }
    assert_throttled(attempt(&app, "una", PASSWORD).await, 30).await;
    // The bucket covers every guarded endpoint of that IP, not other routes.
    assert_throttled(
        app.post_json(
            "/users/login/",
            &json!({"username": "una", "password": PASSWORD}),
        )
        .await,
        30,
    )
    .await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/auth/users/me/").await.status(), 401);

    clock.advance(Duration::seconds(30));
    assert_eq!(attempt(&app, "una", PASSWORD).await.status(), 200);
    assert_eq!(attempt(&app, "una", PASSWORD).await.status(), 429);
}

async fn failed_logins_back_off_the_same_for_known_and_unknown_accounts(backend: Backend) {
    let Some((app, clock)) =
        spawn_app_on_clock(backend, &[("LATCHKEY_THROTTLE_FREE_FAILURES", "2")]).await
    else {
        return;
    };
    create_user(&app, "vic", "vic@example.com", PASSWORD).await;
    for who in ["vic", "ghost@example.com"] {
        for _ in 0..2 {
            assert_eq!(attempt(&app, who, "wrong").await.status(), 401, "{who}");
        }
        // Third failure in a row: wait 1 s, even with the right password.
        assert_throttled(attempt(&app, who, PASSWORD).await, 1).await;
        clock.advance(Duration::seconds(1));
        assert_eq!(attempt(&app, who, "wrong").await.status(), 401);
        assert_throttled(attempt(&app, who, "wrong").await, 2).await;
        clock.advance(Duration::seconds(2));
    }
    // The account's counter is shared by its username and email.
    assert_eq!(
        attempt(&app, "vic@example.com", "wrong").await.status(),
        401
    );
    assert_throttled(attempt(&app, "vic", PASSWORD).await, 4).await;
    clock.advance(Duration::seconds(4));
    assert_eq!(
        attempt(&app, "vic", PASSWORD).await.status(),
        200,
        "success resets the count"
    );
    assert_eq!(attempt(&app, "vic", "wrong").await.status(), 401);
    assert_eq!(attempt(&app, "vic", "wrong").await.status(), 401);
    assert_eq!(attempt(&app, "vic", PASSWORD).await.status(), 429);
}

async fn the_lock_holds_until_an_operator_unlocks(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(
        backend,
        &[
            ("LATCHKEY_THROTTLE_FREE_FAILURES", "1"),
            ("LATCHKEY_THROTTLE_MAX_DELAY", "1"),
            ("LATCHKEY_THROTTLE_LOCK_AFTER", "3"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "wes", "wes@example.com", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(attempt(&app, "wes", "wrong").await.status(), 401);
        clock.advance(Duration::seconds(1));
    }
    for _ in 0..2 {
        let response = attempt(&app, "wes", PASSWORD).await;
        assert_eq!(
            response.status(),
            401,
            "locked: even the right password fails"
        );
        assert_eq!(
            json_body(response).await,
            json!({"detail": "No active account found with the given credentials"})
        );
        clock.advance(Duration::seconds(1));
    }

    let env = base_env(&app.db);
    let out = run_cli(&["users", "unlock", "wes"], &env, app.db.dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "User 'wes' unlocked.");
    assert_eq!(attempt(&app, "wes", PASSWORD).await.status(), 200);
    let out = run_cli(&["users", "unlock", "nobody"], &env, app.db.dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "Error: user 'nobody' does not exist");

    // Locked again; this time the user resets the password through the mailed link.
    for _ in 0..3 {
        assert_eq!(attempt(&app, "wes", "wrong").await.status(), 401);
        clock.advance(Duration::seconds(1));
    }
    assert_eq!(attempt(&app, "wes", PASSWORD).await.status(), 401);
    clock.advance(Duration::seconds(1));
    let reset = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "wes@example.com"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    let link = app.wait_for_mail(1).await.remove(0).link();
    let parts: Vec<&str> = link.trim_end_matches('/').rsplit('/').take(2).collect();
    let confirm = app
        .post_json(
            "/auth/users/reset_password_confirm/",
            &json!({"uid": parts[1], "token": parts[0], "new_password": "unlocked by reset 1"}),
        )
        .await;
    assert_eq!(confirm.status(), 204);
    assert_eq!(
        attempt(&app, "wes", "unlocked by reset 1").await.status(),
        200
    );
}

async fn throttling_can_be_turned_off_for_load_tests(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(
        backend,
        &[
            ("LATCHKEY_THROTTLE_ENABLED", "false"),
            ("LATCHKEY_THROTTLE_IP_BURST", "1"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "xan", "xan@example.com", PASSWORD).await;
    for _ in 0..12 {
        assert_eq!(attempt(&app, "xan", "wrong").await.status(), 401);
    }
    assert_eq!(attempt(&app, "xan", PASSWORD).await.status(), 200);
}

backend_tests!(a_trusted_proxy_header_names_the_client);

async fn a_trusted_proxy_header_names_the_client(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(
        backend,
        &[
            ("LATCHKEY_THROTTLE_IP_BURST", "1"),
            ("LATCHKEY_TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "yul", "yul@example.com", PASSWORD).await;
    let from = |client: &'static str| {
        app.client
            .post(app.url("/auth/jwt/create/"))
            .header("x-forwarded-for", format!("203.0.113.99, {client}"))
            .json(&json!({"username": "yul", "password": PASSWORD}))
            .send()
    };
    // The right-most entry (the one the trusted proxy appended) is the client: two clients,
    // two buckets, even though the socket address is the same.
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(from("198.51.100.2").await.unwrap().status(), 200);
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 429);

    let ips: Vec<Option<String>> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::audit_events;
            audit_events::table
                .filter(audit_events::kind.eq("login_succeeded"))
                .order(audit_events::id.asc())
                .select(audit_events::ip)
                .load::<Option<String>>(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(
        ips,
        [
            Some("198.51.100.1".to_owned()),
            Some("198.51.100.2".to_owned())
        ]
    );
}

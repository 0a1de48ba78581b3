//! The real front ends of the tutorials Latchkey replaces, played exactly as they behave (what
//! they store, what they re-send), across several access-token expiries on a manual clock; the
//! forgiving rotation's attacker/victim timelines; and the rest of Djoser's contract.

use chrono::Duration;
use latchkey::accounts;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app_on_clock;
use crate::helpers::{
    Backend, TestApp, assert_401, backend_tests, claims, create_staff, create_user, json_body,
};

backend_tests!(
    djoser_front_end_reuses_its_sign_in_refresh_token_and_disconnects,
    ninja_front_end_reuses_its_sign_in_refresh_token_and_signs_out,
    fastapi_front_end_renders_with_its_sign_in_token_for_the_whole_session,
    a_victim_who_stores_rotated_tokens_catches_a_replayed_old_one,
    a_thief_who_uses_a_stolen_token_first_is_caught_by_the_victim,
    a_superseded_token_presented_later_is_reuse,
    a_thief_sharing_a_never_stored_token_is_not_caught,
    tabs_re_sending_the_sign_in_token_together_share_one_child,
    every_405_says_what_is_allowed,
    multipart_bodies_are_read_like_json_and_forms,
    a_bad_authorization_header_is_refused_even_on_open_endpoints,
    a_deactivated_users_tokens_say_so,
    resend_activation_with_activation_off_is_a_bare_400,
    user_id_is_written_as_the_issuing_dialect_writes_it,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.post_json(path, &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn me(app: &TestApp, access: &str) -> u16 {
    app.get_bearer("/auth/users/me/", access)
        .await
        .status()
        .as_u16()
}

/// Next.js + wretch + js-cookie against Djoser: after a 401 it refreshes with the refresh token
/// it got at login and keeps only the new access token; "Disconnect" posts that same first
/// refresh token to `/auth/logout/`.
async fn djoser_front_end_reuses_its_sign_in_refresh_token_and_disconnects(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "dana", "dana@example.com", PASSWORD).await;
    let sign_in = app.login("dana", PASSWORD).await;
    let mut access = sign_in.access.clone();
    for expiry in 1..=4 {
        clock.advance(Duration::seconds(301));
        assert_eq!(me(&app, &access).await, 401, "expiry {expiry}");
        let (status, body) = post(
            &app,
            "/auth/jwt/refresh/",
            json!({"refresh": sign_in.refresh}),
        )
        .await;
        assert_eq!(status, 200, "expiry {expiry}: {body}");
        access = body["access"].as_str().unwrap().to_owned();
        assert_eq!(me(&app, &access).await, 200, "expiry {expiry}");
    }
    // A few seconds after a refresh (inside the grace window), "Disconnect".
    clock.advance(Duration::seconds(3));
    let (status, body) = post(&app, "/auth/logout/", json!({"refresh": sign_in.refresh})).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(me(&app, &access).await, 401, "logged out at once");
    let (status, _) = post(
        &app,
        "/auth/jwt/refresh/",
        json!({"refresh": sign_in.refresh}),
    )
    .await;
    assert_eq!(status, 401);
}

/// Auth.js v5 Credentials against django-ninja-jwt: `{access, refresh}` from `/api/token/pair`
/// in the Auth.js JWT; on a 401 its axios client refreshes with the stored (sign-in) refresh
/// token and puts the new access token into the in-memory session only.
async fn ninja_front_end_reuses_its_sign_in_refresh_token_and_signs_out(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "nico", "nico@example.com", PASSWORD).await;
    let (status, pair) = post(
        &app,
        "/api/token/pair",
        json!({"email": "nico@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let stored_refresh = pair["refresh"].as_str().unwrap().to_owned();
    let mut access = pair["access"].as_str().unwrap().to_owned();
    for expiry in 1..=4 {
        clock.advance(Duration::minutes(7));
        assert_eq!(me(&app, &access).await, 401);
        let (status, body) = post(
            &app,
            "/api/token/refresh",
            json!({"refresh": stored_refresh}),
        )
        .await;
        assert_eq!(status, 200, "expiry {expiry}: {body}");
        access = body["access"].as_str().unwrap().to_owned();
        assert_eq!(me(&app, &access).await, 200);
    }
    // The guide's events.signOut posts the stored refresh token to the back end.
    clock.advance(Duration::minutes(1));
    let (status, _) = post(&app, "/auth/logout/", json!({"refresh": stored_refresh})).await;
    assert_eq!(status, 200);
    assert_eq!(me(&app, &access).await, 401);
}

/// Auth.js v5 against the FastAPI pattern: `jwt()` stores `access_token` at sign-in only, and
/// `session()` posts it to `/users/session/` on every server render, unable to keep what
/// comes back. So every call, for the whole session, carries the sign-in token.
async fn fastapi_front_end_renders_with_its_sign_in_token_for_the_whole_session(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "fay", "fay@example.com", PASSWORD).await;
    let (status, login) = post(
        &app,
        "/users/login/",
        json!({"username": "fay@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let sign_in = login["access_token"].as_str().unwrap().to_owned();
    let render = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/users/session/"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Renders spread over ten days: hours apart, days apart, always the sign-in token.
    let mut latest = String::new();
    for gap in [
        Duration::minutes(10),
        Duration::hours(3),
        Duration::days(2),
        Duration::days(5),
        Duration::days(3),
    ] {
        clock.advance(gap);
        let (status, body) = render(sign_in.clone()).await;
        assert_eq!(status, 200, "after {gap}: {body}");
        assert_eq!(body["user"]["email"], "fay@example.com");
        latest = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            me(&app, &latest).await,
            200,
            "what it answers is a working token"
        );
    }
    // Only this endpoint (and the logout below) looks past the sign-in token's own expiry.
    assert_eq!(me(&app, &sign_in).await, 401);
    // The guide's events.signOut posts the stored token to /users/logout/: the session ends.
    let (status, second) = post(
        &app,
        "/users/login/",
        json!({"username": "fay", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let second = field(&second, "access_token");
    clock.advance(Duration::hours(2));
    let out = app
        .client
        .post(app.url("/users/logout/"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(render(second).await.0, 401);
    // When the session ends (here the password changes elsewhere), every render fails at once.
    let (status, _) = {
        let response = app
            .send_bearer(
                Method::POST,
                "/auth/users/set_password/",
                &app.login("fay", PASSWORD).await.access,
                &json!({"current_password": PASSWORD, "new_password": "an entirely new secret"}),
            )
            .await;
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 204);
    assert_eq!(render(sign_in.clone()).await.0, 401);
    assert_eq!(render(latest).await.0, 401);
}

/// A refresh-token pair of a fresh login.
async fn login(app: &TestApp, who: &str) -> (String, String) {
    let tokens = app.login(who, PASSWORD).await;
    (tokens.refresh, tokens.access)
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    post(app, "/auth/jwt/refresh/", json!({"refresh": token})).await
}

fn field(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap().to_owned()
}

async fn a_victim_who_stores_rotated_tokens_catches_a_replayed_old_one(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "vic", "vic@example.com", PASSWORD).await;
    let (first, _) = login(&app, "vic").await;
    // The victim rotates and uses each child, as a careful front end does.
    let (_, c1) = refresh(&app, &first).await;
    clock.advance(Duration::minutes(6));
    let (status, c2) = refresh(&app, &field(&c1, "refresh")).await;
    assert_eq!(status, 200);
    // The thief replays the old first token later: the whole session ends.
    clock.advance(Duration::minutes(6));
    let (status, body) = refresh(&app, &first).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        )
    );
    assert_eq!(refresh(&app, &field(&c2, "refresh")).await.0, 401);
    assert_eq!(me(&app, &field(&c2, "access")).await, 401);
}

async fn a_thief_who_uses_a_stolen_token_first_is_caught_by_the_victim(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "ted", "ted@example.com", PASSWORD).await;
    let (first, _) = login(&app, "ted").await;
    // The thief refreshes first and keeps rotating (stores the children).
    let (_, t1) = refresh(&app, &first).await;
    clock.advance(Duration::minutes(6));
    let (_, t2) = refresh(&app, &field(&t1, "refresh")).await;
    // The victim, who never stores rotated tokens, re-sends the first: not the parent of the
    // newest token, so it is reuse, and both lose the session.
    clock.advance(Duration::minutes(1));
    assert_eq!(refresh(&app, &first).await.0, 401);
    assert_eq!(refresh(&app, &field(&t2, "refresh")).await.0, 401);
    assert_eq!(me(&app, &field(&t2, "access")).await, 401);
    // And the other way round: the thief copies a child and uses it after the victim did, while
    // the victim's newest token is still unused. It looks like a front end that never stores,
    // so it is served; the victim's token is superseded, and the victim's next refresh with it
    // is the fork that ends the session for both: caught at the latest there.
    let (first, _) = login(&app, "ted").await;
    let (_, child) = refresh(&app, &first).await;
    clock.advance(Duration::minutes(6));
    let (status, grandchild) = refresh(&app, &field(&child, "refresh")).await;
    assert_eq!(status, 200, "the victim's own rotation");
    clock.advance(Duration::minutes(1));
    let (status, stolen) = refresh(&app, &field(&child, "refresh")).await;
    assert_eq!(
        status, 200,
        "the thief's copy, before the victim's next refresh"
    );
    clock.advance(Duration::minutes(5));
    assert_eq!(
        refresh(&app, &field(&grandchild, "refresh")).await.0,
        401,
        "the victim's next refresh"
    );
    assert_eq!(refresh(&app, &field(&stolen, "refresh")).await.0, 401);
    assert_eq!(me(&app, &field(&stolen, "access")).await, 401);
}

async fn a_superseded_token_presented_later_is_reuse(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "sue", "sue@example.com", PASSWORD).await;
    let (first, _) = login(&app, "sue").await;
    let (_, kept) = refresh(&app, &first).await;
    // Someone re-sends the first token after the grace window: forgiven (the child was never
    // presented), and the child is superseded...
    clock.advance(Duration::minutes(6));
    let (status, forgiven) = refresh(&app, &first).await;
    assert_eq!(status, 200);
    assert_ne!(forgiven["refresh"], kept["refresh"]);
    // ...so whoever kept that child and presents it is holding a fork: the session ends.
    clock.advance(Duration::minutes(1));
    assert_eq!(refresh(&app, &field(&kept, "refresh")).await.0, 401);
    assert_eq!(refresh(&app, &first).await.0, 401);
    assert_eq!(me(&app, &field(&forgiven, "access")).await, 401);
}

async fn a_thief_sharing_a_never_stored_token_is_not_caught(backend: Backend) {
    // The documented limit of forgiving mode (and of SimpleJWT's non-rotating default): two
    // holders of the same first token who both never store rotated ones look like one client.
    let Some((forgiving, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&forgiving, "gil", "gil@example.com", PASSWORD).await;
    let (first, _) = login(&forgiving, "gil").await;
    for _ in 0..3 {
        clock.advance(Duration::minutes(6));
        assert_eq!(refresh(&forgiving, &first).await.0, 200, "the victim");
        clock.advance(Duration::minutes(6));
        assert_eq!(refresh(&forgiving, &first).await.0, 200, "the thief");
    }
    // In strict mode the second one is caught at once.
    let Some((strict, clock)) =
        spawn_app_on_clock(backend, &[("LATCHKEY_REFRESH_ROTATION", "strict")]).await
    else {
        return;
    };
    create_user(&strict, "gil", "gil@example.com", PASSWORD).await;
    let (first, _) = login(&strict, "gil").await;
    assert_eq!(refresh(&strict, &first).await.0, 200);
    clock.advance(Duration::minutes(6));
    assert_eq!(refresh(&strict, &first).await.0, 401);
}

async fn tabs_re_sending_the_sign_in_token_together_share_one_child(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "ivo", "ivo@example.com", PASSWORD).await;
    let (first, _) = login(&app, "ivo").await;
    assert_eq!(refresh(&app, &first).await.0, 200);
    clock.advance(Duration::minutes(6));
    let answers = futures_util::future::join_all((0..10).map(|_| refresh(&app, &first))).await;
    let children: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            field(body, "refresh")
        })
        .collect();
    assert_eq!(children.len(), 1, "one forgiven child for all of them");
}

async fn every_405_says_what_is_allowed(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    for (method, path, allow) in [
        (Method::GET, "/auth/jwt/create/", "POST"),
        (Method::DELETE, "/auth/users/", "GET, POST"),
        (Method::POST, "/auth/users/me/", "GET, PUT, PATCH, DELETE"),
        (Method::PUT, "/auth/users/set_password/", "POST"),
        (Method::GET, "/api/token/pair", "POST"),
        (Method::GET, "/users/login/", "POST"),
        (Method::POST, "/health", "GET"),
        (Method::POST, "/api/schema/", "GET"),
        (Method::DELETE, "/accounts/login/", "GET, POST"),
        (Method::GET, "/accounts/logout/", "POST"),
        (Method::PUT, "/accounts/reset/MQ/some-token/", "GET"),
        (
            Method::DELETE,
            "/accounts/reset/MQ/set-password/",
            "GET, POST",
        ),
        (Method::PATCH, "/accounts/activate/MQ/tok/", "GET, POST"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
    let response = app
        .client
        .put(app.url("/auth/jwt/create/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_body(response).await,
        json!({"detail": "Method \"PUT\" not allowed."})
    );
}

async fn multipart_bodies_are_read_like_json_and_forms(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let form = reqwest::multipart::Form::new()
        .text("email", "mia@example.com")
        .text("password", PASSWORD);
    let created = app
        .client
        .post(app.url("/auth/users/"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let form = reqwest::multipart::Form::new()
        .text("username", "mia@example.com")
        .text("password", PASSWORD);
    let pair = app
        .client
        .post(app.url("/auth/jwt/create/"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(pair.status(), 200);
    assert!(json_body(pair).await["access"].is_string());
    let broken = app
        .client
        .post(app.url("/auth/jwt/create/"))
        .header("content-type", "multipart/form-data")
        .body("no boundary")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let detail = json_body(broken).await["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.starts_with("Multipart form parse error"), "{detail}");
}

async fn a_bad_authorization_header_is_refused_even_on_open_endpoints(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let register = |authorization: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/auth/users/"))
                .header("authorization", authorization)
                .json(&json!({"email": "new@example.com", "password": PASSWORD}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_401(
        register("Bearer forged.token.here").await,
        json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"}],
        }),
    )
    .await;
    assert_401(
        register("Bearer").await,
        json!({"detail": "Authorization header must contain two space-delimited values", "code": "bad_authorization_header"}),
    )
    .await;
    for open in [
        "/auth/users/reset_password/",
        "/auth/users/resend_activation/",
    ] {
        let response = app
            .client
            .post(app.url(open))
            .header("authorization", "Bearer forged.token.here")
            .json(&json!({"email": "a@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{open}");
    }
    // No header, or another scheme, is anonymous as before; SimpleJWT's own views do not
    // authenticate at all, so a stale header does not stop a login.
    assert_eq!(register("Basic dXNlcjpwYXNz").await.status(), 201);
    create_user(&app, "lou", "lou@example.com", PASSWORD).await;
    let login = app
        .client
        .post(app.url("/auth/jwt/create/"))
        .header("authorization", "Bearer stale.expired.token")
        .json(&json!({"username": "lou", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
}

async fn a_deactivated_users_tokens_say_so(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "dee", "dee@example.com", PASSWORD).await;
    let tokens = app.login("dee", PASSWORD).await;
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dee",
        false,
    )
    .await
    .unwrap();
    assert_401(
        app.get_bearer("/auth/users/me/", &tokens.access).await,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
    assert_401(
        app.refresh(&tokens.refresh).await,
        json!({"detail": "No active account found for the given token."}),
    )
    .await;
}

async fn resend_activation_with_activation_off_is_a_bare_400(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let response = app
        .post_json(
            "/auth/users/resend_activation/",
            &json!({"email": "a@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("content-type").is_none());
    assert!(response.bytes().await.unwrap().is_empty());
    // A missing user id is Djoser's 404 for staff.
    create_staff(&app, "boss", "boss@example.com", PASSWORD).await;
    let staff = app.login("boss", PASSWORD).await;
    let missing = app.get_bearer("/auth/users/9999/", &staff.access).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        json_body(missing).await,
        json!({"detail": "No User matches the given query."})
    );
}

async fn user_id_is_written_as_the_issuing_dialect_writes_it(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "ula", "ula@example.com", PASSWORD).await;
    let credentials = json!({"username": "ula", "password": PASSWORD});
    let (_, djoser) = post(&app, "/auth/jwt/create/", credentials.clone()).await;
    let (_, ninja) = post(&app, "/api/token/pair", credentials.clone()).await;
    let (_, fastapi) = post(&app, "/users/login/", credentials).await;
    assert_eq!(claims(&field(&djoser, "access"))["user_id"], id.to_string());
    assert_eq!(
        claims(&field(&djoser, "refresh"))["user_id"],
        id.to_string()
    );
    assert_eq!(claims(&field(&ninja, "access"))["user_id"], id);
    assert_eq!(claims(&field(&fastapi, "access_token"))["user_id"], id);
    // Each refresh route writes its own dialect, and every token works everywhere.
    let (_, from_ninja) = post(
        &app,
        "/auth/jwt/refresh/",
        json!({"refresh": field(&ninja, "refresh")}),
    )
    .await;
    assert_eq!(
        claims(&field(&from_ninja, "access"))["user_id"],
        id.to_string()
    );
    let (status, _) = post(
        &app,
        "/api/token/refresh",
        json!({"refresh": field(&djoser, "refresh")}),
    )
    .await;
    assert_eq!(status, 200);
    for access in [
        field(&from_ninja, "access"),
        field(&fastapi, "access_token"),
    ] {
        assert_eq!(me(&app, &access).await, 200);
    }
}

//! The compat dialects (django-ninja-jwt, the FastAPI pattern) and the Auth.js Credentials flow.

use chrono::Duration;
use serde_json::json;

use crate::helpers::spawn_app_on_clock;
use crate::helpers::{Backend, backend_tests, claims, create_user, json_body, spawn_app};

backend_tests!(
    ninja_pair_echoes_the_identifier_and_uses_ninja_errors,
    ninja_refresh_verify_and_blacklist,
    fastapi_login_and_session,
    authjs_credentials_flow_end_to_end,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn ninja_pair_echoes_the_identifier_and_uses_ninja_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = create_user(&app, "quinn", "quinn@example.com", PASSWORD).await;
    let by_email = json_body(
        app.post_json(
            "/api/token/pair",
            &json!({"email": "quinn@example.com", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(by_email["email"], "quinn@example.com");
    assert_eq!(
        claims(by_email["access"].as_str().unwrap())["user_id"],
        id,
        "an integer"
    );
    let keys: Vec<&String> = by_email.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["email", "refresh", "access"]);
    let by_name = json_body(
        app.post_json(
            "/api/token/pair",
            &json!({"username": "quinn", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(by_name["username"], "quinn");

    let missing = app.post_json("/api/token/pair", &json!({})).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        json_body(missing).await,
        json!({"detail": "Invalid input.", "code": "invalid", "username": "username is required", "password": "password is required"})
    );
    let bad = app
        .post_json(
            "/api/token/pair",
            &json!({"username": "quinn", "password": "nope"}),
        )
        .await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        json_body(bad).await,
        json!({"detail": "No active account found with the given credentials", "code": "authentication_failed"})
    );
    let broken = app
        .client
        .post(app.url("/api/token/pair"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(
        json_body(broken).await,
        json!({"detail": "Cannot parse request body"})
    );
}

async fn ninja_refresh_verify_and_blacklist(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "rey", "rey@example.com", PASSWORD).await;
    let tokens = app.login("rey", PASSWORD).await;
    let refreshed = json_body(
        app.post_json("/api/token/refresh", &json!({"refresh": tokens.refresh}))
            .await,
    )
    .await;
    let keys: Vec<&String> = refreshed.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["refresh", "access"], "ninja always returns both");
    let new_refresh = refreshed["refresh"].as_str().unwrap().to_owned();

    let missing = app.post_json("/api/token/refresh", &json!({})).await;
    assert_eq!(
        json_body(missing).await,
        json!({"detail": "Invalid input.", "code": "invalid", "refresh": "token is required"})
    );
    let garbage = app
        .post_json("/api/token/refresh", &json!({"refresh": "x"}))
        .await;
    assert_eq!(garbage.status(), 401);
    assert_eq!(
        json_body(garbage).await,
        json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
    );
    let verified = app
        .post_json("/api/token/verify", &json!({"token": new_refresh}))
        .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(json_body(verified).await, json!({}));
    let blacklisted = app
        .post_json("/api/token/blacklist", &json!({"refresh": new_refresh}))
        .await;
    assert_eq!(blacklisted.status(), 200);
    let verify_again = app
        .post_json("/api/token/verify", &json!({"token": new_refresh}))
        .await;
    assert_eq!(verify_again.status(), 400);
    assert_eq!(
        json_body(verify_again).await,
        json!({"detail": "Token is blacklisted", "code": "invalid"})
    );
    let refresh_again = app
        .post_json("/api/token/refresh", &json!({"refresh": new_refresh}))
        .await;
    assert_eq!(refresh_again.status(), 401);
    assert_eq!(
        json_body(refresh_again).await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let no_refresh = app.post_json("/api/token/blacklist", &json!({})).await;
    assert_eq!(
        json_body(no_refresh).await,
        json!({"detail": "Invalid input.", "code": "invalid", "refresh": "refresh token is required"})
    );
}

async fn fastapi_login_and_session(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "sam", "Sam@Example.com", PASSWORD).await;
    let response = app
        .post_json(
            "/users/login/",
            &json!({"username": "sam@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body = json_body(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["id"], id);
    assert_eq!(body["user"]["email"], "Sam@Example.com");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_bearer("/auth/users/me/", &access).await.status(),
        200
    );

    let same = json_body(
        app.client
            .post(app.url("/users/session"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        same["access_token"],
        access.as_str(),
        "far from expiry: the same token"
    );

    clock.advance(Duration::seconds(250));
    let renewed = json_body(
        app.client
            .post(app.url("/users/session/"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let new_access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_access, access, "within the margin: a new token");
    assert_eq!(claims(&new_access)["sid"], claims(&access)["sid"]);
    assert_eq!(renewed["user"]["id"], id);

    for request in [
        app.client.post(app.url("/users/session/")),
        app.client
            .post(app.url("/users/session/"))
            .bearer_auth("garbage"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        assert_eq!(
            json_body(response).await,
            json!({"detail": "Could not validate credentials"})
        );
    }
    let bad = app
        .post_json(
            "/users/login",
            &json!({"email": "sam@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        json_body(bad).await,
        json!({"detail": "Could not validate credentials"})
    );
    let missing = app
        .post_json("/users/login", &json!({"username": "sam"}))
        .await;
    assert_eq!(missing.status(), 422);
    assert_eq!(
        json_body(missing).await,
        json!({"detail": [{"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": null}]})
    );
    // Past its own expiry the token of a live session is still renewed here (only here).
    clock.advance(Duration::seconds(3600));
    assert_eq!(
        app.get_bearer("/auth/users/me/", &new_access)
            .await
            .status(),
        401
    );
    let renewed = app
        .client
        .post(app.url("/users/session/"))
        .bearer_auth(&new_access)
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
}

/// What a Next.js app with an Auth.js Credentials provider does against a Djoser back end.
async fn authjs_credentials_flow_end_to_end(backend: Backend) {
    let env = [("LATCHKEY_ACCESS_TOKEN_LIFETIME", "60")];
    let Some((app, clock)) = spawn_app_on_clock(backend, &env).await else {
        return;
    };
    let register = app
        .post_json(
            "/auth/users/",
            &json!({"email": "tess@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(register.status(), 201);

    // authorize(): POST credentials, keep both tokens in the session JWT.
    let login = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "tess@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let tokens = json_body(login).await;
    let mut access = tokens["access"].as_str().unwrap().to_owned();
    let mut refresh = tokens["refresh"].as_str().unwrap().to_owned();
    let me = json_body(app.get_bearer("/auth/users/me/", &access).await).await;
    assert_eq!(me["email"], "tess@example.com");

    // The jwt() callback refreshes once the access token has expired.
    for _ in 0..3 {
        clock.advance(Duration::seconds(61));
        assert_eq!(
            app.get_bearer("/auth/users/me/", &access).await.status(),
            401
        );
        let refreshed = app.refresh(&refresh).await;
        assert_eq!(refreshed.status(), 200);
        let pair = json_body(refreshed).await;
        access = pair["access"].as_str().unwrap().to_owned();
        refresh = pair["refresh"].as_str().unwrap().to_owned();
        assert_eq!(
            app.get_bearer("/auth/users/me/", &access).await.status(),
            200
        );
    }

    // signOut(): the events.signOut hook posts the refresh token to logout.
    let logout = app
        .post_json("/auth/logout/", &json!({"refresh": refresh}))
        .await;
    assert_eq!(logout.status(), 200);
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &access).await.status(),
        401
    );
}

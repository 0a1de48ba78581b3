//! SimpleJWT endpoints: create, refresh (rotation, grace, reuse), verify, blacklist, logout,
//! and bearer authentication's 401 bodies.

use chrono::Duration;
use diesel::prelude::*;
use latchkey::accounts;
use latchkey::db::DbError;
use latchkey::db::schema::{audit_events, refresh_tokens};
use serde_json::json;

use crate::helpers::{
    Backend, TestApp, assert_401, backend_tests, claims, create_user, json_body, spawn_app,
};
use crate::helpers::{clock_start, spawn_app_on_clock};

backend_tests!(
    create_returns_a_pair_for_a_username_or_an_email,
    create_gives_one_401_for_unknown_wrong_and_inactive,
    bearer_authentication_gives_simplejwts_401_bodies,
    refresh_rotates_repeats_within_grace_and_revokes_after,
    ten_concurrent_refreshes_get_the_same_child,
    refresh_without_rotation_keeps_the_token,
    verify_accepts_both_types_and_rejects_blacklisted,
    logout_blacklists_and_ends_the_session,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn create_returns_a_pair_for_a_username_or_an_email(backend: Backend) {
    let Some((app, _clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    let id = create_user(&app, "alice", "Alice@Example.com", PASSWORD).await;
    for body in [
        json!({"username": "alice", "password": PASSWORD}),
        json!({"username": "alice@example.com", "password": PASSWORD}),
        json!({"email": "ALICE@example.com", "password": PASSWORD}),
        json!({"email": "alice", "password": PASSWORD, "unknown": 1}),
    ] {
        let response = app.post_json("/auth/jwt/create", &body).await;
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("{\"refresh\":"),
            "SimpleJWT's key order: {text}"
        );
        let pair: serde_json::Value = serde_json::from_str(&text).unwrap();
        let access = claims(pair["access"].as_str().unwrap());
        let refresh = claims(pair["refresh"].as_str().unwrap());
        assert_eq!(access["token_type"], "access");
        assert_eq!(refresh["token_type"], "refresh");
        assert_eq!(
            access["user_id"],
            id.to_string(),
            "SimpleJWT 5.5 writes a string"
        );
        assert_eq!(access["sid"], refresh["sid"]);
        assert_eq!(access["iat"], clock_start().timestamp());
        assert_eq!(access["exp"], clock_start().timestamp() + 300);
        assert_eq!(refresh["exp"], clock_start().timestamp() + 86_400);
        let jti = access["jti"].as_str().unwrap();
        assert!(jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(access["jti"], refresh["jti"]);
    }
    // Form-encoded bodies work too.
    let response = app
        .client
        .post(app.url("/auth/jwt/create/"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app.post_json("/auth/jwt/create/", &json!({})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(response).await,
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
}

async fn create_gives_one_401_for_unknown_wrong_and_inactive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "bob", "bob@example.com", PASSWORD).await;
    create_user(&app, "carol", "carol@example.com", PASSWORD).await;
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "carol",
        false,
    )
    .await
    .unwrap();
    for body in [
        json!({"username": "nobody", "password": PASSWORD}),
        json!({"username": "bob", "password": "wrong password"}),
        json!({"username": "carol", "password": PASSWORD}),
    ] {
        let response = app.post_json("/auth/jwt/create/", &body).await;
        assert_401(
            response,
            json!({"detail": "No active account found with the given credentials"}),
        )
        .await;
    }
}

async fn bearer_authentication_gives_simplejwts_401_bodies(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(backend, &[]).await else {
        return;
    };
    create_user(&app, "dave", "dave@example.com", PASSWORD).await;
    let tokens = app.login("dave", PASSWORD).await;

    for scheme in ["Bearer", "bearer", "JWT"] {
        let response = app
            .client
            .get(app.url("/auth/users/me"))
            .header("authorization", format!("{scheme} {}", tokens.access))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
        assert_eq!(json_body(response).await["username"], "dave");
    }

    let not_provided = json!({"detail": "Authentication credentials were not provided."});
    assert_401(app.get("/auth/users/me/").await, not_provided.clone()).await;
    let basic = app
        .client
        .get(app.url("/auth/users/me/"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_401(basic, not_provided).await;
    for header in ["Bearer", "Bearer a b"] {
        let response = app
            .client
            .get(app.url("/auth/users/me/"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_401(
            response,
            json!({"detail": "Authorization header must contain two space-delimited values", "code": "bad_authorization_header"}),
        )
        .await;
    }
    let not_valid = |message: &str| {
        json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
        })
    };
    assert_401(
        app.get_bearer("/auth/users/me/", "garbage").await,
        not_valid("Token is invalid"),
    )
    .await;
    assert_401(
        app.get_bearer("/auth/users/me/", &tokens.refresh).await,
        not_valid("Token has wrong type"),
    )
    .await;

    clock.advance(Duration::seconds(301));
    assert_401(
        app.get_bearer("/auth/users/me/", &tokens.access).await,
        not_valid("Token is expired"),
    )
    .await;
    clock.advance(Duration::seconds(-301));

    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dave",
        false,
    )
    .await
    .unwrap();
    // Deactivation ended the sessions too; a fresh active-then-inactive check needs a live one.
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "dave",
        true,
    )
    .await
    .unwrap();
    let tokens = app.login("dave", PASSWORD).await;
    let user = accounts::get_by_username(&app.state, &latchkey::accounts::Actor::Operator, "dave")
        .await
        .unwrap();
    app.state
        .db
        .run(move |conn| {
            latchkey::accounts::ops::set_active(conn, user.id, false).map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_401(
        app.get_bearer("/auth/users/me/", &tokens.access).await,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
    app.state
        .db
        .run(move |conn| latchkey::accounts::ops::delete_user(conn, user.id).map_err(DbError::from))
        .await
        .unwrap();
    assert_401(
        app.get_bearer("/auth/users/me/", &tokens.access).await,
        json!({"detail": "User not found", "code": "user_not_found"}),
    )
    .await;
}

async fn audit_kinds(app: &TestApp) -> Vec<String> {
    app.state
        .db
        .run(|conn| {
            audit_events::table
                .select(audit_events::kind)
                .load::<String>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

async fn refresh_rotates_repeats_within_grace_and_revokes_after(backend: Backend) {
    let strict = [("LATCHKEY_REFRESH_ROTATION", "strict")];
    let Some((app, clock)) = spawn_app_on_clock(backend, &strict).await else {
        return;
    };
    create_user(&app, "erin", "erin@example.com", PASSWORD).await;
    let first = app.login("erin", PASSWORD).await;

    clock.advance(Duration::seconds(60));
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"access\":"), "{text}");
    let child: serde_json::Value = serde_json::from_str(&text).unwrap();
    let child_refresh = child["refresh"].as_str().unwrap().to_owned();
    let child_access = child["access"].as_str().unwrap().to_owned();
    assert_ne!(child_refresh, first.refresh);
    let child_claims = claims(&child_refresh);
    assert_eq!(
        child_claims["sid"],
        claims(&first.refresh)["sid"],
        "same family"
    );
    assert_eq!(
        child_claims["exp"],
        clock_start().timestamp() + 60 + 86_400,
        "rotation slides expiry"
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &child_access)
            .await
            .status(),
        200
    );

    // Another tab presents the old token 5 s later: the same child pair, no error.
    clock.advance(Duration::seconds(5));
    let again = json_body(app.refresh(&first.refresh).await).await;
    assert_eq!(again["refresh"], child_refresh.as_str());
    assert_eq!(again["access"], child_access.as_str());

    // After the grace window the old token is a replay: the whole session is revoked.
    clock.advance(Duration::seconds(10));
    assert_401(
        app.refresh(&first.refresh).await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_401(
        app.refresh(&child_refresh).await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &child_access)
            .await
            .status(),
        401
    );
    assert!(
        audit_kinds(&app)
            .await
            .contains(&"refresh_reuse_detected".to_owned())
    );

    // Other sessions of the user are untouched.
    let other = app.login("erin", PASSWORD).await;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &other.access)
            .await
            .status(),
        200
    );

    assert_401(
        app.refresh(&other.access).await,
        json!({"detail": "Token has wrong type", "code": "token_not_valid"}),
    )
    .await;
    assert_401(
        app.refresh("not.a.token").await,
        json!({"detail": "Token is invalid", "code": "token_not_valid"}),
    )
    .await;
    clock.advance(Duration::days(2));
    assert_401(
        app.refresh(&other.refresh).await,
        json!({"detail": "Token is expired", "code": "token_not_valid"}),
    )
    .await;
    let missing = app.post_json("/auth/jwt/refresh/", &json!({})).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        json_body(missing).await,
        json!({"refresh": ["This field is required."]})
    );
}

async fn ten_concurrent_refreshes_get_the_same_child(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "frank", "frank@example.com", PASSWORD).await;
    let tokens = app.login("frank", PASSWORD).await;
    let requests = (0..10).map(|_| app.refresh(&tokens.refresh));
    let responses = futures_util::future::join_all(requests).await;
    let mut children = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        children.push(
            json_body(response).await["refresh"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(children.windows(2).all(|w| w[0] == w[1]), "{children:?}");
    let sid = claims(&tokens.refresh)["sid"].as_str().unwrap().to_owned();
    let family: i64 = app
        .state
        .db
        .run(move |conn| {
            refresh_tokens::table
                .filter(refresh_tokens::session_id.eq(sid))
                .count()
                .get_result(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(family, 2, "one parent and exactly one child");
}

async fn refresh_without_rotation_keeps_the_token(backend: Backend) {
    let Some((app, clock)) =
        spawn_app_on_clock(backend, &[("LATCHKEY_REFRESH_ROTATION", "off")]).await
    else {
        return;
    };
    create_user(&app, "gina", "gina@example.com", PASSWORD).await;
    let tokens = app.login("gina", PASSWORD).await;
    for _ in 0..3 {
        clock.advance(Duration::seconds(30));
        let response = app.refresh(&tokens.refresh).await;
        assert_eq!(response.status(), 200);
        let body = json_body(response).await;
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "SimpleJWT's non-rotating shape: {body}"
        );
        let access = body["access"].as_str().unwrap();
        assert_eq!(
            app.get_bearer("/auth/users/me/", access).await.status(),
            200
        );
    }
    let response = app
        .post_json("/auth/jwt/blacklist/", &json!({"refresh": tokens.refresh}))
        .await;
    assert_eq!(response.status(), 200);
    assert_401(
        app.refresh(&tokens.refresh).await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
}

async fn verify_accepts_both_types_and_rejects_blacklisted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "hal", "hal@example.com", PASSWORD).await;
    let tokens = app.login("hal", PASSWORD).await;
    for token in [&tokens.access, &tokens.refresh] {
        let response = app
            .post_json("/auth/jwt/verify/", &json!({"token": token}))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(json_body(response).await, json!({}));
    }
    assert_401(
        app.post_json("/auth/jwt/verify", &json!({"token": "x.y.z"}))
            .await,
        json!({"detail": "Token is invalid", "code": "token_not_valid"}),
    )
    .await;
    app.post_json("/auth/logout/", &json!({"refresh": tokens.refresh}))
        .await;
    let response = app
        .post_json("/auth/jwt/verify/", &json!({"token": tokens.refresh}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(response).await,
        json!({"non_field_errors": ["Token is blacklisted"]})
    );
}

async fn logout_blacklists_and_ends_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "ivy", "ivy@example.com", PASSWORD).await;
    let tokens = app.login("ivy", PASSWORD).await;
    let keep = app.login("ivy", PASSWORD).await;
    let response = app
        .post_json("/auth/logout", &json!({"refresh": tokens.refresh}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(response).await, json!({}));
    assert_401(
        app.refresh(&tokens.refresh).await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_eq!(
        app.get_bearer("/auth/users/me/", &tokens.access)
            .await
            .status(),
        401,
        "a revoked session's access token stops working at once"
    );
    assert_eq!(
        app.get_bearer("/auth/users/me/", &keep.access)
            .await
            .status(),
        200
    );
    assert_401(
        app.post_json("/auth/logout/", &json!({"refresh": tokens.refresh}))
            .await,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_401(
        app.post_json("/auth/jwt/blacklist/", &json!({"refresh": keep.access}))
            .await,
        json!({"detail": "Token has wrong type", "code": "token_not_valid"}),
    )
    .await;
}

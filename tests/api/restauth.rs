//! The dj-rest-auth dialect (7.2 with SimpleJWT, `JWT_AUTH_HTTPONLY = False`) under both of its
//! prefixes: the bodies, messages and status codes of compat-contract.md §5.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, PERSONA_PASSWORD, Spawn, backend_tests, json_body, spawn_app, spawn_app_with,
};

backend_tests!(
    login_user_and_logout_speak_dj_rest_auth,
    the_refresh_rotates_and_says_when_tokens_expire,
    password_change_and_reset_use_django_s_words,
    registration_logs_in_or_mails_a_key_to_verify,
);

async fn post(app: &crate::helpers::TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.post_json(path, &body).await;
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

async fn login_user_and_logout_speak_dj_rest_auth(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let ada = app.persona("ada").await;
    for (prefix, body) in [
        (
            "/dj-rest-auth",
            json!({"username": "ada", "password": PERSONA_PASSWORD}),
        ),
        (
            "/api/auth",
            json!({"email": "ADA@example.com", "password": PERSONA_PASSWORD}),
        ),
    ] {
        let (status, body) = post(&app, &format!("{prefix}/login/"), body).await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["access", "refresh", "user"]);
        assert_eq!(
            body["user"],
            json!({"pk": ada.id, "username": "ada", "email": "ada@example.com", "first_name": "", "last_name": ""})
        );
        assert_eq!(
            crate::helpers::claims(body["access"].as_str().unwrap())["user_id"],
            ada.id.to_string()
        );
    }
    for (body, expected) in [
        (
            json!({"username": "ada", "password": "wrong"}),
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        ),
        (
            json!({"username": "nobody", "password": "wrong"}),
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        ),
        (json!({}), json!({"password": ["This field is required."]})),
        (
            json!({"password": "x"}),
            json!({"non_field_errors": ["Must include either \"username\" or \"email\" and \"password\"."]}),
        ),
    ] {
        assert_eq!(
            post(&app, "/dj-rest-auth/login/", body).await,
            (400, expected)
        );
    }

    let (_, pair) = post(
        &app,
        "/api/auth/login/",
        json!({"username": "ada", "password": PERSONA_PASSWORD}),
    )
    .await;
    let access = pair["access"].as_str().unwrap();
    let me = json_body(app.get_bearer("/api/auth/user/", access).await).await;
    assert_eq!(me["pk"], ada.id);
    assert_eq!(app.get("/api/auth/user/").await.status(), 401);
    let patched = app
        .send_bearer(
            reqwest::Method::PATCH,
            "/dj-rest-auth/user/",
            access,
            &json!({"first_name": "Ada", "pk": 999, "email": "x@example.com"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = json_body(patched).await;
    assert_eq!(
        (
            patched["first_name"].clone(),
            patched["pk"].clone(),
            patched["email"].clone()
        ),
        (json!("Ada"), json!(ada.id), json!("ada@example.com"))
    );
    let put = app
        .send_bearer(
            reqwest::Method::PUT,
            "/dj-rest-auth/user/",
            access,
            &json!({"last_name": "L"}),
        )
        .await;
    assert_eq!(put.status(), 400);
    assert_eq!(
        json_body(put).await,
        json!({"username": ["This field is required."]})
    );
    let renamed = app
        .send_bearer(
            reqwest::Method::PUT,
            "/dj-rest-auth/user/",
            access,
            &json!({"username": "eve"}),
        )
        .await;
    assert_eq!(renamed.status(), 400);
    let same = app
        .send_bearer(
            reqwest::Method::PUT,
            "/dj-rest-auth/user/",
            access,
            &json!({"username": "ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(json_body(same).await["last_name"], "Lovelace");

    // Logout blacklists the refresh token: its session ends, the access token with it.
    let refresh = pair["refresh"].as_str().unwrap();
    assert_eq!(
        post(&app, "/api/auth/logout/", json!({"refresh": refresh})).await,
        (200, json!({"detail": "Successfully logged out."}))
    );
    assert_eq!(
        app.get_bearer("/api/auth/user/", access).await.status(),
        401
    );
    assert_eq!(
        post(&app, "/api/auth/logout/", json!({"refresh": refresh})).await,
        (401, json!({"detail": "Token is blacklisted"}))
    );
    assert_eq!(
        post(&app, "/api/auth/logout/", json!({})).await,
        (
            401,
            json!({"detail": "Refresh token was not included in request data."})
        )
    );
    assert_eq!(
        post(&app, "/api/auth/logout/", json!({"refresh": "garbage"}))
            .await
            .0,
        401
    );
    assert_eq!(app.get("/dj-rest-auth/logout/").await.status(), 405);
}

async fn the_refresh_rotates_and_says_when_tokens_expire(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.persona("ada").await;
    let (_, pair) = post(
        &app,
        "/dj-rest-auth/login/",
        json!({"username": "ada", "password": PERSONA_PASSWORD}),
    )
    .await;
    let refresh = pair["refresh"].as_str().unwrap();
    let (status, body) = post(
        &app,
        "/dj-rest-auth/token/refresh/",
        json!({"refresh": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access",
            "refresh",
            "access_expiration",
            "refresh_expiration"
        ]
    );
    assert_ne!(body["refresh"], refresh, "rotated");
    let exp = crate::helpers::claims(body["access"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    let expected = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S.000000Z")
        .to_string();
    assert_eq!(body["access_expiration"], expected);
    assert!(
        body["refresh_expiration"]
            .as_str()
            .unwrap()
            .ends_with(".000000Z")
    );
    assert_eq!(
        post(&app, "/dj-rest-auth/token/refresh/", json!({})).await,
        (
            401,
            json!({"detail": "No valid refresh token found.", "code": "token_not_valid"})
        )
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/token/verify/",
            json!({"token": body["access"]})
        )
        .await,
        (200, json!({}))
    );
    let (status, bad) = post(&app, "/api/auth/token/verify/", json!({"token": "garbage"})).await;
    assert_eq!(
        (status, bad["code"].clone()),
        (401, json!("token_not_valid"))
    );
    assert_eq!(
        post(&app, "/api/auth/token/verify/", json!({})).await,
        (400, json!({"token": ["This field is required."]}))
    );
}

async fn password_change_and_reset_use_django_s_words(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let ada = app.persona("ada").await;
    let change = |body: Value| {
        let token = ada.tokens.access.clone();
        let app = &app;
        async move {
            let response = app
                .send_bearer(
                    reqwest::Method::POST,
                    "/dj-rest-auth/password/change/",
                    &token,
                    &body,
                )
                .await;
            let status = response.status().as_u16();
            (status, json_body(response).await)
        }
    };
    let new = "a brand new passphrase 42";
    for (body, expected) in [
        (
            json!({"new_password1": new, "new_password2": new}),
            json!({"old_password": ["This field is required."]}),
        ),
        (
            json!({"old_password": "wrong", "new_password1": new, "new_password2": new}),
            json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]}),
        ),
        (
            json!({"old_password": PERSONA_PASSWORD, "new_password1": new, "new_password2": "other"}),
            json!({"new_password2": ["The two password fields didn\u{2019}t match."]}),
        ),
    ] {
        assert_eq!(change(body).await, (400, expected));
    }
    let (status, weak) = change(
        json!({"old_password": PERSONA_PASSWORD, "new_password1": "123", "new_password2": "123"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        weak["new_password2"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{weak}"
    );
    assert_eq!(
        change(
            json!({"old_password": PERSONA_PASSWORD, "new_password1": new, "new_password2": new})
        )
        .await,
        (200, json!({"detail": "New password has been saved."}))
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/login/",
            json!({"username": "ada", "password": new})
        )
        .await
        .0,
        200
    );

    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/",
            json!({"email": "not an address"})
        )
        .await,
        (400, json!({"email": ["Enter a valid email address."]}))
    );
    let sent = json!({"detail": "Password reset e-mail has been sent."});
    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/",
            json!({"email": "nobody@example.com"})
        )
        .await,
        (200, sent.clone())
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/",
            json!({"email": "ada@example.com"})
        )
        .await,
        (200, sent)
    );
    // Two mails: one told Ada her password changed, the other carries the link.
    let mail = app
        .wait_for_mail(2)
        .await
        .into_iter()
        .find(|m| m.subject.to_lowercase().contains("reset"))
        .expect("the reset mail");
    let (uid, token) = crate::helpers::uid_and_token(&mail.link());
    let last = "the last passphrase of ada";
    let confirm = |first: &str, second: &str| json!({"uid": uid, "token": token, "new_password1": first, "new_password2": second});
    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/confirm/",
            confirm(last, "nope")
        )
        .await,
        (
            400,
            json!({"new_password2": ["The two password fields didn\u{2019}t match."]})
        )
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/confirm/",
            confirm(last, last)
        )
        .await,
        (
            200,
            json!({"detail": "Password has been reset with the new password."})
        )
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/password/reset/confirm/",
            confirm(last, last)
        )
        .await,
        (400, json!({"token": ["Invalid value"]})),
        "a link works once"
    );
    let missing = post(&app, "/api/auth/password/reset/confirm/", json!({})).await;
    assert_eq!(missing.0, 400);
    for field in ["new_password1", "new_password2", "uid", "token"] {
        assert_eq!(
            missing.1[field],
            json!(["This field is required."]),
            "{field}"
        );
    }
    assert_eq!(
        post(
            &app,
            "/api/auth/login/",
            json!({"username": "ada", "password": last})
        )
        .await
        .0,
        200
    );
}

async fn registration_logs_in_or_mails_a_key_to_verify(backend: Backend) {
    let Some(open) = spawn_app(backend).await else {
        return;
    };
    let pw = "a long and fine passphrase";
    let body = |username: &str, email: &str, second: &str| json!({"username": username, "email": email, "password1": pw, "password2": second});
    // Accounts start active: 201 with the login body.
    let (status, created) = post(
        &open,
        "/dj-rest-auth/registration/",
        body("ivy", "ivy@example.com", pw),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["user"]["username"], "ivy");
    assert!(created["access"].is_string() && created["refresh"].is_string());
    assert_eq!(
        open.get_bearer("/api/auth/user/", created["access"].as_str().unwrap())
            .await
            .status(),
        200
    );
    for (request, expected) in [
        (
            body("ivy", "other@example.com", pw),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            body("ivy2", "IVY@example.com", pw),
            json!({"email": ["User is already registered with this e-mail address."]}),
        ),
        (
            body("ivy3", "ivy3@example.com", "different"),
            json!({"non_field_errors": ["The two password fields didn't match."]}),
        ),
        (
            body("ivy4", "not-an-address", pw),
            json!({"email": ["Enter a valid email address."]}),
        ),
        (
            json!({}),
            json!({"username": ["This field is required."], "email": ["This field is required."], "password1": ["This field is required."], "password2": ["This field is required."]}),
        ),
    ] {
        assert_eq!(
            post(&open, "/api/auth/registration/", request).await,
            (400, expected)
        );
    }
    let (status, weak) = post(&open, "/api/auth/registration/", json!({"username": "ivy5", "email": "ivy5@example.com", "password1": "123", "password2": "123"})).await;
    assert_eq!(status, 400);
    assert!(
        weak["password1"].as_array().is_some_and(|m| !m.is_empty()),
        "{weak}"
    );

    // Accounts wait for their link: the link carries the key dj-rest-auth's front ends post.
    let options = Spawn {
        env: vec![
            ("LATCHKEY_SEND_ACTIVATION_EMAIL", "true".into()),
            (
                "LATCHKEY_ACTIVATION_URL",
                "account-confirm-email/{uid}:{token}/".into(),
            ),
        ],
        ..Spawn::default()
    };
    let Some(app) = spawn_app_with(backend, options).await else {
        return;
    };
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/",
            body("joe", "joe@example.com", pw)
        )
        .await,
        (201, json!({"detail": "Verification e-mail sent."}))
    );
    let login = json!({"username": "joe", "password": pw});
    assert_eq!(
        post(&app, "/dj-rest-auth/login/", login.clone()).await.0,
        400,
        "not active yet"
    );
    let ok = (200, json!({"detail": "ok"}));
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/resend-email/",
            json!({"email": "joe@example.com"})
        )
        .await,
        ok.clone()
    );
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/resend-email/",
            json!({"email": "nobody@example.com"})
        )
        .await,
        ok.clone()
    );
    let link = app.wait_for_mail(1).await.remove(0).link();
    let key = link
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(key.contains(':'), "{link}");
    let not_found = (404, json!({"detail": "Not found."}));
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/verify-email/",
            json!({"key": "garbage"})
        )
        .await,
        not_found.clone()
    );
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/verify-email/",
            json!({"key": key})
        )
        .await,
        ok
    );
    assert_eq!(
        post(
            &app,
            "/dj-rest-auth/registration/verify-email/",
            json!({"key": key})
        )
        .await,
        not_found,
        "once"
    );
    assert_eq!(post(&app, "/dj-rest-auth/login/", login).await.0, 200);
    assert_eq!(
        app.get("/dj-rest-auth/registration/verify-email/")
            .await
            .status(),
        405
    );
}

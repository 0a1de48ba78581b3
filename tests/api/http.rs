//! The HTTP skeleton: health, DRF-shaped errors, body limits, trailing slashes, panics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::helpers::{Backend, Spawn, backend_tests, json_body, spawn_app, spawn_app_with};

backend_tests!(
    health_answers_ok_with_or_without_trailing_slash,
    unknown_routes_and_wrong_methods_get_json_errors,
    malformed_json_gets_a_400_json_body,
    wrong_types_and_non_objects_get_field_errors,
    oversized_bodies_get_413_and_nothing_is_stored,
    unsupported_media_types_get_415,
    form_bodies_are_accepted_and_unknown_fields_ignored,
    a_panicking_handler_gets_a_generic_500,
);

async fn health_answers_ok_with_or_without_trailing_slash(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for path in ["/health", "/health/", "/health/ready", "/health/ready/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-request-id"), "{path}");
        assert_eq!(json_body(response).await, json!({"status": "ok"}), "{path}");
    }
}

async fn unknown_routes_and_wrong_methods_get_json_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);
    assert_eq!(json_body(response).await, json!({"detail": "Not found."}));

    let response = app
        .client
        .put(app.url("/auth/users/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        json_body(response).await,
        json!({"detail": "Method \"PUT\" not allowed."})
    );
}

async fn malformed_json_gets_a_400_json_body(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app
        .client
        .post(app.url("/auth/users/"))
        .header("content-type", "application/json")
        .body("{\"email\": \"a@example.com\",")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = json_body(response).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    assert_eq!(body.as_object().unwrap().len(), 1);
}

async fn wrong_types_and_non_objects_get_field_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app
        .post_json(
            "/auth/users/",
            &json!({"email": ["a@example.com"], "password": null, "username": true}),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(response).await,
        json!({
            "email": ["Not a valid string."],
            "username": ["Not a valid string."],
            "password": ["This field may not be null."],
        })
    );

    let response = app.post_json("/auth/users/", &json!([1, 2])).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_body(response).await,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

async fn oversized_bodies_get_413_and_nothing_is_stored(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let padding = "x".repeat(70 * 1024);
    let body = json!({"email": "big@example.com", "password": "long enough pass", "pad": padding});
    let response = app.post_json("/auth/users/", &body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        json_body(response).await,
        json!({"detail": "Request body is too large: the limit is 65536 bytes."})
    );

    // Without a Content-Length (chunked), the extractor's limit answers the same.
    let stream =
        futures_util::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .client
        .post(app.url("/auth/users/"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let users = crate::helpers::all_users(&app.state).await;
    assert!(users.is_empty(), "nothing may be stored: {users:?}");
}

async fn unsupported_media_types_get_415(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app
        .client
        .post(app.url("/auth/users/"))
        .header("content-type", "text/plain")
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        json_body(response).await,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
}

async fn form_bodies_are_accepted_and_unknown_fields_ignored(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app
        .client
        .post(app.url("/auth/users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=Form%40Example.com&password=plenty+of+entropy+here&favourite_colour=teal")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body = json_body(response).await;
    assert_eq!(body["email"], "Form@Example.com");
    assert_eq!(body["username"], "form@example.com");
    assert!(body.get("favourite_colour").is_none());
    assert!(
        body.get("password").is_none(),
        "the hash must never be returned"
    );
}

async fn a_panicking_handler_gets_a_generic_500(backend: Backend) {
    fn panicking_route(cfg: &mut web::ServiceConfig) {
        cfg.route(
            "/test/panic",
            web::get().to(|| async {
                if std::hint::black_box(true) {
                    panic!("secret internal detail");
                }
                HttpResponse::Ok().finish()
            }),
        );
    }
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            extra_routes: Some(panicking_route),
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let response = app.get("/test/panic").await;
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert_eq!(text, r#"{"detail":"A server error occurred."}"#);
    // The server keeps serving afterwards.
    assert_eq!(app.get("/health").await.status(), 200);
}

backend_tests!(cors_allows_configured_origins_on_success_and_error_responses);

async fn cors_allows_configured_origins_on_success_and_error_responses(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![(
                "LATCHKEY_CORS_ORIGINS",
                "https://app.example.com, http://localhost:3000".into(),
            )],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let allow_origin = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/jwt/create/"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, accept",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        allow_origin(&preflight).as_deref(),
        Some("https://app.example.com")
    );
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in ["authorization", "content-type", "accept"] {
        assert!(allowed.contains(header), "{allowed}");
    }

    // A 401 must be readable by the front end, so it carries the CORS headers too.
    let unauthorized = app
        .client
        .get(app.url("/auth/users/me/"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        allow_origin(&unauthorized).as_deref(),
        Some("http://localhost:3000")
    );
    let too_large = app
        .client
        .post(app.url("/auth/users/"))
        .header("origin", "https://app.example.com")
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    assert_eq!(
        allow_origin(&too_large).as_deref(),
        Some("https://app.example.com")
    );

    // Another origin is served without CORS headers: the browser, not the server, refuses it.
    let stranger = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 200);
    assert_eq!(allow_origin(&stranger), None);
}

backend_tests!(the_openapi_document_lists_every_json_endpoint_and_validates);

async fn the_openapi_document_lists_every_json_endpoint_and_validates(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app.get("/api/schema/").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/auth/users/", &["post", "get"][..]),
        ("/auth/users/me/", &["get", "put", "patch", "delete"][..]),
        ("/auth/users/{id}/", &["get", "put", "patch", "delete"][..]),
        ("/auth/users/set_password/", &["post"][..]),
        ("/auth/users/set_email/", &["post"][..]),
        ("/auth/jwt/create/", &["post"][..]),
        ("/auth/jwt/refresh/", &["post"][..]),
        ("/auth/jwt/verify/", &["post"][..]),
        ("/auth/jwt/blacklist/", &["post"][..]),
        ("/auth/logout/", &["post"][..]),
        ("/api/token/pair", &["post"][..]),
        ("/api/token/refresh", &["post"][..]),
        ("/api/token/verify", &["post"][..]),
        ("/api/token/blacklist", &["post"][..]),
        ("/users/login/", &["post"][..]),
        ("/users/session/", &["post"][..]),
        ("/auth/users/me/sessions/", &["get"][..]),
        ("/dj-rest-auth/login/", &["post"][..]),
        ("/dj-rest-auth/user/", &["get", "put", "patch"][..]),
        ("/dj-rest-auth/token/refresh/", &["post"][..]),
        ("/dj-rest-auth/registration/", &["post"][..]),
        ("/health", &["get"][..]),
        ("/health/ready", &["get"][..]),
    ] {
        for method in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
    }

    // A real validator: openapi-spec-validator (installed by .ci/run).
    let file = app.db.dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output();
    match output {
        Ok(out) if out.status.success() => {
            assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
        }
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            crate::helpers::missing_tool(
                "openapi-spec-validator is not installed (pip install openapi-spec-validator): the OpenAPI document was NOT validated",
            );
        }
        Ok(out) => panic!(
            "the OpenAPI document is invalid or the validator is missing:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run python3 for the OpenAPI validator: {e}"),
    }
}

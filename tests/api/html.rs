//! The HTML pages at the HTTP level: login, logout, profile, CSRF, headers, cookies.

use latchkey::accounts::{self, Actor};
use serde_json::json;

use crate::helpers::{
    Backend, PERSONA_PASSWORD as PASSWORD, Spawn, TestApp, backend_tests, create_user, csrf,
    location, spawn_app, spawn_app_with,
};

backend_tests!(
    the_login_page_has_csrf_security_headers_and_a_private_cookie,
    posts_need_the_csrf_token_and_a_matching_origin,
    a_failed_login_shows_one_message_and_keeps_the_username,
    login_profile_and_logout,
    next_is_followed_only_to_same_origin_paths,
    ending_the_session_elsewhere_logs_the_browser_out,
    secure_cookies_use_the_host_prefix_and_hsts,
    static_files_are_served_with_cache_headers,
);

const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

async fn the_login_page_has_csrf_security_headers_and_a_private_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app.tab().get("/accounts/login").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        header("strict-transport-security").is_empty(),
        "no HSTS over plain http"
    );
    let cookie = header("set-cookie");
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http in development: {cookie}"
    );
    let html = response.text().await.unwrap();
    assert_eq!(csrf(&html).len(), 43);
    for needle in [
        "<label for=\"id_username\">",
        "autocomplete=\"username\"",
        "<label for=\"id_password\">",
        "autocomplete=\"current-password\"",
        "/static/vendor/pico/pico.classless.min.css",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
}

async fn posts_need_the_csrf_token_and_a_matching_origin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "cas", "cas@example.com", PASSWORD).await;
    let tab = app.tab();
    let token = csrf(&tab.page("/accounts/login/").await);
    let credentials = [("username", "cas"), ("password", PASSWORD)];
    let with_token = |token: &str| {
        let mut form = vec![("csrf_token", token.to_owned())];
        form.extend(credentials.map(|(k, v)| (k, v.to_owned())));
        form
    };
    let attacks = [
        (tab.post("/accounts/login/").form(&credentials), "no token"),
        (
            tab.post("/accounts/login/").form(&with_token("forged")),
            "a forged token",
        ),
        (
            tab.post("/accounts/login/")
                .form(&with_token(&token))
                .header("origin", "https://evil.example"),
            "another site's origin",
        ),
    ];
    for (request, attack) in attacks {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{attack}");
        assert!(response.text().await.unwrap().contains("CSRF check failed"));
    }
    // The same form from this site's own origin goes through.
    let token = csrf(&tab.page("/accounts/login/").await);
    let response = tab
        .post("/accounts/login/")
        .header("origin", app.address.as_str())
        .form(&with_token(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

async fn a_failed_login_shows_one_message_and_keeps_the_username(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "dee", "dee@example.com", PASSWORD).await;
    create_user(&app, "eve", "eve@example.com", PASSWORD).await;
    accounts::set_active(&app.state, &Actor::Operator, "eve", false)
        .await
        .unwrap();
    for (username, password) in [("dee", "wrong"), ("nobody", PASSWORD), ("eve", PASSWORD)] {
        let response = app.tab().log_in(username, password, "").await;
        assert_eq!(response.status(), 400, "{username}");
        let html = response.text().await.unwrap();
        assert!(html.contains(LOGIN_FAILED), "{username}");
        assert!(
            html.contains(&format!("value=\"{username}\"")),
            "the username is kept"
        );
        assert!(!html.contains(password), "the password is never echoed");
    }
}

async fn login_profile_and_logout(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "fin", "fin@example.com", PASSWORD).await;
    let tab = app.tab();
    let before = tab.get("/accounts/login/").await;
    let cookie_before = before.headers().get("set-cookie").cloned();
    let response = tab.log_in("fin@example.com", PASSWORD, "").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/accounts/profile/");
    assert_ne!(
        response.headers().get("set-cookie").cloned(),
        cookie_before,
        "a new session cookie"
    );

    let html = tab.page("/accounts/profile/").await;
    assert!(html.contains("fin@example.com") && html.contains("Your account"));
    assert_eq!(open_session_kinds(&app).await, ["browser"]);

    let logout = tab.post_from(&html, "/accounts/logout/", &[]).await;
    assert_eq!(logout.status(), 200);
    assert!(
        logout
            .text()
            .await
            .unwrap()
            .contains("You have been logged out.")
    );
    let after = tab.get("/accounts/profile/").await;
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/accounts/login/?next=/accounts/profile/");
    assert_eq!(
        tab.status("/accounts/logout/").await,
        405,
        "logout is POST only, as in Django 5"
    );
}

/// The kinds of the sessions that are not revoked.
async fn open_session_kinds(app: &TestApp) -> Vec<String> {
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::sessions;
            sessions::table
                .filter(sessions::revoked_at.is_null())
                .select(sessions::kind)
                .load::<String>(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .unwrap()
}

async fn next_is_followed_only_to_same_origin_paths(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "gus", "gus@example.com", PASSWORD).await;
    for (next, expected) in [
        ("//evil.example", "/accounts/profile/"),
        ("https://evil.example/", "/accounts/profile/"),
        ("/\\evil.example", "/accounts/profile/"),
        (
            "/accounts/profile/?tab=sessions",
            "/accounts/profile/?tab=sessions",
        ),
    ] {
        let response = app.tab().log_in("gus", PASSWORD, next).await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(location(&response), expected, "{next}");
    }
}

async fn ending_the_session_elsewhere_logs_the_browser_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let hal = app.persona("hal").await;
    let tab = app.tab_logged_in("hal").await;
    assert_eq!(tab.status("/accounts/profile/").await, 200);
    // A password change from the API ends every other session, this browser's included.
    let changed = app
        .as_user(&hal)
        .send(
            reqwest::Method::POST,
            "/auth/users/set_password/",
            json!({"current_password": PASSWORD, "new_password": "entirely new secret 1"}),
        )
        .await;
    assert_eq!(changed.status(), 204);
    assert_eq!(
        tab.status("/accounts/profile/").await,
        303,
        "logged out at once"
    );
}

async fn secure_cookies_use_the_host_prefix_and_hsts(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_SECURE_COOKIES", "true".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let response = app.tab().get("/accounts/login/").await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );
}

async fn static_files_are_served_with_cache_headers(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for path in [
        "/static/vendor/pico/pico.classless.min.css",
        "/static/css/latchkey.css",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("public, max-age=86400")
        );
        assert!(
            response
                .headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
}

backend_tests!(
    registration_page_creates_accounts_with_the_same_rules,
    password_change_keeps_this_session_and_ends_the_others,
);

async fn registration_page_creates_accounts_with_the_same_rules(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let tab = app.tab();
    let html = tab.page("/accounts/register/").await;
    for needle in [
        "autocomplete=\"email\"",
        "autocomplete=\"new-password\"",
        "<label for=\"id_password2\">",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let register = |fields: &'static [(&'static str, &'static str)]| {
        let tab = tab.clone();
        async move { tab.submit("/accounts/register/", fields).await }
    };
    let mismatch = register(&[
        ("email", "kai@example.com"),
        ("password1", PASSWORD),
        ("password2", "something else"),
    ])
    .await;
    assert_eq!(mismatch.status(), 400);
    let html = mismatch.text().await.unwrap();
    assert!(html.contains("The two password fields didn\u{2019}t match."));
    assert!(
        html.contains("value=\"kai@example.com\""),
        "the email is kept"
    );
    assert!(!html.contains(PASSWORD), "passwords are never sent back");

    let weak = register(&[
        ("email", "kai@example.com"),
        ("username", "kaikai"),
        ("password1", "kaiexample"),
        ("password2", "kaiexample"),
    ])
    .await;
    assert_eq!(weak.status(), 400);
    let html = weak.text().await.unwrap();
    assert!(
        html.contains("The password is too similar to the email address."),
        "{html}"
    );

    let ok = register(&[
        ("email", "kai@example.com"),
        ("first_name", "Kai"),
        ("password1", PASSWORD),
        ("password2", PASSWORD),
    ])
    .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Account created"));
    let user = accounts::get_by_username(&app.state, &Actor::Operator, "kai@example.com")
        .await
        .unwrap();
    assert_eq!(user.first_name, "Kai");
    assert!(user.is_active);

    let taken = register(&[
        ("email", "KAI@example.com"),
        ("password1", PASSWORD),
        ("password2", PASSWORD),
    ])
    .await;
    assert_eq!(taken.status(), 400);
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("user with this email address already exists.")
    );
}

async fn password_change_keeps_this_session_and_ends_the_others(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.persona("lou").await;
    let anonymous = app.tab().get("/accounts/password_change/").await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        location(&anonymous),
        "/accounts/login/?next=/accounts/password_change/"
    );

    let here = app.tab_logged_in("lou").await;
    let elsewhere = app.tab_logged_in("lou").await;
    let change = |old: &'static str, new1: &'static str, new2: &'static str| {
        let here = here.clone();
        async move {
            let fields = [
                ("old_password", old),
                ("new_password1", new1),
                ("new_password2", new2),
            ];
            here.submit("/accounts/password_change/", &fields).await
        }
    };
    let wrong = change("nope", "a new secret 2026", "a new secret 2026").await;
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Your old password was entered incorrectly. Please enter it again.")
    );
    let differ = change(PASSWORD, "a new secret 2026", "another secret 2026").await;
    assert!(
        differ
            .text()
            .await
            .unwrap()
            .contains("The two password fields didn\u{2019}t match.")
    );
    let ok = change(PASSWORD, "a new secret 2026", "a new secret 2026").await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/accounts/password_change/done/");
    assert_eq!(
        here.status("/accounts/password_change/done/").await,
        200,
        "this browser stays logged in"
    );
    assert_eq!(
        elsewhere.status("/accounts/profile/").await,
        303,
        "the other browser is logged out"
    );
    app.login("lou", "a new secret 2026").await;
}

backend_tests!(
    password_reset_pages_move_the_token_out_of_the_url,
    activation_link_needs_a_post_from_the_page,
);

async fn password_reset_pages_move_the_token_out_of_the_url(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "max", "max@example.com", PASSWORD).await;
    let tab = app.tab();
    let sent = tab
        .submit("/accounts/password_reset/", &[("email", "max@example.com")])
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(location(&sent), "/accounts/password_reset/done/");

    let path = app.wait_for_mail(1).await.remove(0).link_path();
    assert!(path.starts_with("/accounts/reset/"), "{path}");
    let hop = tab.get(&path).await;
    assert_eq!(hop.status(), 303);
    assert_eq!(
        hop.headers()
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    let set_password = location(&hop);
    assert!(set_password.ends_with("/set-password/"), "{set_password}");
    assert!(
        !set_password.contains(path.trim_end_matches('/').rsplit('/').next().unwrap()),
        "the token left the URL"
    );

    let differ = tab
        .submit(
            &set_password,
            &[
                ("new_password1", "a brand new one 7"),
                ("new_password2", "not the same 7"),
            ],
        )
        .await;
    assert_eq!(differ.status(), 400);
    let html = differ.text().await.unwrap();
    assert!(
        html.contains("The two password fields didn\u{2019}t match."),
        "{html}"
    );
    let fields = [
        ("new_password1", "a brand new one 7"),
        ("new_password2", "a brand new one 7"),
    ];
    let done = tab.post_from(&html, &set_password, &fields).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/accounts/reset/done/");
    app.login("max", "a brand new one 7").await;

    let again = app.tab().page(&path).await;
    assert!(again.contains("This link is no longer valid"));
}

async fn activation_link_needs_a_post_from_the_page(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_SEND_ACTIVATION_EMAIL", "true".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let created = app
        .post_json(
            "/auth/users/",
            &json!({"email": "ned@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let path = app.wait_for_mail(1).await.remove(0).link_path();
    let tab = app.tab();
    // What a mail scanner does: open the link. Nothing is used up.
    for _ in 0..2 {
        assert!(tab.page(&path).await.contains("Activate my account"));
    }
    let is_active = || async {
        accounts::get_by_username(&app.state, &Actor::Operator, "ned@example.com")
            .await
            .unwrap()
            .is_active
    };
    assert!(!is_active().await);

    let activated = tab.submit(&path, &[]).await;
    assert_eq!(activated.status(), 200);
    assert!(
        activated
            .text()
            .await
            .unwrap()
            .contains("Account activated")
    );
    assert!(is_active().await);
    assert!(
        tab.page(&path)
            .await
            .contains("This link is no longer valid")
    );
}

backend_tests!(
    the_account_page_edits_names,
    the_account_page_lists_and_ends_sessions,
);

async fn the_account_page_edits_names(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.persona("oli").await;
    let tab = app.tab_logged_in("oli").await;
    let renamed = tab
        .submit(
            "/accounts/profile/",
            &[("first_name", " Olive "), ("last_name", "Oyl")],
        )
        .await;
    assert_eq!(renamed.status(), 303);
    let user = accounts::get_by_username(&app.state, &Actor::Operator, "oli")
        .await
        .unwrap();
    assert_eq!(
        (user.first_name.as_str(), user.last_name.as_str()),
        ("Olive", "Oyl")
    );
    let long = "x".repeat(151);
    let too_long = tab
        .submit(
            "/accounts/profile/",
            &[("first_name", long.as_str()), ("last_name", "")],
        )
        .await;
    assert_eq!(too_long.status(), 400);
    assert!(
        too_long
            .text()
            .await
            .unwrap()
            .contains("Ensure this field has no more than 150 characters.")
    );
}

async fn the_account_page_lists_and_ends_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let oli = app.persona("oli").await;
    let here = app.tab_logged_in("oli").await;
    let other_browser = app.tab_logged_in("oli").await;

    let page = here.page("/accounts/profile/").await;
    assert_eq!(
        page.matches("<tr>").count() - 1,
        3,
        "two browsers and one API session"
    );
    assert_eq!(page.matches("this device").count(), 1);
    assert!(page.contains("<td>api</td>") && page.contains("<td>browser</td>"));

    // End the API session from its row.
    let ended = here.post_from(&page, &end_action(&page, "api"), &[]).await;
    assert_eq!(ended.status(), 303);
    assert_eq!(app.as_user(&oli).get("/auth/users/me/").await.status(), 401);
    assert_eq!(other_browser.status("/accounts/profile/").await, 200);

    let page = here.page("/accounts/profile/").await;
    let all = here
        .post_from(&page, "/accounts/sessions/end-others/", &[])
        .await;
    assert_eq!(all.status(), 303);
    assert_eq!(other_browser.status("/accounts/profile/").await, 303);
    assert_eq!(
        here.status("/accounts/profile/").await,
        200,
        "this one stays"
    );
}

/// The action of the "end" form in the first session row of `kind`.
fn end_action(page: &str, kind: &str) -> String {
    let row = page
        .split("<tr>")
        .find(|row| row.contains(&format!("<td>{kind}</td>")))
        .unwrap_or_else(|| panic!("no {kind} session row"));
    row.split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an end form")
        .to_owned()
}

backend_tests!(
    unknown_pages_and_the_ip_limit_answer_in_html,
    idle_and_absolute_session_limits_log_the_browser_out,
);

async fn unknown_pages_and_the_ip_limit_answer_in_html(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Spawn {
            env: vec![("LATCHKEY_THROTTLE_IP_BURST", "1".into())],
            ..Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let missing = app.tab().get("/accounts/no-such-page/").await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = missing.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");

    let tab = app.tab();
    let first = tab.log_in("nobody", "whatever", "").await;
    assert_eq!(first.status(), 400);
    let second = tab.log_in("nobody", "whatever", "").await;
    assert_eq!(second.status(), 429);
    assert!(second.headers().get("retry-after").is_some());
    let html = second.text().await.unwrap();
    assert!(html.contains("Too many attempts, try again in"), "{html}");
}

async fn idle_and_absolute_session_limits_log_the_browser_out(backend: Backend) {
    use chrono::Duration;
    let env = [
        ("LATCHKEY_SESSION_IDLE_TIMEOUT", "3600"),
        ("LATCHKEY_SESSION_ABSOLUTE_LIFETIME", "7200"),
    ];
    let Some((app, clock)) = crate::helpers::spawn_app_on_clock(backend, &env).await else {
        return;
    };
    app.persona("pia").await;
    let tab = app.tab_logged_in("pia").await;
    // Active every 50 minutes: the idle timeout never hits, the absolute lifetime does.
    for _ in 0..2 {
        clock.advance(Duration::minutes(50));
        assert_eq!(tab.status("/accounts/profile/").await, 200);
    }
    clock.advance(Duration::minutes(21));
    assert_eq!(
        tab.status("/accounts/profile/").await,
        303,
        "two hours after login the session is over"
    );

    let idle = app.tab_logged_in("pia").await;
    clock.advance(Duration::minutes(61));
    assert_eq!(
        idle.status("/accounts/profile/").await,
        303,
        "an hour without a request ends it"
    );
}

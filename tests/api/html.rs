//! The HTML pages at the HTTP level: login, logout, profile, CSRF, headers, cookies.

use serde_json::json;

use crate::helpers::{
    Backend, Spawn, TestApp, backend_tests, create_user, spawn_app, spawn_app_with,
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

const PASSWORD: &str = "correct horse battery staple";
const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// A client that keeps cookies and does not follow redirects, like a browser tab we inspect.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The hidden CSRF field's value in a page.
pub(crate) fn csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub(crate) async fn login_page(app: &TestApp, client: &reqwest::Client) -> String {
    let response = client
        .get(app.url("/accounts/login/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

pub(crate) async fn post_login(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let token = csrf(&login_page(app, client).await);
    client
        .post(app.url("/accounts/login/"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn the_login_page_has_csrf_security_headers_and_a_private_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = browser()
        .get(app.url("/accounts/login"))
        .send()
        .await
        .unwrap();
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
    let client = browser();
    let token = csrf(&login_page(&app, &client).await);
    type Form<'a> = &'a [(&'a str, &'a str)];
    let forms: [(Form<'_>, Option<&str>); 3] = [
        (&[("username", "cas"), ("password", PASSWORD)], None),
        (
            &[
                ("csrf_token", "forged"),
                ("username", "cas"),
                ("password", PASSWORD),
            ],
            None,
        ),
        (
            &[
                ("csrf_token", token.as_str()),
                ("username", "cas"),
                ("password", PASSWORD),
            ],
            Some("https://evil.example"),
        ),
    ];
    for (form, origin) in forms {
        let mut request = client.post(app.url("/accounts/login/")).form(form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{form:?} {origin:?}");
        assert!(response.text().await.unwrap().contains("CSRF check failed"));
    }
    // The same form from this site's own origin goes through.
    let token = csrf(&login_page(&app, &client).await);
    let response = client
        .post(app.url("/accounts/login/"))
        .header("origin", app.address.as_str())
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "cas"),
            ("password", PASSWORD),
        ])
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
    latchkey::accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "eve",
        false,
    )
    .await
    .unwrap();
    for (username, password) in [("dee", "wrong"), ("nobody", PASSWORD), ("eve", PASSWORD)] {
        let client = browser();
        let response = post_login(&app, &client, username, password, "").await;
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
    let client = browser();
    let before = client
        .get(app.url("/accounts/login/"))
        .send()
        .await
        .unwrap();
    let cookie_before = before.headers().get("set-cookie").cloned();
    let response = post_login(&app, &client, "fin@example.com", PASSWORD, "").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/accounts/profile/");
    assert_ne!(
        response.headers().get("set-cookie").cloned(),
        cookie_before,
        "a new session cookie"
    );

    let profile = client
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    let html = profile.text().await.unwrap();
    assert!(html.contains("fin@example.com") && html.contains("Your account"));

    let kinds: Vec<String> = app
        .state
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
        .unwrap();
    assert_eq!(kinds, ["browser"]);

    let token = csrf(&html);
    let logout = client
        .post(app.url("/accounts/logout/"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert!(
        logout
            .text()
            .await
            .unwrap()
            .contains("You have been logged out.")
    );
    let after = client
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/accounts/login/?next=/accounts/profile/");
    let get_logout = client
        .get(app.url("/accounts/logout/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_logout.status(),
        405,
        "logout is POST only, as in Django 5"
    );
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
        let response = post_login(&app, &browser(), "gus", PASSWORD, next).await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(location(&response), expected, "{next}");
    }
}

async fn ending_the_session_elsewhere_logs_the_browser_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "hal", "hal@example.com", PASSWORD).await;
    let client = browser();
    assert_eq!(
        post_login(&app, &client, "hal", PASSWORD, "")
            .await
            .status(),
        303
    );
    assert_eq!(
        client
            .get(app.url("/accounts/profile/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A password change from the API ends every other session, this browser's included.
    let tokens = app.login("hal", PASSWORD).await;
    let changed = app
        .send_bearer(
            reqwest::Method::POST,
            "/auth/users/set_password/",
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_password": "entirely new secret 1"}),
        )
        .await;
    assert_eq!(changed.status(), 204);
    let profile = client
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 303, "logged out at once");
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
    let response = browser()
        .get(app.url("/accounts/login/"))
        .send()
        .await
        .unwrap();
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
    let client = browser();
    let page = client
        .get(app.url("/accounts/register/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for needle in [
        "autocomplete=\"email\"",
        "autocomplete=\"new-password\"",
        "<label for=\"id_password2\">",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let submit = |fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = app.url("/accounts/register/");
        async move {
            let token = csrf(&client.get(&url).send().await.unwrap().text().await.unwrap());
            let mut form = fields;
            form.push(("csrf_token", token));
            client.post(&url).form(&form).send().await.unwrap()
        }
    };
    let mismatch = submit(vec![
        ("email", "kai@example.com".into()),
        ("password1", PASSWORD.into()),
        ("password2", "something else".into()),
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

    let weak = submit(vec![
        ("email", "kai@example.com".into()),
        ("username", "kaikai".into()),
        ("password1", "kaiexample".into()),
        ("password2", "kaiexample".into()),
    ])
    .await;
    assert_eq!(weak.status(), 400);
    let html = weak.text().await.unwrap();
    assert!(
        html.contains("The password is too similar to the email address."),
        "{html}"
    );

    let ok = submit(vec![
        ("email", "kai@example.com".into()),
        ("first_name", "Kai".into()),
        ("password1", PASSWORD.into()),
        ("password2", PASSWORD.into()),
    ])
    .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Account created"));
    let user = latchkey::accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "kai@example.com",
    )
    .await
    .unwrap();
    assert_eq!(user.first_name, "Kai");
    assert!(user.is_active);

    let taken = submit(vec![
        ("email", "KAI@example.com".into()),
        ("password1", PASSWORD.into()),
        ("password2", PASSWORD.into()),
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
    create_user(&app, "lou", "lou@example.com", PASSWORD).await;
    let anonymous = browser()
        .get(app.url("/accounts/password_change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        location(&anonymous),
        "/accounts/login/?next=/accounts/password_change/"
    );

    let here = browser();
    let elsewhere = browser();
    assert_eq!(
        post_login(&app, &here, "lou", PASSWORD, "").await.status(),
        303
    );
    assert_eq!(
        post_login(&app, &elsewhere, "lou", PASSWORD, "")
            .await
            .status(),
        303
    );
    let change = |old: &'static str, new1: &'static str, new2: &'static str| {
        let client = here.clone();
        let url = app.url("/accounts/password_change/");
        async move {
            let page = client.get(&url).send().await.unwrap().text().await.unwrap();
            let token = csrf(&page);
            client
                .post(&url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("old_password", old),
                    ("new_password1", new1),
                    ("new_password2", new2),
                ])
                .send()
                .await
                .unwrap()
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
    let done = here
        .get(app.url("/accounts/password_change/done/"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "this browser stays logged in");
    let other = elsewhere
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303, "the other browser is logged out");
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
    let client = browser();
    let form = client
        .get(app.url("/accounts/password_reset/"))
        .send()
        .await
        .unwrap();
    let token = csrf(&form.text().await.unwrap());
    let sent = client
        .post(app.url("/accounts/password_reset/"))
        .form(&[("csrf_token", token.as_str()), ("email", "max@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    assert_eq!(location(&sent), "/accounts/password_reset/done/");

    let path = app.wait_for_mail(1).await.remove(0).link_path();
    assert!(path.starts_with("/accounts/reset/"), "{path}");
    let hop = client.get(app.url(&path)).send().await.unwrap();
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

    let page = client.get(app.url(&set_password)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let token = csrf(&page.text().await.unwrap());
    let differ = client
        .post(app.url(&set_password))
        .form(&[
            ("csrf_token", token.as_str()),
            ("new_password1", "a brand new one 7"),
            ("new_password2", "not the same 7"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(differ.status(), 400);
    let html = differ.text().await.unwrap();
    assert!(
        html.contains("The two password fields didn\u{2019}t match."),
        "{html}"
    );
    let token = csrf(&html);
    let done = client
        .post(app.url(&set_password))
        .form(&[
            ("csrf_token", token.as_str()),
            ("new_password1", "a brand new one 7"),
            ("new_password2", "a brand new one 7"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/accounts/reset/done/");
    app.login("max", "a brand new one 7").await;

    let again = browser().get(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This link is no longer valid")
    );
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
    let client = browser();
    // What a mail scanner does: open the link. Nothing is used up.
    for _ in 0..2 {
        let page = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Activate my account"));
    }
    let user = latchkey::accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "ned@example.com",
    )
    .await
    .unwrap();
    assert!(!user.is_active);

    let token = csrf(
        &client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let activated = client
        .post(app.url(&path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(activated.status(), 200);
    assert!(
        activated
            .text()
            .await
            .unwrap()
            .contains("Account activated")
    );
    let user = latchkey::accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "ned@example.com",
    )
    .await
    .unwrap();
    assert!(user.is_active);
    let used = client.get(app.url(&path)).send().await.unwrap();
    assert!(
        used.text()
            .await
            .unwrap()
            .contains("This link is no longer valid")
    );
}

backend_tests!(the_account_page_edits_names_and_ends_sessions);

async fn the_account_page_edits_names_and_ends_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    create_user(&app, "oli", "oli@example.com", PASSWORD).await;
    let here = browser();
    let other_browser = browser();
    assert_eq!(
        post_login(&app, &here, "oli", PASSWORD, "").await.status(),
        303
    );
    assert_eq!(
        post_login(&app, &other_browser, "oli", PASSWORD, "")
            .await
            .status(),
        303
    );
    let api = app.login("oli", PASSWORD).await;

    let page = here
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches("<tr>").count() - 1,
        3,
        "two browsers and one API session"
    );
    assert_eq!(page.matches("this device").count(), 1);
    assert!(page.contains("<td>api</td>") && page.contains("<td>browser</td>"));

    let token = csrf(&page);
    let renamed = here
        .post(app.url("/accounts/profile/"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("first_name", " Olive "),
            ("last_name", "Oyl"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 303);
    let user = latchkey::accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "oli",
    )
    .await
    .unwrap();
    assert_eq!(
        (user.first_name.as_str(), user.last_name.as_str()),
        ("Olive", "Oyl")
    );
    let too_long = here
        .post(app.url("/accounts/profile/"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("first_name", "x".repeat(151).as_str()),
            ("last_name", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
    assert!(
        too_long
            .text()
            .await
            .unwrap()
            .contains("Ensure this field has no more than 150 characters.")
    );

    // End the API session from its row.
    let page = here
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let api_row = page
        .split("<tr>")
        .find(|row| row.contains("<td>api</td>"))
        .unwrap();
    let action = api_row
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let ended = here
        .post(app.url(&action))
        .form(&[("csrf_token", csrf(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 303);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &api.access)
            .await
            .status(),
        401
    );
    assert_eq!(
        other_browser
            .get(app.url("/accounts/profile/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let page = here
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all = here
        .post(app.url("/accounts/sessions/end-others/"))
        .form(&[("csrf_token", csrf(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 303);
    assert_eq!(
        other_browser
            .get(app.url("/accounts/profile/"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        here.get(app.url("/accounts/profile/"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "this one stays"
    );
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
    let missing = browser()
        .get(app.url("/accounts/no-such-page/"))
        .send()
        .await
        .unwrap();
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

    let client = browser();
    let first = post_login(&app, &client, "nobody", "whatever", "").await;
    assert_eq!(first.status(), 400);
    let second = post_login(&app, &client, "nobody", "whatever", "").await;
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
    create_user(&app, "pia", "pia@example.com", PASSWORD).await;
    let client = browser();
    assert_eq!(
        post_login(&app, &client, "pia", PASSWORD, "")
            .await
            .status(),
        303
    );
    let profile = || {
        let client = client.clone();
        let url = app.url("/accounts/profile/");
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    // Active every 50 minutes: the idle timeout never hits, the absolute lifetime does.
    for _ in 0..2 {
        clock.advance(Duration::minutes(50));
        assert_eq!(profile().await, 200);
    }
    clock.advance(Duration::minutes(21));
    assert_eq!(
        profile().await,
        303,
        "two hours after login the session is over"
    );

    let idle = browser();
    assert_eq!(
        post_login(&app, &idle, "pia", PASSWORD, "").await.status(),
        303
    );
    clock.advance(Duration::minutes(61));
    let status = idle
        .get(app.url("/accounts/profile/"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 303, "an hour without a request ends it");
}

//! Social login through the API (dj-rest-auth's dialect), against a real, certified OpenID
//! provider running locally (panva's oidc-provider, `tests/api/upstream.rs`) as Google.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, Spawn, TestApp, backend_tests, create_user, json_body, spawn_app_with,
};
use crate::upstream::{Upstream, start_upstream};
use latchkey::clock::Clock;

backend_tests!(
    google_tokens_sign_a_new_person_in_and_find_them_again,
    token_substitution_and_forgeries_are_refused_with_400,
    an_address_a_local_account_has_is_never_linked_silently,
    a_code_from_the_front_end_is_exchanged,
    an_unreachable_provider_is_a_clear_503,
    continue_with_google_logs_in_on_the_pages_and_links_with_the_password,
    a_rotated_key_and_a_changed_address_at_the_provider_are_followed,
);

pub const SECRET: &str = "google-client-secret-0123456789-0123456789";
pub const CALLBACK: &str = "http://127.0.0.1:3000/api/auth/callback/google";
pub const LATCHKEY: (&str, &str, &str) = ("latchkey-web", SECRET, CALLBACK);
/// Latchkey's own callback (under the default `public_url`).
pub const PAGES_CALLBACK: &str = "http://localhost:8000/accounts/social/google/callback/";
const OTHER_APP: (&str, &str, &str) = ("other-app", SECRET, CALLBACK);

fn accounts() -> Value {
    json!({
        "g-ada": {"email": "ada@example.com", "email_verified": true, "given_name": "Ada", "family_name": "Lovelace", "preferred_username": "ada"},
        "g-bob": {"email": "bob@example.com", "email_verified": false},
        "g-eve": {"email": "eve@example.com", "email_verified": true},
        "g-noname": {"email_verified": false},
    })
}

pub async fn upstream() -> Option<Upstream> {
    let clients = json!([
        {"client_id": LATCHKEY.0, "client_secret": SECRET, "redirect_uris": [CALLBACK, PAGES_CALLBACK]},
        {"client_id": OTHER_APP.0, "client_secret": SECRET, "redirect_uris": [CALLBACK]},
    ]);
    start_upstream(&clients, &accounts()).await
}

/// Latchkey with the stand-in as its `google` provider (and a clock, if given).
async fn latchkey(backend: Backend, op: &Upstream, clock: Option<Clock>) -> Option<TestApp> {
    latchkey_with(backend, op, clock, Vec::new()).await
}

/// The environment that makes the stand-in Latchkey's `google` provider.
pub fn google_env(op: &Upstream) -> Vec<(&'static str, String)> {
    vec![
        ("LATCHKEY_SOCIAL_GOOGLE_CLIENT_ID", LATCHKEY.0.to_owned()),
        ("LATCHKEY_SOCIAL_GOOGLE_CLIENT_SECRET", SECRET.to_owned()),
        ("LATCHKEY_SOCIAL_GOOGLE_ISSUER", op.issuer.clone()),
    ]
}

/// [`latchkey`] with more settings.
pub async fn latchkey_with(
    backend: Backend,
    op: &Upstream,
    clock: Option<Clock>,
    more: Vec<(&'static str, String)>,
) -> Option<TestApp> {
    let mut env = google_env(op);
    env.extend(more);
    let options = Spawn {
        env,
        clock,
        ..Spawn::default()
    };
    spawn_app_with(backend, options).await
}

pub async fn social_login(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.post_json(path, &body).await;
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

pub fn refused(message: &str) -> (u16, Value) {
    (400, json!({"non_field_errors": [message]}))
}

async fn google_tokens_sign_a_new_person_in_and_find_them_again(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let Some(app) = latchkey(backend, &op, None).await else {
        return;
    };
    let tokens = op.sign_in(LATCHKEY, "g-ada").await;
    let body = json!({"access_token": tokens.access_token, "id_token": tokens.id_token});
    let (status, first) = social_login(&app, "/api/social/login/google/", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["access"], first["access_token"]);
    assert_eq!(first["refresh"], first["refresh_token"]);
    assert_eq!(first["user"]["email"], "ada@example.com");
    assert_eq!(first["user"]["username"], "ada");
    assert_eq!(first["user"]["first_name"], "Ada");
    let me = app
        .get_bearer("/auth/users/me/", first["access"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), 200);
    // The pair refreshes (rotating) like any other.
    let (status, refreshed) = social_login(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": first["refresh"]}),
    )
    .await;
    assert_eq!(status, 200, "{refresh_body}", refresh_body = refreshed);
    // The same Google account again (an ID token alone is enough): the same person.
    let again = op.sign_in(LATCHKEY, "g-ada").await;
    let (status, second) = social_login(
        &app,
        "/dj-rest-auth/google/",
        json!({"id_token": again.id_token}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["user"]["pk"], first["user"]["pk"]);
    let users = crate::helpers::all_users(&app.state).await;
    let ada = users.iter().find(|u| u.email == "ada@example.com").unwrap();
    assert!(ada.email_verified, "the provider said so");
    assert!(!ada.has_usable_password(), "no password until they set one");
    assert_eq!(users.len(), 1);
    // An unverified address makes an account whose address is not verified.
    let bob = op.sign_in(LATCHKEY, "g-bob").await;
    let (status, _) = social_login(
        &app,
        "/api/social/login/google/",
        json!({"id_token": bob.id_token}),
    )
    .await;
    assert_eq!(status, 200);
    let users = crate::helpers::all_users(&app.state).await;
    assert!(
        !users
            .iter()
            .find(|u| u.email == "bob@example.com")
            .unwrap()
            .email_verified
    );
    // A provider that shares no address: refused, nothing created.
    let noname = op.sign_in(LATCHKEY, "g-noname").await;
    let (status, body) = social_login(
        &app,
        "/api/social/login/google/",
        json!({"id_token": noname.id_token}),
    )
    .await;
    assert_eq!(
        (status, body),
        refused("The provider did not share an e-mail address.")
    );
    assert_eq!(
        app.post_json("/api/social/login/github/", &json!({}))
            .await
            .status(),
        404
    );
}

async fn token_substitution_and_forgeries_are_refused_with_400(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    // A clock two hours ahead sees every ID token of the provider expired.
    let later = Clock::manual(chrono::Utc::now() + chrono::Duration::hours(2));
    let (Some(app), Some(app_later)) = (
        latchkey(backend, &op, None).await,
        latchkey(backend, &op, Some(later)).await,
    ) else {
        return;
    };
    let ours = op.sign_in(LATCHKEY, "g-ada").await;
    let theirs = op.sign_in(OTHER_APP, "g-ada").await;
    let bob = op.sign_in(LATCHKEY, "g-bob").await;
    let incorrect = refused("Incorrect value");
    let path = "/api/social/login/google/";
    assert_eq!(
        social_login(&app, path, json!({})).await,
        refused("Incorrect input. access_token or code is required.")
    );
    // An access token alone (the reference dj-rest-auth signs this in): refused, even our own.
    for access in [&theirs.access_token, &ours.access_token] {
        let (status, body) = social_login(&app, path, json!({"access_token": access})).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["non_field_errors"][0]
                .as_str()
                .unwrap()
                .contains("id_token is required")
        );
    }
    // Another application's ID token (the reference answers 500).
    assert_eq!(
        social_login(&app, path, json!({"id_token": theirs.id_token})).await,
        incorrect.clone()
    );
    // A forged signature, an unsigned token, garbage.
    // One signature character in the middle changed (the last one may carry only padding bits).
    let mut forged: Vec<char> = ours.id_token.chars().collect();
    let at = forged.len() - 40;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let parts: Vec<&str> = ours.id_token.split('.').collect();
    let unsigned = format!(
        "{}.{}.",
        crate::helpers::base64url(br#"{"alg":"none"}"#),
        parts[1]
    );
    for bad in [forged, unsigned, "garbage".to_owned()] {
        assert_eq!(
            social_login(&app, path, json!({"id_token": bad})).await,
            incorrect.clone(),
            "{bad}"
        );
    }
    // The access token of someone else than the ID token's person.
    assert_eq!(
        social_login(
            &app,
            path,
            json!({"id_token": ours.id_token, "access_token": bob.access_token})
        )
        .await,
        incorrect.clone()
    );
    // Expired.
    assert_eq!(
        social_login(&app_later, path, json!({"id_token": ours.id_token})).await,
        incorrect
    );
    assert!(
        crate::helpers::all_users(&app.state).await.is_empty(),
        "nothing was created"
    );
}

async fn an_address_a_local_account_has_is_never_linked_silently(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let Some(app) = latchkey(backend, &op, None).await else {
        return;
    };
    create_user(&app, "eve", "eve@example.com", "eve's own passphrase 123").await;
    create_user(&app, "bob", "BOB@example.com", "bob's own passphrase 123").await;
    let taken = refused("User is already registered with this e-mail address.");
    for login in ["g-eve", "g-bob"] {
        let tokens = op.sign_in(LATCHKEY, login).await;
        let body = json!({"id_token": tokens.id_token, "access_token": tokens.access_token});
        assert_eq!(
            social_login(&app, "/api/social/login/google/", body).await,
            taken.clone(),
            "{login}"
        );
    }
    assert_eq!(
        crate::helpers::all_users(&app.state).await.len(),
        2,
        "no account was made or changed"
    );
}

async fn a_code_from_the_front_end_is_exchanged(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let Some(app) = latchkey(backend, &op, None).await else {
        return;
    };
    let (code, verifier, _) = op.code_for((LATCHKEY.0, CALLBACK), "g-ada").await;
    let body = json!({"code": code, "redirect_uri": CALLBACK, "code_verifier": verifier});
    let (status, answer) = social_login(&app, "/api/social/login/google/", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["email"], "ada@example.com");
    // The provider refuses a code twice.
    assert_eq!(
        social_login(&app, "/api/social/login/google/", body).await,
        refused("Incorrect value")
    );
}

async fn an_unreachable_provider_is_a_clear_503(backend: Backend) {
    let options = Spawn {
        env: vec![
            ("LATCHKEY_SOCIAL_CORP_CLIENT_ID", "x".to_owned()),
            ("LATCHKEY_SOCIAL_CORP_CLIENT_SECRET", SECRET.to_owned()),
            // A closed loopback port: connection refused at once.
            (
                "LATCHKEY_SOCIAL_CORP_ISSUER",
                "http://127.0.0.1:9".to_owned(),
            ),
        ],
        ..Spawn::default()
    };
    let Some(app) = spawn_app_with(backend, options).await else {
        return;
    };
    // A well-formed ID token: the provider must be asked for its keys to judge it.
    let b64 = |v: Value| crate::helpers::base64url(v.to_string().as_bytes());
    let header = b64(json!({"alg": "RS256", "kid": "k"}));
    let claims = b64(
        json!({"iss": "http://127.0.0.1:9", "sub": "s", "aud": "x", "exp": 4_000_000_000_i64, "iat": 1}),
    );
    let id_token = format!("{header}.{claims}.c2lnbmF0dXJl");
    let started = std::time::Instant::now();
    let response = app
        .post_json("/api/social/login/corp/", &json!({"id_token": id_token}))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "bounded"
    );
}

/// "Continue with Google" from Latchkey's login page to the provider and back: the path of
/// Latchkey's answer to the callback.
pub async fn continue_with_google(
    tab: &crate::helpers::Tab<'_>,
    op: &Upstream,
    login: &str,
) -> reqwest::Response {
    let start = tab
        .get("/accounts/social/google/login/?next=/accounts/profile/")
        .await;
    assert_eq!(start.status(), 303);
    let at_provider = crate::helpers::location(&start);
    assert!(at_provider.starts_with(&op.issuer), "{at_provider}");
    for param in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
    ] {
        assert!(at_provider.contains(param), "{param} in {at_provider}");
    }
    let back = op
        .browse(tab.client(), &at_provider, login, PAGES_CALLBACK)
        .await;
    let path = back.strip_prefix("http://localhost:8000").unwrap();
    tab.get(path).await
}

async fn continue_with_google_logs_in_on_the_pages_and_links_with_the_password(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let Some(app) = latchkey(backend, &op, None).await else {
        return;
    };
    let tab = app.tab();
    let login_page = tab.page("/accounts/login/").await;
    assert!(login_page.contains("Continue with Google"), "{login_page}");
    assert!(
        tab.page("/accounts/register/")
            .await
            .contains("Continue with Google")
    );

    // A new person: signed in with a browser session, on the page asked for.
    let answer = continue_with_google(&tab, &op, "g-ada").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(crate::helpers::location(&answer), "/accounts/profile/");
    assert!(
        tab.page("/accounts/profile/")
            .await
            .contains("ada@example.com")
    );

    // A callback without the sign-in it belongs to (another browser, a replay): refused.
    let stranger = app.tab();
    let forged = stranger
        .get("/accounts/social/google/callback/?code=x&state=y")
        .await;
    assert_eq!(forged.status(), 400);

    // Eve has a local account; her Google address is verified: she links it with her password.
    create_user(&app, "eve", "eve@example.com", "eve's own passphrase 123").await;
    let eve = app.tab();
    let answer = continue_with_google(&eve, &op, "g-eve").await;
    assert_eq!(crate::helpers::location(&answer), "/accounts/login/");
    let page = eve.page("/accounts/login/").await;
    assert!(
        page.contains("Log in with its password once to link"),
        "{page}"
    );
    let fields = [
        ("username", "eve"),
        ("password", "eve's own passphrase 123"),
    ];
    let logged_in = eve.post_from(&page, "/accounts/login/", &fields).await;
    assert_eq!(logged_in.status(), 303);
    assert!(eve.page("/accounts/profile/").await.contains("now linked"));
    // From now on Google alone signs Eve in.
    let later = app.tab();
    let answer = continue_with_google(&later, &op, "g-eve").await;
    assert_eq!(crate::helpers::location(&answer), "/accounts/profile/");
    assert!(
        later
            .page("/accounts/profile/")
            .await
            .contains("eve@example.com")
    );

    // Bob's Google address is not verified: it never links, even with a password login.
    create_user(&app, "bob", "bob@example.com", "bob's own passphrase 123").await;
    let bob = app.tab();
    let answer = continue_with_google(&bob, &op, "g-bob").await;
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("never linked"));
    assert_eq!(
        crate::helpers::all_users(&app.state).await.len(),
        3,
        "ada, eve, bob"
    );
}

async fn a_rotated_key_and_a_changed_address_at_the_provider_are_followed(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    // Latchkey's clock: the provider's tokens are checked against it too, so it starts now.
    let clock = Clock::manual(chrono::Utc::now());
    let Some(app) = latchkey(backend, &op, Some(clock.clone())).await else {
        return;
    };
    let before = op.sign_in(LATCHKEY, "g-ada").await;
    let body = json!({"id_token": before.id_token});
    let (status, first) = social_login(&app, "/api/social/login/google/", body).await;
    assert_eq!(status, 200, "{first}");
    // The provider rotates its signing key: its next ID token names a kid Latchkey's cached key
    // set lacks, which makes Latchkey fetch the key set again, once.
    let rotated = reqwest::Client::new()
        .post(format!("{}/rotate", op.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let after = op.sign_in(LATCHKEY, "g-ada").await;
    let kid = |t: &str| crate::helpers::claims_header(t)["kid"].clone();
    assert_ne!(
        kid(&after.id_token),
        kid(&before.id_token),
        "a new key signed it"
    );
    let body = json!({"id_token": after.id_token});
    // Within a minute of the last fetch an unknown kid fetches nothing (tokens with made-up key
    // ids must not make Latchkey flood the provider)...
    assert_eq!(
        social_login(&app, "/api/social/login/google/", body.clone()).await,
        refused("Incorrect value")
    );
    // ...after it, once.
    clock.advance(chrono::Duration::seconds(61));
    let (status, second) = social_login(&app, "/api/social/login/google/", body).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["user"]["pk"], first["user"]["pk"]);
    // Ada changes her address at the provider: the identity shows the new one from her next
    // sign-in (her account's own address changes only through its confirmation link).
    let changed = reqwest::Client::new()
        .post(format!("{}/accounts/g-ada", op.issuer))
        .body(json!({"email": "ada.new@example.com", "email_verified": true, "preferred_username": "ada"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let later = op.sign_in(LATCHKEY, "g-ada").await;
    let body = json!({"id_token": later.id_token});
    let (status, third) = social_login(&app, "/api/social/login/google/", body).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["user"]["email"], "ada@example.com");
    let shared: Vec<Option<String>> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::social_identities;
            social_identities::table
                .select(social_identities::email)
                .load(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(shared, vec![Some("ada.new@example.com".to_owned())]);

    // A token under the old key no longer verifies (the provider stopped publishing it).
    let body = json!({"id_token": before.id_token});
    assert_eq!(
        social_login(&app, "/api/social/login/google/", body).await,
        refused("Incorrect value")
    );
}

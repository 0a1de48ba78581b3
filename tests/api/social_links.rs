//! Social login with GitHub (against the local stand-in of its endpoints), the account page's
//! linked identities (link another, unlink, never the last way in, set a first password), and
//! the operator's automatic linking for trusted providers.

use serde_json::json;

use crate::github::{GitHub, GitHubAccount};
use crate::helpers::{Backend, TestApp, backend_tests, create_user, location};
use crate::social::{
    LATCHKEY, continue_with_google, latchkey_with, refused, social_login, upstream,
};
use latchkey::db::DbError;
use latchkey::db::schema::social_identities;

backend_tests!(
    github_access_tokens_of_this_app_sign_in_and_others_are_refused,
    continue_with_github_on_the_pages_and_with_a_code,
    the_account_page_links_and_unlinks_but_never_the_last_way_in,
    two_unlinks_at_once_never_leave_an_account_without_a_way_in,
    trusted_providers_link_automatically_only_when_both_sides_verified,
);

const GH_CLIENT: (&str, &str) = ("Iv1.latchkey", "gh-secret-0123456789abcdef0123456789");
const GH_OTHER_APP: (&str, &str) = ("Iv1.other-app", "gh-other-secret-0123456789abcdef");

fn github_accounts() -> Vec<GitHubAccount> {
    vec![
        GitHubAccount {
            id: 583231,
            login: "octocat",
            name: Some("The Octocat"),
            emails: vec![
                ("octo-old@example.com", false, false),
                ("octocat@example.com", true, true),
            ],
        },
        GitHubAccount {
            id: 9001,
            login: "unverified",
            name: None,
            emails: vec![("unverified@example.com", true, false)],
        },
        GitHubAccount {
            id: 42,
            login: "ada-gh",
            name: Some("Ada"),
            emails: vec![("ada@example.com", true, true)],
        },
    ]
}

async fn github() -> GitHub {
    GitHub::start(&[GH_CLIENT, GH_OTHER_APP], github_accounts()).await
}

/// Identities of `user_id` as stored: (provider, subject).
async fn identities_of(app: &TestApp, user_id: i64) -> Vec<(String, String)> {
    use diesel::prelude::*;
    app.state
        .db
        .run(move |conn| {
            social_identities::table
                .filter(social_identities::user_id.eq(user_id))
                .select((social_identities::provider, social_identities::subject))
                .order(social_identities::provider)
                .load::<(String, String)>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

async fn audit_details(app: &TestApp, kind: &'static str) -> Vec<String> {
    let details = crate::helpers::audit_details(app, kind, None).await;
    details.into_iter().flatten().collect()
}

async fn github_access_tokens_of_this_app_sign_in_and_others_are_refused(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let gh = github().await;
    let Some(app) = latchkey_with(backend, &op, None, gh.env(GH_CLIENT.0, GH_CLIENT.1)).await
    else {
        return;
    };
    // next-auth's GitHubProvider exchanged the code itself and posts the access token.
    let token = gh.token_for(GH_CLIENT.0, "octocat");
    let (status, first) = social_login(
        &app,
        "/api/social/login/github/",
        json!({"access_token": token}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["user"]["username"], "octocat");
    assert_eq!(
        first["user"]["email"], "octocat@example.com",
        "the verified primary address"
    );
    assert_eq!(first["user"]["first_name"], "The Octocat");
    let id = first["user"]["pk"].as_i64().unwrap();
    assert_eq!(
        identities_of(&app, id).await,
        vec![("github".to_owned(), "583231".to_owned())],
        "keyed by GitHub's numeric id, never the address"
    );
    // The same GitHub account again, under dj-rest-auth's path: the same person.
    let again = gh.token_for(GH_CLIENT.0, "octocat");
    let (status, second) = social_login(
        &app,
        "/dj-rest-auth/github/",
        json!({"access_token": again}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["user"]["pk"], first["user"]["pk"]);

    // A token GitHub issued to another OAuth app (token substitution), an unknown token, an
    // ID token (GitHub has none), nothing at all: 400 in dj-rest-auth's shape.
    let other = gh.token_for(GH_OTHER_APP.0, "ada-gh");
    for body in [
        json!({"access_token": other}),
        json!({"access_token": "gho_forged"}),
        json!({"id_token": "e30.e30.e30"}),
    ] {
        assert_eq!(
            social_login(&app, "/api/social/login/github/", body.clone()).await,
            refused("Incorrect value"),
            "{body}"
        );
    }
    assert_eq!(
        social_login(&app, "/api/social/login/github/", json!({})).await,
        refused("Incorrect input. access_token or code is required.")
    );
    assert!(
        crate::helpers::all_users(&app.state)
            .await
            .iter()
            .all(|u| u.email != "ada@example.com"),
        "the other app's token made no account"
    );

    // An address GitHub has not verified makes an account whose address is unverified.
    let token = gh.token_for(GH_CLIENT.0, "unverified");
    let (status, body) = social_login(
        &app,
        "/api/social/login/github/",
        json!({"access_token": token}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let users = crate::helpers::all_users(&app.state).await;
    let unverified = users
        .iter()
        .find(|u| u.email == "unverified@example.com")
        .unwrap();
    assert!(!unverified.email_verified);
    let octocat = users.iter().find(|u| u.username == "octocat").unwrap();
    assert!(octocat.email_verified);
}

/// "Continue with GitHub" from Latchkey's login page to the stand-in and back; Latchkey's
/// answer to the callback.
async fn continue_with_github<'a>(
    tab: &crate::helpers::Tab<'a>,
    gh: &GitHub,
    start: reqwest::Response,
) -> reqwest::Response {
    assert_eq!(start.status(), 303);
    let at_github = location(&start);
    assert!(
        at_github.starts_with(&format!("{}/login/oauth/authorize?", gh.url)),
        "{at_github}"
    );
    for param in [
        "client_id=Iv1.latchkey",
        "scope=read%3Auser+user%3Aemail",
        "state=",
        "code_challenge=",
        "code_challenge_method=S256",
    ] {
        assert!(at_github.contains(param), "{param} in {at_github}");
    }
    let back = tab.client().get(&at_github).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let back = location(&back);
    let path = back.strip_prefix("http://localhost:8000").unwrap();
    assert!(
        path.starts_with("/accounts/social/github/callback/?"),
        "{path}"
    );
    tab.get(path).await
}

async fn continue_with_github_on_the_pages_and_with_a_code(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let gh = github().await;
    let Some(app) = latchkey_with(backend, &op, None, gh.env(GH_CLIENT.0, GH_CLIENT.1)).await
    else {
        return;
    };
    let tab = app.tab();
    assert!(
        tab.page("/accounts/login/")
            .await
            .contains("Continue with GitHub")
    );
    gh.sign_in_as("octocat");
    let start = tab
        .get("/accounts/social/github/login/?next=/accounts/profile/")
        .await;
    let answer = continue_with_github(&tab, &gh, start).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/accounts/profile/");
    let profile = tab.page("/accounts/profile/").await;
    assert!(profile.contains("octocat@example.com"), "{profile}");
    assert!(profile.contains("id=\"linked-identities\""));

    // The front end's own code (with its redirect URI) through the API.
    let front_end_callback = "http://127.0.0.1:3000/api/auth/callback/github";
    let query = serde_urlencoded::to_string([
        ("client_id", GH_CLIENT.0),
        ("redirect_uri", front_end_callback),
        ("state", "xyz"),
    ])
    .unwrap();
    gh.sign_in_as("ada-gh");
    let at_github = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login/oauth/authorize?{query}", gh.url))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(&location(&at_github)).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body = json!({"code": code, "redirect_uri": front_end_callback});
    let (status, answer) = social_login(&app, "/api/social/login/github/", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["email"], "ada@example.com");
    // GitHub refuses a code twice (with status 200 and an `error`): a 400, not a 503.
    assert_eq!(
        social_login(&app, "/api/social/login/github/", body).await,
        refused("Incorrect value")
    );
}

async fn the_account_page_links_and_unlinks_but_never_the_last_way_in(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let gh = github().await;
    let Some(app) = latchkey_with(backend, &op, None, gh.env(GH_CLIENT.0, GH_CLIENT.1)).await
    else {
        return;
    };
    // Ada signs up with Google: no password.
    let tab = app.tab();
    let answer = continue_with_google(&tab, &op, "g-ada").await;
    assert_eq!(location(&answer), "/accounts/profile/");
    let profile = tab.page("/accounts/profile/").await;
    assert!(profile.contains("id=\"no-password\""), "{profile}");
    assert!(profile.contains("Link your GitHub account"), "{profile}");
    let ada = crate::helpers::all_users(&app.state).await[0].id;

    // Her only way in cannot be unlinked.
    let refused = tab
        .post_from(&profile, "/accounts/social/google/unlink/", &[])
        .await;
    assert_eq!(location(&refused), "/accounts/profile/");
    let profile = tab.page("/accounts/profile/").await;
    assert!(profile.contains("the only way you log in"), "{profile}");
    assert_eq!(identities_of(&app, ada).await.len(), 1);

    // She links her GitHub account from the account page.
    gh.sign_in_as("ada-gh");
    let start = tab
        .post_from(&profile, "/accounts/social/github/link/", &[])
        .await;
    let answer = continue_with_github(&tab, &gh, start).await;
    assert_eq!(location(&answer), "/accounts/profile/");
    let profile = tab.page("/accounts/profile/").await;
    assert!(
        profile.contains("Your GitHub account is now linked."),
        "{profile}"
    );
    assert_eq!(
        identities_of(&app, ada).await,
        vec![
            ("github".to_owned(), "42".to_owned()),
            ("google".to_owned(), "g-ada".to_owned())
        ]
    );
    // GitHub alone now signs her in.
    let token = gh.token_for(GH_CLIENT.0, "ada-gh");
    let (status, body) = social_login(
        &app,
        "/api/social/login/github/",
        json!({"access_token": token}),
    )
    .await;
    assert_eq!((status, body["user"]["pk"].as_i64()), (200, Some(ada)));

    // With two ways in, Google can go; then GitHub is the last and stays.
    let unlinked = tab
        .post_from(&profile, "/accounts/social/google/unlink/", &[])
        .await;
    assert_eq!(unlinked.status(), 303);
    assert_eq!(
        identities_of(&app, ada).await,
        vec![("github".to_owned(), "42".to_owned())]
    );
    tab.post_from(&profile, "/accounts/social/github/unlink/", &[])
        .await;
    assert_eq!(identities_of(&app, ada).await.len(), 1);

    // She sets a first password (no old one to give), and then may unlink GitHub too.
    let form = tab.page("/accounts/password_change/").await;
    assert!(form.contains("Set a password"), "{form}");
    assert!(!form.contains("id_old_password"));
    let new = "ada's brand new passphrase 42";
    let set = tab
        .post_from(
            &form,
            "/accounts/password_change/",
            &[("new_password1", new), ("new_password2", new)],
        )
        .await;
    assert_eq!(location(&set), "/accounts/password_change/done/");
    let profile = tab.page("/accounts/profile/").await;
    assert!(!profile.contains("id=\"no-password\""));
    tab.post_from(&profile, "/accounts/social/github/unlink/", &[])
        .await;
    assert!(identities_of(&app, ada).await.is_empty());
    // The password logs her in now.
    let other = app.tab();
    assert_eq!(other.log_in("ada", new, "").await.status(), 303);
    // A form that thinks she has no password cannot set one over hers.
    let again = tab
        .post_from(
            &form,
            "/accounts/password_change/",
            &[
                ("new_password1", "x-mallory-pass-123"),
                ("new_password2", "x-mallory-pass-123"),
            ],
        )
        .await;
    assert_eq!(again.status(), 400);

    let linked = audit_details(&app, "identity_linked").await;
    assert_eq!(linked, vec!["linked github identity"]);
    let unlinked = audit_details(&app, "identity_unlinked").await;
    assert_eq!(
        unlinked,
        vec!["unlinked google identity", "unlinked github identity"]
    );

    // An identity linked to another account stays there.
    create_user(&app, "eve", "eve@example.com", "eve's own passphrase 123").await;
    let eve = app.tab();
    assert_eq!(
        eve.log_in("eve", "eve's own passphrase 123", "")
            .await
            .status(),
        303
    );
    let token = gh.token_for(GH_CLIENT.0, "octocat");
    social_login(
        &app,
        "/api/social/login/github/",
        json!({"access_token": token}),
    )
    .await;
    gh.sign_in_as("octocat");
    let profile = eve.page("/accounts/profile/").await;
    let start = eve
        .post_from(&profile, "/accounts/social/github/link/", &[])
        .await;
    let answer = continue_with_github(&eve, &gh, start).await;
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("linked to another"));

    // A link started by one account and finished after logging out links nothing.
    let profile = eve.page("/accounts/profile/").await;
    gh.sign_in_as("ada-gh");
    let start = eve
        .post_from(&profile, "/accounts/social/github/link/", &[])
        .await;
    let at_github = location(&start);
    eve.post_from(&profile, "/accounts/logout/", &[]).await;
    let back = eve.client().get(&at_github).send().await.unwrap();
    let path = location(&back).replace("http://localhost:8000", "");
    let answer = eve.get(&path).await;
    assert_eq!(answer.status(), 400);
    let eve_id = crate::helpers::all_users(&app.state)
        .await
        .iter()
        .find(|u| u.username == "eve")
        .unwrap()
        .id;
    assert!(identities_of(&app, eve_id).await.is_empty());
}

/// Links `provider` to the account signed in on `tab`, from its account page.
async fn link_from_account_page(
    tab: &crate::helpers::Tab<'_>,
    op: &crate::upstream::Upstream,
    gh: &GitHub,
    provider: &str,
) {
    let profile = tab.page("/accounts/profile/").await;
    let action = format!("/accounts/social/{provider}/link/");
    let start = tab.post_from(&profile, &action, &[]).await;
    let answer = if provider == "github" {
        gh.sign_in_as("ada-gh");
        continue_with_github(tab, gh, start).await
    } else {
        let at = location(&start);
        let back = op
            .browse(tab.client(), &at, "g-ada", crate::social::PAGES_CALLBACK)
            .await;
        tab.get(back.strip_prefix("http://localhost:8000").unwrap())
            .await
    };
    assert_eq!(location(&answer), "/accounts/profile/", "{provider} linked");
}

async fn two_unlinks_at_once_never_leave_an_account_without_a_way_in(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let gh = github().await;
    let Some(app) = latchkey_with(backend, &op, None, gh.env(GH_CLIENT.0, GH_CLIENT.1)).await
    else {
        return;
    };
    // Ada has no password; each round she has Google and GitHub linked and unlinks both at the
    // same moment from two requests. Exactly one may pass.
    let tab = app.tab();
    continue_with_google(&tab, &op, "g-ada").await;
    let ada = crate::helpers::all_users(&app.state).await[0].id;
    for round in 0..6 {
        let linked = identities_of(&app, ada).await;
        for provider in ["github", "google"] {
            if !linked.iter().any(|(p, _)| p == provider) {
                link_from_account_page(&tab, &op, &gh, provider).await;
            }
        }
        assert_eq!(identities_of(&app, ada).await.len(), 2, "round {round}");
        let profile = tab.page("/accounts/profile/").await;
        let (a, b) = tokio::join!(
            tab.post_from(&profile, "/accounts/social/google/unlink/", &[]),
            tab.post_from(&profile, "/accounts/social/github/unlink/", &[]),
        );
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
        assert_eq!(
            identities_of(&app, ada).await.len(),
            1,
            "round {round}: exactly one unlink passed"
        );
    }
}

async fn trusted_providers_link_automatically_only_when_both_sides_verified(backend: Backend) {
    let Some(op) = upstream().await else {
        return;
    };
    let trusted = vec![("LATCHKEY_SOCIAL_GOOGLE_AUTO_LINK", "true".to_owned())];
    let Some(app) = latchkey_with(backend, &op, None, trusted).await else {
        return;
    };
    // Eve registered and verified her address; her Google address is verified too.
    let eve = create_user(&app, "eve", "eve@example.com", "eve's own passphrase 123").await;
    app.state
        .db
        .run(move |conn| {
            latchkey::accounts::ops::set_email_verified(conn, eve, true).map_err(DbError::from)
        })
        .await
        .unwrap();
    let tokens = op.sign_in(LATCHKEY, "g-eve").await;
    let (status, body) = social_login(
        &app,
        "/api/social/login/google/",
        json!({"id_token": tokens.id_token}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["pk"].as_i64(), Some(eve));
    assert_eq!(
        audit_details(&app, "identity_linked").await,
        vec!["linked google identity automatically"]
    );

    // Mallory registered ada@example.com in advance and never verified it (she cannot): Ada's
    // Google sign-in must not hand Mallory's account to Ada, nor Ada's identity to Mallory.
    create_user(
        &app,
        "mallory",
        "ada@example.com",
        "mallory's own passphrase 1",
    )
    .await;
    let tokens = op.sign_in(LATCHKEY, "g-ada").await;
    assert_eq!(
        social_login(
            &app,
            "/api/social/login/google/",
            json!({"id_token": tokens.id_token})
        )
        .await,
        refused("User is already registered with this e-mail address.")
    );
    // An unverified Google address never links, trusted provider or not.
    create_user(&app, "bob", "bob@example.com", "bob's own passphrase 123").await;
    let tokens = op.sign_in(LATCHKEY, "g-bob").await;
    assert_eq!(
        social_login(
            &app,
            "/api/social/login/google/",
            json!({"id_token": tokens.id_token})
        )
        .await,
        refused("User is already registered with this e-mail address.")
    );
    assert_eq!(audit_details(&app, "identity_linked").await.len(), 1);
}

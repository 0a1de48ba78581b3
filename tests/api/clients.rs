//! OpenID clients, registered by an operator through the CLI.

use serde_json::Value;

use crate::helpers::{Backend, TestDb, backend_tests, base_env, run_cli, stderr, stdout};

backend_tests!(
    a_confidential_client_gets_a_secret_shown_once_and_stored_hashed,
    a_public_client_has_no_secret_to_rotate,
    unsafe_redirect_uris_are_refused_with_the_reason,
    clients_are_listed_shown_and_removed,
    clients_declared_in_the_config_file_are_registered_at_start,
);

struct Cli {
    db: TestDb,
    env: std::collections::HashMap<String, String>,
}

impl Cli {
    fn new(backend: Backend) -> Option<Self> {
        let db = TestDb::create(backend)?;
        let env = base_env(&db);
        Some(Self { db, env })
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run_cli(args, &self.env, self.db.dir.path())
    }

    /// `clients add … --json`, parsed.
    fn add(&self, args: &[&str]) -> Value {
        let mut all = vec!["clients", "add"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.run(&all);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).expect("one JSON object")
    }

    async fn client(&self, client_id: &str) -> latchkey::oauth::Client {
        let state = crate::helpers::state_for(&self.db);
        latchkey::oauth::get_client(&state.db, client_id)
            .await
            .unwrap()
    }
}

async fn a_confidential_client_gets_a_secret_shown_once_and_stored_hashed(backend: Backend) {
    let Some(cli) = Cli::new(backend) else {
        return;
    };
    let created = cli.add(&[
        "Acme dashboard",
        "--redirect-uri",
        "https://app.example.com/api/auth/callback/auth0",
        "--redirect-uri",
        "http://localhost:3000/api/auth/callback/auth0",
    ]);
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(id.len() >= 22 && secret.len() >= 43, "{created}");
    let client = cli.client(id).await;
    assert!(!client.is_public());
    assert_eq!(client.redirect_uris().count(), 2);
    let stored = client.secret_hash.clone().unwrap();
    assert!(!stored.contains(secret), "stored as a hash");
    assert!(latchkey::oauth::check_client_secret(&client, secret));
    assert!(!latchkey::oauth::check_client_secret(&client, "guess"));

    // Without --json: lines for a person, and the warning that it is shown once.
    let plain = cli.run(&[
        "clients",
        "add",
        "Other",
        "--redirect-uri",
        "https://o.example/cb",
    ]);
    assert!(
        stdout(&plain).starts_with("client_id: "),
        "{}",
        stdout(&plain)
    );
    assert!(stdout(&plain).contains("\nclient_secret: "));
    assert!(stderr(&plain).contains("shown only now"));

    // A new secret replaces the old one at once.
    let rotated = cli.run(&["clients", "rotate-secret", id, "--json"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let rotated: Value = serde_json::from_str(&stdout(&rotated)).unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let client = cli.client(id).await;
    assert!(latchkey::oauth::check_client_secret(&client, new_secret));
    assert!(!latchkey::oauth::check_client_secret(&client, secret));
    assert!(client.secret_rotated_at.is_some());
}

async fn a_public_client_has_no_secret_to_rotate(backend: Backend) {
    let Some(cli) = Cli::new(backend) else {
        return;
    };
    let created = cli.add(&[
        "Mobile",
        "--public",
        "--first-party",
        "--redirect-uri",
        "com.example.mobile:/oauth2redirect",
    ]);
    assert_eq!(created["client_secret"], Value::Null);
    let id = created["client_id"].as_str().unwrap();
    let client = cli.client(id).await;
    assert!(client.is_public() && client.first_party);
    assert!(!latchkey::oauth::check_client_secret(&client, ""));
    let rotated = cli.run(&["clients", "rotate-secret", id]);
    assert_eq!(rotated.status.code(), Some(1));
    assert_eq!(
        stderr(&rotated).trim(),
        format!("Error: client \"{id}\" is public: it has no secret")
    );
}

async fn unsafe_redirect_uris_are_refused_with_the_reason(backend: Backend) {
    let Some(cli) = Cli::new(backend) else {
        return;
    };
    for (uri, reason) in [
        (
            "http://app.example.com/cb",
            "plain http is allowed only to localhost",
        ),
        ("https://app.example.com/cb#x", "it has a fragment"),
        ("/callback", "it is not an absolute URL"),
        ("javascript:alert(1)", "reverse-DNS private-use scheme"),
    ] {
        let out = cli.run(&["clients", "add", "Bad", "--redirect-uri", uri]);
        assert_eq!(out.status.code(), Some(1), "{uri}");
        assert!(
            stderr(&out).starts_with(&format!("Error: {uri:?} cannot be a redirect URI: ")),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(reason), "{}", stderr(&out));
    }
    let missing = cli.run(&["clients", "add", "NoUri"]);
    assert_eq!(missing.status.code(), Some(2), "clap: a required option");
    let out = cli.run(&["clients", "list"]);
    assert_eq!(
        stdout(&out).trim(),
        "No clients.",
        "nothing was half-registered"
    );
}

async fn clients_are_listed_shown_and_removed(backend: Backend) {
    let Some(cli) = Cli::new(backend) else {
        return;
    };
    let a = cli.add(&["Alpha", "--redirect-uri", "https://a.example/cb"]);
    let b = cli.add(&[
        "Beta",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:5173/cb",
        "--post-logout-redirect-uri",
        "http://127.0.0.1:5173/",
    ]);
    let (a, b) = (
        a["client_id"].as_str().unwrap(),
        b["client_id"].as_str().unwrap(),
    );
    let list = stdout(&cli.run(&["clients", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("CLIENT_ID"), "{list}");
    assert!(
        lines[1].starts_with(a) && lines[1].contains("confidential"),
        "{list}"
    );
    assert!(
        lines[2].starts_with(b) && lines[2].contains("public"),
        "{list}"
    );
    let show = stdout(&cli.run(&["clients", "show", b]));
    assert!(show.contains("kind: public\n"), "{show}");
    assert!(
        show.contains("redirect_uri: http://127.0.0.1:5173/cb\n"),
        "{show}"
    );
    assert!(
        show.contains("post_logout_redirect_uri: http://127.0.0.1:5173/\n"),
        "{show}"
    );
    assert!(!show.contains("secret"), "{show}");

    let removed = cli.run(&["clients", "remove", a]);
    assert_eq!(stdout(&removed).trim(), format!("Client {a} removed."));
    let again = cli.run(&["clients", "remove", a]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(stderr(&again).trim(), format!("Error: no client \"{a}\""));
    let list = stdout(&cli.run(&["clients", "list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
}

const DECLARED: &str = r#"
[[clients]]
client_id = "acme-dashboard"
name = "Acme dashboard"
redirect_uris = ["https://app.example.com/api/auth/callback/auth0"]
post_logout_redirect_uris = ["https://app.example.com/"]
client_secret_env = "ACME_CLIENT_SECRET"
first_party = true

[[clients]]
client_id = "acme-mobile"
name = "Acme mobile"
redirect_uris = ["com.example.acme:/oauth2redirect"]
public = true
"#;

const ACME_SECRET: &str = "acme-secret-0123456789-0123456789-0123456789";

async fn clients_declared_in_the_config_file_are_registered_at_start(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    std::fs::write(db.dir.path().join("latchkey.toml"), DECLARED).unwrap();
    let options = crate::helpers::Spawn {
        env: vec![("ACME_CLIENT_SECRET", ACME_SECRET.to_owned())],
        ..crate::helpers::Spawn::default()
    };
    let app = crate::helpers::spawn_app_in(db, options).await;
    let state = &app.state;
    let acme = latchkey::oauth::get_client(&state.db, "acme-dashboard")
        .await
        .unwrap();
    assert!(acme.first_party && !acme.is_public());
    assert!(latchkey::oauth::check_client_secret(&acme, ACME_SECRET));
    let mobile = latchkey::oauth::get_client(&state.db, "acme-mobile")
        .await
        .unwrap();
    assert!(mobile.is_public());
    // The token endpoint knows the client by its fixed id and the secret from the environment:
    // a made-up code is refused as a grant, not as a client.
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth("acme-dashboard", Some(ACME_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            (
                "redirect_uri",
                "https://app.example.com/api/auth/callback/auth0",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // A restart with another secret (and name) updates the row; the same file again changes
    // nothing.
    let mut declared = state.settings.clients.clone();
    declared[0].secret = Some(latchkey::config::Secret::new("n".repeat(40)));
    declared[0].name = "Acme".into();
    let changed = latchkey::oauth::sync_declared_clients(&state.db, &state.clock, &declared)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let acme = latchkey::oauth::get_client(&state.db, "acme-dashboard")
        .await
        .unwrap();
    assert_eq!(acme.name, "Acme");
    assert!(acme.secret_rotated_at.is_some());
    assert!(!latchkey::oauth::check_client_secret(&acme, ACME_SECRET));
    let again = latchkey::oauth::sync_declared_clients(&state.db, &state.clock, &declared)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[test]
fn declared_clients_are_checked_and_their_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), DECLARED).unwrap();
    let mut env = std::collections::HashMap::from([(
        "LATCHKEY_SECRET_KEY".to_owned(),
        crate::helpers::TEST_SECRET.to_owned(),
    )]);
    let missing = run_cli(&["check"], &env, dir.path());
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains(
            "clients[0]: the environment variable ACME_CLIENT_SECRET (client_secret_env) is not set"
        ),
        "{}",
        stderr(&missing)
    );
    env.insert("ACME_CLIENT_SECRET".into(), ACME_SECRET.into());
    let ok = run_cli(&["check"], &env, dir.path());
    assert!(ok.status.success(), "{}", stderr(&ok));
    let text = stdout(&ok);
    assert!(text.contains("client acme-dashboard"), "{text}");
    assert!(
        text.contains("secret from ACME_CLIENT_SECRET (********)"),
        "{text}"
    );
    assert!(!text.contains(ACME_SECRET), "{text}");
    for (bad, problem) in [
        (
            DECLARED.replace("public = true", "public = true\nclient_secret_env = \"X\""),
            "a public client has no secret",
        ),
        (
            DECLARED.replace("acme-mobile", "acme-dashboard"),
            "declared twice",
        ),
        (
            DECLARED.replace("first_party = true", "first_party = true\nscopes = 1"),
            "unknown field `scopes`",
        ),
        (
            DECLARED.replace(
                "first_party = true",
                "first_party = true\nid_token_alg = \"HS256\"",
            ),
            "id_token_alg must be RS256 or ES256",
        ),
        (
            DECLARED.replace("client_id = \"acme-mobile\"", "client_id = \"acme mobile\""),
            "must be 1 to 64 letters",
        ),
    ] {
        std::fs::write(dir.path().join("latchkey.toml"), bad).unwrap();
        let out = run_cli(&["check"], &env, dir.path());
        assert!(!out.status.success(), "{problem}");
        assert!(
            stderr(&out).contains(problem),
            "{problem}: {}",
            stderr(&out)
        );
    }
}

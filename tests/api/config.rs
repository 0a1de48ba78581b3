//! Settings: defaults, file and environment layering, production refusal, `latchkey check`.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use latchkey::config::{Environment, LoadContext, LogFormat, Settings, Source};

use crate::helpers::{run_cli, stderr, stdout};

fn load(env: &[(&str, &str)], dir: &std::path::Path) -> Result<Settings, Vec<String>> {
    Settings::load(&LoadContext {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        dir: dir.to_path_buf(),
        bind_flag: None,
    })
    .map_err(|e| e.problems)
}

#[test]
fn defaults_work_with_nothing_set_and_keep_a_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let settings = load(&[], dir.path()).unwrap();
    assert_eq!(settings.server.env, Environment::Development);
    assert_eq!(settings.database.database_url, "sqlite://latchkey.sqlite3");
    assert_eq!(settings.server.bind, "127.0.0.1:8000");
    assert_eq!(settings.tokens.access_token_lifetime, 300);
    assert_eq!(settings.tokens.refresh_token_lifetime, 86_400);
    assert_eq!(settings.server.max_body_bytes, 65_536);
    assert_eq!(settings.server.log, "info,actix_http::h1::dispatcher=off");
    assert_eq!(settings.server.public_url, "http://localhost:8000");
    assert_eq!(settings.tokens.jwt_issuer, settings.server.public_url);
    assert_eq!(settings.database.db_pool_timeout_ms, 1000);
    assert_eq!(settings.server.body_read_timeout, 10);
    assert!(
        settings.mail.email_changed_email_confirmation,
        "on by default"
    );
    assert_eq!(settings.server.log_format, LogFormat::Text);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(settings.accounts.hash_workers, cores);
    assert!(settings.tokens.secret_key.expose().len() >= 32);

    let secret_file = dir.path().join("latchkey.secret");
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "secret file must be private");
    assert_eq!(
        settings.source_of("secret_key"),
        Source::SecretFile(secret_file.clone())
    );

    let again = load(&[], dir.path()).unwrap();
    assert_eq!(
        again.tokens.secret_key, settings.tokens.secret_key,
        "a restart must keep the same secret"
    );
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latchkey.toml"),
        "bind = \"0.0.0.0:9000\"\naccess_token_lifetime = 60\nlog_format = \"json\"\nhash_workers = 3\n",
    )
    .unwrap();
    let settings = load(
        &[
            ("LATCHKEY_ACCESS_TOKEN_LIFETIME", "120"),
            ("DATABASE_URL", "postgres://u:pw@db/x"),
        ],
        dir.path(),
    )
    .unwrap();
    assert_eq!(settings.server.bind, "0.0.0.0:9000");
    assert_eq!(settings.source_of("bind"), Source::File);
    assert_eq!(settings.tokens.access_token_lifetime, 120);
    assert_eq!(
        settings.source_of("access_token_lifetime"),
        Source::Env("LATCHKEY_ACCESS_TOKEN_LIFETIME".into())
    );
    assert_eq!(settings.server.log_format, LogFormat::Json);
    assert_eq!(settings.accounts.hash_workers, 3);
    assert_eq!(settings.database.database_url, "postgres://u:pw@db/x");
    let described = settings.describe().join("\n");
    assert!(
        described.contains("postgres://u:********@db/x"),
        "{described}"
    );
    assert!(!described.contains("pw@"), "{described}");
}

#[test]
fn production_refuses_to_start_without_a_long_explicit_secret() {
    let dir = tempfile::tempdir().unwrap();
    let problems = load(&[("LATCHKEY_ENV", "production")], dir.path()).unwrap_err();
    assert_eq!(
        problems,
        [
            "LATCHKEY_PUBLIC_URL must be set when LATCHKEY_ENV=production (tokens name it as their issuer)",
            "LATCHKEY_SECRET_KEY must be set (at least 32 bytes) when LATCHKEY_ENV=production",
            "LATCHKEY_FRONTEND_DOMAIN must be set when LATCHKEY_ENV=production (mail links use it)",
            "LATCHKEY_EMAIL_TRANSPORT must be smtp or file when LATCHKEY_ENV=production",
        ]
    );
    let mailing: &[(&str, &str)] = &[
        ("LATCHKEY_ENV", "production"),
        ("LATCHKEY_PUBLIC_URL", "https://auth.example.com"),
        ("LATCHKEY_EMAIL_TRANSPORT", "smtp"),
        ("LATCHKEY_SMTP_URL", "smtp://relay.internal:25"),
        ("LATCHKEY_FRONTEND_DOMAIN", "app.example.com"),
    ];
    assert_eq!(
        load(mailing, dir.path()).unwrap_err(),
        ["LATCHKEY_SECRET_KEY must be set (at least 32 bytes) when LATCHKEY_ENV=production"]
    );
    assert!(
        !dir.path().join("latchkey.secret").exists(),
        "production must not generate a secret"
    );

    let with = |secret: &str| {
        let mut env: Vec<(&str, String)> =
            mailing.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        env.push(("LATCHKEY_SECRET_KEY", secret.to_owned()));
        env
    };
    let short = with("short");
    let short: Vec<(&str, &str)> = short.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        load(&short, dir.path()).unwrap_err(),
        ["LATCHKEY_SECRET_KEY must be at least 32 bytes (got 5)"]
    );

    let long = "k".repeat(32);
    let env = with(&long);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ok = load(&env, dir.path()).unwrap();
    assert_eq!(ok.server.env, Environment::Production);
    assert_eq!(ok.tokens.secret_key.expose(), long);
    assert_eq!(
        ok.mail.frontend_protocol, "https",
        "production links default to https"
    );
}

#[test]
fn every_invalid_value_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let problems = load(
        &[
            ("LATCHKEY_HASH_WORKERS", "lots"),
            ("LATCHKEY_BIND", "8000"),
            ("LATCHKEY_LOG_FORMAT", "xml"),
            ("LATCHKEY_ENV", "staging"),
        ],
        dir.path(),
    )
    .unwrap_err();
    assert_eq!(
        problems,
        [
            "LATCHKEY_ENV must be \"development\" or \"production\" (got \"staging\")",
            "LATCHKEY_BIND must be host:port, for example 127.0.0.1:8000 (got \"8000\")",
            "LATCHKEY_LOG_FORMAT must be \"text\" or \"json\" (got \"xml\")",
            "LATCHKEY_HASH_WORKERS must be a whole number from 1 to 1024 (got \"lots\")",
        ]
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), "bnid = \"x\"\n").unwrap();
    let problems = load(&[], dir.path()).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("unknown field `bnid`"), "{problems:?}");
}

#[test]
fn check_prints_masked_configuration_and_fails_on_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-very-secret-value-nobody-should-see-0123";
    let env = HashMap::from([
        ("LATCHKEY_SECRET_KEY".to_owned(), secret.to_owned()),
        (
            "DATABASE_URL".to_owned(),
            "postgres://app:dbpass@db/app".to_owned(),
        ),
    ]);
    let output = run_cli(&["check"], &env, dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let line = |key: &str, rest: &str| format!("{key:<36}= {rest}");
    assert!(
        text.contains(&line("env", "development  (default)")),
        "{text}"
    );
    assert!(
        text.contains(&line(
            "secret_key",
            "******** (42 bytes)  (env LATCHKEY_SECRET_KEY)"
        )),
        "{text}"
    );
    assert!(text.contains("postgres://app:********@db/app"), "{text}");
    assert!(!text.contains(secret) && !text.contains("dbpass"), "{text}");

    let bad = HashMap::from([
        ("LATCHKEY_ENV".to_owned(), "production".to_owned()),
        (
            "LATCHKEY_PUBLIC_URL".to_owned(),
            "https://auth.example.com".to_owned(),
        ),
        ("LATCHKEY_EMAIL_TRANSPORT".to_owned(), "file".to_owned()),
        (
            "LATCHKEY_FRONTEND_DOMAIN".to_owned(),
            "app.example.com".to_owned(),
        ),
    ]);
    let output = run_cli(&["check"], &bad, dir.path());
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim(),
        "latchkey: configuration error: LATCHKEY_SECRET_KEY must be set (at least 32 bytes) when LATCHKEY_ENV=production"
    );
}

#[test]
fn serve_in_production_without_a_secret_exits_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([
        ("LATCHKEY_ENV".to_owned(), "production".to_owned()),
        (
            "LATCHKEY_PUBLIC_URL".to_owned(),
            "https://auth.example.com".to_owned(),
        ),
        ("LATCHKEY_EMAIL_TRANSPORT".to_owned(), "file".to_owned()),
        (
            "LATCHKEY_FRONTEND_DOMAIN".to_owned(),
            "app.example.com".to_owned(),
        ),
    ]);
    let output = run_cli(&["serve"], &env, dir.path());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("LATCHKEY_SECRET_KEY"), "{err}");
    assert!(!dir.path().join("latchkey.sqlite3").exists());
}

/// The README's settings table is made from the declarations in `src/config/`; run
/// `LATCHKEY_BLESS=1 cargo test readme_settings` to write it after changing one.
#[test]
fn the_readme_settings_table_is_the_declarations() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find("| setting (`latchkey.toml` key)")
        .expect("the README has a settings table");
    let table: String = readme[start..]
        .lines()
        .take_while(|line| line.starts_with('|'))
        .map(|line| format!("{line}\n"))
        .collect();
    let expected = latchkey::config::settings_table();
    if table == expected {
        return;
    }
    if std::env::var("LATCHKEY_BLESS").is_ok_and(|v| v == "1") {
        let updated = readme.replacen(&table, &expected, 1);
        std::fs::write(path, updated).unwrap();
        return;
    }
    panic!(
        "the README's settings table differs from the declarations in src/config/ \
         (LATCHKEY_BLESS=1 rewrites it); it should read:\n\n{expected}"
    );
}

#[test]
fn the_switch_from_django_is_off_until_its_key_is_set_and_check_says_until_when() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = HashMap::from([("LATCHKEY_SECRET_KEY".to_owned(), "k".repeat(40))]);
    let off = stdout(&run_cli(&["check"], &env, dir.path()));
    assert!(off.contains("django_secret_key"), "{off}");
    assert!(!off.contains("django: accepting"), "{off}");
    let key = "django-insecure-the-old-secret-key-0123456789";
    env.insert("LATCHKEY_DJANGO_SECRET_KEY".into(), key.into());
    env.insert("LATCHKEY_DJANGO_REFRESH_LIFETIME".into(), "604800".into());
    let on = run_cli(&["check"], &env, dir.path());
    assert!(on.status.success(), "{}", stderr(&on));
    let text = stdout(&on);
    assert!(!text.contains(key), "the key is masked: {text}");
    assert!(
        text.contains("Its refresh tokens can arrive until 7 days after Django stops minting them, its links until 3 days after it stops mailing them: remove django_secret_key then."),
        "{text}"
    );
}

#[test]
fn social_providers_are_checked_and_their_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latchkey.toml"),
        "[social.google]\nclient_id = \"web-app\"\n\n[social.corp]\nname = \"Corp SSO\"\nclient_id = \"c\"\nissuer = \"https://sso.corp.example\"\n\n[social.github]\nclient_id = \"Iv1.gh\"\napi_url = \"https://ghe.example/api/v3/\"\nauto_link = true\n",
    )
    .unwrap();
    let secret = "google-secret-nobody-should-see";
    let mut env = HashMap::from([
        ("LATCHKEY_SECRET_KEY".to_owned(), "k".repeat(40)),
        (
            "LATCHKEY_SOCIAL_GOOGLE_CLIENT_SECRET".to_owned(),
            secret.to_owned(),
        ),
        (
            "LATCHKEY_SOCIAL_GITHUB_CLIENT_SECRET".to_owned(),
            secret.to_owned(),
        ),
    ]);
    let missing = run_cli(&["check"], &env, dir.path());
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("social.corp: client_secret is required"),
        "{}",
        stderr(&missing)
    );
    env.insert(
        "LATCHKEY_SOCIAL_CORP_CLIENT_SECRET".into(),
        "corp-secret".into(),
    );
    let ok = run_cli(&["check"], &env, dir.path());
    assert!(ok.status.success(), "{}", stderr(&ok));
    let text = stdout(&ok);
    assert!(
        text.contains("\"Google\" (google, issuer https://accounts.google.com), client_id web-app"),
        "{text}"
    );
    assert!(
        text.contains("\"Corp SSO\" (oidc, issuer https://sso.corp.example)"),
        "{text}"
    );
    assert!(
        text.contains("\"GitHub\" (github, issuer https://github.com, authorize https://github.com/login/oauth/authorize, token https://github.com/login/oauth/access_token, api https://ghe.example/api/v3), client_id Iv1.gh, secret ********, auto_link"),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
    // Each OpenID provider's discovery is asked for; one that cannot be reached (nothing
    // outside this machine can) is a warning, not a failure.
    assert!(
        text.contains("warning: social corp: the provider cannot be reached: discovery at https://sso.corp.example"),
        "{text}"
    );
    assert!(
        text.contains("social github: not checked (GitHub has no discovery document)"),
        "{text}"
    );
    // Endpoints are for GitHub only, and must be URLs.
    env.insert(
        "LATCHKEY_SOCIAL_CORP_TOKEN_URL".into(),
        "https://sso.corp.example/token".into(),
    );
    let misplaced = run_cli(&["check"], &env, dir.path());
    assert!(
        stderr(&misplaced)
            .contains("social.corp: authorize_url, token_url and api_url are for kind github"),
        "{}",
        stderr(&misplaced)
    );
    env.remove("LATCHKEY_SOCIAL_CORP_TOKEN_URL");
    env.insert(
        "LATCHKEY_SOCIAL_GITHUB_TOKEN_URL".into(),
        "not a url".into(),
    );
    let bad = run_cli(&["check"], &env, dir.path());
    assert!(
        stderr(&bad).contains("social.github: token_url \"not a url\" must be an http(s) URL"),
        "{}",
        stderr(&bad)
    );
    env.remove("LATCHKEY_SOCIAL_GITHUB_TOKEN_URL");
    env.insert("LATCHKEY_SOCIAL_GITHUB_AUTO_LINK".into(), "maybe".into());
    let bad = run_cli(&["check"], &env, dir.path());
    assert!(
        stderr(&bad).contains("social.github: auto_link must be true or false"),
        "{}",
        stderr(&bad)
    );
    env.remove("LATCHKEY_SOCIAL_GITHUB_AUTO_LINK");
    env.insert("LATCHKEY_SOCIAL_X_CLIENT_ID".into(), "x".into());
    let incomplete = run_cli(&["check"], &env, dir.path());
    assert!(
        stderr(&incomplete).contains("social.x: client_secret is required"),
        "{}",
        stderr(&incomplete)
    );
}

//! spawn_app() and friends: the real application on port 0, each test with its own database.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::{Connection, PgConnection, RunQueryDsl};
use latchkey::clock::Clock;
use latchkey::config::{LoadContext, Settings};
use latchkey::startup::{Application, ExtraRoutes};
use latchkey::state::AppState;
use tempfile::TempDir;

/// A secret long enough for every check (tests never use the generated-file path by accident).
pub const TEST_SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(Backend)`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use backend_tests;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The PostgreSQL server URL for tests, or `None` (loudly) when it is not configured outside CI.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!(
            "CI=true but LATCHKEY_TEST_POSTGRES_URL is not set: the PostgreSQL tests must run in CI"
        ),
        _ => {
            // Written to the stderr handle directly: the test harness captures eprintln!, and
            // this warning must be seen.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** WARNING: PostgreSQL tests are SKIPPED: LATCHKEY_TEST_POSTGRES_URL is not set \
                     (e.g. postgres://postgres@127.0.0.1:5432/test). Every `::postgres` test below \
                     returns without running. ***\n"
                );
            });
            record_skip("LATCHKEY_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A database of the test's own: a temporary SQLite file, or a fresh PostgreSQL database that
/// is dropped when this value is.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// `None` only when PostgreSQL is requested but not configured (and not in CI).
    pub fn create(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                Some(Self {
                    url,
                    dir,
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("latchkey_test_{}", random_hex(8));
                let mut conn = PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let url = with_database(&admin, &name);
                Some(Self {
                    url,
                    dir,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database now (terminating connections), e.g. to simulate an outage.
    pub fn drop_postgres_database(&self) {
        if let Some((admin, name)) = &self.postgres {
            let mut conn = PgConnection::establish(admin).expect("admin connection");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .expect("drop test database");
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// Replaces the database name in a `postgres://…/db?params` URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The environment a test server or CLI run gets: its database, a fixed secret, quiet logs.
pub fn base_env(db: &TestDb) -> HashMap<String, String> {
    HashMap::from([
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("LATCHKEY_SECRET_KEY".to_owned(), TEST_SECRET.to_owned()),
        ("LATCHKEY_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("LATCHKEY_DB_POOL_SIZE".to_owned(), "4".to_owned()),
        ("LATCHKEY_LOG".to_owned(), "warn".to_owned()),
        // Real mail files under the test's own directory (and nothing printed to stdout).
        ("LATCHKEY_EMAIL_TRANSPORT".to_owned(), "file".to_owned()),
        ("LATCHKEY_EMAIL_FILE_DIR".to_owned(), "mail".to_owned()),
        ("LATCHKEY_OUTBOX_POLL_MS".to_owned(), "100".to_owned()),
    ])
}

/// Settings from an environment map, resolved against `dir` (no config file there).
pub fn settings_from(env: HashMap<String, String>, dir: &Path) -> Settings {
    Settings::load(&LoadContext {
        env,
        dir: dir.to_path_buf(),
        bind_flag: None,
    })
    .expect("valid test settings")
}

/// A running app with its own database.
pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub db: TestDb,
    outbox_worker: tokio::task::AbortHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop background database work before the database goes away, or the runtime's
        // shutdown would wait out a connection timeout.
        self.outbox_worker.abort();
    }
}

/// Options for [`spawn_app_with`].
#[derive(Default)]
pub struct Spawn {
    pub env: Vec<(&'static str, String)>,
    pub clock: Option<Clock>,
    pub extra_routes: Option<ExtraRoutes>,
}

/// The instant every manual clock of the tests starts at.
pub fn clock_start() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

/// An app with these settings on a manual clock that starts at [`clock_start`] and moves only
/// when the test advances it.
pub async fn spawn_app_on_clock(
    backend: Backend,
    env: &[(&'static str, &str)],
) -> Option<(TestApp, Clock)> {
    let clock = Clock::manual(clock_start());
    let options = Spawn {
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        clock: Some(clock.clone()),
        ..Spawn::default()
    };
    Some((spawn_app_with(backend, options).await?, clock))
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Spawn::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Spawn) -> Option<TestApp> {
    let db = TestDb::create(backend)?;
    Some(spawn_app_in(db, options).await)
}

/// An app on a database (and directory) the test prepared, for example with a config file.
pub async fn spawn_app_in(db: TestDb, options: Spawn) -> TestApp {
    let mut env = base_env(&db);
    for (key, value) in options.env {
        env.insert(key.to_owned(), value);
    }
    let settings = settings_from(env, db.dir.path());
    let clock = options.clock.unwrap_or(Clock::System);
    let app = Application::build_with(settings, clock, options.extra_routes)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let outbox_worker = app.background();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestApp {
        address,
        state,
        client,
        db,
        outbox_worker,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

/// Reads a response as JSON, asserting the content type.
pub async fn json_body(response: reqwest::Response) -> serde_json::Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "expected JSON, got {content_type:?}"
    );
    response.json().await.expect("JSON body")
}

/// The built `latchkey` binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_latchkey"))
}

/// Runs the CLI with exactly `env` (plus PATH), in `dir`, with no standard input.
pub fn run_cli(args: &[&str], env: &HashMap<String, String>, dir: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run latchkey")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Builds an AppState over a test database (migrations already applied by whoever ran first).
pub fn state_for(db: &TestDb) -> AppState {
    let settings = settings_from(base_env(db), db.dir.path());
    AppState::build_for_command(settings, Clock::System).expect("state")
}

#[test]
fn swaps_database_names_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://h/test?sslmode=disable", "x"),
        "postgres://h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

/// A user made through the core (same hashing as production).
pub async fn create_user(app: &TestApp, username: &str, email: &str, password: &str) -> i64 {
    use latchkey::accounts::{self as service, Registration};
    use latchkey::domain::{Email, PersonName, Username};
    service::register(
        &app.state,
        Registration {
            email: Email::parse(email).expect("email"),
            username: Some(Username::parse(username).expect("username")),
            first_name: PersonName::default(),
            last_name: PersonName::default(),
            password: password.to_owned(),
            password_retype: None,
        },
    )
    .await
    .map(|registered| match registered {
        service::Registered::Created(user) => user.id,
        service::Registered::Concealed { .. } => panic!("the address was taken"),
    })
    .expect("register")
}

/// Every user, as the operator sees them (tests that check what was, or was not, stored).
pub async fn all_users(state: &AppState) -> Vec<latchkey::accounts::User> {
    use latchkey::accounts::{Actor, PageAt, list_users};
    let page = list_users(
        state,
        &Actor::Operator,
        Default::default(),
        PageAt::After(0),
        1000,
    );
    page.await.expect("list users").users
}

/// How many sessions of `user_id` have not been revoked.
pub async fn live_sessions(app: &TestApp, user_id: i64) -> i64 {
    use diesel::prelude::*;
    use latchkey::db::schema::sessions;
    app.state
        .db
        .run(move |conn| {
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .count()
                .get_result(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .expect("count sessions")
}

/// The details of the audit events of `kind` (only `user_id`'s, when given), oldest first.
pub async fn audit_details(
    app: &TestApp,
    kind: &'static str,
    user_id: Option<i64>,
) -> Vec<Option<String>> {
    use diesel::prelude::*;
    use latchkey::db::schema::audit_events;
    let events: Vec<(Option<i64>, Option<String>)> = app
        .state
        .db
        .run(move |conn| {
            audit_events::table
                .filter(audit_events::kind.eq(kind))
                .order(audit_events::id.asc())
                .select((audit_events::user_id, audit_events::detail))
                .load(conn)
                .map_err(latchkey::db::DbError::from)
        })
        .await
        .expect("read the audit log");
    events
        .into_iter()
        .filter(|(user, _)| user_id.is_none() || *user == user_id)
        .map(|(_, detail)| detail)
        .collect()
}

/// A staff superuser made through the core.
pub async fn create_staff(app: &TestApp, username: &str, email: &str, password: &str) -> i64 {
    use latchkey::accounts::{self as service, NewSuperuser};
    use latchkey::domain::{Email, NewPassword, Username};
    service::create_superuser(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        NewSuperuser {
            username: Username::parse(username).expect("username"),
            email: Email::parse(email).expect("email"),
            password: Some(NewPassword::parse_bypassing_policy(password.to_owned()).expect("pw")),
        },
    )
    .await
    .expect("superuser")
    .id
}

/// Tokens from `POST /auth/jwt/create/`.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn login(&self, identifier: &str, password: &str) -> Tokens {
        let response = self
            .post_json(
                "/auth/jwt/create/",
                &serde_json::json!({"username": identifier, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "login as {identifier}");
        let body = json_body(response).await;
        Tokens {
            access: body["access"].as_str().expect("access").to_owned(),
            refresh: body["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn send_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn refresh(&self, refresh: &str) -> reqwest::Response {
        self.post_json(
            "/auth/jwt/refresh/",
            &serde_json::json!({"refresh": refresh}),
        )
        .await
    }
}

/// The claims of a JWT, read without checking the signature (tests inspect what was minted).
pub fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&base64url_decode(payload)).expect("JSON claims")
}

/// Unpadded (or padded) base64url decoded.
pub fn base64url_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url")
}

/// Asserts a 401 with SimpleJWT's `WWW-Authenticate` and the exact JSON body.
pub async fn assert_401(response: reqwest::Response, expected: serde_json::Value) {
    assert_eq!(response.status(), 401, "expected 401 with {expected}");
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"api\"")
    );
    assert_eq!(json_body(response).await, expected);
}

/// A delivered message, parsed from its `.eml` file.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

impl SentMail {
    /// The path (and query) of the first link, to request from the test's own app.
    pub fn link_path(&self) -> String {
        let link = self.link();
        let after_scheme = link
            .split_once("://")
            .map_or(link.as_str(), |(_, rest)| rest);
        format!(
            "/{}",
            after_scheme.split_once('/').map_or("", |(_, path)| path)
        )
    }

    /// The first http(s) link in the text part.
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no link in: {}", self.text))
            .to_owned()
    }
}

/// Parses a delivered message with a MIME library (`mail-parser`: transfer encodings, encoded
/// words, multipart); `None` while the file is still being written (a multipart body without
/// its closing boundary yet).
pub fn parse_mail(raw: &str) -> Option<SentMail> {
    use mail_parser::MimeHeaders;
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    let boundary = message
        .root_part()
        .content_type()
        .and_then(|t| t.attribute("boundary"))?;
    if !raw.contains(&format!("--{boundary}--")) {
        return None;
    }
    let part = |html: bool| {
        message
            .parts
            .iter()
            .find(|p| p.is_text() && p.is_text_html() == html && !p.is_multipart())
            .and_then(|p| p.text_contents())
            .unwrap_or_default()
            .to_owned()
    };
    Some(SentMail {
        to: message
            .header_raw("To")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: part(false),
        html: part(true),
        raw: raw.replace("\r\n", "\n"),
    })
}

/// Every message in a mail directory (`.eml` files, or a maildir's `new/` files).
pub fn read_mail_dir(dir: &Path) -> Vec<SentMail> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.extension().is_none_or(|e| e != "json"));
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    // A file the transport is still writing is not a delivered message yet.
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|raw| parse_mail(&raw))
        .collect()
}

impl TestApp {
    /// The file transport's directory.
    pub fn mail_dir(&self) -> PathBuf {
        self.db.dir.path().join("mail")
    }

    /// Waits (up to 10 s) until `count` messages have been delivered, and returns them all.
    pub async fn wait_for_mail(&self, count: usize) -> Vec<SentMail> {
        wait_for_files(&self.mail_dir(), count).await
    }
}

/// Waits (up to 20 s: the full suite loads both cores) until a directory holds `count` messages.
pub async fn wait_for_files(dir: &Path, count: usize) -> Vec<SentMail> {
    for _ in 0..400 {
        let mails = read_mail_dir(dir);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "expected {count} messages in {}, found {}",
        dir.display(),
        read_mail_dir(dir).len()
    );
}

/// A tool a test needs is missing: a failure in CI, a loud warning (once per message) outside it.
/// The test is recorded as skipped (see [`record_skip`]).
pub fn missing_tool(message: &str) {
    if in_ci() {
        panic!("CI=true but {message}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** WARNING: {message}: tests that need it are SKIPPED. ***\n"
    );
    record_skip(message);
}

/// Notes that the running test returns without testing anything. libtest can only count it as
/// passed, so the name goes to the file `LATCHKEY_SKIP_LOG` names (when set), one line per
/// skipped test, and `.ci/run` reports those as skipped, not passed.
pub fn record_skip(reason: &str) {
    let Some(path) = std::env::var_os("LATCHKEY_SKIP_LOG") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{test}\t{reason}");
    }
}

/// The password every persona has.
pub const PERSONA_PASSWORD: &str = "correct horse battery staple";

/// A test user with a live API session: who a request is made as.
#[derive(Debug, Clone)]
pub struct Persona {
    pub id: i64,
    pub tokens: Tokens,
}

/// Requests made as one persona (a bearer access token).
pub struct AsUser<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl TestApp {
    /// A new user `username` (`<username>@example.com`, [`PERSONA_PASSWORD`]), logged in.
    pub async fn persona(&self, username: &str) -> Persona {
        let email = format!("{username}@example.com");
        let id = create_user(self, username, &email, PERSONA_PASSWORD).await;
        self.logged_in(id, username).await
    }

    /// A new staff superuser, logged in.
    pub async fn staff_persona(&self, username: &str) -> Persona {
        let email = format!("{username}@example.com");
        let id = create_staff(self, username, &email, PERSONA_PASSWORD).await;
        self.logged_in(id, username).await
    }

    async fn logged_in(&self, id: i64, username: &str) -> Persona {
        Persona {
            id,
            tokens: self.login(username, PERSONA_PASSWORD).await,
        }
    }

    /// Requests made with `persona`'s access token.
    pub fn as_user<'a>(&'a self, persona: &'a Persona) -> AsUser<'a> {
        AsUser {
            app: self,
            token: &persona.tokens.access,
        }
    }
}

impl AsUser<'_> {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app.get_bearer(path, self.token).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.app.send_bearer(method, path, self.token, &body).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, body).await
    }
}

/// A browser tab at the HTTP level: keeps its cookies, does not follow redirects, and submits
/// forms the way a page does (with the CSRF token of the page the form is on).
#[derive(Clone)]
pub struct Tab<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl TestApp {
    /// A new tab with no cookies yet.
    pub fn tab(&self) -> Tab<'_> {
        Tab {
            app: self,
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }

    /// A new tab where `username` logged in with [`PERSONA_PASSWORD`] through the login form.
    pub async fn tab_logged_in(&self, username: &str) -> Tab<'_> {
        let tab = self.tab();
        let response = tab.log_in(username, PERSONA_PASSWORD, "").await;
        assert_eq!(response.status(), 303, "{username} logs in");
        tab
    }
}

impl Tab<'_> {
    /// GET `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.app.url(path))
            .send()
            .await
            .expect("request")
    }

    /// The tab's own HTTP client (its cookies), for pages of other hosts.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A POST to `path` to build by hand (forged and malformed forms).
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.app.url(path))
    }

    /// The status `path` answers with.
    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).await.status().as_u16()
    }

    /// The page at `path`, which must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("page text")
    }

    /// POSTs `fields` and the CSRF token of `html` (the page the form is on) to `action`.
    pub async fn post_from(
        &self,
        html: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = csrf(html);
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(self.app.url(action))
            .form(&form)
            .send()
            .await
            .expect("request")
    }

    /// Loads the form at `path` and submits `fields` to it.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let html = self.page(path).await;
        self.post_from(&html, path, fields).await
    }

    /// Submits the login form (with `next` when not empty).
    pub async fn log_in(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
        let mut fields = vec![("username", username), ("password", password)];
        if !next.is_empty() {
            fields.push(("next", next));
        }
        self.submit("/accounts/login/", &fields).await
    }
}

/// The hidden CSRF field's value in a page.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("a closing quote")
        .to_owned()
}

/// A response's `Location` header ("" when it has none).
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Unpadded base64url, as JOSE writes it.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The header of a JWT, read without checking anything.
pub fn claims_header(token: &str) -> serde_json::Value {
    let header = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&base64url_decode(header)).expect("JSON header")
}

/// `(uid, token)` from a mailed link ending in `…/<uid>/<token>/` or carrying
/// `?uid=…&token=…`.
pub fn uid_and_token(link: &str) -> (String, String) {
    if let Some((_, query)) = link.split_once('?') {
        let get = |key: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .unwrap()
                .to_owned()
        };
        return (get("uid"), get("token"));
    }
    let parts: Vec<&str> = link.trim_end_matches('/').rsplit('/').take(2).collect();
    (parts[1].to_owned(), parts[0].to_owned())
}

//! Real headless Chromium driven over WebDriver (Debian's chromium and chromium-driver).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use thirtyfour::prelude::*;

use crate::helpers::{Backend, backend_tests, create_user, spawn_app};

/// A Chromium session and the chromedriver serving it.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// The port of "ChromeDriver was started successfully on port N."; the rest of its output is
/// drained on a thread of its own so that chromedriver never blocks on a full pipe.
fn driver_port(stdout: std::process::ChildStdout) -> Option<u16> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = lines.by_ref().map_while(Result::ok).find_map(|line| {
        line.split_once("started successfully on port ")
            .and_then(|(_, rest)| rest.trim_end_matches('.').parse().ok())
    });
    std::thread::spawn(move || lines.for_each(drop));
    port
}

/// Starts chromedriver and a headless Chromium; `None` (loudly) when they are not installed
/// outside CI, a failure in CI.
pub async fn start_browser() -> Option<Browser> {
    start_browser_with(&[]).await
}

/// [`start_browser`] with more Chromium flags.
pub async fn start_browser_with(extra_args: &[String]) -> Option<Browser> {
    let chromedriver = std::env::var("LATCHKEY_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium =
        std::env::var("LATCHKEY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromedriver).exists() || !std::path::Path::new(&chromium).exists() {
        crate::helpers::missing_tool(&format!(
            "{chromium} or {chromedriver} is missing (apt-get install chromium chromium-driver)"
        ));
        return None;
    }
    // Port 0: chromedriver picks a free port and says which on its first lines. Under a full
    // parallel suite it has once exited before saying so (seen in CI): a second start is tried
    // before the test fails.
    let mut started = None;
    for _ in 0..3 {
        let mut child = Command::new(&chromedriver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let port = tokio::task::spawn_blocking(move || driver_port(stdout))
            .await
            .expect("reading chromedriver's output");
        match port {
            Some(port) => {
                started = Some((child, port));
                break;
            }
            None => {
                let _ = child.kill();
                let status = child.wait();
                eprintln!(
                    "chromedriver ended without saying its port ({status:?}); starting it again"
                );
            }
        }
    }
    let (child, port) = started.expect("chromedriver said which port it listens on");
    let profile = tempfile::tempdir().unwrap();
    let mut browser_guard = Some(child);
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(&chromium).unwrap();
    // The flags this machine needs: no sandbox as root, and no background traffic to hosts the
    // closed network refuses.
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,1300",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
        .unwrap();
    for arg in extra_args {
        caps.add_arg(arg).unwrap();
    }
    let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
        .await
        .expect("a Chromium session");
    Some(Browser {
        driver,
        chromedriver: browser_guard.take().expect("chromedriver"),
        _profile: profile,
    })
}

impl Browser {
    /// Saves a screenshot of the page under the target dir (`…/tmp/screenshots/<name>.png`),
    /// and also into `$LATCHKEY_SCREENSHOT_DIR` when set (how the README's images are made:
    /// `LATCHKEY_SCREENSHOT_DIR=static/img cargo test --test api browser::`).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        self.driver.screenshot(&path).await.expect("screenshot");
        // Only the two pages the README shows.
        let base = name.split('-').next().unwrap_or(name);
        if let Ok(extra) = std::env::var("LATCHKEY_SCREENSHOT_DIR")
            && matches!(base, "login" | "profile")
        {
            let extra = PathBuf::from(extra);
            std::fs::create_dir_all(&extra).unwrap();
            std::fs::copy(&path, extra.join(format!("{base}.png"))).unwrap();
        }
        path
    }

    /// Saves a screenshot of the page the test ends on, then ends the browser session.
    pub async fn finish(self, name: &str) {
        self.screenshot(name).await;
        let _ = self.driver.clone().quit().await;
    }
}

backend_tests!(
    a_person_logs_in_sees_the_profile_and_logs_out,
    a_person_signs_in_to_an_app_through_login_and_consent,
    continue_with_google_in_chromium,
);

/// "Continue with Google" clicked in Chromium: Latchkey's login page, the provider's own login
/// and consent pages (panva's oidc-provider), and back, signed in. Latchkey's callback is under
/// its default public URL (`http://localhost:8000`), which Chromium maps to the test server's
/// port, as a reverse proxy in front of Latchkey would.
async fn continue_with_google_in_chromium(backend: Backend) {
    let Some(op) = crate::social::upstream().await else {
        return;
    };
    let Some(app) = crate::social::latchkey_with(backend, &op, None, Vec::new()).await else {
        return;
    };
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let rules = format!("--host-resolver-rules=MAP localhost:8000 127.0.0.1:{port}");
    let Some(browser) = start_browser_with(&[rules]).await else {
        return;
    };
    let driver = &browser.driver;
    driver
        .goto("http://localhost:8000/accounts/login/")
        .await
        .unwrap();
    assert_eq!(driver.title().await.unwrap(), "Log in · Latchkey");
    driver
        .find(By::LinkText("Continue with Google"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The provider's login form (oidc-provider's devInteractions): the login name is the sub.
    let login = driver.find(By::Name("login")).await.unwrap();
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&op.issuer),
        "at the provider"
    );
    login.send_keys("g-ada").await.unwrap();
    driver
        .find(By::Name("password"))
        .await
        .unwrap()
        .send_keys("any")
        .await
        .unwrap();
    driver
        .find(By::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Its consent page (waited for by its own form: the login page's button is still there
    // until the navigation ends), then back to Latchkey, signed in.
    driver
        .query(By::XPath(
            "//form[input[@name='prompt' and @value='consent']]//button",
        ))
        .first()
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .query(By::XPath("//main/h1[text()='Your account']"))
        .first()
        .await
        .expect("Latchkey's account page");
    let url = driver.current_url().await.unwrap();
    assert_eq!(url.as_str(), "http://localhost:8000/accounts/profile/");
    let page = driver.source().await.unwrap();
    assert!(page.contains("ada@example.com"), "{page}");
    assert!(page.contains("linked-identities"), "{page}");
    browser.finish(&format!("social-{backend:?}")).await;
}

async fn a_person_logs_in_sees_the_profile_and_logs_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    create_user(
        &app,
        "ivy",
        "ivy@example.com",
        "correct horse battery staple",
    )
    .await;
    let driver = &browser.driver;
    driver.goto(app.url("/accounts/login/")).await.unwrap();
    assert_eq!(driver.title().await.unwrap(), "Log in · Latchkey");
    browser.screenshot(&format!("login-{backend:?}")).await;
    driver
        .find(By::Id("id_username"))
        .await
        .unwrap()
        .send_keys("ivy@example.com")
        .await
        .unwrap();
    driver
        .find(By::Id("id_password"))
        .await
        .unwrap()
        .send_keys("wrong")
        .await
        .unwrap();
    driver
        .find(By::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = driver
        .query(By::Id("form-error"))
        .first()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        error.starts_with("Please enter a correct username and password."),
        "{error}"
    );
    let kept = driver
        .find(By::Id("id_username"))
        .await
        .unwrap()
        .value()
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("ivy@example.com"));
    driver
        .find(By::Id("id_password"))
        .await
        .unwrap()
        .send_keys("correct horse battery staple")
        .await
        .unwrap();
    browser
        .screenshot(&format!("login_error-{backend:?}"))
        .await;
    driver
        .find(By::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // query() polls until the element appears: the click started a navigation.
    driver
        .query(By::XPath("//main/h1[text()='Your account']"))
        .first()
        .await
        .expect("the profile page");
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/accounts/profile/")
    );
    assert!(driver.source().await.unwrap().contains("ivy@example.com"));
    browser.screenshot(&format!("profile-{backend:?}")).await;

    driver
        .find(By::Css("nav form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .query(By::XPath("//main/h1[text()='Logged out']"))
        .first()
        .await
        .expect("the logged-out page");
    driver.goto(app.url("/accounts/profile/")).await.unwrap();
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/accounts/login/")
    );
    browser
        .finish(&format!(
            "a_person_logs_in_sees_the_profile_and_logs_out-end-{backend:?}"
        ))
        .await;
}

async fn fill(driver: &WebDriver, id: &str, text: &str) {
    let field = driver.query(By::Id(id)).first().await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn submit(driver: &WebDriver) {
    driver
        .find(By::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the page whose `<h1>` reads `text` (each click starts a navigation).
async fn wait_heading(driver: &WebDriver, text: &str) {
    driver
        .query(By::XPath(format!("//main/h1[text()=\"{text}\"]")))
        .first()
        .await
        .unwrap_or_else(|e| panic!("no page titled {text:?}: {e}"));
}

async fn log_in(app: &crate::helpers::TestApp, driver: &WebDriver, who: &str, password: &str) {
    driver.goto(app.url("/accounts/login/")).await.unwrap();
    fill(driver, "id_username", who).await;
    fill(driver, "id_password", password).await;
    submit(driver).await;
    wait_heading(driver, "Your account").await;
}

backend_tests!(
    register_then_change_password_logs_the_other_browser_out,
    a_forgotten_password_is_reset_through_the_mailed_link,
    an_account_is_activated_through_the_mailed_link,
    a_tampered_csrf_token_shows_the_403_page_and_next_stays_on_site,
);

async fn register_then_change_password_logs_the_other_browser_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (Some(first), Some(second)) = (start_browser().await, start_browser().await) else {
        return;
    };
    let a = &first.driver;
    a.goto(app.url("/accounts/register/")).await.unwrap();
    fill(a, "id_email", "pat@example.com").await;
    fill(a, "id_password1", "correct horse battery staple").await;
    fill(a, "id_password2", "correct horse battery staple").await;
    submit(a).await;
    wait_heading(a, "Account created").await;
    log_in(&app, a, "pat@example.com", "correct horse battery staple").await;
    log_in(
        &app,
        &second.driver,
        "pat@example.com",
        "correct horse battery staple",
    )
    .await;

    a.goto(app.url("/accounts/password_change/")).await.unwrap();
    fill(a, "id_old_password", "correct horse battery staple").await;
    fill(a, "id_new_password1", "a different long secret").await;
    fill(a, "id_new_password2", "a different long secret").await;
    submit(a).await;
    wait_heading(a, "Password changed").await;

    second
        .driver
        .goto(app.url("/accounts/profile/"))
        .await
        .unwrap();
    wait_heading(&second.driver, "Log in").await;
    a.goto(app.url("/accounts/profile/")).await.unwrap();
    wait_heading(a, "Your account").await;
    a.find(By::Css("nav form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_heading(a, "Logged out").await;
    first
        .finish(&format!(
            "register_then_change_password_logs_the_other_browser_out-first-{backend:?}"
        ))
        .await;
    second
        .finish(&format!(
            "register_then_change_password_logs_the_other_browser_out-second-{backend:?}"
        ))
        .await;
}

async fn a_forgotten_password_is_reset_through_the_mailed_link(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    create_user(
        &app,
        "quin",
        "quin@example.com",
        "correct horse battery staple",
    )
    .await;
    let d = &browser.driver;
    d.goto(app.url("/accounts/password_reset/")).await.unwrap();
    fill(d, "id_email", "quin@example.com").await;
    submit(d).await;
    wait_heading(d, "Check your email").await;
    let path = app.wait_for_mail(1).await.remove(0).link_path();
    d.goto(app.url(&path)).await.unwrap();
    wait_heading(d, "Enter new password").await;
    let url = d.current_url().await.unwrap();
    assert!(
        url.path().ends_with("/set-password/"),
        "the token left the address bar: {url}"
    );
    fill(d, "id_new_password1", "reset and remembered 2026").await;
    fill(d, "id_new_password2", "reset and remembered 2026").await;
    submit(d).await;
    wait_heading(d, "Password reset complete").await;
    log_in(&app, d, "quin", "reset and remembered 2026").await;
    browser
        .finish(&format!(
            "a_forgotten_password_is_reset_through_the_mailed_link-end-{backend:?}"
        ))
        .await;
}

async fn an_account_is_activated_through_the_mailed_link(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        crate::helpers::Spawn {
            env: vec![("LATCHKEY_SEND_ACTIVATION_EMAIL", "true".into())],
            ..crate::helpers::Spawn::default()
        },
    )
    .await
    else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    let d = &browser.driver;
    d.goto(app.url("/accounts/register/")).await.unwrap();
    fill(d, "id_email", "ros@example.com").await;
    fill(d, "id_password1", "correct horse battery staple").await;
    fill(d, "id_password2", "correct horse battery staple").await;
    submit(d).await;
    wait_heading(d, "Account created").await;
    assert!(
        d.source()
            .await
            .unwrap()
            .contains("We sent a link to your email address.")
    );
    let path = app.wait_for_mail(1).await.remove(0).link_path();
    d.goto(app.url(&path)).await.unwrap();
    wait_heading(d, "Activate your account").await;
    submit(d).await;
    wait_heading(d, "Account activated").await;
    log_in(&app, d, "ros@example.com", "correct horse battery staple").await;
    browser
        .finish(&format!(
            "an_account_is_activated_through_the_mailed_link-end-{backend:?}"
        ))
        .await;
}

async fn a_tampered_csrf_token_shows_the_403_page_and_next_stays_on_site(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    create_user(
        &app,
        "sam",
        "sam@example.com",
        "correct horse battery staple",
    )
    .await;
    let d = &browser.driver;
    d.goto(app.url("/accounts/login/")).await.unwrap();
    d.execute(
        "document.querySelector('input[name=csrf_token]').value = 'tampered';",
        Vec::new(),
    )
    .await
    .unwrap();
    fill(d, "id_username", "sam").await;
    fill(d, "id_password", "correct horse battery staple").await;
    submit(d).await;
    wait_heading(d, "Forbidden (CSRF check failed)").await;
    browser
        .screenshot(&format!("csrf_forbidden-{backend:?}"))
        .await;

    d.goto(app.url("/accounts/login/?next=//evil.example"))
        .await
        .unwrap();
    fill(d, "id_username", "sam").await;
    fill(d, "id_password", "correct horse battery staple").await;
    submit(d).await;
    wait_heading(d, "Your account").await;
    let url = d.current_url().await.unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"), "{url}");
    assert_eq!(url.path(), "/accounts/profile/");
    browser
        .finish(&format!(
            "a_tampered_csrf_token_shows_the_403_page_and_next_stays_on_site-end-{backend:?}"
        ))
        .await;
}

/// The stand-in client's callback page: it shows what came back, as an app's would.
fn client_callback(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route(
        "/test-client/callback",
        actix_web::web::get().to(|req: actix_web::HttpRequest| async move {
            actix_web::HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(format!(
                    "<!doctype html><title>Acme</title><h1>Signed in</h1><p id=query>{}</p>",
                    req.query_string()
                ))
        }),
    );
}

async fn a_person_signs_in_to_an_app_through_login_and_consent(backend: Backend) {
    let options = crate::helpers::Spawn {
        extra_routes: Some(client_callback),
        ..crate::helpers::Spawn::default()
    };
    let Some(app) = crate::helpers::spawn_app_with(backend, options).await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    create_user(
        &app,
        "ivy",
        "ivy@example.com",
        "correct horse battery staple",
    )
    .await;
    let callback = app.url("/test-client/callback");
    let new = latchkey::oauth::NewClient {
        name: "Acme dashboard".into(),
        redirect_uris: vec![callback.clone()],
        ..latchkey::oauth::NewClient::default()
    };
    let state = &app.state;
    let client = latchkey::oauth::register_client(&state.db, &state.clock, new)
        .await
        .unwrap();
    let (id, secret) = (client.client.client_id, client.secret.unwrap());
    let verifier = "v".repeat(50);
    let challenge = {
        use sha2::Digest;
        crate::helpers::base64url(&sha2::Sha256::digest(verifier.as_bytes()))
    };
    let query = serde_urlencoded::to_string([
        ("client_id", id.as_str()),
        ("redirect_uri", callback.as_str()),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "s-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let driver = &browser.driver;
    driver
        .goto(app.url(&format!("/oauth/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(driver.title().await.unwrap(), "Log in · Latchkey");
    fill(driver, "id_username", "ivy@example.com").await;
    fill(driver, "id_password", "correct horse battery staple").await;
    submit(driver).await;

    // The consent page, its approve button starting with "Allow".
    let allow = driver
        .query(By::XPath(
            "//main//button[starts-with(normalize-space(.), 'Allow')]",
        ))
        .first()
        .await
        .expect("the consent page");
    let page = driver.source().await.unwrap();
    assert!(page.contains("Acme dashboard") && page.contains("See your email address"));
    browser.screenshot(&format!("consent-{backend:?}")).await;
    allow.click().await.unwrap();

    let shown = driver
        .query(By::Id("query"))
        .first()
        .await
        .expect("back on the app")
        .text()
        .await
        .unwrap();
    let url = driver.current_url().await.unwrap();
    assert_eq!(url.path(), "/test-client/callback", "{shown}");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("s-123"));
    let code = param("code").expect("a code");
    let tokens = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    let tokens = crate::helpers::json_body(tokens).await;
    let id_token = crate::helpers::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["email"], "ivy@example.com");
    browser
        .finish(&format!(
            "a_person_signs_in_to_an_app_through_login_and_consent-end-{backend:?}"
        ))
        .await;
}

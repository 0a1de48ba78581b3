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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver and a headless Chromium; `None` (loudly) when they are not installed
/// outside CI, a failure in CI.
pub async fn start_browser() -> Option<Browser> {
    let chromedriver = std::env::var("LATCHKEY_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium =
        std::env::var("LATCHKEY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromedriver).exists() || !std::path::Path::new(&chromium).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but {chromium} or {chromedriver} is missing (apt-get install chromium chromium-driver)"
            );
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** WARNING: browser tests are SKIPPED: {chromium} or {chromedriver} is missing (apt-get install chromium chromium-driver). ***\n"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let mut browser_guard = Some(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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
        if let Ok(extra) = std::env::var("LATCHKEY_SCREENSHOT_DIR") {
            let extra = PathBuf::from(extra);
            std::fs::create_dir_all(&extra).unwrap();
            let base = name.split('-').next().unwrap_or(name);
            std::fs::copy(&path, extra.join(format!("{base}.png"))).unwrap();
        }
        path
    }

    /// Ends the browser session.
    pub async fn finish(self) {
        let _ = self.driver.clone().quit().await;
    }
}

backend_tests!(a_person_logs_in_sees_the_profile_and_logs_out);

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
    browser.finish().await;
}

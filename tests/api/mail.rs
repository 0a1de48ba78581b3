//! Mail flows through the real file and SMTP transports: password reset, activation, notices,
//! the outbox surviving an SMTP outage, sendtestemail, and reset timing.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use chrono::Duration;
use latchkey::accounts;
use latchkey::clock::Clock;
use latchkey::db::DbError;
use latchkey::mail::outbox;
use serde_json::json;

use crate::helpers::spawn_app_on_clock;
use crate::helpers::{
    Backend, Spawn, TestApp, backend_tests, base_env, create_user, json_body, run_cli,
    spawn_app_with, stderr, stdout, wait_for_files,
};

backend_tests!(
    password_reset_mails_a_link_that_works_once,
    reset_links_use_the_front_end_template_expire_and_cool_down,
    reset_for_an_unknown_address_answers_the_same_and_sends_nothing,
    activation_flow_with_confirmation_and_stale_tokens,
    prevent_enumeration_mails_the_owner_instead,
    password_change_sends_a_notice,
    smtp_delivers_both_bodies_to_a_real_server,
    the_outbox_keeps_mail_while_smtp_is_down_and_delivers_later,
    reset_timing_does_not_reveal_which_addresses_exist,
);

use crate::helpers::PERSONA_PASSWORD as PASSWORD;

async fn app(
    backend: Backend,
    env: &[(&'static str, &str)],
    clock: Option<Clock>,
) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Spawn {
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            clock,
            ..Spawn::default()
        },
    )
    .await
}

async fn outbox_rows(app: &TestApp) -> Vec<outbox::OutboxMessage> {
    app.state
        .db
        .run(|conn| outbox::all(conn).map_err(DbError::from))
        .await
        .unwrap()
}

async fn password_reset_mails_a_link_that_works_once(backend: Backend) {
    let Some(app) = app(backend, &[], None).await else {
        return;
    };
    let id = create_user(&app, "rosa", "Rosa@Example.com", PASSWORD).await;
    let session = app.login("rosa", PASSWORD).await;

    let response = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "rosa@EXAMPLE.com"}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let mails = app.wait_for_mail(1).await;
    let mail = &mails[0];
    assert_eq!(mail.subject, "Password reset on Latchkey");
    assert_eq!(mail.to, "Rosa@Example.com");
    assert!(
        mail.raw
            .to_ascii_lowercase()
            .contains("multipart/alternative")
    );
    assert!(
        mail.text
            .contains("Your username, in case you've forgotten: rosa"),
        "{}",
        mail.text
    );
    let link = mail.link();
    assert!(
        link.starts_with("http://localhost:8000/accounts/reset/"),
        "{link}"
    );
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    let (uid, token) = crate::helpers::uid_and_token(&link);
    assert_eq!(latchkey::domain::decode_uid(&uid), Some(id));
    assert_eq!(token.len(), 43);

    let confirm = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.post_json("/auth/users/reset_password_confirm/", &body)
                .await
        }
    };
    // A bad or unknown uid answers as a bad token does, so user ids cannot be probed.
    for uid in ["xx", "OTk5OQ"] {
        let bad_uid =
            confirm(json!({"uid": uid, "token": token, "new_password": "a new long password"}))
                .await;
        assert_eq!(
            json_body(bad_uid).await,
            json!({"token": ["Invalid token for given user."]})
        );
    }
    let bad_token =
        confirm(json!({"uid": uid, "token": "nope", "new_password": "a new long password"})).await;
    assert_eq!(
        json_body(bad_token).await,
        json!({"token": ["Invalid token for given user."]})
    );
    // The password is judged before the link (Djoser's order), even with a bad token...
    for link_token in [token.as_str(), "nope"] {
        let weak = confirm(json!({"uid": uid, "token": link_token, "new_password": "rosa"})).await;
        assert_eq!(weak.status(), 400);
        assert_eq!(
            json_body(weak).await,
            json!({"new_password": [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common."
            ]})
        );
    }
    // ...and its likeness to the user's details once the link names the user.
    let similar =
        confirm(json!({"uid": uid, "token": token, "new_password": "rosa@example.com1"})).await;
    assert_eq!(
        json_body(similar).await,
        json!({"new_password": ["The password is too similar to the email address."]})
    );
    let missing = confirm(json!({})).await;
    assert_eq!(
        json_body(missing).await,
        json!({"uid": ["This field is required."], "token": ["This field is required."], "new_password": ["This field is required."]})
    );

    let ok =
        confirm(json!({"uid": uid, "token": token, "new_password": "a fresh start 2026"})).await;
    assert_eq!(ok.status(), 204);
    app.login("rosa", "a fresh start 2026").await;
    let old = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "rosa", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 401);
    assert_eq!(
        app.get_bearer("/auth/users/me/", &session.access)
            .await
            .status(),
        401,
        "a reset ends every session"
    );
    let again =
        confirm(json!({"uid": uid, "token": token, "new_password": "another one 2027"})).await;
    assert_eq!(
        json_body(again).await,
        json!({"token": ["Invalid token for given user."]}),
        "a link works once"
    );

    let mails = app.wait_for_mail(2).await;
    let notice = mails
        .iter()
        .find(|m| m.subject.contains("password has been successfully changed"))
        .unwrap();
    assert_eq!(notice.to, "Rosa@Example.com");
    assert!(
        outbox_rows(&app)
            .await
            .iter()
            .all(|m| m.sent_at.is_some() && m.attempts == 1)
    );
}

async fn reset_links_use_the_front_end_template_expire_and_cool_down(backend: Backend) {
    let Some((app, clock)) = spawn_app_on_clock(
        backend,
        &[
            (
                "LATCHKEY_PASSWORD_RESET_CONFIRM_URL",
                "auth/password/reset-password-confirmation/?uid={uid}&token={token}",
            ),
            ("LATCHKEY_FRONTEND_DOMAIN", "app.example.com"),
            ("LATCHKEY_FRONTEND_PROTOCOL", "https"),
            ("LATCHKEY_SITE_NAME", "Acme"),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "sol", "sol@example.com", PASSWORD).await;
    let request = || {
        let app = &app;
        async move {
            app.post_json(
                "/auth/users/reset_password/",
                &json!({"email": "sol@example.com"}),
            )
            .await
        }
    };
    assert_eq!(request().await.status(), 204);
    let mail = app.wait_for_mail(1).await.remove(0);
    assert_eq!(mail.subject, "Password reset on Acme");
    let link = mail.link();
    assert!(
        link.starts_with("https://app.example.com/auth/password/reset-password-confirmation/?uid="),
        "{link}"
    );

    // A second request inside the cooldown sends nothing more; after it, a new link.
    assert_eq!(request().await.status(), 204);
    assert_eq!(outbox_rows(&app).await.len(), 1);

    clock.advance(Duration::seconds(3601));
    let (uid, token) = crate::helpers::uid_and_token(&link);
    let expired = app
        .post_json(
            "/auth/users/reset_password_confirm/",
            &json!({"uid": uid, "token": token, "new_password": "a fresh start 2026"}),
        )
        .await;
    assert_eq!(expired.status(), 400);
    assert_eq!(
        json_body(expired).await,
        json!({"token": ["Invalid token for given user."]})
    );
    assert_eq!(request().await.status(), 204);
    assert_eq!(app.wait_for_mail(2).await.len(), 2);
}

async fn reset_for_an_unknown_address_answers_the_same_and_sends_nothing(backend: Backend) {
    let Some(app) = app(backend, &[], None).await else {
        return;
    };
    create_user(&app, "tam", "tam@example.com", PASSWORD).await;
    let known = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "tam@example.com"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status(), 204);
    assert_eq!(unknown.status(), 204);
    let headers = |r: &reqwest::Response| {
        let mut names: Vec<String> = r
            .headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k != "date" && k != "x-request-id")
            .collect();
        names.sort();
        names
    };
    assert_eq!(headers(&known), headers(&unknown));
    assert_eq!(known.bytes().await.unwrap(), unknown.bytes().await.unwrap());
    // Every message goes through the outbox in the request's own transaction: one row now
    // means one message ever, with nothing to wait for.
    assert_eq!(app.wait_for_mail(1).await.len(), 1);
    assert_eq!(
        outbox_rows(&app).await.len(),
        1,
        "nothing is queued for the unknown address"
    );

    let invalid = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "not-an-email"}),
        )
        .await;
    assert_eq!(invalid.status(), 400);
    assert_eq!(
        json_body(invalid).await,
        json!({"email": ["Enter a valid email address."]})
    );
}

async fn activation_flow_with_confirmation_and_stale_tokens(backend: Backend) {
    let Some(app) = app(
        backend,
        &[
            ("LATCHKEY_SEND_ACTIVATION_EMAIL", "true"),
            ("LATCHKEY_SEND_CONFIRMATION_EMAIL", "true"),
            ("LATCHKEY_MAIL_COOLDOWN", "0"),
        ],
        None,
    )
    .await
    else {
        return;
    };
    let register = |email: &str| {
        let app = &app;
        let body = json!({"email": email, "password": PASSWORD});
        async move { app.post_json("/auth/users/", &body).await }
    };
    let created = json_body(register("uma@example.com").await).await;
    assert_eq!(created["is_active"], false);
    let login = app
        .post_json(
            "/auth/jwt/create/",
            &json!({"username": "uma@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 401, "inactive until activated");

    let mail = app.wait_for_mail(1).await.remove(0);
    assert_eq!(mail.subject, "Account activation on Latchkey");
    let link = mail.link();
    assert!(
        link.starts_with("http://localhost:8000/accounts/activate/"),
        "{link}"
    );
    let (uid, token) = crate::helpers::uid_and_token(&link);
    let activate = |uid: &str, token: &str| {
        let app = &app;
        let body = json!({"uid": uid, "token": token});
        async move { app.post_json("/auth/users/activation/", &body).await }
    };
    assert_eq!(activate(&uid, &token).await.status(), 204);
    app.login("uma@example.com", PASSWORD).await;
    let again = activate(&uid, &token).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        json_body(again).await,
        json!({"token": ["Invalid token for given user."]})
    );
    let mails = app.wait_for_mail(2).await;
    assert!(mails.iter().any(
        |m| m.subject == "Latchkey - Your account has been successfully created and activated!"
    ));

    // Activated some other way (an operator) while the link is still unused: stale.
    json_body(register("val@example.com").await).await;
    let mails = app.wait_for_mail(3).await;
    let val_link = mails
        .iter()
        .find(|m| m.to == "val@example.com")
        .unwrap()
        .link();
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "val@example.com",
        true,
    )
    .await
    .unwrap();
    let (uid, token) = crate::helpers::uid_and_token(&val_link);
    let stale = activate(&uid, &token).await;
    assert_eq!(stale.status(), 403);
    assert_eq!(
        json_body(stale).await,
        json!({"detail": "Stale token for given user."})
    );

    // Resend: a new link for an inactive account, nothing for an active or unknown one.
    json_body(register("wyn@example.com").await).await;
    app.wait_for_mail(4).await;
    for email in ["wyn@example.com", "uma@example.com", "ghost@example.com"] {
        let response = app
            .post_json("/auth/users/resend_activation/", &json!({"email": email}))
            .await;
        assert_eq!(response.status(), 204, "{email}");
    }
    // Five rows in the outbox (checked below) means five messages ever.
    let mails = app.wait_for_mail(5).await;
    assert_eq!(
        mails.iter().filter(|m| m.to == "wyn@example.com").count(),
        2
    );
    assert_eq!(outbox_rows(&app).await.len(), 5);

    // An operator's deactivation cannot be undone with a link: resend sends nothing, and a
    // link mailed before the deactivation is stale.
    let pending_link = mails
        .iter()
        .rfind(|m| m.to == "wyn@example.com")
        .unwrap()
        .link();
    accounts::set_active(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "wyn@example.com",
        false,
    )
    .await
    .unwrap();
    let resend = app
        .post_json(
            "/auth/users/resend_activation/",
            &json!({"email": "wyn@example.com"}),
        )
        .await;
    assert_eq!(resend.status(), 204);
    let (uid, token) = crate::helpers::uid_and_token(&pending_link);
    let refused = activate(&uid, &token).await;
    assert_eq!(refused.status(), 403);
    let user = accounts::get_by_username(
        &app.state,
        &latchkey::accounts::Actor::Operator,
        "wyn@example.com",
    )
    .await
    .unwrap();
    assert!(!user.is_active, "still deactivated");
    assert_eq!(outbox_rows(&app).await.len(), 5, "no new link was mailed");
}

async fn prevent_enumeration_mails_the_owner_instead(backend: Backend) {
    let Some(app) = app(backend, &[("LATCHKEY_PREVENT_ENUMERATION", "true")], None).await else {
        return;
    };
    let new = app
        .post_json(
            "/auth/users/",
            &json!({"email": "xia@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(new.status(), 201);
    let first = json_body(new).await;
    let taken = app
        .post_json(
            "/auth/users/",
            &json!({"email": "XIA@example.com", "password": "another fine one"}),
        )
        .await;
    assert_eq!(taken.status(), 201);
    let second = json_body(taken).await;
    assert_eq!(
        first,
        json!({"email": "xia@example.com", "username": "xia@example.com"})
    );
    assert_eq!(
        second,
        json!({"email": "XIA@example.com", "username": "xia@example.com"})
    );
    let mail = app.wait_for_mail(1).await.remove(0);
    assert_eq!(mail.to, "xia@example.com");
    assert_eq!(mail.subject, "Sign-up attempt on Latchkey");
    assert_eq!(crate::helpers::all_users(&app.state).await.len(), 1);
    app.login("xia@example.com", PASSWORD).await;
}

async fn password_change_sends_a_notice(backend: Backend) {
    let Some(app) = app(backend, &[], None).await else {
        return;
    };
    create_user(&app, "yan", "yan@example.com", PASSWORD).await;
    let tokens = app.login("yan", PASSWORD).await;
    let response = app
        .send_bearer(
            reqwest::Method::POST,
            "/auth/users/set_password/",
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_password": "brand new secret 99"}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let mail = app.wait_for_mail(1).await.remove(0);
    assert_eq!(
        mail.subject,
        "Latchkey - Your password has been successfully changed!"
    );
    assert_eq!(mail.to, "yan@example.com");
}

/// A real SMTP server (aiosmtpd) writing to a maildir; `None` (loudly) when it is not installed
/// outside CI.
struct Smtp {
    child: Child,
    port: u16,
    stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aiosmtpd's own SMTP protocol and Maildir handler. The script binds a port the system picks
/// and prints it; with `later` it waits for a line on stdin before listening, so the port is
/// held (connections to it refused, as to a server that is down) and nobody else can take it
/// in between. It prints `listening` once it accepts connections.
const SMTP_SERVER: &str = r#"
import asyncio, socket, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
if sys.argv[2] == "later":
    sys.stdin.readline()

async def main():
    handler = Mailbox(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), sock=sock)
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

/// Starts aiosmtpd on a port of its own: listening at once, or (`later`) only when
/// [`Smtp::listen`] says so.
async fn start_smtp(maildir: &Path, later: bool) -> Option<Smtp> {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        crate::helpers::missing_tool("aiosmtpd is not installed (pip install aiosmtpd)");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SMTP_SERVER])
        // A path that does not exist yet: Maildir creates it with its tmp/new/cur folders.
        .arg(maildir.join("box"))
        .arg(if later { "later" } else { "now" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aiosmtpd");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("aiosmtpd's stdout"));
    let mut smtp = Smtp {
        child,
        port: 0,
        stdout: Some(stdout),
    };
    let line = smtp.read_line().await;
    smtp.port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("aiosmtpd did not bind a port (it printed {line:?})"));
    if !later {
        smtp.wait_listening().await;
    }
    Some(smtp)
}

impl Smtp {
    /// The next line aiosmtpd prints.
    async fn read_line(&mut self) -> String {
        let mut stdout = self.stdout.take().expect("aiosmtpd's stdout");
        let (stdout, line) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let read = std::io::BufRead::read_line(&mut stdout, &mut line);
            (stdout, read.map(|_| line))
        })
        .await
        .expect("reading aiosmtpd's output");
        self.stdout = Some(stdout);
        line.expect("aiosmtpd's output")
    }

    async fn wait_listening(&mut self) {
        let line = self.read_line().await;
        assert_eq!(line.trim(), "listening", "aiosmtpd did not start");
    }

    /// A server started `later` begins to accept connections on its port.
    async fn listen(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("aiosmtpd's stdin");
        std::io::Write::write_all(stdin, b"go\n").expect("telling aiosmtpd to listen");
        self.wait_listening().await;
    }
}

async fn smtp_delivers_both_bodies_to_a_real_server(backend: Backend) {
    let maildir = tempfile::tempdir().unwrap();
    let Some(server) = start_smtp(maildir.path(), false).await else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let Some(app) = app(
        backend,
        &[
            ("LATCHKEY_EMAIL_TRANSPORT", "smtp"),
            ("LATCHKEY_SMTP_URL", &url),
        ],
        None,
    )
    .await
    else {
        return;
    };
    create_user(&app, "zed", "zed@example.com", PASSWORD).await;
    let response = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "zed@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let mails = wait_for_files(&maildir.path().join("box/new"), 1).await;
    let mail = &mails[0];
    assert_eq!(mail.subject, "Password reset on Latchkey");
    assert!(mail.text.contains("/accounts/reset/"), "{}", mail.text);
    assert!(
        mail.html
            .contains("<a href=\"http://localhost:8000/accounts/reset/"),
        "{}",
        mail.html
    );

    // sendtestemail goes through the same transport and reports the server's answer.
    let mut env = base_env(&app.db);
    env.insert("LATCHKEY_EMAIL_TRANSPORT".into(), "smtp".into());
    env.insert("LATCHKEY_SMTP_URL".into(), url.clone());
    let out = run_cli(
        &["sendtestemail", "ops@example.com"],
        &env,
        app.db.dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Sent a test email to ops@example.com: 250"),
        "{}",
        stdout(&out)
    );
    let mails = wait_for_files(&maildir.path().join("box/new"), 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject == "Test email from Latchkey")
    );
}

async fn the_outbox_keeps_mail_while_smtp_is_down_and_delivers_later(backend: Backend) {
    // The mail server is down at its address first (its port bound but not listening, so
    // connections are refused and no other process can take the port meanwhile) and comes up
    // at the same address later.
    let maildir = tempfile::tempdir().unwrap();
    let Some(mut server) = start_smtp(maildir.path(), true).await else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let Some((app, clock)) = spawn_app_on_clock(
        backend,
        &[
            ("LATCHKEY_EMAIL_TRANSPORT", "smtp"),
            ("LATCHKEY_SMTP_URL", &url),
        ],
    )
    .await
    else {
        return;
    };
    create_user(&app, "ada", "ada@example.com", PASSWORD).await;
    let response = app
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(
        response.status(),
        204,
        "the request does not wait for the mail server"
    );

    // Generous (the loop ends as soon as the attempt is recorded): the full suite loads both cores.
    let mut failed = None;
    for _ in 0..400 {
        let rows = outbox_rows(&app).await;
        if rows.first().is_some_and(|m| m.last_error.is_some()) {
            failed = rows.into_iter().next();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed = failed.expect("a failed attempt is recorded");
    assert_eq!(failed.attempts, 1);
    assert!(failed.sent_at.is_none());
    assert_eq!(
        failed.next_attempt_at,
        clock.now_naive() + Duration::seconds(10)
    );
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("onnection"),
        "{failed:?}"
    );

    // Without the sendtestemail fallback: the CLI reports the failure at once.
    let mut env = base_env(&app.db);
    env.insert("LATCHKEY_EMAIL_TRANSPORT".into(), "smtp".into());
    env.insert("LATCHKEY_SMTP_URL".into(), url.clone());
    let out = run_cli(
        &["sendtestemail", "ops@example.com"],
        &env,
        app.db.dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("Error: sending:"),
        "{}",
        stderr(&out)
    );

    server.listen().await;
    clock.advance(Duration::seconds(11));
    let mails = wait_for_files(&maildir.path().join("box/new"), 1).await;
    assert_eq!(mails[0].to, "ada@example.com");
    let rows = outbox_rows(&app).await;
    assert!(rows[0].sent_at.is_some());
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(rows.len(), 1, "sent once");
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn reset_timing_does_not_reveal_which_addresses_exist(backend: Backend) {
    // One client sends all 100 requests: the per-IP bucket must not be what is measured.
    let Some(app) = app(backend, &[("LATCHKEY_THROTTLE_IP_BURST", "1000")], None).await else {
        return;
    };
    const TRIES: usize = 50;
    for i in 0..TRIES {
        create_user(
            &app,
            &format!("t{i}"),
            &format!("t{i}@example.com"),
            PASSWORD,
        )
        .await;
    }
    let mut known = Vec::with_capacity(TRIES);
    let mut unknown = Vec::with_capacity(TRIES);
    // Interleaved, so drift on a shared machine hits both sides alike.
    for i in 0..TRIES {
        for (email, samples) in [
            (format!("t{i}@example.com"), &mut known),
            (format!("u{i}@example.com"), &mut unknown),
        ] {
            let started = std::time::Instant::now();
            let response = app
                .post_json("/auth/users/reset_password/", &json!({"email": email}))
                .await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(response.status(), 204);
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    assert!(
        (known - unknown).abs() < 5.0,
        "median reset time: existing {known:.2} ms, unknown {unknown:.2} ms"
    );
    assert_eq!(outbox_rows(&app).await.len(), TRIES);
}

backend_tests!(
    two_workers_on_one_database_send_each_message_once,
    email_change_notice_goes_to_the_old_address
);

async fn two_workers_on_one_database_send_each_message_once(backend: Backend) {
    let Some(app) = app(backend, &[("LATCHKEY_OUTBOX_POLL_MS", "3600000")], None).await else {
        return;
    };
    // The app's own worker sleeps (an hour between polls, and nothing wakes it): two other
    // "processes" below share the outbox.
    let rendered = latchkey::mail::RenderedMail {
        subject: "Hello".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
    };
    let now = app.state.clock.now_naive();
    app.state
        .db
        .run(move |conn| -> Result<(), DbError> {
            for i in 0..30 {
                outbox::enqueue(
                    conn,
                    "from@example.com",
                    &format!("r{i}@example.com"),
                    &rendered,
                    now,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let first = crate::helpers::state_for(&app.db);
    let second = crate::helpers::state_for(&app.db);
    let mut claimed = (0, 0);
    loop {
        let (a, b) = tokio::join!(
            latchkey::mail::deliver_due(&first.delivery, "first"),
            latchkey::mail::deliver_due(&second.delivery, "second")
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        if a + b == 0 {
            break;
        }
        claimed = (claimed.0 + a, claimed.1 + b);
    }
    // (The app's own worker may have taken some in its first round at start-up.)
    assert!(
        claimed.0 + claimed.1 <= 30,
        "claims never overlap: {claimed:?}"
    );
    assert_eq!(app.wait_for_mail(30).await.len(), 30);
    let outbox = outbox_rows(&app).await;
    assert!(
        outbox
            .iter()
            .all(|m| m.sent_at.is_some() && m.attempts == 1),
        "{outbox:?}"
    );
}

async fn email_change_notice_goes_to_the_old_address(backend: Backend) {
    let Some(app) = app(backend, &[], None).await else {
        return;
    };
    create_user(&app, "bea", "bea@old.example", PASSWORD).await;
    let tokens = app.login("bea", PASSWORD).await;
    let response = app
        .send_bearer(
            reqwest::Method::POST,
            "/auth/users/set_email/",
            &tokens.access,
            &json!({"current_password": PASSWORD, "new_email": "bea@new.example"}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let confirm = app.wait_for_mail(1).await.remove(0);
    assert_eq!(confirm.to, "bea@new.example");
    let (uid, token) = crate::helpers::uid_and_token(&confirm.link());
    let confirmed = app
        .post_json(
            "/auth/users/set_email_confirm/",
            &json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    // On by default: the old address hears about it.
    let mails = app.wait_for_mail(2).await;
    let mail = mails.iter().find(|m| m.to == "bea@old.example").unwrap();
    assert_eq!(
        mail.subject,
        "Latchkey - Your email address has been changed"
    );
    assert!(
        mail.text.contains("was changed to bea@new.example"),
        "{}",
        mail.text
    );
}

use actix_identity::Identity;
use actix_session::Session;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tera::Context;

use super::form::Form;
use super::{PageTemplates, csrf};
use crate::accounts::service::{self, Registration};
use crate::accounts::{AccountsError, User, flows};
use crate::domain::{Email, FieldErrors, PersonName, Username};
use crate::state::AppState;
use crate::tokens::TokenError;
use crate::tokens::service as tokens;
use crate::web::api::client_meta;

/// Django's message for any failed login (unknown user, wrong password, inactive account).
pub(super) const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";
pub(super) const PROFILE: &str = "/accounts/profile/";
const FLASH: &str = "flash";

/// Queues a message for the next page (post/redirect/get).
pub(super) fn flash(session: &Session, message: &str) {
    let mut messages = session
        .get::<Vec<String>>(FLASH)
        .ok()
        .flatten()
        .unwrap_or_default();
    messages.push(message.to_owned());
    if let Err(e) = session.insert(FLASH, messages) {
        tracing::warn!(error = %e, "cannot store a flash message");
    }
}
pub(super) const LOGIN: &str = "/accounts/login/";

/// Every page: friendly HTML for errors that arrive as bare or JSON bodies (unknown pages, a
/// handler's 500, the per-IP limit's 429), then the security headers.
pub async fn page_middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let path = req.path().to_owned();
    let res = next.call(req).await?;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let status = res.status();
    let replace = !is_html
        && matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::NOT_FOUND
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::TOO_MANY_REQUESTS
        );
    let mut res = if replace {
        // The page replaces the error response, so log the client's fault here (the server's
        // own faults were logged where they happened).
        if let Some(error) = res.response().error()
            && status.is_client_error()
        {
            tracing::warn!(%status, %error, "answered with the HTML error page");
        }
        let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
        let page = friendly_error(res.request(), status, retry_after.as_ref());
        res.into_response(page).map_into_right_body()
    } else {
        res.map_into_left_body()
    };
    let hsts = res
        .request()
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.settings.secure_cookies);
    let private_url =
        path.starts_with("/accounts/reset/") || path.starts_with("/accounts/activate/");
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages whose URL carries a one-time token never leak it in a Referer.
    let referrer = if private_url {
        "no-referrer"
    } else {
        "same-origin"
    };
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(res)
}

/// The HTML page for an error status (404, 500, 429), with the request id.
fn friendly_error(
    req: &HttpRequest,
    status: StatusCode,
    retry_after: Option<&HeaderValue>,
) -> HttpResponse {
    let (Some(state), Some(templates)) = (
        req.app_data::<web::Data<AppState>>(),
        req.app_data::<web::Data<PageTemplates>>(),
    ) else {
        return HttpResponse::build(status).finish();
    };
    let mut context = Context::new();
    context.insert("site_name", &state.settings.mail.site_name);
    context.insert("user", &None::<User>);
    context.insert("messages", &Vec::<String>::new());
    context.insert("csrf_token", "");
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string);
    context.insert("request_id", &request_id);
    let name = match status {
        StatusCode::NOT_FOUND => "errors/404.html",
        StatusCode::SERVICE_UNAVAILABLE => "errors/503.html",
        StatusCode::BAD_REQUEST | StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE => {
            let message = match status {
                StatusCode::REQUEST_TIMEOUT => "The form was not received in time.",
                StatusCode::PAYLOAD_TOO_LARGE => "The form is too large.",
                _ => "The form could not be read: it may contain characters that are not allowed.",
            };
            context.insert("message", message);
            "errors/400.html"
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let seconds = retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(60);
            context.insert("wait", &wait_text(seconds));
            "accounts/throttled.html"
        }
        _ => "errors/500.html",
    };
    let mut response = templates.page(status, name, &context);
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, value.clone());
    }
    response
}

/// "N seconds" under a minute, else "N minutes" (rounded up).
fn wait_text(seconds: u64) -> String {
    if seconds < 60 {
        format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
    } else {
        let minutes = seconds.div_ceil(60);
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

/// The context every page gets: site name, CSRF token, the user (if any), request id.
pub(super) fn base_context(
    state: &AppState,
    session: &Session,
    req: &HttpRequest,
    user: Option<&User>,
) -> Context {
    let mut context = Context::new();
    context.insert("site_name", &state.settings.mail.site_name);
    context.insert("csrf_token", &csrf::token(session));
    context.insert("user", &user);
    // Flash messages are shown once: reading them removes them.
    let messages = session
        .remove_as::<Vec<String>>(FLASH)
        .and_then(Result::ok)
        .unwrap_or_default();
    context.insert("messages", &messages);
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string);
    context.insert("request_id", &request_id);
    context
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `next=` is followed only for same-origin relative paths: `/x`, never `//host` or `/\host`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n
        }
        _ => PROFILE,
    }
}

/// The logged-in user of a live browser session and its id, `None` when there is none (no
/// cookie, or its session ended), or the error page when the lookup itself failed: a database
/// blip must not log anyone out.
async fn current_user(
    state: &AppState,
    identity: Option<&Identity>,
) -> Result<Option<(User, String)>, HttpResponse> {
    let Some(sid) = identity.and_then(|i| i.id().ok()) else {
        return Ok(None);
    };
    match tokens::browser_session_user(state, &sid).await {
        Ok(user) => Ok(Some((user, sid))),
        Err(e @ (TokenError::Unexpected(_) | TokenError::Unavailable)) => {
            Err(failed("cannot check the browser session", &e))
        }
        Err(_) => Ok(None),
    }
}

pub(super) fn csrf_failure(
    templates: &PageTemplates,
    state: &AppState,
    session: &Session,
    req: &HttpRequest,
) -> HttpResponse {
    csrf::rotate(session);
    let context = base_context(state, session, req, None);
    templates.page(StatusCode::FORBIDDEN, "errors/403_csrf.html", &context)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// GET /accounts/login/
pub async fn login_form(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    query: web::Query<NextQuery>,
    req: HttpRequest,
) -> HttpResponse {
    match current_user(&state, identity.as_ref()).await {
        Ok(Some(_)) => return see_other(safe_next(query.next.as_deref())),
        Ok(None) => {}
        Err(page) => return page,
    }
    let mut context = base_context(&state, &session, &req, None);
    context.insert("next", safe_next(query.next.as_deref()));
    context.insert("username", "");
    templates.page(StatusCode::OK, "accounts/login.html", &context)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// POST /accounts/login/ — one message for every failed login; success renews the session id
/// and the CSRF token and redirects (303) to a safe `next`.
pub async fn login_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    form: Form<LoginForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let meta = client_meta(&req);
    let next = safe_next(form.next.as_deref()).to_owned();
    match tokens::browser_login(&state, form.username.trim(), &form.password, &meta).await {
        Ok(sid) => {
            // Identity::login renews the session id (no fixation); the CSRF token is new too.
            if let Err(e) = Identity::login(&req.extensions(), sid) {
                return failed("cannot attach the session to the cookie", &e);
            }
            csrf::rotate(&session);
            see_other(&next)
        }
        Err(TokenError::Throttled { retry_after }) => {
            throttled_page(&state, &templates, &session, &req, retry_after)
        }
        Err(e @ TokenError::Unavailable) => failed("login failed", &e),
        Err(TokenError::Unexpected(e)) => failed("login failed unexpectedly", e.as_ref()),
        Err(_) => {
            let mut context = base_context(&state, &session, &req, None);
            context.insert("next", &next);
            context.insert("username", form.username.trim());
            context.insert("form_error", LOGIN_FAILED);
            templates.page(StatusCode::BAD_REQUEST, "accounts/login.html", &context)
        }
    }
}

pub(super) fn server_error() -> HttpResponse {
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body("A server error occurred.")
}

/// A form that carries nothing but its CSRF token (logout, end session, activate).
#[derive(Deserialize)]
pub struct CsrfForm {
    pub(super) csrf_token: Option<String>,
}

/// POST /accounts/logout/ — ends the session row and clears the cookie's session.
pub async fn logout(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    form: Form<CsrfForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    if let Some(identity) = identity {
        if let Ok(sid) = identity.id()
            && let Err(e) = tokens::end_session(&state, &sid).await
        {
            return failed("cannot end the session", &e);
        }
        identity.logout();
    }
    let context = base_context(&state, &session, &req, None);
    templates.page(StatusCode::OK, "accounts/logged_out.html", &context)
}

#[derive(Serialize)]
struct SessionRow {
    id: String,
    kind: String,
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
    current: bool,
}

/// A public handle for a session: the raw id stays out of pages.
fn session_handle(sid: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"latchkey:session-handle:")
        .chain_update(sid.as_bytes())
        .finalize();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn when(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// What the account page's forms show again after a refused post.
#[derive(Default)]
struct Refused<'a> {
    errors: FieldErrors,
    new_email: &'a str,
}

/// The account page with its forms (names, email) and sessions table.
async fn profile_page(
    state: &AppState,
    templates: &PageTemplates,
    session: &Session,
    req: &HttpRequest,
    (user, current_sid): (&User, &str),
    refused: Refused<'_>,
) -> HttpResponse {
    let Refused { errors, new_email } = refused;
    let sessions = match tokens::list_sessions(state, user.id).await {
        Ok(sessions) => sessions,
        Err(e) => {
            return failed("cannot list sessions", &e);
        }
    };
    let rows: Vec<SessionRow> = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: session_handle(&s.id),
            current: s.id == current_sid,
            kind: s.kind,
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            ip: s.ip.unwrap_or_default(),
            user_agent: s.user_agent.unwrap_or_default(),
        })
        .collect();
    let mut context = base_context(state, session, req, Some(user));
    context.insert("sessions", &rows);
    context.insert("joined", &when(user.date_joined));
    context.insert("new_email", new_email);
    let errors: std::collections::HashMap<&str, &[String]> = errors.iter().collect();
    context.insert("errors", &errors);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    templates.page(status, "accounts/profile.html", &context)
}

/// GET /accounts/profile/ — the account page; anonymous visitors go to the login page.
pub async fn profile(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
) -> HttpResponse {
    match require_user(&state, identity, PROFILE).await {
        Ok((user, sid)) => {
            let current = (&user, sid.as_str());
            profile_page(
                &state,
                &templates,
                &session,
                &req,
                current,
                Refused::default(),
            )
            .await
        }
        Err(redirect) => redirect,
    }
}

#[derive(Deserialize)]
pub struct NamesForm {
    csrf_token: Option<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// POST /accounts/profile/ — first and last name.
pub async fn profile_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    form: Form<NamesForm>,
) -> HttpResponse {
    let (user, sid) = match authorized_post(
        &state,
        &templates,
        &session,
        &req,
        identity,
        form.csrf_token.as_deref(),
        PROFILE,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut errors = FieldErrors::new();
    let first_name = PersonName::parse(&form.first_name)
        .map_err(|e| errors.add("first_name", e.to_string()))
        .ok();
    let last_name = PersonName::parse(&form.last_name)
        .map_err(|e| errors.add("last_name", e.to_string()))
        .ok();
    if !errors.is_empty() {
        let refused = Refused {
            errors,
            new_email: "",
        };
        let current = (&user, sid.as_str());
        return profile_page(&state, &templates, &session, &req, current, refused).await;
    }
    let changes = service::ProfileChanges {
        email: None,
        first_name,
        last_name,
    };
    match service::update_profile(&state, user.id, changes).await {
        Ok(_) => {
            flash(&session, "Your details were saved.");
            see_other(PROFILE)
        }
        Err(e) => failed("profile update failed", &e),
    }
}

#[derive(Deserialize)]
pub struct EmailChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    current_password: String,
}

/// Django-form words for the core's set_email errors.
fn email_form_errors(errors: &FieldErrors) -> FieldErrors {
    let mut worded = FieldErrors::new();
    for (field, messages) in errors.iter() {
        for message in messages {
            match field {
                "current_password" => worded.add(
                    "current_password",
                    "Your password was entered incorrectly. Please enter it again.",
                ),
                _ => worded.add("new_email", message.clone()),
            }
        }
    }
    worded
}

/// POST /accounts/email/ — the same core as set_email: the password, then a link to the new
/// address; nothing changes until it is opened.
pub async fn email_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    form: Form<EmailChangeForm>,
) -> HttpResponse {
    let csrf_token = form.csrf_token.as_deref();
    let (user, sid) = match authorized_post(
        &state, &templates, &session, &req, identity, csrf_token, PROFILE,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let outcome = match Email::parse(&form.new_email) {
        Ok(email) => {
            let keep = Some(sid.clone());
            flows::request_email_change(&state, &user, &form.current_password, email, keep).await
        }
        Err(e) => Err(AccountsError::Validation(field(
            "new_email",
            &e.to_string(),
        ))),
    };
    match outcome {
        Ok(()) => {
            let sent = format!(
                "We sent a link to {}. Your address changes when you open it.",
                form.new_email.trim()
            );
            flash(&session, &sent);
            see_other(PROFILE)
        }
        Err(AccountsError::Validation(errors)) => {
            let refused = Refused {
                errors: email_form_errors(&errors),
                new_email: form.new_email.trim(),
            };
            let current = (&user, sid.as_str());
            profile_page(&state, &templates, &session, &req, current, refused).await
        }
        Err(AccountsError::Throttled { retry_after }) => {
            throttled_page(&state, &templates, &session, &req, retry_after)
        }
        Err(e) => failed("email change failed", &e),
    }
}

fn field(name: &str, message: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(name, message);
    errors
}

/// The "too many attempts" page with `Retry-After`.
pub(super) fn throttled_page(
    state: &AppState,
    templates: &PageTemplates,
    session: &Session,
    req: &HttpRequest,
    retry_after: u64,
) -> HttpResponse {
    let mut context = base_context(state, session, req, None);
    context.insert("wait", &wait_text(retry_after));
    let mut response = templates.page(
        StatusCode::TOO_MANY_REQUESTS,
        "accounts/throttled.html",
        &context,
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// POST /accounts/sessions/{handle}/end/ — ends one of the user's other sessions.
pub async fn end_session(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    handle: web::Path<String>,
    form: Form<CsrfForm>,
) -> HttpResponse {
    let (user, _) = match authorized_post(
        &state,
        &templates,
        &session,
        &req,
        identity,
        form.csrf_token.as_deref(),
        PROFILE,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let target = match tokens::list_sessions(&state, user.id).await {
        Ok(sessions) => sessions
            .into_iter()
            .find(|s| session_handle(&s.id) == *handle),
        Err(e) => {
            return failed("cannot list sessions", &e);
        }
    };
    if let Some(target) = target {
        if let Err(e) = tokens::end_own_session(&state, user.id, &target.id).await {
            return failed("cannot end a session", &e);
        }
        flash(&session, "The session was ended.");
    }
    see_other(PROFILE)
}

/// POST /accounts/sessions/end-others/ — every session but this one ends.
pub async fn end_other_sessions(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    form: Form<CsrfForm>,
) -> HttpResponse {
    let (user, sid) = match authorized_post(
        &state,
        &templates,
        &session,
        &req,
        identity,
        form.csrf_token.as_deref(),
        PROFILE,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    match tokens::revoke_other_sessions(&state, user.id, Some(sid)).await {
        Ok(ended) => {
            flash(
                &session,
                &format!(
                    "{ended} other session{} ended.",
                    if ended == 1 { "" } else { "s" }
                ),
            );
            see_other(PROFILE)
        }
        Err(e) => failed("cannot end sessions", &e),
    }
}

/// Django's form message for two differing passwords (typographic apostrophe).
pub(super) const PASSWORDS_DIFFER: &str = "The two password fields didn\u{2019}t match.";

/// The logged-in user, or a redirect to the login page that comes back to `here`.
async fn require_user(
    state: &AppState,
    identity: Option<Identity>,
    here: &str,
) -> Result<(User, String), HttpResponse> {
    match current_user(state, identity.as_ref()).await? {
        Some(found) => Ok(found),
        None => {
            if let Some(identity) = identity {
                identity.logout();
            }
            Err(see_other(&format!("{LOGIN}?next={here}")))
        }
    }
}

/// The start of every logged-in form post: the CSRF check, then the live session's user
/// (or the page to answer with instead).
async fn authorized_post(
    state: &AppState,
    templates: &PageTemplates,
    session: &Session,
    req: &HttpRequest,
    identity: Option<Identity>,
    csrf_token: Option<&str>,
    here: &str,
) -> Result<(User, String), HttpResponse> {
    if !csrf::verify(req, session, csrf_token) {
        return Err(csrf_failure(templates, state, session, req));
    }
    require_user(state, identity, here).await
}

/// Logs what failed (with its cause chain) and answers the 500 page, or the 503 page with
/// `Retry-After` when the database could not be reached (or hashing is saturated).
pub(super) fn failed(what: &str, e: &(dyn std::error::Error + 'static)) -> HttpResponse {
    let unavailable = matches!(
        e.downcast_ref::<AccountsError>(),
        Some(AccountsError::Unavailable)
    ) || matches!(
        e.downcast_ref::<TokenError>(),
        Some(TokenError::Unavailable)
    );
    if unavailable {
        tracing::warn!("{what}: service unavailable");
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .content_type("text/plain; charset=utf-8")
            .body("Service temporarily unavailable, try again later.");
    }
    tracing::error!(error.chain = %crate::telemetry::error_chain(e), "{what}");
    server_error()
}

/// GET /accounts/password_change/
pub async fn password_change_form(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
) -> HttpResponse {
    let user = match require_user(&state, identity, "/accounts/password_change/").await {
        Ok((user, _)) => user,
        Err(redirect) => return redirect,
    };
    let mut context = base_context(&state, &session, &req, Some(&user));
    context.insert(
        "errors",
        &std::collections::HashMap::<String, Vec<String>>::new(),
    );
    templates.page(StatusCode::OK, "accounts/password_change.html", &context)
}

#[derive(Deserialize)]
pub struct PasswordChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

/// POST /accounts/password_change/ — the core's set_password: this session stays, every other
/// session and refresh family ends. Errors come back in Django's form words.
pub async fn password_change_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
    form: Form<PasswordChangeForm>,
) -> HttpResponse {
    let (user, sid) = match authorized_post(
        &state,
        &templates,
        &session,
        &req,
        identity,
        form.csrf_token.as_deref(),
        "/accounts/password_change/",
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let form = form.into_inner();
    let outcome = service::change_password(
        &state,
        &user,
        &form.old_password,
        form.new_password1,
        Some(&form.new_password2),
        Some(sid),
    )
    .await;
    match outcome {
        Ok(()) => see_other("/accounts/password_change/done/"),
        Err(AccountsError::Validation(errors)) => {
            let mut fields: std::collections::HashMap<&str, Vec<String>> =
                std::collections::HashMap::new();
            for (field, messages) in errors.iter() {
                for message in messages {
                    let (name, text) = match field {
                        "current_password" => (
                            "old_password",
                            "Your old password was entered incorrectly. Please enter it again."
                                .to_owned(),
                        ),
                        "non_field_errors" => ("new_password2", PASSWORDS_DIFFER.to_owned()),
                        _ => ("new_password2", message.clone()),
                    };
                    fields.entry(name).or_default().push(text);
                }
            }
            let mut context = base_context(&state, &session, &req, Some(&user));
            context.insert("errors", &fields);
            templates.page(
                StatusCode::BAD_REQUEST,
                "accounts/password_change.html",
                &context,
            )
        }
        Err(AccountsError::Throttled { retry_after }) => {
            throttled_page(&state, &templates, &session, &req, retry_after)
        }
        Err(e) => failed("password change failed", &e),
    }
}

/// GET /accounts/password_change/done/
pub async fn password_change_done(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    identity: Option<Identity>,
    req: HttpRequest,
) -> HttpResponse {
    let user = match require_user(&state, identity, "/accounts/password_change/done/").await {
        Ok((user, _)) => user,
        Err(redirect) => return redirect,
    };
    let context = base_context(&state, &session, &req, Some(&user));
    templates.page(
        StatusCode::OK,
        "accounts/password_change_done.html",
        &context,
    )
}

#[derive(Serialize)]
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
    required: bool,
    value: &'a str,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password1: String,
    #[serde(default)]
    password2: String,
}

fn register_page(
    templates: &PageTemplates,
    mut context: Context,
    status: StatusCode,
    form: &RegisterForm,
    errors: &FieldErrors,
) -> HttpResponse {
    let messages = |name: &str| errors.get(name).map(<[String]>::to_vec).unwrap_or_default();
    // Passwords are never sent back; their messages sit under the confirmation, as in Django.
    let mut password2 = messages("password");
    password2.extend(messages("password2"));
    let fields = [
        Field {
            name: "email",
            label: "Email address",
            kind: "email",
            autocomplete: "email",
            required: true,
            value: &form.email,
            errors: messages("email"),
        },
        Field {
            name: "username",
            label: "Username (optional: your email is used otherwise)",
            kind: "text",
            autocomplete: "username",
            required: false,
            value: &form.username,
            errors: messages("username"),
        },
        Field {
            name: "first_name",
            label: "First name",
            kind: "text",
            autocomplete: "given-name",
            required: false,
            value: &form.first_name,
            errors: messages("first_name"),
        },
        Field {
            name: "last_name",
            label: "Last name",
            kind: "text",
            autocomplete: "family-name",
            required: false,
            value: &form.last_name,
            errors: messages("last_name"),
        },
        Field {
            name: "password1",
            label: "Password",
            kind: "password",
            autocomplete: "new-password",
            required: true,
            value: "",
            errors: Vec::new(),
        },
        Field {
            name: "password2",
            label: "Password confirmation",
            kind: "password",
            autocomplete: "new-password",
            required: true,
            value: "",
            errors: password2,
        },
    ];
    context.insert("fields", &fields);
    templates.page(status, "accounts/register.html", &context)
}

/// GET /accounts/register/
pub async fn register_form(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
) -> HttpResponse {
    let context = base_context(&state, &session, &req, None);
    register_page(
        &templates,
        context,
        StatusCode::OK,
        &RegisterForm::default(),
        &FieldErrors::new(),
    )
}

/// POST /accounts/register/ — the same core registration as the API (policy, uniqueness,
/// activation mail, enumeration protection).
pub async fn register_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    form: Form<RegisterForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let form = form.into_inner();
    let mut errors = FieldErrors::new();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.add("email", e.to_string()))
        .ok();
    let username = match form.username.trim() {
        "" => None,
        raw => Username::parse(raw)
            .map_err(|e| errors.add("username", e.to_string()))
            .ok(),
    };
    let first_name = PersonName::parse(&form.first_name)
        .map_err(|e| errors.add("first_name", e.to_string()))
        .ok();
    let last_name = PersonName::parse(&form.last_name)
        .map_err(|e| errors.add("last_name", e.to_string()))
        .ok();
    if form.password1 != form.password2 {
        errors.add("password2", PASSWORDS_DIFFER);
    }
    let outcome = match (email, first_name, last_name) {
        (Some(email), Some(first_name), Some(last_name)) if errors.is_empty() => {
            let registration = Registration {
                email,
                username,
                first_name,
                last_name,
                password: form.password1.clone(),
            };
            service::register(&state, registration).await
        }
        _ => Err(AccountsError::Validation(errors)),
    };
    match outcome {
        Ok(_) => {
            let mut context = base_context(&state, &session, &req, None);
            context.insert("activation", &state.settings.mail.send_activation_email);
            templates.page(StatusCode::OK, "accounts/registered.html", &context)
        }
        Err(AccountsError::Validation(errors)) => {
            let context = base_context(&state, &session, &req, None);
            register_page(&templates, context, StatusCode::BAD_REQUEST, &form, &errors)
        }
        Err(e) => failed("registration failed", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_a_same_origin_path() {
        assert_eq!(
            safe_next(Some("/accounts/profile/?tab=1")),
            "/accounts/profile/?tab=1"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/accounts/profile/", "{bad}");
        }
        assert_eq!(safe_next(None), "/accounts/profile/");
    }
}

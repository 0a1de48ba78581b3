//! What every page handler extracts — [`Page`] (templates, the cookie session, the request),
//! [`CurrentUser`], a CSRF-checked [`Checked`] form — and the one error type they answer with,
//! [`HtmlError`], whose pages `page_middleware` renders. Handlers stay: extract, one core call,
//! render or redirect.

use std::future::Future;
use std::pin::Pin;

use actix_identity::{Identity, IdentityExt};
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;
use tera::Context;

use super::form::Form;
use super::{PageTemplates, csrf};
use crate::accounts::{AccountsError, User};
use crate::sessions::SessionError;
use crate::state::AppState;
use crate::tokens::TokenError;
use crate::tokens::service as tokens;

/// The account page, where most forms come back to.
pub const PROFILE: &str = "/accounts/profile/";
/// The login page.
pub const LOGIN: &str = "/accounts/login/";
const FLASH: &str = "flash";

/// Why a page could not be served as asked. Each variant is a status; `page_middleware`
/// renders the page that goes with it (with the request id), so handlers only name the case.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// Not logged in (or the session ended): 303 to the login page, back to `next` after.
    #[error("login required")]
    LoginRequired {
        /// Where to come back to.
        next: String,
    },
    /// The form's CSRF token or the request's Origin did not match: the 403 page.
    #[error("CSRF check failed")]
    Csrf,
    /// Too many attempts: the 429 page with `Retry-After`.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// The database cannot be reached (or hashing is saturated): the 503 page.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else: logged with its cause chain, the 500 page.
    #[error("{0}")]
    Failed(#[source] anyhow::Error),
}

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::LoginRequired { .. } => StatusCode::SEE_OTHER,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::LoginRequired { next } => {
                response.insert_header((header::LOCATION, format!("{LOGIN}?next={next}")));
            }
            Self::Throttled(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::Failed(e) => {
                tracing::error!(error.chain = %crate::telemetry::error_chain(e.as_ref()), "page failed");
            }
            Self::Csrf => {}
        }
        response.finish()
    }
}

impl From<AccountsError> for HtmlError {
    /// What no form shows next to a field (see `words::form_errors` for those).
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Throttled { retry_after } => Self::Throttled(retry_after),
            AccountsError::Unavailable => Self::Unavailable,
            AccountsError::Unexpected(e) => Self::Failed(e),
            other => Self::Failed(other.into()),
        }
    }
}

impl From<TokenError> for HtmlError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Throttled { retry_after } => Self::Throttled(retry_after),
            TokenError::Unavailable => Self::Unavailable,
            other => Self::Failed(other.into()),
        }
    }
}

impl From<SessionError> for HtmlError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable => Self::Unavailable,
            SessionError::Unexpected(e) => Self::Failed(e),
        }
    }
}

/// A handler's result.
pub type PageResult = Result<HttpResponse, HtmlError>;

/// The templates, the cookie session and the request: what every page is rendered with.
pub struct Page {
    /// Application state.
    pub state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    /// The encrypted cookie session (CSRF token, flash messages, reset token).
    pub session: Session,
    /// The request.
    pub req: HttpRequest,
}

impl FromRequest for Page {
    type Error = HtmlError;
    type Future = std::future::Ready<Result<Self, HtmlError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let missing = || HtmlError::Failed(anyhow::anyhow!("page state is not configured"));
        let page = match (
            req.app_data::<web::Data<AppState>>(),
            req.app_data::<web::Data<PageTemplates>>(),
        ) {
            (Some(state), Some(templates)) => Ok(Self {
                state: state.clone(),
                templates: templates.clone(),
                session: req.get_session(),
                req: req.clone(),
            }),
            _ => Err(missing()),
        };
        std::future::ready(page)
    }
}

impl Page {
    /// What every template gets: site name, CSRF token, the user (if any), the flash messages
    /// (read once), the request id.
    pub fn context(&self, user: Option<&User>) -> Context {
        let mut context = Context::new();
        context.insert("site_name", &self.state.settings.mail.site_name);
        context.insert("csrf_token", &csrf::token(&self.session));
        context.insert("user", &user);
        let messages = self
            .session
            .remove_as::<Vec<String>>(FLASH)
            .and_then(Result::ok)
            .unwrap_or_default();
        context.insert("messages", &messages);
        context.insert("request_id", &request_id(&self.req));
        // "Continue with …" on the login and registration pages.
        let providers: Vec<SocialButton<'_>> = self
            .state
            .social
            .providers()
            .iter()
            .map(|p| SocialButton {
                name: &p.name,
                display_name: &p.display_name,
            })
            .collect();
        context.insert("social_providers", &providers);
        context
    }

    /// Renders a template.
    pub fn render(&self, status: StatusCode, name: &str, context: &Context) -> HttpResponse {
        self.templates.page(status, name, context)
    }

    /// Renders a template with the base context, `fill` adding the page's own values.
    pub fn show(
        &self,
        status: StatusCode,
        name: &str,
        user: Option<&User>,
        fill: impl FnOnce(&mut Context),
    ) -> HttpResponse {
        let mut context = self.context(user);
        fill(&mut context);
        self.render(status, name, &context)
    }

    /// Queues a message for the next page (post/redirect/get).
    pub fn flash(&self, message: &str) {
        let mut messages = self
            .session
            .get::<Vec<String>>(FLASH)
            .ok()
            .flatten()
            .unwrap_or_default();
        messages.push(message.to_owned());
        if let Err(e) = self.session.insert(FLASH, messages) {
            tracing::warn!(error = %e, "cannot store a flash message");
        }
    }
}

/// A configured provider's button.
#[derive(serde::Serialize)]
struct SocialButton<'a> {
    name: &'a str,
    display_name: &'a str,
}

/// The request id every log line of the request carries (shown on error pages).
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string)
}

/// 303 to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// "N seconds" under a minute, else "N minutes" (rounded up).
pub fn wait_text(seconds: u64) -> String {
    if seconds < 60 {
        format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
    } else {
        let minutes = seconds.div_ceil(60);
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

/// The logged-in user of a live browser session, and the session's id. Extracting it from a
/// request without one answers [`HtmlError::LoginRequired`] (and forgets a stale cookie); a
/// failed lookup answers the error page and keeps the session, so a database blip logs
/// nobody out.
pub struct CurrentUser {
    /// The user.
    pub user: User,
    /// The browser session's id.
    pub sid: String,
    /// When the person entered their password for this session.
    pub logged_in_at: chrono::NaiveDateTime,
}

impl CurrentUser {
    /// The user of the request's session, `None` when there is none (a stale cookie is
    /// forgotten), or the error that stopped the lookup.
    pub async fn find(req: &HttpRequest) -> Result<Option<Self>, HtmlError> {
        let Ok(identity) = req.get_identity() else {
            return Ok(None);
        };
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Err(HtmlError::Failed(anyhow::anyhow!("no app state")));
        };
        let Ok(sid) = identity.id() else {
            return Ok(None);
        };
        match tokens::browser_session_user(state, &sid).await {
            Ok((user, session)) => Ok(Some(Self {
                user,
                sid,
                logged_in_at: session.created_at,
            })),
            Err(e @ (TokenError::Unexpected(_) | TokenError::Unavailable)) => Err(e.into()),
            Err(_) => {
                Identity::logout(identity);
                Ok(None)
            }
        }
    }
}

/// Where the login page sends the person back to: the page asked for, or for a form post the
/// page the form lives on.
fn return_to(req: &HttpRequest) -> String {
    let path = req.path().trim_end_matches('/');
    if req.method() == actix_web::http::Method::GET {
        format!("{path}/")
    } else if path == "/accounts/password_change" {
        "/accounts/password_change/".to_owned()
    } else {
        PROFILE.to_owned()
    }
}

impl FromRequest for CurrentUser {
    type Error = HtmlError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, HtmlError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            CurrentUser::find(&req)
                .await?
                .ok_or_else(|| HtmlError::LoginRequired {
                    next: return_to(&req),
                })
        })
    }
}

/// The user of the request's session, if there is one (pages that anyone may see).
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = HtmlError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, HtmlError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { CurrentUser::find(&req).await.map(MaybeUser) })
    }
}

/// A form that carries the page's CSRF token.
pub trait CsrfForm {
    /// The submitted token.
    fn csrf_token(&self) -> Option<&str>;
}

/// A form whose CSRF token (and the request's Origin) matched: [`HtmlError::Csrf`] otherwise.
pub struct Checked<T>(pub T);

impl<T> std::ops::Deref for Checked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + CsrfForm + 'static> FromRequest for Checked<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            if csrf::verify(&req, &req.get_session(), form.csrf_token()) {
                Ok(Checked(form))
            } else {
                Err(HtmlError::Csrf.into())
            }
        })
    }
}

/// A form with nothing but its CSRF token (logout, end a session, use a link).
#[derive(serde::Deserialize)]
pub struct TokenOnly {
    csrf_token: Option<String>,
}

/// Implements [`CsrfForm`] for form structs with a `csrf_token: Option<String>` field.
macro_rules! csrf_form {
    ($($form:ty),* $(,)?) => {
        $(impl $crate::web::html::page::CsrfForm for $form {
            fn csrf_token(&self) -> Option<&str> {
                self.csrf_token.as_deref()
            }
        })*
    };
}
pub(super) use csrf_form;

csrf_form!(TokenOnly);

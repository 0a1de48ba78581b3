use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use tera::{Context, Tera};

/// The page templates, compiled into the binary and parsed once at start-up.
#[derive(Debug, Clone)]
pub struct PageTemplates {
    tera: Tera,
}

/// `page!("accounts/login.html")` → the name and the compiled-in text of a template.
macro_rules! page {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../templates/", $name)))),*]
    };
}

const PAGES: &[(&str, &str)] = page!(
    "base.html",
    "accounts/login.html",
    "accounts/logged_out.html",
    "accounts/profile.html",
    "accounts/throttled.html",
    "accounts/password_change.html",
    "accounts/password_change_done.html",
    "accounts/register.html",
    "accounts/registered.html",
    "accounts/password_reset_form.html",
    "accounts/password_reset_done.html",
    "accounts/password_reset_confirm.html",
    "accounts/password_reset_complete.html",
    "accounts/link_invalid.html",
    "accounts/activate.html",
    "accounts/activated.html",
    "accounts/email_confirm.html",
    "accounts/email_confirmed.html",
    "accounts/social_failed.html",
    "oauth/consent.html",
    "oauth/error.html",
    "oauth/logout.html",
    "errors/403_csrf.html",
    "errors/404.html",
    "errors/500.html",
    "errors/503.html",
    "errors/400.html",
);

impl PageTemplates {
    /// Parses every page template (a broken template stops start-up, not a request).
    pub fn load() -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(PAGES.iter().copied())?;
        Ok(Self { tera })
    }

    /// Renders `name` as an HTML response; a rendering failure becomes a logged, plain 500.
    pub fn page(&self, status: StatusCode, name: &str, context: &Context) -> HttpResponse {
        match self.tera.render(name, context) {
            Ok(body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            Err(e) => {
                tracing::error!(error.chain = %crate::telemetry::error_chain(&e), template = name, "page rendering failed");
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("A server error occurred.")
            }
        }
    }
}

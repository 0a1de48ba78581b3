//! Browser sessions.

use super::Environment;
use super::declare::{Flag, Layer, Number, settings_area};

settings_area! {
    /// Cookie sessions of the HTML pages (and the lifetimes FastAPI-style sessions share).
    #[derive(Debug, Clone)]
    pub struct SessionSettings {
        /// Browser session cookie gets `Secure` and the `__Host-` name prefix, and pages send
        /// HSTS. Needs HTTPS in front; required in production.
        secure_cookies: bool = Flag::by_environment(false, true);
        /// A browser session, or a FastAPI-style `/users/login/` session, ends after this many
        /// seconds without a request (Django's 2 weeks).
        session_idle_timeout: u64 = Number::seconds(|| 1_209_600, 60, 31_536_000);
        /// A browser or `/users/login/` session ends this many seconds after login, however
        /// active (30 days; the FastAPI tutorial's own tokens last 30 days).
        session_absolute_lifetime: u64 = Number::seconds(|| 2_592_000, 60, 31_536_000);
    }
}

impl SessionSettings {
    /// Rules between settings.
    pub(super) fn check(&self, layer: &mut Layer<'_>) {
        if layer.environment == Environment::Production && !self.secure_cookies {
            layer.problem("LATCHKEY_SECURE_COOKIES must be true when LATCHKEY_ENV=production");
        }
    }
}

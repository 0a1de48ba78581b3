//! The switch from Django: its keys, so that the tokens SimpleJWT minted and the links Django
//! mailed before the switch keep working until they expire. Off unless `django_secret_key` is
//! set.

use super::declare::{Number, OptionalText, settings_area};

settings_area! {
    /// Django's keys and lifetimes during the switch.
    #[derive(Debug, Clone)]
    pub struct DjangoSettings {
        /// Django's `SECRET_KEY`. When set, the access and refresh tokens SimpleJWT (or
        /// django-ninja-jwt) minted are accepted until they expire, and Django's password-reset
        /// and Djoser's activation links until `django_password_reset_timeout`. Remove it once
        /// the last of them can no longer arrive (`latchkey check` says when).
        secret_key as "django_secret_key": Option<String> = OptionalText::secret("(off)");
        /// SimpleJWT's `SIGNING_KEY`, when it is not `SECRET_KEY`.
        signing_key as "django_signing_key": Option<String> =
            OptionalText::secret("(django_secret_key)");
        /// SimpleJWT's `REFRESH_TOKEN_LIFETIME`, in seconds: how long after Django stops minting
        /// them its refresh tokens can still arrive.
        refresh_lifetime as "django_refresh_lifetime": u64 =
            Number::seconds(|| 86_400, 60, 366 * 86_400);
        /// Django's `PASSWORD_RESET_TIMEOUT`, in seconds: how long its reset and activation links
        /// stay valid.
        password_reset_timeout as "django_password_reset_timeout": u64 =
            Number::seconds(|| 259_200, 60, 366 * 86_400);
    }
}

impl DjangoSettings {
    /// The key SimpleJWT signed with, when the switch is on.
    pub fn jwt_key(&self) -> Option<&str> {
        self.signing_key.as_deref().or(self.secret_key.as_deref())
    }

    /// The `latchkey check` line saying until when Django's tokens and links can arrive.
    pub fn horizon(&self) -> Option<String> {
        self.secret_key.as_ref()?;
        let days = |s: u64| {
            let d = s as f64 / 86_400.0;
            if s % 86_400 == 0 {
                format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" })
            } else {
                format!("{d:.2} days")
            }
        };
        Some(format!(
            "django: accepting SimpleJWT's tokens and Django's reset links. Its refresh tokens can arrive until {} after Django stops minting them, its links until {} after it stops mailing them: remove django_secret_key then.",
            days(self.refresh_lifetime),
            days(self.password_reset_timeout)
        ))
    }
}

use std::path::Path;

use serde::Serialize;
use tera::{Context, Tera};

use super::MailError;

/// The mails Latchkey sends; each has `templates/email/<name>/{subject.txt,body.txt,body.html}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Link to activate a new account (or a changed address).
    Activation,
    /// "Your account is ready".
    Confirmation,
    /// Link to choose a new password.
    PasswordReset,
    /// "Your password was changed".
    PasswordChanged,
    /// Link to confirm a new address (to the new address).
    EmailChange,
    /// "Your email address was changed" (to the old address).
    EmailChanged,
    /// "Someone tried to register with your address" (enumeration protection).
    RegistrationAttempt,
    /// `latchkey sendtestemail`.
    Test,
}

impl MailKind {
    /// Every kind, for loading and checking templates.
    pub const ALL: [Self; 8] = [
        Self::Activation,
        Self::Confirmation,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChange,
        Self::EmailChanged,
        Self::RegistrationAttempt,
        Self::Test,
    ];

    /// The template directory name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Activation => "activation",
            Self::Confirmation => "confirmation",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChange => "email_change",
            Self::EmailChanged => "email_changed",
            Self::RegistrationAttempt => "registration_attempt",
            Self::Test => "test",
        }
    }
}

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// One line.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(
            (concat!("email/", $name, "/subject.txt"), include_str!(concat!("../../templates/email/", $name, "/subject.txt"))),
            (concat!("email/", $name, "/body.txt"), include_str!(concat!("../../templates/email/", $name, "/body.txt"))),
            (concat!("email/", $name, "/body.html"), include_str!(concat!("../../templates/email/", $name, "/body.html"))),
        )*]
    };
}

/// The built-in templates, compiled into the binary so it runs from anywhere.
const BUILTIN: &[(&str, &str)] = builtin!(
    "activation",
    "confirmation",
    "password_reset",
    "password_changed",
    "email_change",
    "email_changed",
    "registration_attempt",
    "test",
);

/// The mail templates: built in, each overridable by a file under `<dir>/email/<name>/`.
#[derive(Debug, Clone)]
pub struct MailTemplates {
    tera: Tera,
}

impl MailTemplates {
    /// Loads the built-in templates, then any overrides found in `dir`; every template must parse.
    pub fn load(dir: Option<&Path>) -> Result<Self, MailError> {
        let mut tera = Tera::default();
        // HTML bodies are escaped; text parts and subjects are not (they are not HTML).
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(escape_html);
        let mut sources: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(name, body)| ((*name).to_owned(), (*body).to_owned()))
            .collect();
        if let Some(dir) = dir {
            for (name, body) in &mut sources {
                let path = dir.join(name.as_str());
                match std::fs::read_to_string(&path) {
                    Ok(text) => *body = text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(MailError::Template(format!("{}: {e}", path.display())));
                    }
                }
            }
        }
        tera.add_raw_templates(sources)
            .map_err(|e| MailError::Template(chain(&e)))?;
        Ok(Self { tera })
    }

    /// Renders subject (first line, trimmed), text and HTML with Djoser's context names.
    pub fn render(
        &self,
        kind: MailKind,
        context: &impl Serialize,
    ) -> Result<RenderedMail, MailError> {
        let context =
            Context::from_serialize(context).map_err(|e| MailError::Template(chain(&e)))?;
        let render = |part: &str| {
            self.tera
                .render(&format!("email/{}/{part}", kind.name()), &context)
                .map_err(|e| MailError::Template(chain(&e)))
        };
        let subject = render("subject.txt")?
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned();
        Ok(RenderedMail {
            subject,
            text: render("body.txt")?,
            html: render("body.html")?,
        })
    }
}

/// HTML escaping of `& < > " '`. Tera's default also escapes `/`, which is valid but turns
/// every link in a mail into `https:&#x2F;&#x2F;…`.
fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::telemetry::error_chain(e).replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_renders_and_html_is_escaped() {
        let templates = MailTemplates::load(None).unwrap();
        let context = serde_json::json!({
            "site_name": "<Acme & Co>", "domain": "example.com", "protocol": "https",
            "user": {"username": "ann", "email": "a@example.com"},
            "url": "reset/MQ/tok/", "uid": "MQ", "token": "tok", "expires_in": "1 hour",
            "new_email": "b@example.com",
        });
        for kind in MailKind::ALL {
            let mail = templates.render(kind, &context).unwrap();
            assert!(!mail.subject.is_empty() && !mail.text.is_empty() && !mail.html.is_empty());
            assert!(!mail.html.contains("<Acme"), "{}", mail.html);
        }
        let reset = templates.render(MailKind::PasswordReset, &context).unwrap();
        assert!(
            reset
                .html
                .contains("href=\"https://example.com/reset/MQ/tok/\""),
            "{}",
            reset.html
        );
        assert!(reset.text.contains("https://example.com/reset/MQ/tok/"));
        assert_eq!(reset.subject, "Password reset on <Acme & Co>");
    }

    #[test]
    fn overrides_replace_single_templates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("email/password_reset");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(
            path.join("subject.txt"),
            "Reset your {{ site_name }} password",
        )
        .unwrap();
        let templates = MailTemplates::load(Some(dir.path())).unwrap();
        let context = serde_json::json!({"site_name": "Acme", "domain": "d", "protocol": "https",
            "user": {"username": "u"}, "url": "x", "expires_in": "1 hour"});
        let mail = templates.render(MailKind::PasswordReset, &context).unwrap();
        assert_eq!(mail.subject, "Reset your Acme password");
        assert!(
            mail.text.contains("choose a new password"),
            "the body is still the built-in one"
        );
    }
}

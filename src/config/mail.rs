//! Mail: delivery, the links in it, and the switches of the flows that send it (Djoser's names).

use std::path::PathBuf;

use super::declare::{
    Choice, Dir, Flag, Layer, Number, OptionalDir, OptionalText, Text, settings_area,
};
use super::{EmailTransport, Environment, Secret, mask_url_password};

const TRANSPORTS: &[(&str, EmailTransport)] = &[
    ("console", EmailTransport::Console),
    ("file", EmailTransport::File),
    ("smtp", EmailTransport::Smtp),
];
const PROTOCOLS: &[(&str, &str)] = &[("http", "http"), ("https", "https")];
const NEEDS_UID_AND_TOKEN: &str = "must contain {uid} and {token}";

fn has_uid_and_token(url: &Option<String>) -> bool {
    url.as_deref()
        .is_none_or(|u| u.contains("{uid}") && u.contains("{token}"))
}

settings_area! {
    /// Mail delivery and the flows that send mail.
    #[derive(Debug, Clone)]
    pub struct MailSettings {
        /// `console` (the whole message on stdout), `file` (one `.eml` per message) or `smtp`.
        /// Production needs `file` or `smtp`.
        transport as "email_transport": EmailTransport = Choice::new(TRANSPORTS);
        /// Directory of the file transport.
        file_dir as "email_file_dir": PathBuf = Dir::new("sent-mail");
        /// `smtp://user:pass@host:587` (STARTTLS, required whenever credentials are given),
        /// `smtps://user:pass@host:465` (implicit TLS), `smtp://host:25` (plain, for a local
        /// relay). `?tls=required` or `?tls=opportunistic` overrides. The password is masked
        /// by `check`.
        smtp_url: Option<Secret> = OptionalText::secret_url();
        /// Sender, `address` or `Name <address>`.
        default_from_email: String = Text::new("webmaster@localhost").check(
            |a| a.parse::<lettre::message::Mailbox>().is_ok(),
            "must be an address like \"Latchkey <no-reply@example.com>\"",
        );
        /// `site_name` in mail.
        site_name: String = Text::new("Latchkey");
        /// `domain` of mail links; never taken from a request's `Host`. Required in production.
        frontend_domain: String = Text::new("localhost:8000")
            .required_in_production("mail links use it");
        /// `protocol` of mail links.
        frontend_protocol: &'static str = Choice::by_environment(PROTOCOLS, 1);
        /// Front-end path with `{uid}` and `{token}`, e.g.
        /// `auth/password/reset-password-confirmation/?uid={uid}&token={token}`; the link is
        /// `{protocol}://{domain}/{url}`. Unset: `/accounts/reset/{uid}/{token}/`.
        password_reset_confirm_url: Option<String> = OptionalText::new("(Latchkey's own page)")
            .default_doc("Latchkey's page")
            .check(has_uid_and_token, NEEDS_UID_AND_TOKEN);
        /// Likewise, e.g. `activate/{uid}/{token}`. Unset: `/accounts/activate/{uid}/{token}/`.
        activation_url: Option<String> = OptionalText::new("(Latchkey's own page)")
            .default_doc("Latchkey's page")
            .check(has_uid_and_token, NEEDS_UID_AND_TOKEN);
        /// Likewise for the link that confirms a new address (the front end posts `uid` and
        /// `token` to `set_email_confirm`). Unset: `/accounts/email/confirm/{uid}/{token}/`.
        email_change_confirm_url: Option<String> = OptionalText::new("(Latchkey's own page)")
            .default_doc("Latchkey's page")
            .check(has_uid_and_token, NEEDS_UID_AND_TOKEN);
        /// New accounts start inactive and get an activation link. Only an account that waits
        /// for its link can be activated by one: an account an operator deactivated stays off.
        send_activation_email: bool = Flag::new(false);
        /// "Account created" mail after registration (or after activation).
        send_confirmation_email: bool = Flag::new(false);
        /// "Your password was changed" mail after `set_password`, a reset, or `changepassword`.
        password_changed_email_confirmation: bool = Flag::new(true);
        /// "Your email address was changed" mail, to the old address, when a change takes
        /// effect.
        email_changed_email_confirmation: bool = Flag::new(true);
        /// Registration with a taken address answers `201` exactly as for a new one (every
        /// registration then answers `{"email","username"}`) and mails the owner instead. Off
        /// by default to stay Djoser-compatible.
        prevent_enumeration: bool = Flag::new(false);
        /// Reset-link lifetime, seconds.
        password_reset_timeout: u64 = Number::seconds(|| 3600, 60, 31_536_000);
        /// Activation-link lifetime, seconds (3 days).
        activation_timeout: u64 = Number::seconds(|| 259_200, 60, 31_536_000);
        /// Lifetime of the link that confirms a new address, seconds.
        email_change_timeout: u64 = Number::seconds(|| 86_400, 60, 31_536_000);
        /// Seconds a delivered message's row (subject and addresses; its bodies are blanked at
        /// delivery) is kept before `flushexpiredtokens` deletes it.
        sent_mail_retention: u64 = Number::seconds(|| 604_800, 0, 31_536_000);
        /// At most one reset (or activation, or sign-up-attempt) mail per address per this many
        /// seconds; applied to unknown addresses alike.
        mail_cooldown: u64 = Number::seconds(|| 60, 0, 86_400);
        /// Directory whose `email/<name>/{subject.txt,body.txt,body.html}` files replace the
        /// built-in ones, file by file.
        template_dir as "email_template_dir": Option<PathBuf> =
            OptionalDir::new("(built-in)").default_doc("built in");
        /// How often the outbox worker looks for due mail, in milliseconds (it is also woken
        /// when mail is queued).
        outbox_poll_ms: u64 = Number::new(|| 1000, 10, 3_600_000);
    }
}

impl MailSettings {
    /// Rules between settings; directories become relative to the working directory.
    pub(super) fn check(&mut self, layer: &mut Layer<'_>) {
        self.file_dir = layer.ctx.dir.join(&self.file_dir);
        self.template_dir = self.template_dir.take().map(|d| layer.ctx.dir.join(d));
        if self.transport == EmailTransport::Smtp {
            match &self.smtp_url {
                None => layer
                    .problem("LATCHKEY_SMTP_URL must be set when LATCHKEY_EMAIL_TRANSPORT=smtp"),
                Some(url)
                    if !(url.expose().starts_with("smtp://")
                        || url.expose().starts_with("smtps://")) =>
                {
                    layer.problem(format!(
                        "LATCHKEY_SMTP_URL must start with smtp:// or smtps:// (got {:?})",
                        mask_url_password(url.expose())
                    ));
                }
                Some(_) => {}
            }
        }
        if layer.environment == Environment::Production && self.transport == EmailTransport::Console
        {
            layer.problem(
                "LATCHKEY_EMAIL_TRANSPORT must be smtp or file when LATCHKEY_ENV=production",
            );
        }
    }
}

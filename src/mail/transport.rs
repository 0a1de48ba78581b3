use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{MailError, RenderedMail};
use crate::config::{EmailTransport, MailSettings};

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    /// Printed whole (headers and both bodies) to stdout.
    Console,
    /// One `.eml` file per message.
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Console => "Mailer::Console",
            Self::File(..) => "Mailer::File",
            Self::Smtp(_) => "Mailer::Smtp",
        })
    }
}

impl Mailer {
    /// The transport the settings name. `smtp://` URLs with credentials require STARTTLS (a
    /// password never crosses the wire in clear); without credentials they are plain, for local
    /// relays, unless `?tls=required|opportunistic` says otherwise; `smtps://` is implicit TLS.
    pub fn from_settings(mail: &MailSettings) -> Result<Self, MailError> {
        match mail.transport {
            EmailTransport::Console => Ok(Self::Console),
            EmailTransport::File => {
                std::fs::create_dir_all(&mail.file_dir).map_err(|e| {
                    MailError::Config(format!("cannot create {}: {e}", mail.file_dir.display()))
                })?;
                Ok(Self::File(
                    AsyncFileTransport::new(&mail.file_dir),
                    mail.file_dir.clone(),
                ))
            }
            EmailTransport::Smtp => {
                let url = mail
                    .smtp_url
                    .as_ref()
                    .ok_or_else(|| MailError::Config("LATCHKEY_SMTP_URL is not set".into()))?
                    .expose();
                let has_credentials = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.split('/').next())
                    .is_some_and(|authority| authority.contains('@'));
                let url = if url.starts_with("smtp://") && has_credentials && !url.contains("tls=")
                {
                    let separator = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{separator}tls=required")
                } else {
                    url.to_owned()
                };
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| MailError::Config(format!("LATCHKEY_SMTP_URL: {e}")))?
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build();
                Ok(Self::Smtp(transport))
            }
        }
    }

    /// Builds a multipart/alternative message (text, then HTML).
    pub fn build(from: &str, to: &str, mail: &RenderedMail) -> Result<Message, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Build(format!("from {from:?}: {e}")))?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Build(format!("to {to:?}: {e}")))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Hands a message to the transport; returns what it said (SMTP reply, file name, …).
    pub async fn send(&self, message: Message) -> Result<String, MailError> {
        match self {
            Self::Console => {
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                println!("{text}\n{}", "-".repeat(72));
                Ok("printed to stdout".to_owned())
            }
            Self::File(transport, dir) => transport
                .send(message)
                .await
                .map(|id| format!("written to {}/{id}.eml", dir.display()))
                .map_err(|e| MailError::Send(crate::telemetry::error_chain(&e))),
            Self::Smtp(transport) => transport
                .send(message)
                .await
                .map(|response| {
                    let lines: Vec<&str> = response.message().collect();
                    format!("{} {}", response.code(), lines.join(" "))
                })
                .map_err(|e| MailError::Send(crate::telemetry::error_chain(&e))),
        }
    }
}

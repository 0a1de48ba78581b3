//! The HTML forms' body extractor: `application/x-www-form-urlencoded` into a form struct, with
//! text that PostgreSQL cannot store (NUL) refused at parsing, before any core call.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;

use crate::state::AppState;
use crate::web::NULL_CHARACTERS;

/// A parsed form. Bad input answers 400, 408 or 413 (shown as the HTML error page by the page
/// middleware, which also logs it).
pub struct Form<T>(pub T);

/// Why a form body was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// Not form-encoded, a field missing, or text that cannot be stored.
    #[error("{0}")]
    Unreadable(String),
    /// Slower than `body_read_timeout`.
    #[error("the form was not received in time")]
    TooSlow,
    /// Larger than `max_body_bytes`.
    #[error("the form is larger than {0} bytes")]
    TooLarge(usize),
}

impl ResponseError for FormError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unreadable(_) => StatusCode::BAD_REQUEST,
            Self::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

fn body_error(e: &actix_web::Error, limit: usize) -> FormError {
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => FormError::TooLarge(limit),
        Some(PayloadError::Io(io)) if io.kind() == std::io::ErrorKind::TimedOut => {
            FormError::TooSlow
        }
        _ => FormError::Unreadable(format!("could not read the form - {e}")),
    }
}

impl<T> Form<T> {
    /// The parsed form.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Form<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = FormError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, FormError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(64 * 1024, |state| state.settings.server.max_body_bytes);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| body_error(&e, limit))?;
            parse(&bytes).map(Form)
        })
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FormError> {
    let unreadable = |e: serde_urlencoded::de::Error| FormError::Unreadable(format!("{e}"));
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(unreadable)?;
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(FormError::Unreadable(NULL_CHARACTERS.to_owned()));
    }
    serde_urlencoded::from_bytes(bytes).map_err(unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Login {
        username: String,
    }

    #[test]
    fn refuses_nul_and_parses_the_rest() {
        assert_eq!(parse::<Login>(b"username=ann").unwrap().username, "ann");
        assert!(matches!(
            parse::<Login>(b"username=a%00b"),
            Err(FormError::Unreadable(m)) if m == "Null characters are not allowed."
        ));
        assert!(
            parse::<Login>(b"other=1").is_err(),
            "a missing field is an error"
        );
    }
}

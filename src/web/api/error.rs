use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::accounts::AccountsError;
use crate::domain::FieldErrors;
use crate::telemetry::error_chain;

/// Every JSON error the API answers, in DRF's body shapes.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// 400 with a field map `{"field": ["message"]}`.
    #[error("validation failed: {0}")]
    Validation(FieldErrors),
    /// 400 `{"detail": …}` for a body that could not be parsed.
    #[error("{0}")]
    Parse(String),
    /// 401: bad credentials (SimpleJWT's message, no `code`).
    #[error("No active account found with the given credentials")]
    InvalidCredentials,
    /// 404 `{"detail":"Not found."}`.
    #[error("Not found.")]
    NotFound,
    /// 405 for a known path.
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    /// 413 with the limit in bytes.
    #[error("Request body is too large: the limit is {0} bytes.")]
    PayloadTooLarge(usize),
    /// 415 with the offending media type.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// 500: the body says nothing internal; the cause chain goes to the log.
    #[error("A server error occurred.")]
    Unexpected(#[source] anyhow::Error),
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unexpected(e) => write!(f, "Unexpected({})", error_chain(e.as_ref())),
            other => write!(f, "{other}"),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Validation(errors) => Self::Validation(errors),
            AccountsError::InvalidCredentials => Self::InvalidCredentials,
            AccountsError::NotFound => Self::NotFound,
            AccountsError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::Parse(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Validation(errors) => return response.json(errors),
            Self::InvalidCredentials => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                ));
            }
            Self::Unexpected(e) => {
                tracing::error!(error.chain = %error_chain(e.as_ref()), "unexpected error");
            }
            _ => {}
        }
        response.json(json!({ "detail": self.to_string() }))
    }
}

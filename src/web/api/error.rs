use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::accounts::AccountsError;
use crate::domain::FieldErrors;
use crate::telemetry::error_chain;
use crate::tokens::TokenError;

/// SimpleJWT's `WWW-Authenticate` value on every 401.
const BEARER_REALM: &str = "Bearer realm=\"api\"";

/// Every JSON error the API answers, in DRF's body shapes (and, via `Custom`, the compat
/// dialects' own).
#[derive(thiserror::Error)]
pub enum ApiError {
    /// 400 with a field map `{"field": ["message"]}`.
    #[error("validation failed: {0}")]
    Validation(FieldErrors),
    /// 400 `{"detail": …}` for a body that could not be parsed.
    #[error("{0}")]
    Parse(String),
    /// 401 `{"detail": …}` plus `"code"` when given.
    #[error("{detail}")]
    Unauthorized {
        /// Human-readable reason.
        detail: String,
        /// SimpleJWT's machine code.
        code: Option<&'static str>,
    },
    /// 401 of JWTAuthentication for a bad bearer token: SimpleJWT's `messages` shape.
    #[error("Given token not valid for any token type")]
    AccessTokenNotValid(String),
    /// 403.
    #[error("You do not have permission to perform this action.")]
    PermissionDenied,
    /// 403 with its own detail.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `{"detail": …}`.
    #[error("{0}")]
    NotFound(&'static str),
    /// 405 for a known path.
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    /// 413 with the limit in bytes.
    #[error("Request body is too large: the limit is {0} bytes.")]
    PayloadTooLarge(usize),
    /// 415 with the offending media type.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After`.
    #[error("Request was throttled. Expected available in {0} seconds.")]
    Throttled(u64),
    /// 503 with `Retry-After`: the database cannot be reached or the server is saturated.
    #[error("Service temporarily unavailable, try again later.")]
    Unavailable,
    /// 408: the client took longer than `body_read_timeout` to send its body.
    #[error("The request body was not received in time.")]
    RequestTimeout,
    /// Any status with a body of the caller's making (compat dialects).
    #[error("{status}")]
    Custom {
        /// Status code.
        status: StatusCode,
        /// JSON body.
        body: Value,
        /// `WWW-Authenticate` value, if any.
        www_authenticate: Option<&'static str>,
    },
    /// 500: the body says nothing internal; the cause chain goes to the log.
    #[error("A server error occurred.")]
    Unexpected(#[source] anyhow::Error),
}

/// DRF's 404 for an unknown route or hidden object.
pub const NOT_FOUND: &str = "Not found.";

impl ApiError {
    /// 401 "Authentication credentials were not provided."
    pub fn not_authenticated() -> Self {
        Self::Unauthorized {
            detail: "Authentication credentials were not provided.".into(),
            code: None,
        }
    }

    /// 401 `{"detail": <message>, "code": "token_not_valid"}` (the token views' shape).
    pub fn token_not_valid(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            detail: message.into(),
            code: Some("token_not_valid"),
        }
    }

    /// Maps a token failure on the token endpoints (refresh, verify, blacklist).
    pub fn from_token_endpoint(e: TokenError) -> Self {
        match e {
            TokenError::Unexpected(e) => Self::Unexpected(e),
            TokenError::Unavailable => Self::Unavailable,
            TokenError::InvalidCredentials => Self::Unauthorized {
                detail: e.to_string(),
                code: None,
            },
            TokenError::Throttled { retry_after } => Self::Throttled(retry_after),
            TokenError::UserInactive | TokenError::UserNotFound => Self::Unauthorized {
                detail: "No active account found for the given token.".into(),
                code: None,
            },
            other => Self::token_not_valid(other.to_string()),
        }
    }

    /// Maps a token failure of bearer authentication (JWTAuthentication's bodies).
    pub fn from_bearer(e: TokenError) -> Self {
        match e {
            TokenError::Unexpected(e) => Self::Unexpected(e),
            TokenError::Unavailable => Self::Unavailable,
            TokenError::UserNotFound => Self::Unauthorized {
                detail: "User not found".into(),
                code: Some("user_not_found"),
            },
            TokenError::UserInactive => Self::Unauthorized {
                detail: "User is inactive".into(),
                code: Some("user_inactive"),
            },
            other => Self::AccessTokenNotValid(other.to_string()),
        }
    }
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
            AccountsError::InvalidCredentials => Self::Unauthorized {
                detail: e.to_string(),
                code: None,
            },
            AccountsError::NotFound => Self::NotFound("No User matches the given query."),
            AccountsError::Throttled { retry_after } => Self::Throttled(retry_after),
            AccountsError::StaleToken => Self::Forbidden(e.to_string()),
            // Djoser answers a bare 400 with no body at all.
            AccountsError::ActivationDisabled => Self::Custom {
                status: StatusCode::BAD_REQUEST,
                body: Value::Null,
                www_authenticate: None,
            },
            AccountsError::Unavailable => Self::Unavailable,
            AccountsError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::Parse(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } | Self::AccessTokenNotValid(_) => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Custom { status, .. } => *status,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let body = match self {
            Self::Validation(errors) => return response.json(errors),
            Self::Unauthorized { detail, code } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BEARER_REALM),
                ));
                match code {
                    Some(code) => json!({"detail": detail, "code": code}),
                    None => json!({"detail": detail}),
                }
            }
            Self::AccessTokenNotValid(message) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BEARER_REALM),
                ));
                json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
                })
            }
            Self::Custom {
                body,
                www_authenticate,
                ..
            } => {
                if let Some(value) = www_authenticate {
                    response
                        .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(value)));
                }
                if body.is_null() {
                    return response.finish();
                }
                return response.json(body);
            }
            Self::Throttled(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                json!({"detail": self.to_string()})
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
                json!({"detail": self.to_string()})
            }
            Self::Unexpected(e) => {
                tracing::error!(error.chain = %error_chain(e.as_ref()), "unexpected error");
                json!({"detail": self.to_string()})
            }
            other => json!({"detail": other.to_string()}),
        };
        response.json(body)
    }
}

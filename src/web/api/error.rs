use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

use crate::accounts::AccountsError;
use crate::domain::FieldErrors;
use crate::sessions::SessionError;
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

/// `{"detail": …}` with SimpleJWT's optional `code`: the body of most errors.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    code: Option<&'static str>,
}

impl Detail {
    fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            code: None,
        }
    }
}

// DRF's field errors: `{"<field>": ["message", …]}` (`non_field_errors` for the whole body).
// The schema is written here because the type is the core's and its shape is a map.
impl utoipa::PartialSchema for FieldErrors {
    fn schema() -> RefOr<Schema> {
        let messages = ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "DRF's field errors: `{\"<field>\": [\"message\", …]}` (`non_field_errors` for the whole body).",
            ))
            .property_names(Some(ObjectBuilder::new().schema_type(Type::String)))
            .additional_properties(Some(messages))
            .into()
    }
}

impl ToSchema for FieldErrors {}

/// A 400: DRF's field errors, or `{"detail": …}` for a body that could not be read. The two
/// bodies [`ApiError`] answers with a 400; the type only names that choice in the schema.
pub struct BadRequest;

impl utoipa::PartialSchema for BadRequest {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("FieldErrors"))
            .item(Ref::from_schema_name("Detail"))
            .description(Some(
                "A 400: DRF's field errors, or `{\"detail\": …}` for a body that could not be read.",
            ))
            .into()
    }
}

impl ToSchema for BadRequest {}

/// DRF's 404 for an unknown route or hidden object.
pub const NOT_FOUND: &str = "Not found.";
/// SimpleJWT's answer to wrong credentials (and an inactive account).
pub const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";

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

    /// SimpleJWT's message for a refused token.
    pub fn token_message(e: &TokenError) -> &'static str {
        match e {
            TokenError::Expired => "Token is expired",
            TokenError::WrongType => "Token has wrong type",
            TokenError::Blacklisted => "Token is blacklisted",
            TokenError::UserNotFound => "User not found",
            TokenError::UserInactive => "User is inactive",
            _ => "Token is invalid",
        }
    }

    /// Maps a token failure on the token endpoints (refresh, verify, blacklist).
    pub fn from_token_endpoint(e: TokenError) -> Self {
        match e {
            TokenError::Unexpected(e) => Self::Unexpected(e),
            TokenError::Unavailable => Self::Unavailable,
            TokenError::InvalidCredentials => Self::Unauthorized {
                detail: NO_ACTIVE_ACCOUNT.into(),
                code: None,
            },
            TokenError::Throttled { retry_after } => Self::Throttled(retry_after),
            TokenError::UserInactive | TokenError::UserNotFound => Self::Unauthorized {
                detail: "No active account found for the given token.".into(),
                code: None,
            },
            other => Self::token_not_valid(Self::token_message(&other)),
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
            other => Self::AccessTokenNotValid(Self::token_message(&other).to_owned()),
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

/// Django's message for a duplicate username.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// Django's default unique message for the email column.
pub const EMAIL_TAKEN: &str = "user with this email address already exists.";
/// Why a username that is someone else's email address is refused.
const USERNAME_OTHER_EMAIL: &str =
    "A username that is an email address must be your own email address.";
/// Why a profile update may not change the address.
const EMAIL_READ_ONLY: &str = "The email address cannot be changed here: use set_email (/auth/users/set_email/) with your current password, then confirm the new address from the link mailed to it.";
/// Djoser's (ASCII apostrophe) retype mismatch message.
pub const PASSWORD_MISMATCH: &str = "The two password fields didn't match.";
/// DRF's message for a missing field.
pub const REQUIRED: &str = "This field is required.";

/// Djoser's words for the accounts core's errors. The field names vary by endpoint, so an
/// endpoint whose form names differ from the defaults says so.
#[derive(Debug, Clone, Copy)]
pub struct Djoser {
    /// The new password's field: `password` on registration, `new_password` elsewhere.
    pub password: &'static str,
    /// The address field: `email`, or `new_email` on set_email.
    pub email: &'static str,
    /// HIDE_USERS: on retrieve and update, being refused another user's account is a 404
    /// "Not found." (Djoser's destroy keeps the 403).
    pub hide_refusal: bool,
}

impl Djoser {
    /// Most endpoints.
    pub const DEFAULT: Self = Self {
        password: "new_password",
        email: "email",
        hide_refusal: false,
    };
    /// `POST /auth/users/`.
    pub const REGISTER: Self = Self {
        password: "password",
        ..Self::DEFAULT
    };
    /// `POST /auth/users/set_email/` and its confirmation.
    pub const SET_EMAIL: Self = Self {
        email: "new_email",
        ..Self::DEFAULT
    };
    /// Retrieve and update of `/auth/users/{id}/`.
    pub const HIDDEN_USERS: Self = Self {
        hide_refusal: true,
        ..Self::DEFAULT
    };

    /// The response for `e`.
    pub fn word(self, e: AccountsError) -> ApiError {
        let field =
            |name: &str, message: &str| ApiError::Validation(FieldErrors::one(name, message));
        match e {
            AccountsError::UsernameRequired => field("username", REQUIRED),
            AccountsError::UsernameIsAnotherEmail => field("username", USERNAME_OTHER_EMAIL),
            AccountsError::Taken { username, email } => {
                let mut errors = FieldErrors::new();
                if email {
                    errors.add(self.email, EMAIL_TAKEN);
                }
                if username {
                    errors.add("username", USERNAME_TAKEN);
                }
                ApiError::Validation(errors)
            }
            AccountsError::WeakPassword(problems) => {
                let mut errors = FieldErrors::new();
                errors.extend(self.password, problems.iter().map(ToString::to_string));
                ApiError::Validation(errors)
            }
            AccountsError::PasswordMismatch => field("non_field_errors", PASSWORD_MISMATCH),
            AccountsError::CurrentPasswordRequired => field("current_password", REQUIRED),
            AccountsError::WrongCurrentPassword => field("current_password", "Invalid password."),
            AccountsError::PasswordAlreadySet => field("current_password", REQUIRED),
            AccountsError::InvalidLink => field("token", "Invalid token for given user."),
            AccountsError::EmailReadOnly => field(self.email, EMAIL_READ_ONLY),
            AccountsError::NotAwaitingActivation => {
                ApiError::Forbidden("Stale token for given user.".into())
            }
            // Djoser answers a bare 400 with no body at all.
            AccountsError::ActivationDisabled => ApiError::Custom {
                status: StatusCode::BAD_REQUEST,
                body: Value::Null,
                www_authenticate: None,
            },
            AccountsError::InvalidCredentials => ApiError::Unauthorized {
                detail: NO_ACTIVE_ACCOUNT.into(),
                code: None,
            },
            AccountsError::NotFound => ApiError::NotFound("No User matches the given query."),
            AccountsError::Forbidden if self.hide_refusal => ApiError::NotFound(NOT_FOUND),
            AccountsError::Forbidden => ApiError::PermissionDenied,
            AccountsError::Throttled { retry_after } => ApiError::Throttled(retry_after),
            AccountsError::Unavailable => ApiError::Unavailable,
            AccountsError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable => Self::Unavailable,
            SessionError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        Djoser::DEFAULT.word(e)
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
                return response.json(Detail {
                    detail: detail.clone(),
                    code: *code,
                });
            }
            Self::AccessTokenNotValid(message) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BEARER_REALM),
                ));
                return response.json(json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
                }));
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
                Detail::new(self.to_string())
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
                Detail::new(self.to_string())
            }
            Self::Unexpected(e) => {
                tracing::error!(error.chain = %error_chain(e.as_ref()), "unexpected error");
                Detail::new(self.to_string())
            }
            other => Detail::new(other.to_string()),
        };
        response.json(body)
    }
}

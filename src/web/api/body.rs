//! The request and response bodies of the JSON API: the types the handlers work with, from
//! which the OpenAPI document's schemas are derived (so the document cannot drift from them).
//!
//! A request type reads its fields from an [`Input`] (JSON, form-encoded or multipart alike)
//! with DRF's messages, collecting every field's problem; unknown fields are ignored.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

use super::users::UserBody;
use super::{ApiError, Input};
use crate::accounts::{ProfileChanges, Registration};
use crate::domain::{Email, FieldErrors, PersonName, Username};

/// A request body read into its typed form.
pub trait FromInput: Sized {
    /// The value, or every field's problem in DRF's shape.
    fn from_input(input: &Input) -> Result<Self, FieldErrors>;
}

/// Extractor: the body parsed into `T`; a refused field is DRF's `400 {"field": [...]}`.
pub struct Body<T>(pub T);

impl<T: FromInput + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let input = Input::from_request(req, payload);
        Box::pin(async move {
            let input = input.await?;
            T::from_input(&input)
                .map(Body)
                .map_err(ApiError::Validation)
        })
    }
}

/// `Some(value)` when no field was refused.
fn checked<T>(errors: FieldErrors, value: Option<T>) -> Result<T, FieldErrors> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}

/// Registration fields. The password must also pass the policy (Django's validators), which
/// no schema can say; a taken address or username is a 400 too.
#[derive(ToSchema)]
pub struct RegisterRequest {
    #[schema(value_type = String, format = Email, max_length = 254)]
    email: Email,
    /// Defaults to the lower-cased email; an email-shaped username must be the account's own.
    #[schema(value_type = Option<String>, nullable = false, max_length = 150, pattern = r"^[\w.@+-]*$")]
    username: Option<Username>,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    /// Required when `LATCHKEY_USER_CREATE_PASSWORD_RETYPE` is on.
    #[schema(nullable = false)]
    re_password: Option<String>,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    first_name: Option<PersonName>,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    last_name: Option<PersonName>,
}

impl FromInput for RegisterRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = input.parsed("email", true, &mut errors, Email::parse);
        let username = input
            .optional("username", true, &mut errors)
            .filter(|raw| !raw.is_empty())
            .and_then(|raw| {
                Username::parse(&raw)
                    .map_err(|e| errors.add("username", e.to_string()))
                    .ok()
            });
        let password = input.required("password", false, &mut errors);
        let first_name = input.parsed("first_name", false, &mut errors, PersonName::parse);
        let last_name = input.parsed("last_name", false, &mut errors, PersonName::parse);
        let re_password = if input.rules().user_create_password_retype {
            input.required("re_password", false, &mut errors)
        } else {
            None
        };
        let fields = email.zip(password);
        let (email, password) = checked(errors, fields)?;
        Ok(Self {
            email,
            username,
            password,
            re_password,
            first_name,
            last_name,
        })
    }
}

impl From<RegisterRequest> for Registration {
    fn from(body: RegisterRequest) -> Self {
        Self {
            email: body.email,
            username: body.username,
            first_name: body.first_name.unwrap_or_default(),
            last_name: body.last_name.unwrap_or_default(),
            password: body.password,
            password_retype: body.re_password,
        }
    }
}

/// Login credentials: a username or an email under `username`, or under `email`, and the password.
pub struct CredentialsRequest {
    /// The field the identifier came in: `username` or `email` (either may carry either).
    pub field: &'static str,
    /// A username or an email.
    pub identifier: String,
    /// The password as typed.
    pub password: String,
}

impl FromInput for CredentialsRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let field = if !input.has("username") && input.has("email") {
            "email"
        } else {
            "username"
        };
        let identifier = input.required(field, true, &mut errors);
        let password = input.required("password", false, &mut errors);
        let (identifier, password) = checked(errors, identifier.zip(password))?;
        Ok(Self {
            field,
            identifier,
            password,
        })
    }
}

// The one body whose schema is written by hand: which field carries the identifier is a
// choice (`anyOf`), which a struct cannot express.
impl utoipa::PartialSchema for CredentialsRequest {
    fn schema() -> RefOr<Schema> {
        let string = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
        };
        let with = |field: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(field, string())
                .property("password", string())
                .required(field)
                .required("password")
        };
        AnyOfBuilder::new()
            .item(with("username"))
            .item(with("email"))
            .description(Some(
                "The identifier (a username or an email) under `username` or `email`.",
            ))
            .into()
    }
}

impl ToSchema for CredentialsRequest {}

/// Declares a body of required, trimmed text fields (tokens, uids) with its reader.
macro_rules! token_fields {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ }) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        pub struct $name {
            $(
                #[schema(min_length = 1)]
                #[doc = concat!("`", stringify!($field), "`.")]
                pub $field: String,
            )+
        }

        impl FromInput for $name {
            fn from_input(input: &Input) -> Result<Self, FieldErrors> {
                let mut errors = FieldErrors::new();
                $(let $field = input.required(stringify!($field), true, &mut errors);)+
                let ($(Some($field),)+) = ($($field,)+) else {
                    return Err(errors);
                };
                Ok(Self { $($field),+ })
            }
        }
    };
}

token_fields! {
    /// `{"refresh": …}`.
    RefreshRequest { refresh }
}

token_fields! {
    /// `{"token": …}` (an access or a refresh token).
    VerifyRequest { token }
}

token_fields! {
    /// `{"uid": …, "token": …}` from a mailed link.
    UidTokenRequest { uid, token }
}

/// Profile fields to change (PATCH: any of them). `email` may only repeat the current address:
/// a different one is refused (use set_email).
#[derive(ToSchema)]
pub struct ProfileRequest {
    #[schema(value_type = Option<String>, nullable = false, format = Email, max_length = 254)]
    email: Option<Email>,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    first_name: Option<PersonName>,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    last_name: Option<PersonName>,
}

impl FromInput for ProfileRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let body = Self {
            email: input.parsed("email", false, &mut errors, Email::parse),
            first_name: input.parsed("first_name", false, &mut errors, PersonName::parse),
            last_name: input.parsed("last_name", false, &mut errors, PersonName::parse),
        };
        errors.into_result()?;
        Ok(body)
    }
}

impl From<ProfileRequest> for ProfileChanges {
    fn from(body: ProfileRequest) -> Self {
        Self {
            email: body.email,
            first_name: body.first_name,
            last_name: body.last_name,
        }
    }
}

/// Profile fields (PUT): `email` is required and may only repeat the current address.
#[derive(ToSchema)]
pub struct ProfileReplaceRequest {
    #[schema(value_type = String, format = Email, max_length = 254)]
    email: Email,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    first_name: Option<PersonName>,
    #[schema(value_type = Option<String>, nullable = false, max_length = 150)]
    last_name: Option<PersonName>,
}

impl FromInput for ProfileReplaceRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = input.parsed("email", true, &mut errors, Email::parse);
        let first_name = input.parsed("first_name", false, &mut errors, PersonName::parse);
        let last_name = input.parsed("last_name", false, &mut errors, PersonName::parse);
        Ok(Self {
            email: checked(errors, email)?,
            first_name,
            last_name,
        })
    }
}

impl From<ProfileReplaceRequest> for ProfileChanges {
    fn from(body: ProfileReplaceRequest) -> Self {
        Self {
            email: Some(body.email),
            first_name: body.first_name,
            last_name: body.last_name,
        }
    }
}

/// `{"current_password": …}`.
#[derive(ToSchema)]
pub struct CurrentPasswordRequest {
    // Reported missing only once the account is known to be the caller's to delete (Djoser's
    // order: permission, object, then fields), so the type lets it be absent.
    #[schema(required = true, nullable = false, min_length = 1)]
    pub current_password: Option<String>,
}

impl FromInput for CurrentPasswordRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let current_password = input.optional("current_password", false, &mut errors);
        errors.into_result()?;
        Ok(Self { current_password })
    }
}

/// set_password fields.
#[derive(ToSchema)]
pub struct SetPasswordRequest {
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
    /// Required when `LATCHKEY_SET_PASSWORD_RETYPE` is on; ignored otherwise.
    #[schema(nullable = false)]
    pub re_new_password: Option<String>,
    #[schema(min_length = 1)]
    pub current_password: String,
}

impl FromInput for SetPasswordRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let new_password = input.required("new_password", false, &mut errors);
        let re_new_password = if input.rules().set_password_retype {
            input.required("re_new_password", false, &mut errors)
        } else {
            None
        };
        let current_password = input.required("current_password", false, &mut errors);
        let (new_password, current_password) = checked(errors, new_password.zip(current_password))?;
        Ok(Self {
            new_password,
            re_new_password,
            current_password,
        })
    }
}

/// set_email fields.
#[derive(ToSchema)]
pub struct SetEmailRequest {
    #[schema(value_type = String, format = Email, max_length = 254)]
    pub new_email: Email,
    #[schema(min_length = 1)]
    pub current_password: String,
}

impl FromInput for SetEmailRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let current_password = input.required("current_password", false, &mut errors);
        let new_email = input.parsed("new_email", true, &mut errors, Email::parse);
        let (new_email, current_password) = checked(errors, new_email.zip(current_password))?;
        Ok(Self {
            new_email,
            current_password,
        })
    }
}

/// `{"email": …}`.
#[derive(ToSchema)]
pub struct EmailRequest {
    #[schema(value_type = String, format = Email, max_length = 254)]
    pub email: Email,
}

impl FromInput for EmailRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = input.parsed("email", true, &mut errors, Email::parse);
        Ok(Self {
            email: checked(errors, email)?,
        })
    }
}

/// reset_password_confirm fields.
#[derive(ToSchema)]
pub struct ResetConfirmRequest {
    #[schema(min_length = 1)]
    pub uid: String,
    #[schema(min_length = 1)]
    pub token: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
    /// Required when `LATCHKEY_PASSWORD_RESET_CONFIRM_RETYPE` is on.
    #[schema(nullable = false)]
    pub re_new_password: Option<String>,
}

impl FromInput for ResetConfirmRequest {
    fn from_input(input: &Input) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let uid = input.required("uid", true, &mut errors);
        let token = input.required("token", true, &mut errors);
        let new_password = input.required("new_password", false, &mut errors);
        let re_new_password = if input.rules().password_reset_confirm_retype {
            input.required("re_new_password", false, &mut errors)
        } else {
            None
        };
        let fields = uid.zip(token).zip(new_password);
        let ((uid, token), new_password) = checked(errors, fields)?;
        Ok(Self {
            uid,
            token,
            new_password,
            re_new_password,
        })
    }
}

/// A token pair.
#[derive(Serialize, ToSchema)]
pub struct PairResponse {
    /// The refresh token.
    pub refresh: String,
    /// The access token.
    pub access: String,
}

/// A new access token, and the rotated refresh token when rotation is on.
#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    /// The new access token.
    pub access: String,
    /// The rotated refresh token (absent when rotation is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh: Option<String>,
}

/// ninja-jwt's pair: the identifier field as given (`username` or `email`) plus the tokens.
#[derive(Serialize, ToSchema)]
pub struct NinjaPairResponse {
    /// The identifier, when it came as `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// The identifier, when it came as `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    /// The refresh token.
    pub refresh: String,
    /// The access token.
    pub access: String,
}

impl NinjaPairResponse {
    /// The pair, with the identifier echoed under the field it came in.
    pub fn new(login: CredentialsRequest, refresh: String, access: String) -> Self {
        let (username, email) = match login.field {
            "email" => (None, Some(login.identifier)),
            _ => (Some(login.identifier), None),
        };
        Self {
            username,
            email,
            refresh,
            access,
        }
    }
}

/// The FastAPI-style login answer.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: &'static str,
    /// The account.
    pub user: UserBody,
}

/// DRF's page of users (`?page=N`).
#[derive(Serialize, ToSchema)]
pub struct UserPageResponse {
    /// How many users the whole list has.
    pub count: i64,
    /// The next page's address.
    pub next: Option<String>,
    /// The previous page's address.
    pub previous: Option<String>,
    /// This page.
    pub results: Vec<UserBody>,
}

/// What registration answers while enumeration protection is on: only what was sent.
#[derive(Serialize, ToSchema)]
pub struct RegisteredResponse {
    /// The address as given.
    pub email: String,
    /// The username as given (or derived from the address).
    pub username: String,
}

/// Registration's answer: the new account, or with enumeration protection on only what was
/// sent (so a taken address answers the same).
#[derive(Serialize)]
#[serde(untagged)]
pub enum CreatedResponse {
    /// The account as created.
    User(UserBody),
    /// Enumeration protection on.
    Concealed(RegisteredResponse),
}

// Written by hand because a user object also has the concealed answer's two fields: the
// derived `oneOf` would match both and be refused by validators; `anyOf` is what is meant.
impl utoipa::PartialSchema for CreatedResponse {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("UserBody"))
            .item(Ref::from_schema_name("RegisteredResponse"))
            .description(Some(
                "The new account; with enumeration protection on, only `email` and `username`.",
            ))
            .into()
    }
}

impl ToSchema for CreatedResponse {}

/// `{}`: SimpleJWT's body for a verified or blacklisted token.
#[derive(Serialize, ToSchema)]
pub struct EmptyResponse {}

/// The user list: Djoser's array, or DRF's page with `?page=N`. Schema only: the array is
/// streamed batch by batch, so no value of this type is ever built.
pub struct UsersListResponse;

impl utoipa::PartialSchema for UsersListResponse {
    fn schema() -> RefOr<Schema> {
        let all = utoipa::openapi::schema::ArrayBuilder::new()
            .items(Ref::from_schema_name("UserBody"))
            .description(Some("Without `page`."));
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(all)
            .item(Ref::from_schema_name("UserPageResponse"))
            .description(Some(
                "The user list: Djoser's array, or DRF's page with `?page=N`.",
            ))
            .into()
    }
}

impl ToSchema for UsersListResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::api::input::parse_for_test;

    #[test]
    fn every_problem_is_reported_in_drfs_order() {
        let input = parse_for_test(r#"{"email": "nope", "first_name": 5}"#);
        let errors = RegisterRequest::from_input(&input).err().unwrap();
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"email":["Enter a valid email address."],"password":["This field is required."],"first_name":["Not a valid string."]}"#
        );
    }

    #[test]
    fn credentials_come_under_username_or_email() {
        let input = parse_for_test(r#"{"email": "a@example.com", "password": "pw"}"#);
        let login = CredentialsRequest::from_input(&input).ok().unwrap();
        assert_eq!(
            (login.field, login.identifier.as_str()),
            ("email", "a@example.com")
        );
        let input = parse_for_test(r#"{"password": "pw"}"#);
        let errors = CredentialsRequest::from_input(&input).err().unwrap();
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"username":["This field is required."]}"#
        );
    }

    /// The fields the schema marks required, in declaration order.
    fn required_in_schema<T: ToSchema>() -> Vec<String> {
        match T::schema() {
            RefOr::T(Schema::Object(object)) => object.required,
            _ => panic!("{} is not an object schema", T::name()),
        }
    }

    /// The fields the parser reports missing in an empty body.
    fn reported_missing<T: FromInput>() -> Vec<String> {
        match T::from_input(&parse_for_test("{}")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|(field, _)| field.to_owned()).collect(),
        }
    }

    fn assert_schema_matches<T: ToSchema + FromInput>() {
        let mut in_schema = required_in_schema::<T>();
        let mut reported = reported_missing::<T>();
        in_schema.sort();
        reported.sort();
        assert_eq!(in_schema, reported, "{}", T::name());
    }

    #[test]
    fn the_document_requires_what_the_parsers_require() {
        assert_schema_matches::<RegisterRequest>();
        assert_schema_matches::<RefreshRequest>();
        assert_schema_matches::<VerifyRequest>();
        assert_schema_matches::<UidTokenRequest>();
        assert_schema_matches::<ProfileRequest>();
        assert_schema_matches::<ProfileReplaceRequest>();
        assert_schema_matches::<SetPasswordRequest>();
        assert_schema_matches::<SetEmailRequest>();
        assert_schema_matches::<EmailRequest>();
        assert_schema_matches::<ResetConfirmRequest>();
        // current_password is required too, but reported by the core once the account is
        // known (Djoser's order), not by the parser.
        assert_eq!(
            required_in_schema::<CurrentPasswordRequest>(),
            ["current_password"]
        );
        assert!(reported_missing::<CurrentPasswordRequest>().is_empty());
    }

    #[test]
    fn put_needs_the_email_and_patch_does_not() {
        let input = parse_for_test(r#"{"first_name": "Ann"}"#);
        assert!(ProfileRequest::from_input(&input).is_ok());
        let errors = ProfileReplaceRequest::from_input(&input).err().unwrap();
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"email":["This field is required."]}"#
        );
    }
}

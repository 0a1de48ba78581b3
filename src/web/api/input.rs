use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::{Map, Value};

use super::ApiError;
use crate::domain::FieldErrors;
use crate::state::AppState;
use crate::web::NULL_CHARACTERS;

/// A request body as DRF sees it: JSON or form-encoded, as a map of fields. Unknown fields are
/// simply never read.
#[derive(Debug, Default)]
pub struct Input {
    fields: Map<String, Value>,
    rules: BodyRules,
}

/// The settings that change which fields a body must have (Djoser's retype flags).
#[derive(Debug, Default, Clone, Copy)]
pub struct BodyRules {
    /// Registration needs `re_password`.
    pub user_create_password_retype: bool,
    /// set_password needs `re_new_password`.
    pub set_password_retype: bool,
    /// reset_password_confirm needs `re_new_password`.
    pub password_reset_confirm_retype: bool,
}

impl Input {
    fn new(fields: Map<String, Value>) -> Self {
        Self {
            fields,
            rules: BodyRules::default(),
        }
    }

    /// The settings' rules for this server.
    pub fn rules(&self) -> BodyRules {
        self.rules
    }

    /// A required string field, with DRF's messages for missing, null, blank and non-strings.
    /// Numbers are accepted as their text, as DRF's `CharField` does.
    pub fn required(&self, name: &str, trim: bool, errors: &mut FieldErrors) -> Option<String> {
        match self.text(name, trim, errors)? {
            None => {
                errors.add(name, "This field is required.");
                None
            }
            Some(value) if value.is_empty() => {
                errors.add(name, "This field may not be blank.");
                None
            }
            Some(value) => Some(value),
        }
    }

    /// An optional string field that may be blank; absent gives `None`.
    pub fn optional(&self, name: &str, trim: bool, errors: &mut FieldErrors) -> Option<String> {
        self.text(name, trim, errors).flatten()
    }

    /// A field run through a domain parser; its error message is recorded under the field.
    /// Absent optional fields give `None` without a message.
    pub fn parsed<T, E: ToString>(
        &self,
        name: &str,
        required: bool,
        errors: &mut FieldErrors,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = if required {
            self.required(name, true, errors)?
        } else {
            self.optional(name, true, errors)?
        };
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(e) => {
                errors.add(name, e.to_string());
                None
            }
        }
    }

    /// True when the body has this field at all.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// `None` = invalid (message recorded); `Some(None)` = absent. Only JSON strings are text:
    /// a number is refused (DRF's `CharField` would take `18446744073709551616` as
    /// `1.8446744073709552e+19`, and the OpenAPI document says "string"). Text with NUL
    /// characters is refused, as DRF does (PostgreSQL cannot store them).
    fn text(&self, name: &str, trim: bool, errors: &mut FieldErrors) -> Option<Option<String>> {
        let value = match self.fields.get(name) {
            None => return Some(None),
            Some(Value::String(s)) if s.contains('\0') => {
                errors.add(name, NULL_CHARACTERS);
                return None;
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) => {
                errors.add(name, "This field may not be null.");
                return None;
            }
            Some(_) => {
                errors.add(name, "Not a valid string.");
                return None;
            }
        };
        Some(Some(if trim { value.trim().to_owned() } else { value }))
    }
}

impl FromRequest for Input {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>();
            let limit = state.map_or(64 * 1024, |state| state.settings.server.max_body_bytes);
            let rules = state.map(|state| BodyRules {
                user_create_password_retype: state.settings.accounts.user_create_password_retype,
                set_password_retype: state.settings.accounts.set_password_retype,
                password_reset_confirm_retype: state
                    .settings
                    .accounts
                    .password_reset_confirm_retype,
            });
            let bytes = web::Bytes::from_request(&req, &mut payload)
                .await
                .map_err(|e| body_error(e, limit))?;
            let content_type = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let media_type = content_type.as_deref().map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
            let mut input = match (media_type.as_deref(), content_type) {
                (Some("multipart/form-data"), Some(full)) => parse_multipart(&full, bytes).await,
                _ => parse(media_type.as_deref(), &bytes),
            }?;
            input.rules = rules.unwrap_or_default();
            Ok(input)
        })
    }
}

fn parse(media_type: Option<&str>, bytes: &[u8]) -> Result<Input, ApiError> {
    match media_type {
        None | Some("") if bytes.is_empty() => Ok(Input::default()),
        Some("application/json") => parse_json(bytes),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => parse_json(bytes),
        Some("application/x-www-form-urlencoded") => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
                .map_err(|e| ApiError::Parse(format!("Form parse error - {e}")))?;
            Ok(Input::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ))
        }
        other => Err(ApiError::UnsupportedMediaType(
            other.unwrap_or_default().to_owned(),
        )),
    }
}

/// DRF's `MultiPartParser`: the text fields are the data (a file field is not a value of it);
/// a repeated field keeps its last value, as `QueryDict` does.
async fn parse_multipart(content_type: &str, bytes: web::Bytes) -> Result<Input, ApiError> {
    let failed = |e: multer::Error| ApiError::Parse(format!("Multipart form parse error - {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(failed)?;
    let body = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut fields = Map::new();
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if field.file_name().is_some() {
            continue;
        }
        let text = field.text().await.map_err(failed)?;
        fields.insert(name, Value::String(text));
    }
    Ok(Input::new(fields))
}

fn parse_json(bytes: &[u8]) -> Result<Input, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Input::default());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Input::new(map)),
        Ok(other) => {
            let mut errors = FieldErrors::new();
            errors.add(
                "non_field_errors",
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    json_type_name(&other)
                ),
            );
            Err(ApiError::Validation(errors))
        }
        Err(e) => Err(ApiError::Parse(format!("JSON parse error - {e}"))),
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

/// Maps a body-reading failure: too large → 413, too slow → 408, anything else → 400.
pub fn body_error(e: actix_web::Error, limit: usize) -> ApiError {
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge(limit),
        Some(PayloadError::Io(io)) if io.kind() == std::io::ErrorKind::TimedOut => {
            ApiError::RequestTimeout
        }
        _ => ApiError::Parse(format!("Could not read the request body - {e}")),
    }
}

/// A JSON body read as a request would be, with the default rules.
#[cfg(test)]
pub fn parse_for_test(json: &str) -> Input {
    parse(Some("application/json"), json.as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_bodies_become_fields() {
        let json = parse(
            Some("application/json"),
            br#"{"a":"x","n":5,"b":true,"huge":18446744073709551616,"nul":"a\u0000b"}"#,
        )
        .unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(json.required("a", true, &mut errors).as_deref(), Some("x"));
        assert_eq!(json.required("n", true, &mut errors), None);
        assert_eq!(json.required("b", true, &mut errors), None);
        assert_eq!(json.required("missing", true, &mut errors), None);
        assert_eq!(json.required("huge", true, &mut errors), None);
        assert_eq!(json.required("nul", true, &mut errors), None);
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"n":["Not a valid string."],"b":["Not a valid string."],"missing":["This field is required."],"huge":["Not a valid string."],"nul":["Null characters are not allowed."]}"#
        );
        let form = parse(Some("application/x-www-form-urlencoded"), b"a=%20y%20&c=").unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(form.required("a", true, &mut errors).as_deref(), Some("y"));
        assert_eq!(form.optional("c", true, &mut errors).as_deref(), Some(""));
        assert!(errors.is_empty());
    }

    #[test]
    fn rejects_non_objects_and_other_media_types() {
        assert!(matches!(
            parse(Some("application/json"), b"[1]"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            parse(Some("application/json"), b"{"),
            Err(ApiError::Parse(_))
        ));
        assert!(matches!(
            parse(Some("text/plain"), b"x"),
            Err(ApiError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert!(parse(None, b"").is_ok());
    }

    #[actix_web::test]
    async fn multipart_text_fields_are_the_data() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\
                    Content-Type: image/png\r\n\r\nPNG\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nsecret\r\n--XyZ--\r\n";
        let input = parse_multipart("multipart/form-data; boundary=XyZ", body.into())
            .await
            .unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(
            input.required("username", true, &mut errors).as_deref(),
            Some("ann")
        );
        assert_eq!(
            input.required("password", false, &mut errors).as_deref(),
            Some("secret")
        );
        assert!(!input.has("avatar"), "a file is not a value");
        assert!(matches!(
            parse_multipart("multipart/form-data", web::Bytes::new()).await,
            Err(ApiError::Parse(m)) if m.starts_with("Multipart form parse error")
        ));
    }
}

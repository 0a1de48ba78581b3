//! Parse-don't-validate value types: once a value has one of these types it is valid.

mod email;
mod errors;
mod meta;
mod name;
mod password;
mod uid;
mod username;

pub use email::{Email, EmailError};
pub use errors::FieldErrors;
pub use meta::ClientMeta;
pub use name::{NameError, PersonName};
pub use password::{
    MAX_PASSWORD_BYTES, NewPassword, PasswordPolicy, PasswordProblem, UserAttributes,
};
pub use uid::{base64url_encode, decode_uid, encode_uid};
pub use username::{Username, UsernameError, normalize as normalize_username};

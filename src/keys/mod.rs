//! Asymmetric signing keys: generated here, kept in the database (private part sealed under a
//! key derived from `secret_key`) so every process of a deployment signs and verifies with the
//! same set, published as a JWK Set, and rotated without breaking anyone: a new key is
//! published `key_publish_delay` seconds before it signs, and an old one stays published until
//! everything it signed has expired.
//!
//! Below tokens: it knows keys and times, never users or sessions.

mod crypt;
pub mod ops;
mod ring;
mod service;

pub use crypt::Sealer;
pub use ops::KeyRow;
pub use ring::{KeyRing, LoadedKey, Signer};
pub use service::{KeyInfo, KeyState, Keys};

/// The asymmetric algorithms Latchkey signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// RSA 2048, PKCS#1 v1.5 with SHA-256: what every OpenID client accepts by default.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl KeyAlg {
    /// Every algorithm, in the order `keys list` shows them.
    pub const ALL: [KeyAlg; 2] = [KeyAlg::Rs256, KeyAlg::Es256];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm of a JOSE `alg` name (case-insensitive), if Latchkey signs with it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(name))
    }

    /// jsonwebtoken's name for it.
    pub fn jose(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// What can go wrong with signing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A sealed private key does not open: `secret_key` changed since it was sealed (or the
    /// row was altered).
    #[error(
        "a signing key cannot be decrypted: secret_key is not the one it was sealed with (restore it, or remove the signing_keys rows and rotate)"
    )]
    WrongSecret,
    /// A stored row is not a key of its algorithm.
    #[error("signing key {kid} is damaged: {reason}")]
    Damaged {
        /// The key id.
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// The crypto library failed where it should not.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(crate::db::DbError::from(e))
    }
}

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::TokenError;
use crate::config::Secret;

/// The two kinds of JWT Latchkey mints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Short-lived bearer credential.
    Access,
    /// Long-lived credential that buys new access tokens.
    Refresh,
}

impl TokenType {
    /// The `token_type` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// SimpleJWT's claims (in its emission order) plus `sid`, the session the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// "access" or "refresh".
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Unique id: 32 lower-case hex characters, like `uuid4().hex`.
    pub jti: String,
    /// The user's id; emitted as an integer, accepted as an integer or a string.
    #[serde(deserialize_with = "int_or_string")]
    pub user_id: i64,
    /// The session id.
    pub sid: String,
}

impl Claims {
    /// The parsed `token_type`, or `None` for an unknown one.
    pub fn kind(&self) -> Option<TokenType> {
        match self.token_type.as_str() {
            "access" => Some(TokenType::Access),
            "refresh" => Some(TokenType::Refresh),
            _ => None,
        }
    }
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Int(i64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Int(n) => Ok(n),
        Either::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// HS256 signing and checking. Expiry is checked against the injected clock, not the system's.
#[derive(Clone)]
pub struct JwtCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtCodec(HS256)")
    }
}

impl JwtCodec {
    /// A codec keyed by a key derived from the server secret (a separate key per purpose, so
    /// the JWT key is never the cookie key).
    pub fn new(secret: &Secret) -> Self {
        let key = Sha256::new()
            .chain_update(b"latchkey:jwt-signing-key:")
            .chain_update(secret.expose().as_bytes())
            .finalize();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    /// Signs claims into a compact JWS.
    pub fn encode(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::Unexpected(anyhow::Error::new(e).context("JWT encoding")))
    }

    /// Checks the signature and shape, then expiry against `now` (Unix seconds).
    pub fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.jti.is_empty() || claims.kind().is_none() {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

/// 128 random bits as 32 lower-case hex characters (jti and session ids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex(&bytes)
}

/// The jti of the access token minted together with a refresh token: derived, so the same
/// pair can be re-sent during the rotation grace window.
pub fn paired_access_jti(refresh_jti: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"latchkey:access-for:")
        .chain_update(refresh_jti.as_bytes())
        .finalize();
    hex(digest.get(..16).unwrap_or_default())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            token_type: "access".into(),
            exp,
            iat: 100,
            jti: random_id(),
            user_id: 7,
            sid: random_id(),
        }
    }

    #[test]
    fn round_trips_and_checks_expiry_against_the_given_time() {
        let codec = JwtCodec::new(&Secret::new("k".repeat(40)));
        let token = codec.encode(&claims(200)).unwrap();
        let decoded = codec.decode(&token, 199).unwrap();
        assert_eq!(decoded.user_id, 7);
        assert!(matches!(
            codec.decode(&token, 200),
            Err(TokenError::Expired)
        ));
        let other = JwtCodec::new(&Secret::new("z".repeat(40)));
        assert!(matches!(other.decode(&token, 0), Err(TokenError::Invalid)));
        assert!(matches!(
            codec.decode("garbage", 0),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn claim_order_matches_simplejwt_and_user_id_may_be_a_string() {
        let c = claims(200);
        let json = serde_json::to_string(&c).unwrap();
        let keys: Vec<usize> = ["token_type", "exp", "iat", "jti", "user_id", "sid"]
            .iter()
            .map(|k| json.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{json}");
        let parsed: Claims = serde_json::from_str(
            r#"{"token_type":"access","exp":1,"iat":0,"jti":"a","user_id":"42","sid":"s"}"#,
        )
        .unwrap();
        assert_eq!(parsed.user_id, 42);
    }

    #[test]
    fn paired_jti_is_stable_and_hex() {
        let a = paired_access_jti("abc");
        assert_eq!(a, paired_access_jti("abc"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, paired_access_jti("abd"));
    }
}

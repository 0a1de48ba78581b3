use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::TokenError;
use crate::config::{JwtAlgorithm, Secret};
use crate::keys::{KeyAlg, KeyRing};

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

/// How far in the future an `iat` may lie (clocks of several processes drift a little).
const IAT_LEEWAY_SECONDS: i64 = 30;

/// An `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, as Latchkey writes it.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// True when `audience` is (one of) the token's audience(s).
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// How a token writes its `user_id` claim: as the dialect that issued it does. SimpleJWT 5.5
/// (the Djoser routes) writes a string, django-ninja-jwt and the FastAPI pattern an integer.
/// Both are accepted everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserIdClaim {
    /// `"user_id": "42"`.
    Text,
    /// `"user_id": 42`.
    #[default]
    Integer,
}

/// SimpleJWT's claims (in its emission order: `aud` and `iss` last, as its backend adds them)
/// plus `sid`, the session the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// "access" or "refresh".
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Unique id: 32 lower-case hex characters, like `uuid4().hex`.
    pub jti: String,
    /// The user's id; accepted as an integer or a string.
    #[serde(deserialize_with = "int_or_string")]
    pub user_id: i64,
    /// How `user_id` is written when this token is signed.
    #[serde(skip)]
    pub user_id_claim: UserIdClaim,
    /// The session id.
    pub sid: String,
    /// Who the token is for; absent only in tokens minted before Latchkey wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Who minted the token; absent only in tokens minted before Latchkey wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The OpenID client of an RFC 9068 access token (never written into API tokens).
    #[serde(default, skip_serializing)]
    pub client_id: Option<String>,
    /// The scope of an RFC 9068 access token (never written into API tokens).
    #[serde(default, skip_serializing)]
    pub scope: Option<String>,
}

/// The claims of an access token issued to an OpenID client (RFC 9068, `typ: at+jwt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The provider's issuer.
    pub iss: String,
    /// The user's id, as a string.
    pub sub: String,
    /// The resource server: Latchkey's API audience.
    pub aud: Audience,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scope, space-separated.
    pub scope: String,
    /// Unique id.
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// The grant (session) the token belongs to.
    pub sid: String,
}

impl AccessTokenClaims {
    /// The same facts as the claims every bearer check reads.
    fn into_claims(self) -> Result<Claims, TokenError> {
        Ok(Claims {
            token_type: TokenType::Access.as_str().to_owned(),
            exp: self.exp,
            iat: self.iat,
            jti: self.jti,
            user_id: self.sub.parse().map_err(|_| TokenError::Invalid)?,
            user_id_claim: UserIdClaim::Text,
            sid: self.sid,
            aud: Some(self.aud),
            iss: Some(self.iss),
            client_id: Some(self.client_id),
            scope: Some(self.scope),
        })
    }
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Claims", 8)?;
        out.serialize_field("token_type", &self.token_type)?;
        out.serialize_field("exp", &self.exp)?;
        out.serialize_field("iat", &self.iat)?;
        out.serialize_field("jti", &self.jti)?;
        match self.user_id_claim {
            UserIdClaim::Text => out.serialize_field("user_id", &self.user_id.to_string())?,
            UserIdClaim::Integer => out.serialize_field("user_id", &self.user_id)?,
        }
        out.serialize_field("sid", &self.sid)?;
        match &self.aud {
            Some(aud) => out.serialize_field("aud", aud)?,
            None => out.skip_field("aud")?,
        }
        match &self.iss {
            Some(iss) => out.serialize_field("iss", iss)?,
            None => out.skip_field("iss")?,
        }
        out.end()
    }
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

pub(super) fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
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

/// Signing and checking of the API's tokens: HS256 with a key derived from the secret, or
/// RS256/ES256 with the active key of the shared key ring (`jwt_algorithm`); every kind is
/// accepted, each checked with its own key (an HS256 token only with the HMAC key, an RS256 or
/// ES256 one only with the published key its `kid` names, of that algorithm: no algorithm
/// confusion). Expiry is checked against the injected clock, not the system's. Every token it
/// mints names this server as issuer and audience, and every token it accepts must: `typ`
/// "JWT", `iss` and `aud` as configured, `iat` not in the future. Tokens minted before Latchkey
/// wrote `iss`/`aud` are accepted without them, if issued before the cutoff.
#[derive(Clone)]
pub struct JwtCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The same checks for the ring's algorithms (built once: a `Validation` holds sets).
    validation_rs256: Validation,
    validation_es256: Validation,
    issuer: String,
    audience: String,
    provider_issuer: String,
    legacy_before: Arc<AtomicI64>,
    signs_with: JwtAlgorithm,
    ring: KeyRing,
    verified: Arc<Verified>,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtCodec({})", self.signs_with.as_str())
    }
}

/// A Unix time as the naive UTC time the key ring keeps.
fn naive(unix: i64) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The ring's algorithm for an asymmetric setting.
fn key_alg(alg: JwtAlgorithm) -> Option<KeyAlg> {
    match alg {
        JwtAlgorithm::Hs256 => None,
        JwtAlgorithm::Rs256 => Some(KeyAlg::Rs256),
        JwtAlgorithm::Es256 => Some(KeyAlg::Es256),
    }
}

impl JwtCodec {
    /// A codec keyed by a key derived from the server secret (a separate key per purpose, so
    /// the JWT key is never the cookie key), minting and requiring this issuer and audience.
    pub fn new(secret: &Secret, issuer: &str, audience: &str) -> Self {
        let key = Sha256::new()
            .chain_update(b"latchkey:jwt-signing-key:")
            .chain_update(secret.expose().as_bytes())
            .finalize();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let for_alg = |alg: Algorithm| {
            let mut v = validation.clone();
            v.algorithms = vec![alg];
            v
        };
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation_rs256: for_alg(Algorithm::RS256),
            validation_es256: for_alg(Algorithm::ES256),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            provider_issuer: issuer.to_owned(),
            legacy_before: Arc::new(AtomicI64::new(i64::MIN)),
            signs_with: JwtAlgorithm::Hs256,
            ring: KeyRing::default(),
            verified: Arc::new(Verified::default()),
        }
    }

    /// The same codec signing with `alg` (the ring's active key for RS256/ES256) and accepting
    /// the ring's published keys.
    pub fn signing_with(mut self, alg: JwtAlgorithm, ring: KeyRing) -> Self {
        self.signs_with = alg;
        self.ring = ring;
        self
    }

    /// The OpenID provider's issuer (`public_url`): the `iss` of the access tokens it issues
    /// to clients, which the API accepts as bearers too.
    pub fn with_provider_issuer(mut self, issuer: &str) -> Self {
        issuer.clone_into(&mut self.provider_issuer);
        self
    }

    /// The OpenID provider's issuer.
    pub fn provider_issuer(&self) -> &str {
        &self.provider_issuer
    }

    /// The API's audience (the `aud` of access tokens issued to OpenID clients too).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs any claims with the ring's key for `alg` active at `at` (Unix seconds), with this
    /// `typ` header and the key's `kid`; `None` when no key of that algorithm signs yet.
    pub fn sign_with_key<T: Serialize>(
        &self,
        alg: KeyAlg,
        typ: &str,
        claims: &T,
        at: i64,
    ) -> Result<Option<String>, TokenError> {
        let json = serde_json::to_vec(claims)
            .map_err(|e| TokenError::Unexpected(anyhow::Error::new(e).context("JWT claims")))?;
        self.ring
            .sign_jws(alg, typ, &json, naive(at))
            .transpose()
            .map_err(|e| TokenError::Unexpected(anyhow::Error::new(e).context("JWT signing")))
    }

    /// The claims of a token signed by one of the ring's published keys (the one its `kid`
    /// names, with that key's algorithm), whatever its expiry, and its `typ` header; for
    /// tokens the provider issued (ID tokens presented back as logout hints).
    pub fn verify_published<T: DeserializeOwned>(
        &self,
        token: &str,
        now: i64,
    ) -> Result<(Option<String>, T), TokenError> {
        let token = token.trim();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (key_alg, key) = self
            .ring
            .verifying(&kid, naive(now))
            .ok_or(TokenError::Invalid)?;
        if key_alg.jose() != header.alg {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<T>(token, &key, self.validation_for(key_alg))
            .map_err(|_| TokenError::Invalid)?;
        Ok((data.header.typ, data.claims))
    }

    fn validation_for(&self, alg: KeyAlg) -> &Validation {
        match alg {
            KeyAlg::Rs256 => &self.validation_rs256,
            KeyAlg::Es256 => &self.validation_es256,
        }
    }

    /// Accepts tokens without `iss`/`aud` when issued before `at` (Unix seconds): those were
    /// minted by a Latchkey that did not write the claims yet, and live until they expire.
    pub fn accept_legacy_before(&self, at: i64) {
        self.legacy_before.store(at, Ordering::Relaxed);
    }

    /// The claims of a new token, with this server's issuer and audience.
    pub fn claims(
        &self,
        kind: TokenType,
        exp: i64,
        iat: i64,
        jti: String,
        user_id: i64,
        sid: String,
    ) -> Claims {
        Claims {
            token_type: kind.as_str().to_owned(),
            exp,
            iat,
            jti,
            user_id,
            user_id_claim: UserIdClaim::default(),
            sid,
            aud: Some(Audience::One(self.audience.clone())),
            iss: Some(self.issuer.clone()),
            client_id: None,
            scope: None,
        }
    }

    /// Signs claims into a compact JWS, with the key active at their `iat`.
    pub fn encode(&self, claims: &Claims) -> Result<String, TokenError> {
        let failed = |e: jsonwebtoken::errors::Error| {
            TokenError::Unexpected(anyhow::Error::new(e).context("JWT encoding"))
        };
        let Some(alg) = key_alg(self.signs_with) else {
            return jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
                .map_err(failed);
        };
        match self.sign_with_key(alg, "JWT", claims, claims.iat)? {
            Some(token) => Ok(token),
            None => Err(TokenError::Unexpected(anyhow::anyhow!(
                "no {} signing key is active (latchkey keys rotate --alg {} makes one)",
                alg.as_str(),
                alg.as_str()
            ))),
        }
    }

    /// Checks the signature, `typ` and shape, then expiry against `now` (Unix seconds), then
    /// `iat`, `iss` and `aud`.
    pub fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        match self.decode_past_expiry(token, now)? {
            (_, true) => Err(TokenError::Expired),
            (claims, false) => Ok(claims),
        }
    }

    /// The claims of an RS256/ES256 token, if the published key its `kid` names (and no other)
    /// signed it with that key's algorithm: a token cannot choose how it is checked.
    fn verify_asymmetric(
        &self,
        token: &str,
        header: Header,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let alg = header.alg;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let now_naive = naive(now);
        // The same token has the same header, so the same kid: only its key must still be
        // published.
        if let Some(claims) = self.verified.get(token) {
            return if self.ring.is_published(&kid, now_naive) {
                Ok(claims)
            } else {
                Err(TokenError::Invalid)
            };
        }
        let (key_alg, key) = self
            .ring
            .verifying(&kid, now_naive)
            .ok_or(TokenError::Invalid)?;
        if key_alg.jose() != alg {
            return Err(TokenError::Invalid);
        }
        let validation = self.validation_for(key_alg);
        let claims = if is_access_jwt(&header.typ) {
            // An OpenID client's access token: its own claims, from the provider's issuer.
            let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, validation)
                .map_err(|_| TokenError::Invalid)?;
            if data.claims.iss != self.provider_issuer {
                return Err(TokenError::Invalid);
            }
            data.claims.into_claims()?
        } else {
            let data = jsonwebtoken::decode::<Claims>(token, &key, validation)
                .map_err(|_| TokenError::Invalid)?;
            typ_is_jwt(&data.header)?;
            if data.claims.client_id.is_some() || data.claims.scope.is_some() {
                // Only an at+jwt speaks for a client.
                return Err(TokenError::Invalid);
            }
            data.claims
        };
        self.verified.insert(token, &claims);
        Ok(claims)
    }

    /// Every check of [`JwtCodec::decode`] but expiry, which it reports instead (for the one
    /// endpoint that renews tokens of a live session after they expire).
    pub fn decode_past_expiry(&self, token: &str, now: i64) -> Result<(Claims, bool), TokenError> {
        let token = token.trim();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
                    .map_err(|_| TokenError::Invalid)?;
                typ_is_jwt(&data.header)?;
                data.claims
            }
            _ => self.verify_asymmetric(token, header, now)?,
        };
        let expired = claims.exp <= now;
        if claims.jti.is_empty() || claims.kind().is_none() {
            return Err(TokenError::Invalid);
        }
        if claims.iat > now.saturating_add(IAT_LEEWAY_SECONDS) {
            return Err(TokenError::Invalid);
        }
        let issuer = if claims.client_id.is_some() {
            &self.provider_issuer
        } else {
            &self.issuer
        };
        let ours = claims.iss.as_deref() == Some(issuer.as_str())
            && claims
                .aud
                .as_ref()
                .is_some_and(|a| a.contains(&self.audience));
        let legacy = claims.iss.is_none()
            && claims.aud.is_none()
            && claims.iat < self.legacy_before.load(Ordering::Relaxed);
        if !ours && !legacy {
            return Err(TokenError::Invalid);
        }
        Ok((claims, expired))
    }
}

/// RFC 9068's `typ` (with or without the `application/` prefix).
fn is_access_jwt(typ: &Option<String>) -> bool {
    typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

fn typ_is_jwt(header: &Header) -> Result<(), TokenError> {
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("JWT"));
    if typ_ok {
        Ok(())
    } else {
        Err(TokenError::Invalid)
    }
}

/// How many checked asymmetric signatures a process remembers (about 1 KiB each).
const VERIFIED_CAPACITY: usize = 4096;

/// Asymmetric signatures already checked, by the whole token: checking one costs tens of
/// microseconds, and a client presents the same access token on every request. Only the
/// signature is remembered; the key must still be published and every claim is checked again.
#[derive(Default)]
struct Verified(Mutex<HashMap<String, Claims>>);

impl Verified {
    fn get(&self, token: &str) -> Option<Claims> {
        self.0.lock().ok()?.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: &Claims) {
        if let Ok(mut held) = self.0.lock() {
            // Bounded: when full, start over (the live tokens come back at once).
            if held.len() >= VERIFIED_CAPACITY {
                held.clear();
            }
            held.insert(token.to_owned(), claims.clone());
        }
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

    const ISS: &str = "https://auth.example.com";

    fn codec(secret: &str) -> JwtCodec {
        JwtCodec::new(&Secret::new(secret.repeat(40)), ISS, ISS)
    }

    fn claims(exp: i64) -> Claims {
        codec("k").claims(TokenType::Access, exp, 100, random_id(), 7, random_id())
    }

    #[test]
    fn round_trips_and_checks_expiry_against_the_given_time() {
        let codec = codec("k");
        let token = codec.encode(&claims(200)).unwrap();
        let decoded = codec.decode(&token, 199).unwrap();
        assert_eq!(decoded.user_id, 7);
        assert_eq!(decoded.iss.as_deref(), Some(ISS));
        assert!(matches!(
            codec.decode(&token, 200),
            Err(TokenError::Expired)
        ));
        let other = self::codec("z");
        assert!(matches!(other.decode(&token, 0), Err(TokenError::Invalid)));
        assert!(matches!(
            codec.decode("garbage", 0),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn issuer_audience_and_issue_time_are_checked() {
        let codec = codec("k");
        let other_issuer = JwtCodec::new(&Secret::new("k".repeat(40)), "https://x", ISS);
        let other_audience = JwtCodec::new(&Secret::new("k".repeat(40)), ISS, "https://x");
        for minted_by in [&other_issuer, &other_audience] {
            let mut c = minted_by.claims(TokenType::Access, 200, 100, random_id(), 7, random_id());
            c.exp = 200;
            let token = minted_by.encode(&c).unwrap();
            assert!(matches!(
                codec.decode(&token, 150),
                Err(TokenError::Invalid)
            ));
        }
        let mut future = claims(1000);
        future.iat = 150 + IAT_LEEWAY_SECONDS + 1;
        let token = codec.encode(&future).unwrap();
        assert!(matches!(
            codec.decode(&token, 150),
            Err(TokenError::Invalid)
        ));
        future.iat = 150 + IAT_LEEWAY_SECONDS;
        let token = codec.encode(&future).unwrap();
        assert!(codec.decode(&token, 150).is_ok(), "within the leeway");
        let mut many = claims(1000);
        many.aud = Some(Audience::Many(vec!["https://x".into(), ISS.into()]));
        let token = codec.encode(&many).unwrap();
        assert!(
            codec.decode(&token, 150).is_ok(),
            "one of several audiences"
        );
    }

    #[test]
    fn tokens_without_issuer_are_accepted_only_from_before_the_cutoff() {
        let codec = codec("k");
        let mut legacy = claims(1000);
        legacy.iss = None;
        legacy.aud = None;
        let token = codec.encode(&legacy).unwrap();
        assert!(matches!(
            codec.decode(&token, 150),
            Err(TokenError::Invalid)
        ));
        codec.accept_legacy_before(101);
        assert!(codec.decode(&token, 150).is_ok(), "iat 100 < cutoff 101");
        codec.accept_legacy_before(100);
        assert!(matches!(
            codec.decode(&token, 150),
            Err(TokenError::Invalid)
        ));
        // A token with only one of the two claims is not legacy: both were added together.
        codec.accept_legacy_before(101);
        legacy.aud = Some(Audience::One(ISS.into()));
        let token = codec.encode(&legacy).unwrap();
        assert!(matches!(
            codec.decode(&token, 150),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn the_typ_header_must_say_jwt() {
        let codec = codec("k");
        let key = Sha256::new()
            .chain_update(b"latchkey:jwt-signing-key:")
            .chain_update("k".repeat(40).as_bytes())
            .finalize();
        for typ in [None, Some("at+jwt".to_owned())] {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = typ;
            let token =
                jsonwebtoken::encode(&header, &claims(1000), &EncodingKey::from_secret(&key))
                    .unwrap();
            assert!(matches!(
                codec.decode(&token, 150),
                Err(TokenError::Invalid)
            ));
        }
    }

    #[test]
    fn claim_order_matches_simplejwt_and_user_id_may_be_a_string() {
        let c = claims(200);
        let json = serde_json::to_string(&c).unwrap();
        let keys: Vec<usize> = [
            "token_type",
            "exp",
            "iat",
            "jti",
            "user_id",
            "sid",
            "aud",
            "iss",
        ]
        .iter()
        .map(|k| json.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{json}");
        let parsed: Claims = serde_json::from_str(
            r#"{"token_type":"access","exp":1,"iat":0,"jti":"a","user_id":"42","sid":"s"}"#,
        )
        .unwrap();
        assert_eq!(parsed.user_id, 42);
        let mut text = claims(200);
        text.user_id_claim = UserIdClaim::Text;
        assert!(
            serde_json::to_string(&text)
                .unwrap()
                .contains(r#""user_id":"7""#)
        );
        assert!(json.contains(r#""user_id":7"#), "{json}");
    }

    #[test]
    fn paired_jti_is_stable_and_hex() {
        let a = paired_access_jti("abc");
        assert_eq!(a, paired_access_jti("abc"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, paired_access_jti("abd"));
    }
}

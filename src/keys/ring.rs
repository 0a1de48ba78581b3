//! The keys a process signs and verifies with, loaded from the database and reloaded as it
//! changes (another process may have rotated).

use std::sync::{Arc, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use chrono::NaiveDateTime;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Header};

use super::{KeyAlg, KeyError};

/// A private key parsed once, when loaded: parsing an RSA key (and checking it) costs more than
/// signing with it, and the token endpoint signs twice a request.
pub enum Signer {
    /// RS256.
    Rsa(RsaKeyPair),
    /// ES256 (fixed-length `r‖s` signatures, as JWS wants).
    Ec(EcdsaKeyPair),
}

impl Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Crypto("RSA signing"))?;
                Ok(signature)
            }
            Self::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing")),
        }
    }
}

/// A usable key: both halves, its public JWK and its schedule.
#[derive(Clone)]
pub struct LoadedKey {
    /// The key id.
    pub kid: String,
    /// Its algorithm.
    pub alg: KeyAlg,
    /// The private half, parsed for signing.
    pub signer: Arc<Signer>,
    /// The public half.
    pub decoding: DecodingKey,
    /// The public JWK (with `kid`, `use` and `alg`).
    pub jwk: Jwk,
    /// When it was made.
    pub created_at: NaiveDateTime,
    /// From when it signs.
    pub activates_at: NaiveDateTime,
    /// When it leaves the published set.
    pub unpublish_at: Option<NaiveDateTime>,
}

impl LoadedKey {
    /// Published at `now`: tokens it signed are accepted and JWKS lists it.
    pub fn published(&self, now: NaiveDateTime) -> bool {
        self.unpublish_at.is_none_or(|at| now < at)
    }
}

/// The most recently activated published key of `alg` at `now`.
fn active(keys: &[LoadedKey], alg: KeyAlg, now: NaiveDateTime) -> Option<&LoadedKey> {
    keys.iter()
        .filter(|k| k.alg == alg && k.activates_at <= now && k.published(now))
        .max_by_key(|k| (k.activates_at, k.created_at))
}

/// The process's view of the key set (shared by clones).
#[derive(Clone, Default)]
pub struct KeyRing(Arc<RwLock<Vec<LoadedKey>>>);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.read(|keys| keys.iter().map(|k| k.kid.clone()).collect());
        f.debug_tuple("KeyRing").field(&kids).finish()
    }
}

impl KeyRing {
    fn read<T>(&self, f: impl FnOnce(&[LoadedKey]) -> T) -> T {
        match self.0.read() {
            Ok(keys) => f(&keys),
            // A panic while replacing the set cannot leave it half-written (one assignment).
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Replaces the whole set.
    pub fn replace(&self, keys: Vec<LoadedKey>) {
        match self.0.write() {
            Ok(mut held) => *held = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// A compact JWS of `claims` (already JSON) signed by the key active for `alg` at `now`, with
    /// the header `{"typ", "alg", "kid"}`; `None` when no key of `alg` signs at `now`.
    pub fn sign_jws(
        &self,
        alg: KeyAlg,
        typ: &str,
        claims: &[u8],
        now: NaiveDateTime,
    ) -> Option<Result<String, KeyError>> {
        let (kid, signer) = self
            .read(|keys| active(keys, alg, now).map(|k| (k.kid.clone(), Arc::clone(&k.signer))))?;
        let mut header = Header::new(alg.jose());
        header.kid = Some(kid);
        header.typ = Some(typ.to_owned());
        let header = match serde_json::to_vec(&header) {
            Ok(json) => json,
            Err(_) => return Some(Err(KeyError::Crypto("JWS header"))),
        };
        let b64 = crate::domain::base64url_encode;
        let message = format!("{}.{}", b64(&header), b64(claims));
        Some(
            signer
                .sign(message.as_bytes())
                .map(|signature| format!("{message}.{}", b64(&signature))),
        )
    }

    /// Whether a key signs `alg` at `now`.
    pub fn has_signing(&self, alg: KeyAlg, now: NaiveDateTime) -> bool {
        self.read(|keys| active(keys, alg, now).is_some())
    }

    /// The public key `kid` names, if it is published at `now`.
    pub fn verifying(&self, kid: &str, now: NaiveDateTime) -> Option<(KeyAlg, DecodingKey)> {
        self.read(|keys| {
            keys.iter()
                .find(|k| k.kid == kid && k.published(now))
                .map(|k| (k.alg, k.decoding.clone()))
        })
    }

    /// Whether the key `kid` names is published at `now`.
    pub fn is_published(&self, kid: &str, now: NaiveDateTime) -> bool {
        self.read(|keys| keys.iter().any(|k| k.kid == kid && k.published(now)))
    }

    /// The published keys at `now`, as a JWK Set (public members only).
    pub fn jwks(&self, now: NaiveDateTime) -> JwkSet {
        JwkSet {
            keys: self.read(|keys| {
                keys.iter()
                    .filter(|k| k.published(now))
                    .map(|k| k.jwk.clone())
                    .collect()
            }),
        }
    }
}

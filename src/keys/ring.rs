//! The keys a process signs and verifies with, loaded from the database and reloaded as it
//! changes (another process may have rotated).

use std::sync::{Arc, RwLock};

use chrono::NaiveDateTime;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::KeyAlg;

/// A usable key: both halves, its public JWK and its schedule.
#[derive(Clone)]
pub struct LoadedKey {
    /// The key id.
    pub kid: String,
    /// Its algorithm.
    pub alg: KeyAlg,
    /// The private half.
    pub encoding: EncodingKey,
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

    /// The key that signs `alg` at `now`: the most recently activated published one.
    pub fn signing(&self, alg: KeyAlg, now: NaiveDateTime) -> Option<(String, EncodingKey)> {
        self.read(|keys| active(keys, alg, now).map(|k| (k.kid.clone(), k.encoding.clone())))
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

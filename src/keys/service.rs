//! Key use cases: make sure a key exists, rotate, list, and keep the process's ring current.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use chrono::{Duration, NaiveDateTime, Timelike};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::ops::{self, KeyRow};
use super::{KeyAlg, KeyError, KeyRing, LoadedKey, Sealer, Signer};
use crate::clock::Clock;
use crate::config::Secret;
use crate::db::{Db, write_transaction};

/// Where a key is in its life at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet (clients are being given time to fetch it).
    Pending,
    /// Signing: the newest activated key of its algorithm.
    Active,
    /// Superseded, still published until what it signed has expired.
    Retiring,
    /// No longer published; tokens it signed are refused.
    Retired,
}

impl KeyState {
    /// The word `keys list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }
}

/// A key as `keys list` shows it (never its private part).
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// The key id.
    pub kid: String,
    /// The JOSE algorithm name.
    pub alg: String,
    /// Its state now.
    pub state: KeyState,
    /// When it was made.
    pub created_at: NaiveDateTime,
    /// From when it signs.
    pub activates_at: NaiveDateTime,
    /// When it leaves (or left) the published set.
    pub unpublish_at: Option<NaiveDateTime>,
}

/// The key use cases' context: the database, the clock, the sealer, the process's ring, and
/// the rotation schedule.
#[derive(Debug, Clone)]
pub struct Keys {
    db: Db,
    clock: Clock,
    sealer: Arc<Sealer>,
    ring: KeyRing,
    publish_delay: Duration,
    keep_published: Duration,
    rotate_after: Option<Duration>,
}

fn seconds(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

impl Keys {
    /// Keys sealed under `secret`; a new key is published `publish_delay` seconds before it
    /// signs, and a superseded one stays published `keep_published` seconds after the next one
    /// signs (the longest lifetime of what it signed).
    pub fn new(
        db: Db,
        clock: Clock,
        secret: &Secret,
        publish_delay: u64,
        keep_published: u64,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            db,
            clock,
            sealer: Arc::new(Sealer::new(secret)?),
            ring: KeyRing::default(),
            publish_delay: seconds(publish_delay),
            keep_published: seconds(keep_published),
            rotate_after: None,
        })
    }

    /// The same keys, rotated automatically once the active key has signed for `after` seconds
    /// (0: never).
    pub fn rotating_after(mut self, after: u64) -> Self {
        self.rotate_after = (after > 0).then(|| seconds(after));
        self
    }

    /// Rotates `alg` when automatic rotation is on, its active key has signed long enough and
    /// no successor is waiting; returns the new key's id when it rotated.
    pub async fn rotate_if_due(&self, alg: KeyAlg) -> Result<Option<String>, KeyError> {
        let Some(after) = self.rotate_after else {
            return Ok(None);
        };
        let infos = self.list().await?;
        let of_alg = || infos.iter().filter(|k| k.alg == alg.as_str());
        let waiting = of_alg().any(|k| k.state == KeyState::Pending);
        let now = self.clock.now_naive();
        let due = of_alg().any(|k| k.state == KeyState::Active && now - k.activates_at >= after);
        if waiting || !due {
            return Ok(None);
        }
        let key = self.rotate(alg).await?;
        tracing::info!(alg = alg.as_str(), kid = %key.kid, "rotated a signing key by age");
        Ok(Some(key.kid))
    }

    /// The process's ring (shared with the token codec).
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Reads the stored keys into the ring (every process does this now and then, so a
    /// rotation made elsewhere is seen well within the publish delay).
    pub async fn reload(&self) -> Result<usize, KeyError> {
        let sealer = Arc::clone(&self.sealer);
        let keys = self
            .db
            .run(move |conn| -> Result<Vec<LoadedKey>, KeyError> {
                ops::all(conn)?
                    .into_iter()
                    .map(|row| load(&sealer, row))
                    .collect()
            })
            .await?;
        let count = keys.len();
        self.ring.replace(keys);
        Ok(count)
    }

    /// Every `every`, rotates keys that are due (automatic rotation) and reloads the ring
    /// (never ends; the caller runs it in a task it can abort).
    pub async fn keep_current(self, every: std::time::Duration) {
        loop {
            tokio::time::sleep(every).await;
            for alg in KeyAlg::ALL {
                if let Err(e) = self.rotate_if_due(alg).await {
                    tracing::warn!(error.chain = %crate::telemetry::error_chain(&e), "cannot rotate signing keys");
                }
            }
            if let Err(e) = self.reload().await {
                tracing::warn!(error.chain = %crate::telemetry::error_chain(&e), "cannot reload signing keys");
            }
        }
    }

    /// The published key set now, with an RSA key in it: the first request for it makes one
    /// when there is none yet (a deployment that never publishes keys never pays for making
    /// one).
    pub async fn published(&self) -> Result<jsonwebtoken::jwk::JwkSet, KeyError> {
        let now = self.clock.now_naive();
        if !self.ring.has_signing(KeyAlg::Rs256, now) {
            self.ensure(KeyAlg::Rs256).await?;
        }
        Ok(self.ring.jwks(now))
    }

    /// Makes a key of `alg` at once if there is no current one (a first start: nobody can
    /// hold a stale key set yet); true when it made one.
    pub async fn ensure(&self, alg: KeyAlg) -> Result<bool, KeyError> {
        let now = self.clock.now_naive();
        let sealer = Arc::clone(&self.sealer);
        let made = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| -> Result<bool, KeyError> {
                    if ops::has_current(conn, alg.as_str())? {
                        return Ok(false);
                    }
                    ops::insert(conn, &generate(&sealer, alg, now, now)?)?;
                    Ok(true)
                })
            })
            .await?;
        self.reload().await?;
        Ok(made)
    }

    /// Publishes a new key of `alg` that signs after the publish delay, and schedules the
    /// current ones to leave the published set once what they sign until then has expired.
    pub async fn rotate(&self, alg: KeyAlg) -> Result<KeyInfo, KeyError> {
        let now = self.clock.now_naive();
        let activates_at = now + self.publish_delay;
        let unpublish_at = activates_at + self.keep_published;
        let sealer = Arc::clone(&self.sealer);
        let row = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| -> Result<KeyRow, KeyError> {
                    let row = generate(&sealer, alg, now, activates_at)?;
                    ops::insert(conn, &row)?;
                    ops::retire_current(conn, alg.as_str(), &row.kid, unpublish_at)?;
                    Ok(row)
                })
            })
            .await?;
        self.reload().await?;
        let state = if self.publish_delay > Duration::zero() {
            KeyState::Pending
        } else {
            KeyState::Active
        };
        Ok(KeyInfo {
            kid: row.kid,
            alg: row.alg,
            state,
            created_at: row.created_at,
            activates_at: row.activates_at,
            unpublish_at: None,
        })
    }

    /// Every stored key and its state now, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.clock.now_naive();
        let rows = self
            .db
            .run(|conn| ops::all(conn).map_err(KeyError::from))
            .await?;
        Ok(states(rows, now))
    }
}

/// The state of each row at `now`: per algorithm, the published key activated last signs.
fn states(rows: Vec<KeyRow>, now: NaiveDateTime) -> Vec<KeyInfo> {
    let published = |r: &KeyRow| r.unpublish_at.is_none_or(|at| now < at);
    let active: Vec<String> = KeyAlg::ALL
        .iter()
        .filter_map(|alg| {
            rows.iter()
                .filter(|r| r.alg == alg.as_str() && published(r) && r.activates_at <= now)
                .max_by_key(|r| (r.activates_at, r.created_at))
                .map(|r| r.kid.clone())
        })
        .collect();
    rows.into_iter()
        .map(|row| {
            let state = if !published(&row) {
                KeyState::Retired
            } else if active.contains(&row.kid) {
                KeyState::Active
            } else if row.activates_at > now {
                KeyState::Pending
            } else {
                KeyState::Retiring
            };
            KeyInfo {
                kid: row.kid,
                alg: row.alg,
                state,
                created_at: row.created_at,
                activates_at: row.activates_at,
                unpublish_at: row.unpublish_at,
            }
        })
        .collect()
}

/// A new key of `alg`, sealed, as a row.
fn generate(
    sealer: &Sealer,
    alg: KeyAlg,
    now: NaiveDateTime,
    activates_at: NaiveDateTime,
) -> Result<KeyRow, KeyError> {
    let pkcs8 = match alg {
        KeyAlg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| KeyError::Crypto("RSA key generation"))?
            .as_der()
            .map_err(|_| KeyError::Crypto("RSA key encoding"))?
            .as_ref()
            .to_vec(),
        KeyAlg::Es256 => EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map_err(|_| KeyError::Crypto("EC key generation"))?
        .as_ref()
        .to_vec(),
    };
    let kid = new_kid()?;
    let (_, jwk) = halves(&kid, alg, &pkcs8)?;
    // Whole seconds, as tokens count time: a key activated at 12:00:00.7 must sign a token
    // issued at 12:00:00.9, whose `iat` says 12:00:00.
    let (now, activates_at) = (whole_second(now), whole_second(activates_at));
    let public_jwk = serde_json::to_string(&jwk).map_err(|e| KeyError::Damaged {
        kid: kid.clone(),
        reason: e.to_string(),
    })?;
    Ok(KeyRow {
        private_key: sealer.seal(&kid, &pkcs8)?,
        kid,
        alg: alg.as_str().to_owned(),
        public_jwk,
        created_at: now,
        activates_at,
        unpublish_at: None,
    })
}

fn whole_second(at: NaiveDateTime) -> NaiveDateTime {
    at.with_nanosecond(0).unwrap_or(at)
}

/// A stored row opened into a usable key.
fn load(sealer: &Sealer, row: KeyRow) -> Result<LoadedKey, KeyError> {
    let damaged = |reason: &str| KeyError::Damaged {
        kid: row.kid.clone(),
        reason: reason.to_owned(),
    };
    let alg = KeyAlg::parse(&row.alg).ok_or_else(|| damaged("unknown algorithm"))?;
    let pkcs8 = sealer.open(&row.kid, &row.private_key)?;
    let (decoding, jwk) = halves(&row.kid, alg, &pkcs8)?;
    let signer = match alg {
        KeyAlg::Rs256 => RsaKeyPair::from_pkcs8(&pkcs8).map(Signer::Rsa).ok(),
        KeyAlg::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map(Signer::Ec)
            .ok(),
    }
    .ok_or_else(|| KeyError::Damaged {
        kid: row.kid.clone(),
        reason: "the private key does not parse".to_owned(),
    })?;
    Ok(LoadedKey {
        kid: row.kid,
        alg,
        signer: Arc::new(signer),
        decoding,
        jwk,
        created_at: row.created_at,
        activates_at: row.activates_at,
        unpublish_at: row.unpublish_at,
    })
}

/// The verifying key and the public JWK of a PKCS#8 private key.
fn halves(kid: &str, alg: KeyAlg, pkcs8: &[u8]) -> Result<(DecodingKey, Jwk), KeyError> {
    let damaged = |reason: String| KeyError::Damaged {
        kid: kid.to_owned(),
        reason,
    };
    let encoding = match alg {
        // jsonwebtoken takes RSA keys as PKCS#1: the private key inside the PKCS#8 wrapper.
        KeyAlg::Rs256 => {
            let info =
                pkcs8::PrivateKeyInfo::try_from(pkcs8).map_err(|e| damaged(e.to_string()))?;
            EncodingKey::from_rsa_der(info.private_key)
        }
        KeyAlg::Es256 => EncodingKey::from_ec_der(pkcs8),
    };
    let mut jwk =
        Jwk::from_encoding_key(&encoding, alg.jose()).map_err(|e| damaged(e.to_string()))?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| damaged(e.to_string()))?;
    Ok((decoding, jwk))
}

/// 128 random bits, base64url: opaque and unguessable.
fn new_kid() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Crypto("random key id"))?;
    Ok(crate::domain::base64url_encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 6, 1)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn sealer() -> Sealer {
        Sealer::new(&Secret::new("s".repeat(40))).unwrap()
    }

    #[test]
    fn generated_keys_sign_and_verify_and_publish_no_private_member() {
        for alg in KeyAlg::ALL {
            let row = generate(&sealer(), alg, at(1), at(1)).unwrap();
            assert!(!row.public_jwk.contains("\"d\""), "{}", row.public_jwk);
            assert!(
                row.public_jwk
                    .contains(&format!("\"alg\":\"{}\"", alg.as_str()))
            );
            let key = load(&sealer(), row).unwrap();
            let ring = KeyRing::default();
            ring.replace(vec![key.clone()]);
            // Signed by the ring's parsed key, checked by jsonwebtoken against the public JWK.
            let token = ring
                .sign_jws(alg, "JWT", br#"{"a":1}"#, at(2))
                .unwrap()
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            assert_eq!(header.alg, alg.jose());
            let mut validation = jsonwebtoken::Validation::new(alg.jose());
            validation.required_spec_claims.clear();
            let data =
                jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation)
                    .unwrap();
            assert_eq!(data.claims["a"], 1);
        }
    }

    #[test]
    fn a_row_opens_only_under_its_secret() {
        let row = generate(&sealer(), KeyAlg::Es256, at(1), at(1)).unwrap();
        let other = Sealer::new(&Secret::new("t".repeat(40))).unwrap();
        assert!(matches!(load(&other, row), Err(KeyError::WrongSecret)));
    }

    #[test]
    fn states_follow_the_schedule() {
        let row = |kid: &str, activates: u32, unpublish: Option<u32>| KeyRow {
            kid: kid.into(),
            alg: "RS256".into(),
            private_key: String::new(),
            public_jwk: String::new(),
            created_at: at(activates),
            activates_at: at(activates),
            unpublish_at: unpublish.map(at),
        };
        let rows = || {
            vec![
                row("old", 1, Some(5)),
                row("current", 3, Some(9)),
                row("next", 6, None),
            ]
        };
        let state_of = |now: u32| -> Vec<&'static str> {
            states(rows(), at(now))
                .iter()
                .map(|k| k.state.as_str())
                .collect()
        };
        assert_eq!(state_of(4), ["retiring", "active", "pending"]);
        assert_eq!(state_of(6), ["retired", "retiring", "active"]);
        assert_eq!(state_of(9), ["retired", "retired", "active"]);
    }
}

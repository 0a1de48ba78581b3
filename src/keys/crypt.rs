//! Private keys at rest: AES-256-GCM under a key derived from `secret_key` with HKDF-SHA256,
//! the key id as associated data (a sealed key copied to another row does not open).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::KeyError;
use crate::config::Secret;

/// Separates this key from every other key derived from the same secret.
const PURPOSE: &[u8] = b"latchkey:signing-key-encryption:v1";

/// Seals and opens private keys.
pub struct Sealer(LessSafeKey);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(AES-256-GCM)")
    }
}

struct Aes256Key;

impl KeyType for Aes256Key {
    fn len(&self) -> usize {
        32
    }
}

impl Sealer {
    /// The sealer keyed from the server secret.
    pub fn new(secret: &Secret) -> Result<Self, KeyError> {
        let prk = Salt::new(HKDF_SHA256, PURPOSE).extract(secret.expose().as_bytes());
        let mut key = [0u8; 32];
        prk.expand(&[PURPOSE], Aes256Key)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| KeyError::Crypto("key derivation"))?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, &key).map_err(|_| KeyError::Crypto("cipher key"))?;
        Ok(Self(LessSafeKey::new(unbound)))
    }

    /// `base64url(nonce ‖ ciphertext ‖ tag)` of `plaintext`, bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyError::Crypto("random nonce"))?;
        let mut sealed = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KeyError::Crypto("sealing"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext of [`Sealer::seal`]'s output; [`KeyError::WrongSecret`] when it was sealed
    /// under another secret (or for another kid, or altered).
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| KeyError::WrongSecret)?;
        if bytes.len() < NONCE_LEN {
            return Err(KeyError::WrongSecret);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::WrongSecret)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| KeyError::WrongSecret)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &str) -> Sealer {
        Sealer::new(&Secret::new(secret.repeat(40))).unwrap()
    }

    #[test]
    fn opens_only_under_the_same_secret_and_kid() {
        let sealed = sealer("a").seal("k1", b"private").unwrap();
        assert_eq!(sealer("a").open("k1", &sealed).unwrap(), b"private");
        assert!(matches!(
            sealer("b").open("k1", &sealed),
            Err(KeyError::WrongSecret)
        ));
        assert!(matches!(
            sealer("a").open("k2", &sealed),
            Err(KeyError::WrongSecret)
        ));
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(sealer("a").open("k1", &tampered).is_err());
    }
}

//! Django's password hash formats, verified as Django's hashers verify them, so that accounts
//! imported from Django log in with the passwords they had. A match on any of them is upgraded
//! to Latchkey's argon2id at that login (as Django itself does when its hasher changes).
//!
//! The formats (`django.contrib.auth.hashers`, 5.2 and older releases):
//! `pbkdf2_sha256$<iterations>$<salt>$<base64>`, `pbkdf2_sha1$…`,
//! `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (a PHC string behind Django's prefix),
//! `bcrypt_sha256$$2b$<cost>$…` (bcrypt over the hex SHA-256 of the password), `bcrypt$$2b$…`,
//! `scrypt$<n>$<salt>$<r>$<p>$<base64>` (64 bytes), `sha1$<salt>$<hex>` and `md5$<salt>$<hex>`
//! (of salt + password), and the unsalted `sha1$$<hex>`, `md5$$<hex>` and bare 32-hex MD5.
//! A hash starting with `!` is Django's unusable password and never matches.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

/// Latchkey's own hash prefix: argon2id with the parameters new hashes get.
pub const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// Work factors beyond these are refused rather than computed: an imported row could otherwise
/// hold a hashing thread for minutes (Django 5.2 uses 1,000,000 PBKDF2 iterations, bcrypt cost
/// 12 and scrypt with 16 MiB).
const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;
const MAX_BCRYPT_COST: u32 = 16;
const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

/// A stored hash's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashFormat {
    /// Latchkey's argon2id with its current parameters.
    Current,
    /// argon2 with other parameters, or Django's `argon2$` prefix.
    Argon2,
    /// Django's default before 2023 and since: PBKDF2-HMAC-SHA256.
    Pbkdf2Sha256,
    /// PBKDF2-HMAC-SHA1.
    Pbkdf2Sha1,
    /// bcrypt over the password's hex SHA-256.
    BcryptSha256,
    /// bcrypt over the password (truncated at 72 bytes, as bcrypt does).
    Bcrypt,
    /// scrypt.
    Scrypt,
    /// Salted SHA-1 (legacy).
    Sha1,
    /// Salted MD5 (legacy).
    Md5,
    /// Unsalted SHA-1 (legacy).
    UnsaltedSha1,
    /// Unsalted MD5 (legacy).
    UnsaltedMd5,
    /// `!…`: no password can match (an account made without one).
    Unusable,
    /// Nothing Latchkey can verify.
    Unknown,
}

impl HashFormat {
    /// The format of `stored`.
    pub fn of(stored: &str) -> Self {
        if stored.starts_with('!') {
            return Self::Unusable;
        }
        if stored.starts_with(CURRENT_PREFIX) {
            return Self::Current;
        }
        if stored.starts_with("$argon2") || stored.starts_with("argon2$argon2") {
            return Self::Argon2;
        }
        let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        if stored.len() == 32 && is_hex(stored) {
            return Self::UnsaltedMd5;
        }
        match stored.split_once('$') {
            Some(("pbkdf2_sha256", _)) => Self::Pbkdf2Sha256,
            Some(("pbkdf2_sha1", _)) => Self::Pbkdf2Sha1,
            Some(("bcrypt_sha256", _)) => Self::BcryptSha256,
            Some(("bcrypt", _)) => Self::Bcrypt,
            Some(("scrypt", _)) => Self::Scrypt,
            Some(("md5", rest)) if rest.starts_with('$') => Self::UnsaltedMd5,
            Some(("md5", _)) => Self::Md5,
            Some(("sha1", rest)) if rest.starts_with('$') => Self::UnsaltedSha1,
            Some(("sha1", _)) => Self::Sha1,
            _ => Self::Unknown,
        }
    }

    /// Its name in reports (Django's algorithm names for Django's formats).
    pub fn name(self) -> &'static str {
        match self {
            Self::Current => "argon2id (Latchkey)",
            Self::Argon2 => "argon2",
            Self::Pbkdf2Sha256 => "pbkdf2_sha256",
            Self::Pbkdf2Sha1 => "pbkdf2_sha1",
            Self::BcryptSha256 => "bcrypt_sha256",
            Self::Bcrypt => "bcrypt",
            Self::Scrypt => "scrypt",
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
            Self::UnsaltedSha1 => "unsalted_sha1",
            Self::UnsaltedMd5 => "unsalted_md5",
            Self::Unusable => "unusable",
            Self::Unknown => "unknown",
        }
    }

    /// Whether a password can match a hash of this format.
    pub fn is_usable(self) -> bool {
        !matches!(self, Self::Unusable | Self::Unknown)
    }
}

/// Django's `argon2$<PHC without its leading $>` as the PHC string itself.
pub fn argon2_phc(stored: &str) -> Option<String> {
    if stored.starts_with("$argon2") {
        return Some(stored.to_owned());
    }
    stored.strip_prefix("argon2").map(str::to_owned)
}

/// Checks `password` against a hash in one of Django's non-argon2 formats (argon2 goes through
/// the argon2 verifier with its own memory). False for anything malformed or too costly.
pub fn verify(stored: &str, password: &[u8]) -> bool {
    match HashFormat::of(stored) {
        HashFormat::Pbkdf2Sha256 => pbkdf2(stored, password, ::pbkdf2::pbkdf2_hmac::<sha2::Sha256>),
        HashFormat::Pbkdf2Sha1 => pbkdf2(stored, password, ::pbkdf2::pbkdf2_hmac::<sha1::Sha1>),
        HashFormat::BcryptSha256 => {
            let hex = hex_lower(&sha2::Sha256::digest(password));
            bcrypt(stored.strip_prefix("bcrypt_sha256$"), hex.as_bytes())
        }
        HashFormat::Bcrypt => bcrypt(stored.strip_prefix("bcrypt$"), password),
        HashFormat::Scrypt => scrypt(stored, password),
        HashFormat::Sha1 | HashFormat::Md5 => salted_digest(stored, password),
        HashFormat::UnsaltedSha1 => {
            let hex = stored.strip_prefix("sha1$$").unwrap_or_default();
            same(
                hex.as_bytes(),
                hex_lower(&sha1::Sha1::digest(password)).as_bytes(),
            )
        }
        HashFormat::UnsaltedMd5 => {
            let hex = stored.strip_prefix("md5$$").unwrap_or(stored);
            same(
                hex.as_bytes(),
                hex_lower(&md5::Md5::digest(password)).as_bytes(),
            )
        }
        HashFormat::Current | HashFormat::Argon2 | HashFormat::Unusable | HashFormat::Unknown => {
            false
        }
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A PBKDF2-HMAC with one digest: (password, salt, iterations, output).
type Derive = fn(&[u8], &[u8], u32, &mut [u8]);

/// `pbkdf2_<digest>$<iterations>$<salt>$<base64 of the derived key>`.
fn pbkdf2(stored: &str, password: &[u8], derive: Derive) -> bool {
    let mut parts = stored.splitn(4, '$').skip(1);
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS || expected.is_empty() {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    derive(password, salt.as_bytes(), iterations, &mut out);
    same(&out, &expected)
}

/// A `$2b$<cost>$…` bcrypt hash, checked by the `bcrypt` crate (which truncates at 72 bytes
/// as every bcrypt does; Django's bcrypt_sha256 exists to avoid that).
fn bcrypt(hash: Option<&str>, password: &[u8]) -> bool {
    let Some(hash) = hash else { return false };
    let cost = hash
        .split('$')
        .nth(2)
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    if cost > MAX_BCRYPT_COST {
        return false;
    }
    // The crate refuses passwords over 72 bytes; bcrypt itself (and Django's) reads only those.
    let password = password.get(..72).unwrap_or(password);
    ::bcrypt::verify(password, hash).unwrap_or(false)
}

/// `scrypt$<n>$<salt>$<r>$<p>$<base64 of 64 bytes>`.
fn scrypt(stored: &str, password: &[u8]) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, n, salt, r, p, expected] = parts.as_slice() else {
        return false;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if !n.is_power_of_two() || n < 2 || 128 * n * u64::from(r) > MAX_SCRYPT_BYTES {
        return false;
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    let Ok(params) = ::scrypt::Params::new(log_n, r, p, expected.len()) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if ::scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_err() {
        return false;
    }
    same(&out, &expected)
}

/// `sha1$<salt>$<hex>` and `md5$<salt>$<hex>`: the digest of salt + password.
fn salted_digest(stored: &str, password: &[u8]) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(algorithm), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let mut input = salt.as_bytes().to_vec();
    input.extend_from_slice(password);
    let computed = match algorithm {
        "sha1" => hex_lower(&sha1::Sha1::digest(&input)),
        "md5" => hex_lower(&md5::Md5::digest(&input)),
        _ => return false,
    };
    same(expected.as_bytes(), computed.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2.19's own hashers (and, for the legacy formats Django 5 no longer
    /// ships, by the formulas of its older releases) for this password.
    const PASSWORD: &str = "pässwörd ünïcode 42";
    const DJANGO: &[(&str, HashFormat)] = &[
        (
            "pbkdf2_sha256$1000$FZqMYHPi2mB9TTPXtstoUZ$8h18sXAR9I5piGVi0VOWWCI8oFOqBnmoZbzezRfI8Kk=",
            HashFormat::Pbkdf2Sha256,
        ),
        (
            "pbkdf2_sha1$1000$t3exQGcLu7nwMr6cBMQctS$MhYZVgtES3S3f4HtphR4nMbOCLg=",
            HashFormat::Pbkdf2Sha1,
        ),
        (
            "bcrypt_sha256$$2b$12$GughYKI1dUOeSUG5r.NwyOHN8OqBGdDtGtSwbbc/SkiqfeR.uy0Ea",
            HashFormat::BcryptSha256,
        ),
        (
            "bcrypt$$2b$12$WnVoqDUK.RJIO5oCixs88uPc6YGCOrGqDrhaMpWn4ojcDsDD/568S",
            HashFormat::Bcrypt,
        ),
        (
            "scrypt$16384$QQGCTWv6ZHAEoSlX9fhK5M$8$5$AXRAl8goCUSo9+Qplr07T50UnE9NE8Ovnvhpt8UqoT1F2wZn6SZYSU5s5j65beqsYhf2hk/QIhQBgDDwyFzLRw==",
            HashFormat::Scrypt,
        ),
        (
            "md5$a56gQpKaMv4qmn4fUm0fm2$918223f3b6895d4813285760a5a2d56a",
            HashFormat::Md5,
        ),
        (
            "sha1$salt$e4719b7845a0d623a34d9f4e16681910ee43b26b",
            HashFormat::Sha1,
        ),
        (
            "sha1$$c6d4b5fa75ca92c2fcd32b37276b0a72539504c2",
            HashFormat::UnsaltedSha1,
        ),
        ("0bf72ebb13d1d0a1afd1786ff56cf5d0", HashFormat::UnsaltedMd5),
        (
            "md5$$0bf72ebb13d1d0a1afd1786ff56cf5d0",
            HashFormat::UnsaltedMd5,
        ),
    ];

    #[test]
    fn every_django_format_verifies_the_right_password_only() {
        for (stored, format) in DJANGO {
            assert_eq!(HashFormat::of(stored), *format, "{stored}");
            assert!(verify(stored, PASSWORD.as_bytes()), "{stored}");
            assert!(!verify(stored, b"p\xc3\xa4sswoerd"), "{stored}");
            assert!(!verify(stored, b""), "{stored}");
            // Unusable stays unusable whatever follows the `!`.
            let unusable = format!("!{stored}");
            assert_eq!(HashFormat::of(&unusable), HashFormat::Unusable);
            assert!(!verify(&unusable, PASSWORD.as_bytes()));
        }
    }

    #[test]
    fn malformed_and_too_costly_hashes_never_match() {
        for stored in [
            "pbkdf2_sha256$0$salt$AAAA",
            "pbkdf2_sha256$x$salt$AAAA",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$999999999$salt$8h18sXAR9I5piGVi0VOWWCI8oFOqBnmoZbzezRfI8Kk=",
            "bcrypt$$2b$31$WnVoqDUK.RJIO5oCixs88uPc6YGCOrGqDrhaMpWn4ojcDsDD/568S",
            "bcrypt$garbage",
            "scrypt$16385$salt$8$1$AAAA",
            "scrypt$1073741824$salt$8$1$AAAA",
            "scrypt$16384$salt$8",
            "sha1$salt",
            "crypt$$abc",
            "",
        ] {
            assert!(!verify(stored, PASSWORD.as_bytes()), "{stored}");
        }
        assert_eq!(HashFormat::of("crypt$$abc"), HashFormat::Unknown);
    }

    #[test]
    fn bcrypt_reads_the_first_72_bytes_as_django_does() {
        let long = "x".repeat(80);
        let hash = ::bcrypt::hash(&long.as_bytes()[..72], 4).unwrap();
        let stored = format!("bcrypt${hash}");
        assert!(verify(&stored, long.as_bytes()));
        assert!(verify(&stored, "x".repeat(72).as_bytes()));
    }

    #[test]
    fn django_argon2_is_a_phc_string_behind_a_prefix() {
        let django = "argon2$argon2id$v=19$m=102400,t=2,p=8$QU9nMHE0MTY0OXJ5eE1hVzE2S2YwSw$l5foKE9XioyZT1PjQn8iNv4mpOWCJW2aXPm4h7Y4Fo4";
        assert_eq!(HashFormat::of(django), HashFormat::Argon2);
        assert_eq!(
            argon2_phc(django).unwrap(),
            "$argon2id$v=19$m=102400,t=2,p=8$QU9nMHE0MTY0OXJ5eE1hVzE2S2YwSw$l5foKE9XioyZT1PjQn8iNv4mpOWCJW2aXPm4h7Y4Fo4"
        );
        assert_eq!(
            HashFormat::of("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            HashFormat::Current
        );
        assert_eq!(
            HashFormat::of("$argon2id$v=19$m=8192,t=3,p=1$c2FsdA$aGFzaA"),
            HashFormat::Argon2
        );
    }
}

//! The links Django mailed before the switch: its `PasswordResetTokenGenerator` tokens
//! (`<timestamp in base 36>-<HMAC>`), which Django's password reset, Djoser's reset and
//! activation, and dj-rest-auth all use. A token is valid while the account's id, password
//! hash, last login (to the second) and address are what they were when it was made, for
//! `PASSWORD_RESET_TIMEOUT` seconds: so it dies, as in Django, once the password changes.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::User;

const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// Seconds since 2001-01-01 (Django's `_num_seconds`), in UTC.
fn django_seconds(at: NaiveDateTime) -> i64 {
    let epoch = chrono::NaiveDate::from_ymd_opt(2001, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    (at - epoch).num_seconds()
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Django's `salted_hmac(KEY_SALT, value, secret, "sha256").hexdigest()[::2]`.
fn token_hash(secret: &str, value: &str) -> String {
    let key = Sha256::digest([KEY_SALT.as_bytes(), secret.as_bytes()].concat());
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars().step_by(2).collect()
}

/// The token Django would make for `user` at `timestamp` (seconds since 2001).
fn make_token(secret: &str, user: &User, timestamp: u64) -> String {
    let login = user
        .last_login
        .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let value = format!(
        "{}{}{login}{timestamp}{}",
        user.id, user.password, user.email
    );
    format!("{}-{}", base36(timestamp), token_hash(secret, &value))
}

/// Whether `token` is one Django (with `secret`) made for `user` as the account is now, no
/// more than `timeout` seconds before `now`.
pub fn django_token_valid(
    secret: &str,
    timeout: u64,
    user: &User,
    token: &str,
    now: NaiveDateTime,
) -> bool {
    let Some((ts, _)) = token.split_once('-') else {
        return false;
    };
    let Ok(timestamp) = u64::from_str_radix(ts, 36) else {
        return false;
    };
    let expected = make_token(secret, user, timestamp);
    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
        return false;
    }
    let age = django_seconds(now) - i64::try_from(timestamp).unwrap_or(i64::MAX);
    (0..=i64::try_from(timeout).unwrap_or(i64::MAX)).contains(&age)
}

/// The user ids a Django link's `uid` may name: Django's and Djoser's base64 of the id, or
/// allauth's base 36 (dj-rest-auth with allauth).
pub fn django_uid_candidates(uid: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    if let Some(id) = crate::domain::decode_uid(uid) {
        ids.push(id);
    }
    if let Ok(id) = i64::from_str_radix(uid.trim(), 36)
        && !ids.contains(&id)
    {
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, email: &str, password: &str, last_login: Option<NaiveDateTime>) -> User {
        User {
            id,
            email: email.into(),
            email_lookup: email.to_lowercase(),
            username: "ann".into(),
            first_name: String::new(),
            last_name: String::new(),
            password: password.into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: NaiveDateTime::default(),
            last_login,
            activation_pending: false,
            email_verified: false,
        }
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    /// Made by Django 5.2.19's PasswordResetTokenGenerator with SECRET_KEY
    /// "django-insecure-vector-key" at timestamp 817000000.
    #[test]
    fn tokens_are_django_s_own() {
        let secret = "django-insecure-vector-key";
        let ann = user(
            42,
            "ann@example.com",
            "pbkdf2_sha256$1000000$abc$def=",
            Some(at("2026-11-30 07:05:09.123456")),
        );
        assert_eq!(
            make_token(secret, &ann, 817_000_000),
            "dif58g-7c9300222512fbf06216c84df591d2b2"
        );
        let bo = user(7, "", "!unusable", None);
        assert_eq!(
            make_token(secret, &bo, 817_000_000),
            "dif58g-009a4a1808500a9d99588d6c75a27217"
        );
        assert_eq!(django_seconds(at("2026-11-30 07:00:00")), 817_714_800);
        // Valid within the timeout, not after, not before it was made, not for a changed
        // account.
        let made = at("2026-11-22 00:26:40");
        assert_eq!(django_seconds(made), 817_000_000);
        let token = "dif58g-7c9300222512fbf06216c84df591d2b2";
        assert!(django_token_valid(secret, 259_200, &ann, token, made));
        assert!(django_token_valid(
            secret,
            259_200,
            &ann,
            token,
            at("2026-11-25 00:26:40")
        ));
        assert!(!django_token_valid(
            secret,
            259_200,
            &ann,
            token,
            at("2026-11-25 00:26:41")
        ));
        assert!(!django_token_valid(
            secret,
            259_200,
            &ann,
            token,
            at("2026-11-22 00:26:39")
        ));
        let changed = User {
            password: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
            ..ann.clone()
        };
        assert!(!django_token_valid(secret, 259_200, &changed, token, made));
        assert!(!django_token_valid(
            "another key",
            259_200,
            &ann,
            token,
            made
        ));
        assert!(!django_token_valid(secret, 259_200, &ann, "garbage", made));
    }

    #[test]
    fn uids_are_base64_or_base36() {
        assert_eq!(django_uid_candidates("NDI"), vec![42, 30_294]);
        assert_eq!(django_uid_candidates("1a"), vec![46]);
    }
}

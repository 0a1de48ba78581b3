use std::fmt;

/// Django's `AbstractUser.username` limit.
pub const MAX_USERNAME_CHARS: usize = 150;

/// Why a string is not a [`Username`]; `Display` gives Django's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Nothing was given.
    #[error("This field may not be blank.")]
    Blank,
    /// More than 150 characters.
    #[error("Ensure this field has no more than 150 characters.")]
    TooLong,
    /// A character outside letters, digits and `@.+-_`.
    #[error(
        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
    )]
    InvalidCharacters,
}

/// A login name in Django's charset: letters, digits and `@ . + - _`, at most 150 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Normalises with Unicode NFKC (Django's `normalize_username`, so `ｊｏｓｅ` is `jose`), then
    /// applies Django's `UnicodeUsernameValidator` rules; matching stays case-sensitive.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let normalized = normalize(raw);
        let raw = normalized.as_str();
        if raw.is_empty() {
            return Err(UsernameError::Blank);
        }
        if raw.chars().count() > MAX_USERNAME_CHARS {
            return Err(UsernameError::TooLong);
        }
        if !raw.chars().all(is_username_char) {
            return Err(UsernameError::InvalidCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the username is a valid email address.
    pub fn is_email(&self) -> bool {
        super::Email::parse(&self.0).is_ok()
    }
}

/// Unicode NFKC, as Django's `AbstractBaseUser.normalize_username` (and its login form) apply.
pub fn normalize(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfkc().collect()
}

/// Python's `\w` (Unicode letters, digits, underscore) plus `.@+-`.
fn is_username_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-')
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.0).finish()
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_djangos_charset() {
        for ok in ["alice", "a.b+c-d_e@f", "Jürgen", "用户", "x"] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        assert!(Username::parse(&"a".repeat(150)).is_ok());
    }

    #[test]
    fn normalizes_with_nfkc() {
        assert_eq!(
            Username::parse("\u{ff4a}\u{ff4f}\u{ff53}\u{ff45}")
                .unwrap()
                .as_str(),
            "jose"
        );
        assert_eq!(Username::parse("\u{fb01}x").unwrap().as_str(), "fix");
        assert!(Username::parse("ann@example.com").unwrap().is_email());
        assert!(!Username::parse("ann@host").unwrap().is_email());
    }

    #[test]
    fn rejects_other_characters_length_and_blank() {
        for bad in ["a b", "a/b", "a!b", "tab\t", "a#"] {
            assert_eq!(
                Username::parse(bad),
                Err(UsernameError::InvalidCharacters),
                "{bad}"
            );
        }
        assert_eq!(
            Username::parse(&"a".repeat(151)),
            Err(UsernameError::TooLong)
        );
        assert_eq!(Username::parse(""), Err(UsernameError::Blank));
        assert_eq!(
            UsernameError::InvalidCharacters.to_string(),
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
        );
    }
}

use std::fmt;

/// Django's `first_name`/`last_name` limit.
pub const MAX_NAME_CHARS: usize = 150;

/// Why a string is not a [`PersonName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// More than 150 characters (DRF's message).
    #[error("Ensure this field has no more than 150 characters.")]
    TooLong,
}

/// A first or last name: free text (may be empty), trimmed, at most 150 characters.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and checks the length.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonName").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_caps_length() {
        assert_eq!(PersonName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert_eq!(PersonName::parse("").unwrap().as_str(), "");
        assert!(PersonName::parse(&"x".repeat(150)).is_ok());
        assert_eq!(PersonName::parse(&"x".repeat(151)), Err(NameError::TooLong));
    }
}

use std::fmt;

/// Django's EmailField limit.
const MAX_EMAIL_CHARS: usize = 254;

/// Why a string is not an [`Email`]; `Display` gives Django's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was given.
    #[error("This field may not be blank.")]
    Blank,
    /// Longer than 254 characters.
    #[error("Ensure this field has no more than 254 characters.")]
    TooLong,
    /// Not shaped like an address.
    #[error("Enter a valid email address.")]
    Invalid,
}

/// A syntactically valid email address: kept as typed for display, lower-cased for lookup.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    lookup: String,
}

impl Email {
    /// Parses an address the way Django's `EmailValidator` accepts it (dot-atom local part).
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let display = raw.trim();
        if display.is_empty() {
            return Err(EmailError::Blank);
        }
        if display.chars().count() > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = display.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err(EmailError::Invalid);
        }
        Ok(Self {
            display: display.to_owned(),
            lookup: display.to_lowercase(),
        })
    }

    /// The address as the user typed it (surrounding white space removed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The lower-cased address: the key for uniqueness and case-insensitive lookup.
    pub fn lookup_key(&self) -> &str {
        &self.lookup
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.display).finish()
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.display
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
        })
}

fn valid_domain(domain: &str) -> bool {
    if domain == "localhost" {
        return true;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return literal.parse::<std::net::Ipv4Addr>().is_ok()
            || literal
                .strip_prefix("IPv6:")
                .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || domain.len() > 253 {
        return false;
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().count() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    // Django requires a TLD of letters (or an IDNA `xn--` label), at least two long.
    let tld_ok = |tld: &str| {
        (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
            || (tld.starts_with("xn--") && tld.len() > 4)
    };
    labels.iter().all(|l| label_ok(l)) && labels.last().is_some_and(|tld| tld_ok(tld))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_display_form_and_lowercases_lookup() {
        let email = Email::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Alice.Smith@Example.COM");
        assert_eq!(email.lookup_key(), "alice.smith@example.com");
    }

    #[test]
    fn accepts_common_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x@localhost",
            "o'brien@example.ie",
            "user@[127.0.0.1]",
            "user@bücher.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn rejects_bad_shapes_with_djangos_message() {
        for bad in [
            "plainaddress",
            "@example.com",
            "a@",
            "a@b",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example.c",
            "a@example.123",
            "a b@example.com",
            "a@exa mple.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
        assert_eq!(
            EmailError::Invalid.to_string(),
            "Enter a valid email address."
        );
        assert_eq!(Email::parse("   "), Err(EmailError::Blank));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}

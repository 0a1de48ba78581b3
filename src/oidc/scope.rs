//! Scopes: the four the provider knows, in a fixed order.

/// The scopes the provider supports (discovery lists them).
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// A set of supported scopes. Unknown values are dropped, as OpenID Connect Core §3.1.2.1
/// asks ("Scope values used that are not understood by an implementation SHOULD be ignored").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<&'static str>);

impl Scope {
    /// The supported scopes named in a space-separated list.
    pub fn parse(list: &str) -> Self {
        let words: Vec<&str> = list.split(' ').collect();
        Self(
            SUPPORTED_SCOPES
                .into_iter()
                .filter(|s| words.contains(s))
                .collect(),
        )
    }

    /// Whether it holds `scope`.
    pub fn has(&self, scope: &str) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of it is in `other`.
    pub fn within(&self, other: &Scope) -> bool {
        self.0.iter().all(|s| other.has(s))
    }

    /// The scopes of both.
    pub fn intersect(&self, other: &Scope) -> Scope {
        Self(self.0.iter().copied().filter(|s| other.has(s)).collect())
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn unknown_scopes_are_dropped_and_order_is_fixed() {
        let scope = Scope::parse("email openid admin profile");
        assert_eq!(scope.to_string(), "openid profile email");
        assert!(scope.has("email") && !scope.has("admin"));
        assert!(Scope::parse("openid").within(&scope));
        assert!(!Scope::parse("openid offline_access").within(&scope));
        assert_eq!(
            scope.intersect(&Scope::parse("openid email")).to_string(),
            "openid email"
        );
        assert_eq!(Scope::parse("").to_string(), "");
    }
}

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

/// Longest password accepted, in bytes: a cap on hashing work per request.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Django's bundled list (Royce Williams', 19,640 lower-case entries); see common-passwords.LICENSE.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// One reason a candidate password is refused; `Display` gives Django's exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Empty input (DRF's CharField message).
    #[error("This field may not be blank.")]
    Blank,
    /// Over [`MAX_PASSWORD_BYTES`]; checked before anything else so no work is spent on it.
    #[error("This password is too long. It must contain at most {max} bytes.")]
    TooLong {
        /// The byte limit.
        max: usize,
    },
    /// `UserAttributeSimilarityValidator`.
    #[error("The password is too similar to the {attribute}.")]
    TooSimilar {
        /// Django's verbose name of the attribute ("username", "email address", …).
        attribute: &'static str,
    },
    /// `MinimumLengthValidator`.
    #[error("This password is too short. It must contain at least {min} character{}.", if *.min == 1 { "" } else { "s" })]
    TooShort {
        /// The configured minimum length.
        min: usize,
    },
    /// `CommonPasswordValidator`.
    #[error("This password is too common.")]
    TooCommon,
    /// `NumericPasswordValidator`.
    #[error("This password is entirely numeric.")]
    EntirelyNumeric,
}

/// The user's own details that a password must not resemble.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserAttributes<'a> {
    /// The username.
    pub username: &'a str,
    /// The first name.
    pub first_name: &'a str,
    /// The last name.
    pub last_name: &'a str,
    /// The email address.
    pub email: &'a str,
}

/// Django's four default validators, in their `startproject` order.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// `UserAttributeSimilarityValidator.max_similarity` (Django: 0.7); `None` turns it off.
    pub max_similarity: Option<f64>,
    /// `MinimumLengthValidator.min_length` (Django: 8).
    pub min_length: usize,
    /// Whether `CommonPasswordValidator` runs.
    pub reject_common: bool,
    /// Whether `NumericPasswordValidator` runs.
    pub reject_numeric: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            max_similarity: Some(0.7),
            min_length: 8,
            reject_common: true,
            reject_numeric: true,
        }
    }
}

impl PasswordPolicy {
    /// Every message the policy has against `password`, in validator order (empty = acceptable).
    pub fn problems(&self, password: &str, user: &UserAttributes<'_>) -> Vec<PasswordProblem> {
        if let Some(problem) = basic_problem(password) {
            return vec![problem];
        }
        let mut problems = Vec::new();
        if let Some(max) = self.max_similarity
            && let Some(attribute) = too_similar(password, user, max)
        {
            problems.push(PasswordProblem::TooSimilar { attribute });
        }
        if password.chars().count() < self.min_length {
            problems.push(PasswordProblem::TooShort {
                min: self.min_length,
            });
        }
        if self.reject_common && COMMON_PASSWORDS.contains(password.to_lowercase().trim()) {
            problems.push(PasswordProblem::TooCommon);
        }
        if self.reject_numeric && password.chars().all(char::is_numeric) {
            problems.push(PasswordProblem::EntirelyNumeric);
        }
        problems
    }
}

/// The checks no bypass can skip: blank and the byte cap.
fn basic_problem(password: &str) -> Option<PasswordProblem> {
    if password.is_empty() {
        Some(PasswordProblem::Blank)
    } else if password.len() > MAX_PASSWORD_BYTES {
        Some(PasswordProblem::TooLong {
            max: MAX_PASSWORD_BYTES,
        })
    } else {
        None
    }
}

/// A password accepted for storing: it passed the policy, or an operator bypassed it.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    /// Runs the whole policy; every failing message comes back, not just the first.
    pub fn parse(
        raw: String,
        policy: &PasswordPolicy,
        user: &UserAttributes<'_>,
    ) -> Result<Self, Vec<PasswordProblem>> {
        let problems = policy.problems(&raw, user);
        if problems.is_empty() {
            Ok(Self(raw))
        } else {
            Err(problems)
        }
    }

    /// Skips the policy (operator's choice, as Django's createsuperuser allows) but keeps the
    /// blank and size checks.
    pub fn parse_bypassing_policy(raw: String) -> Result<Self, PasswordProblem> {
        match basic_problem(&raw) {
            Some(problem) => Err(problem),
            None => Ok(Self(raw)),
        }
    }

    /// The plaintext, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(********)")
    }
}

/// Django's `UserAttributeSimilarityValidator`: the first attribute too close to the password.
fn too_similar(password: &str, user: &UserAttributes<'_>, max: f64) -> Option<&'static str> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let attributes = [
        ("username", user.username),
        ("first name", user.first_name),
        ("last name", user.last_name),
        ("email address", user.email),
    ];
    for (verbose_name, value) in attributes {
        if value.is_empty() {
            continue;
        }
        let value = value.to_lowercase();
        // re.split(r"\W+", value) + [value]
        let mut parts: Vec<&str> = value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        merge_separator_runs(&mut parts);
        parts.push(value.as_str());
        for part in parts {
            let part: Vec<char> = part.chars().collect();
            if exceeds_maximum_length_ratio(password.len(), max, part.len()) {
                continue;
            }
            if quick_ratio(&password, &part) >= max {
                return Some(verbose_name);
            }
        }
    }
    None
}

/// `re.split(r"\W+")` treats a run of separators as one; `str::split` yields empties between
/// them, so drop the inner empties while keeping a leading or trailing one as Python does.
fn merge_separator_runs(parts: &mut Vec<&str>) {
    let last = parts.len().saturating_sub(1);
    let mut index = 0;
    parts.retain(|part| {
        let keep = !part.is_empty() || index == 0 || index == last;
        index += 1;
        keep
    });
}

fn exceeds_maximum_length_ratio(
    password_len: usize,
    max_similarity: f64,
    value_len: usize,
) -> bool {
    let bound = max_similarity / 2.0 * password_len as f64;
    password_len >= 10 * value_len && (value_len as f64) < bound
}

/// difflib's `SequenceMatcher.quick_ratio`: 2·(multiset intersection) / (len a + len b).
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available: HashMap<char, usize> = HashMap::new();
    for c in b {
        *available.entry(*c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = available.get_mut(c)
            && *n > 0
        {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(password: &str, user: &UserAttributes<'_>) -> Vec<String> {
        PasswordPolicy::default()
            .problems(password, user)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_list_is_djangos() {
        assert_eq!(COMMON_PASSWORDS.len(), 19_640);
        assert!(COMMON_PASSWORDS.contains("password"));
    }

    #[test]
    fn all_four_validators_report_in_djangos_order() {
        let user = UserAttributes {
            username: "1234567",
            ..Default::default()
        };
        assert_eq!(
            messages("1234567", &user),
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ]
        );
    }

    #[test]
    fn similarity_checks_parts_of_attributes() {
        let user = UserAttributes {
            username: "zed",
            email: "margherita.pizza@example.com",
            first_name: "Quentin",
            last_name: "",
        };
        assert_eq!(
            messages("Margherita!", &user),
            ["The password is too similar to the email address."]
        );
        assert_eq!(
            messages("quentinq9x", &user),
            ["The password is too similar to the first name."]
        );
        assert!(messages("correct horse battery staple", &user).is_empty());
    }

    #[test]
    fn common_check_lowercases_and_strips() {
        assert_eq!(
            messages(" PassWord1 ", &UserAttributes::default()),
            ["This password is too common."]
        );
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        let a: Vec<char> = "abcd".chars().collect();
        let b: Vec<char> = "bcde".chars().collect();
        assert!((quick_ratio(&a, &b) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn python_style_split_keeps_edges_only() {
        let value = "a..b.";
        let mut parts: Vec<&str> = value.split('.').collect();
        merge_separator_runs(&mut parts);
        assert_eq!(parts, ["a", "b", ""]);
    }

    #[test]
    fn byte_cap_and_blank_come_first_and_alone() {
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(
            messages(&long, &UserAttributes::default()),
            ["This password is too long. It must contain at most 4096 bytes."]
        );
        assert!(messages(&"xQ7!".repeat(1024), &UserAttributes::default()).is_empty());
        assert_eq!(
            NewPassword::parse_bypassing_policy(String::new()).err(),
            Some(PasswordProblem::Blank)
        );
        assert!(NewPassword::parse_bypassing_policy("123".into()).is_ok());
        assert_eq!(
            PasswordProblem::TooShort { min: 1 }.to_string(),
            "This password is too short. It must contain at least 1 character."
        );
    }
}

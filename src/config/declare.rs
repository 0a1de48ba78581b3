//! How a setting is declared once and everything else derived from it: its `latchkey.toml`
//! key and environment variable, its type and default, its checks, its doc line, and whether it
//! is secret. [`settings_area!`] turns a list of declarations into an area's struct, its
//! loader, its `latchkey check` rows and its README rows.

use std::fmt;
use std::path::PathBuf;

use super::{Environment, LoadContext, Secret, Source, mask_url_password};

/// One setting as the README table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingDoc {
    /// The `latchkey.toml` key.
    pub key: &'static str,
    /// The environment variable.
    pub env: String,
    /// The default, in words.
    pub default: String,
    /// What it does (the declaration's doc comment).
    pub doc: String,
}

impl SettingDoc {
    /// The README row of a declaration.
    pub fn of<P: Parse>(decl: &Decl<P>, key: &'static str, doc: &[&str]) -> Self {
        let lines: Vec<&str> = doc.iter().map(|line| line.trim()).collect();
        Self {
            key,
            env: decl.env_var(key),
            default: decl
                .default_doc
                .map_or_else(|| decl.parse.default_doc(), str::to_owned),
            doc: lines.join(" "),
        }
    }
}

/// The type-specific part of a declaration: how a value is parsed, defaulted and shown.
pub trait Parse {
    /// The setting's Rust type.
    type Value;
    /// The value when nothing sets it (may depend on the deployment mode).
    fn default(&self, environment: Environment) -> Self::Value;
    /// Parses an environment variable; `Err` is what the value must be ("true or false").
    fn parse_env(&self, raw: &str) -> Result<Self::Value, String>;
    /// Reads a `latchkey.toml` value; `Err` as for [`Parse::parse_env`].
    fn parse_file(&self, value: toml::Value) -> Result<Self::Value, String>;
    /// The value for `latchkey check`.
    fn show(&self, value: &Self::Value) -> String;
    /// The default for the README.
    fn default_doc(&self) -> String;
    /// Further problems with a parsed value (a range), worded after the setting's name.
    fn problems(&self, _value: &Self::Value) -> Option<String> {
        None
    }
    /// A setting that resolves itself (the signing key); `None` loads it the usual way.
    fn load_custom(&self, _layer: &mut Layer<'_>, _key: &'static str) -> Option<Self::Value> {
        None
    }
}

/// A rule a value must follow, and what it must be, in words.
type Rule<T> = (fn(&T) -> bool, &'static str);

/// A declaration: the type-specific parser plus what every setting may have.
pub struct Decl<P: Parse> {
    parse: P,
    env: Option<&'static str>,
    default_doc: Option<&'static str>,
    required_in_production: Option<&'static str>,
    check: Option<Rule<P::Value>>,
}

impl<P: Parse> Decl<P> {
    /// A declaration with nothing but its parser.
    pub const fn new(parse: P) -> Self {
        Self {
            parse,
            env: None,
            default_doc: None,
            required_in_production: None,
            check: None,
        }
    }

    /// An environment variable other than `LATCHKEY_<KEY>`.
    pub fn env(mut self, var: &'static str) -> Self {
        self.env = Some(var);
        self
    }

    /// The README's words for the default.
    pub fn default_doc(mut self, words: &'static str) -> Self {
        self.default_doc = Some(words);
        self
    }

    /// Production refuses the default; `why` ends the message.
    pub fn required_in_production(mut self, why: &'static str) -> Self {
        self.required_in_production = Some(why);
        self
    }

    /// A rule the value must follow; `must` is the message after the variable's name.
    pub fn check(mut self, rule: fn(&P::Value) -> bool, must: &'static str) -> Self {
        self.check = Some((rule, must));
        self
    }

    /// The environment variable of the setting `key`.
    pub fn env_var(&self, key: &str) -> String {
        self.env.map_or_else(
            || format!("LATCHKEY_{}", key.to_ascii_uppercase()),
            str::to_owned,
        )
    }

    /// The value for `latchkey check`.
    pub fn show(&self, value: &P::Value) -> String {
        self.parse.show(value)
    }
}

/// What one setting's value was read from.
enum Raw {
    Env(String),
    File(toml::Value),
    Unset,
}

/// The sources being read: environment over file over defaults, with every source and problem
/// recorded as the settings are loaded.
pub struct Layer<'a> {
    /// The environment and directory.
    pub ctx: &'a LoadContext,
    file: toml::Table,
    /// The deployment mode (read first: other defaults depend on it).
    pub environment: Environment,
    /// Where each setting came from.
    pub sources: Vec<(&'static str, Source)>,
    /// Every problem found, one sentence each.
    pub problems: Vec<String>,
}

impl<'a> Layer<'a> {
    /// Starts reading `ctx` over the config file's table.
    pub fn new(ctx: &'a LoadContext, file: toml::Table, environment: Environment) -> Self {
        Self {
            ctx,
            file,
            environment,
            sources: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// A non-empty environment variable.
    pub fn env(&self, var: &str) -> Option<&str> {
        self.ctx
            .env
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Takes a key out of the config file (what is left at the end is unknown).
    pub fn take_file(&mut self, key: &str) -> Option<toml::Value> {
        self.file.remove(key)
    }

    /// A key of the config file, left in place.
    pub fn peek_file(&self, key: &str) -> Option<&toml::Value> {
        self.file.get(key)
    }

    /// The keys nobody took.
    pub fn unknown_keys(&self) -> Vec<String> {
        self.file.keys().cloned().collect()
    }

    /// Records a problem.
    pub fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    /// The source recorded for `key`.
    pub fn source_of(&self, key: &str) -> Option<&Source> {
        self.sources.iter().find(|(k, _)| *k == key).map(|(_, s)| s)
    }

    fn raw(&mut self, key: &str, var: &str) -> Raw {
        if let Some(value) = self.env(var) {
            let value = value.to_owned();
            self.file.remove(key);
            return Raw::Env(value);
        }
        match self.file.remove(key) {
            Some(value) => Raw::File(value),
            None => Raw::Unset,
        }
    }

    /// Loads one declared setting: environment, else file, else default; every problem with
    /// it is recorded under the name it was given by.
    pub fn load<P: Parse>(&mut self, decl: &Decl<P>, key: &'static str) -> P::Value {
        if let Some(value) = decl.parse.load_custom(self, key) {
            return value;
        }
        let var = decl.env_var(key);
        let environment = self.environment;
        let default = || decl.parse.default(environment);
        let (value, source, name) = match self.raw(key, &var) {
            Raw::Env(raw) => {
                let value = decl.parse.parse_env(&raw).unwrap_or_else(|must| {
                    self.problems
                        .push(format!("{var} must be {must} (got {raw:?})"));
                    default()
                });
                (value, Source::Env(var.clone()), var.clone())
            }
            Raw::File(raw) => {
                let shown = raw.to_string();
                let value = decl.parse.parse_file(raw).unwrap_or_else(|must| {
                    self.problems
                        .push(format!("{key} must be {must} (got {shown})"));
                    default()
                });
                (value, Source::File, key.to_owned())
            }
            Raw::Unset => {
                if let Some(why) = decl.required_in_production
                    && self.environment == Environment::Production
                {
                    self.problems.push(format!(
                        "{var} must be set when LATCHKEY_ENV=production ({why})"
                    ));
                }
                (default(), Source::Default, var.clone())
            }
        };
        if let Some(problem) = decl.parse.problems(&value) {
            self.problems.push(format!("{name} {problem}"));
        }
        if let Some((rule, must)) = decl.check
            && !rule(&value)
        {
            let shown = decl.parse.show(&value);
            self.problems.push(format!("{var} {must} (got {shown:?})"));
        }
        self.sources.push((key, source));
        value
    }
}

/// A string.
pub struct Text {
    default: &'static str,
    masked: bool,
}

impl Text {
    /// A string defaulting to `default`.
    pub const fn new(default: &'static str) -> Decl<Self> {
        Decl::new(Self {
            default,
            masked: false,
        })
    }

    /// A URL whose password `latchkey check` masks.
    pub const fn url(default: &'static str) -> Decl<Self> {
        Decl::new(Self {
            default,
            masked: true,
        })
    }
}

fn file_string(value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text),
        _ => Err("a string".to_owned()),
    }
}

impl Parse for Text {
    type Value = String;
    fn default(&self, _: Environment) -> String {
        self.default.to_owned()
    }
    fn parse_env(&self, raw: &str) -> Result<String, String> {
        Ok(raw.to_owned())
    }
    fn parse_file(&self, value: toml::Value) -> Result<String, String> {
        file_string(value)
    }
    fn show(&self, value: &String) -> String {
        if self.masked {
            mask_url_password(value)
        } else {
            value.clone()
        }
    }
    fn default_doc(&self) -> String {
        format!("`{}`", self.default)
    }
}

/// A string that may be unset; empty means unset.
pub struct OptionalText {
    unset: &'static str,
    secret: bool,
}

impl OptionalText {
    /// Unset by default; `check` shows `unset` then.
    pub const fn new(unset: &'static str) -> Decl<Self> {
        Decl::new(Self {
            unset,
            secret: false,
        })
    }

    /// Unset by default and masked in `latchkey check` (a key).
    pub const fn secret(unset: &'static str) -> Decl<Self> {
        Decl::new(Self {
            unset,
            secret: true,
        })
    }

    /// An optional URL holding credentials: kept as a [`Secret`], its password masked.
    pub const fn secret_url() -> Decl<OptionalSecretUrl> {
        Decl::new(OptionalSecretUrl)
    }
}

impl Parse for OptionalText {
    type Value = Option<String>;
    fn default(&self, _: Environment) -> Option<String> {
        None
    }
    fn parse_env(&self, raw: &str) -> Result<Option<String>, String> {
        Ok(Some(raw.trim().to_owned()).filter(|v| !v.is_empty()))
    }
    fn parse_file(&self, value: toml::Value) -> Result<Option<String>, String> {
        file_string(value).and_then(|text| self.parse_env(&text))
    }
    fn show(&self, value: &Option<String>) -> String {
        match value {
            Some(_) if self.secret => "********".to_owned(),
            Some(text) => text.clone(),
            None => self.unset.to_owned(),
        }
    }
    fn default_doc(&self) -> String {
        "none".to_owned()
    }
}

/// An optional URL with credentials (the SMTP server).
pub struct OptionalSecretUrl;

impl Parse for OptionalSecretUrl {
    type Value = Option<Secret>;
    fn default(&self, _: Environment) -> Option<Secret> {
        None
    }
    fn parse_env(&self, raw: &str) -> Result<Option<Secret>, String> {
        Ok(Some(raw.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(Secret::new))
    }
    fn parse_file(&self, value: toml::Value) -> Result<Option<Secret>, String> {
        file_string(value).and_then(|text| self.parse_env(&text))
    }
    fn show(&self, value: &Option<Secret>) -> String {
        value
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), |u| mask_url_password(u.expose()))
    }
    fn default_doc(&self) -> String {
        "none".to_owned()
    }
}

/// A directory, relative to the working directory.
pub struct Dir {
    default: Option<&'static str>,
}

impl Dir {
    /// A directory defaulting to `default`.
    pub const fn new(default: &'static str) -> Decl<Self> {
        Decl::new(Self {
            default: Some(default),
        })
    }
}

/// An optional directory, relative to the working directory.
pub struct OptionalDir {
    unset: &'static str,
}

impl OptionalDir {
    /// Unset by default; `check` shows `unset` then.
    pub const fn new(unset: &'static str) -> Decl<Self> {
        Decl::new(Self { unset })
    }
}

impl Parse for Dir {
    type Value = PathBuf;
    fn default(&self, _: Environment) -> PathBuf {
        PathBuf::from(self.default.unwrap_or_default())
    }
    fn parse_env(&self, raw: &str) -> Result<PathBuf, String> {
        Ok(PathBuf::from(raw))
    }
    fn parse_file(&self, value: toml::Value) -> Result<PathBuf, String> {
        file_string(value).map(PathBuf::from)
    }
    fn show(&self, value: &PathBuf) -> String {
        value.display().to_string()
    }
    fn default_doc(&self) -> String {
        format!("`{}`", self.default.unwrap_or_default())
    }
}

impl Parse for OptionalDir {
    type Value = Option<PathBuf>;
    fn default(&self, _: Environment) -> Option<PathBuf> {
        None
    }
    fn parse_env(&self, raw: &str) -> Result<Option<PathBuf>, String> {
        Ok(Some(PathBuf::from(raw)).filter(|p| !p.as_os_str().is_empty()))
    }
    fn parse_file(&self, value: toml::Value) -> Result<Option<PathBuf>, String> {
        file_string(value).and_then(|text| self.parse_env(&text))
    }
    fn show(&self, value: &Option<PathBuf>) -> String {
        value
            .as_ref()
            .map_or_else(|| self.unset.to_owned(), |p| p.display().to_string())
    }
    fn default_doc(&self) -> String {
        "none".to_owned()
    }
}

/// A whole number within a range.
pub struct Number<T: 'static> {
    default: fn() -> T,
    range: (T, T),
    unit: &'static str,
}

impl<T> Number<T>
where
    T: Copy + PartialOrd + fmt::Display + std::str::FromStr + TryFrom<i64> + 'static,
{
    /// A number from `min` to `max`, defaulting to what `default` gives.
    pub const fn new(default: fn() -> T, min: T, max: T) -> Decl<Self> {
        Decl::new(Self {
            default,
            range: (min, max),
            unit: "",
        })
    }

    /// A number of seconds from `min` to `max` (shown with its unit).
    pub const fn seconds(default: fn() -> T, min: T, max: T) -> Decl<Self> {
        Decl::new(Self {
            default,
            range: (min, max),
            unit: " s",
        })
    }
}

impl<T> Parse for Number<T>
where
    T: Copy + PartialOrd + fmt::Display + std::str::FromStr + TryFrom<i64> + 'static,
{
    type Value = T;
    fn default(&self, _: Environment) -> T {
        (self.default)()
    }
    fn parse_env(&self, raw: &str) -> Result<T, String> {
        raw.trim().parse::<T>().map_err(|_| self.must())
    }
    fn parse_file(&self, value: toml::Value) -> Result<T, String> {
        match value {
            toml::Value::Integer(n) => T::try_from(n).map_err(|_| self.must()),
            _ => Err(self.must()),
        }
    }
    fn show(&self, value: &T) -> String {
        format!("{value}{}", self.unit)
    }
    fn default_doc(&self) -> String {
        format!("`{}`", (self.default)())
    }
    fn problems(&self, value: &T) -> Option<String> {
        let (min, max) = self.range;
        (*value < min || *value > max).then(|| format!("must be from {min} to {max} (got {value})"))
    }
}

impl<T: fmt::Display> Number<T> {
    fn must(&self) -> String {
        format!("a whole number from {} to {}", self.range.0, self.range.1)
    }
}

/// Yes or no: `true/false`, `1/0`, `yes/no` or `on/off` in the environment.
pub struct Flag {
    default: bool,
    in_production: bool,
}

impl Flag {
    /// A switch defaulting to `default`.
    pub const fn new(default: bool) -> Decl<Self> {
        Decl::new(Self {
            default,
            in_production: default,
        })
    }

    /// A switch defaulting to `development` in development and `production` in production.
    pub const fn by_environment(development: bool, production: bool) -> Decl<Self> {
        Decl::new(Self {
            default: development,
            in_production: production,
        })
    }
}

impl Parse for Flag {
    type Value = bool;
    fn default(&self, environment: Environment) -> bool {
        match environment {
            Environment::Development => self.default,
            Environment::Production => self.in_production,
        }
    }
    fn parse_env(&self, raw: &str) -> Result<bool, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err("true or false".to_owned()),
        }
    }
    fn parse_file(&self, value: toml::Value) -> Result<bool, String> {
        match value {
            toml::Value::Boolean(b) => Ok(b),
            _ => Err("true or false".to_owned()),
        }
    }
    fn show(&self, value: &bool) -> String {
        value.to_string()
    }
    fn default_doc(&self) -> String {
        if self.default == self.in_production {
            format!("`{}`", self.default)
        } else {
            format!(
                "`{}` (`{}` in production)",
                self.default, self.in_production
            )
        }
    }
}

/// One word out of a fixed list; the first is the default (`production` may name another).
pub struct Choice<T: Copy + 'static> {
    options: &'static [(&'static str, T)],
    in_production: usize,
}

impl<T: Copy + PartialEq + 'static> Choice<T> {
    /// One of `options`, the first by default.
    pub const fn new(options: &'static [(&'static str, T)]) -> Decl<Self> {
        Decl::new(Self {
            options,
            in_production: 0,
        })
    }

    /// One of `options`: the first in development, the one at `production` in production.
    pub const fn by_environment(
        options: &'static [(&'static str, T)],
        production: usize,
    ) -> Decl<Self> {
        Decl::new(Self {
            options,
            in_production: production,
        })
    }

    fn word(&self, index: usize) -> &'static str {
        self.options.get(index).map_or("", |(word, _)| word)
    }
}

impl<T: Copy + PartialEq + 'static> Parse for Choice<T> {
    type Value = T;
    fn default(&self, environment: Environment) -> T {
        let index = match environment {
            Environment::Development => 0,
            Environment::Production => self.in_production,
        };
        match self.options.get(index).or(self.options.first()) {
            Some((_, value)) => *value,
            // An empty list is a declaration bug that the README test would show at once.
            None => unreachable_choice(),
        }
    }
    fn parse_env(&self, raw: &str) -> Result<T, String> {
        let word = raw.trim();
        match self.options.iter().find(|(name, _)| *name == word) {
            Some((_, value)) => Ok(*value),
            None => {
                let names: Vec<String> =
                    self.options.iter().map(|(n, _)| format!("{n:?}")).collect();
                Err(match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => names.join(""),
                })
            }
        }
    }
    fn parse_file(&self, value: toml::Value) -> Result<T, String> {
        let word = file_string(value)?;
        self.parse_env(&word)
    }
    fn show(&self, value: &T) -> String {
        self.options
            .iter()
            .find(|(_, v)| v == value)
            .map_or_else(String::new, |(word, _)| (*word).to_owned())
    }
    fn default_doc(&self) -> String {
        if self.in_production == 0 {
            format!("`{}`", self.word(0))
        } else {
            format!(
                "`{}` (`{}` in production)",
                self.word(0),
                self.word(self.in_production)
            )
        }
    }
}

#[expect(
    clippy::panic,
    reason = "a choice declared with no options cannot load at all"
)]
fn unreachable_choice() -> ! {
    panic!("a Choice setting was declared with no options")
}

/// A list of browser origins (`scheme://host[:port]`), comma-separated in the environment.
pub struct Origins;

impl Origins {
    /// No origins by default.
    pub const fn new() -> Decl<Self> {
        Decl::new(Self)
    }
}

impl Parse for Origins {
    type Value = Vec<String>;
    fn default(&self, _: Environment) -> Vec<String> {
        Vec::new()
    }
    fn parse_env(&self, raw: &str) -> Result<Vec<String>, String> {
        Ok(raw
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect())
    }
    fn parse_file(&self, value: toml::Value) -> Result<Vec<String>, String> {
        match value {
            toml::Value::Array(items) => items
                .into_iter()
                .map(file_string)
                .collect::<Result<_, _>>()
                .map_err(|_| "a list of strings".to_owned()),
            _ => Err("a list of strings".to_owned()),
        }
    }
    fn show(&self, value: &Vec<String>) -> String {
        value.join(",")
    }
    fn default_doc(&self) -> String {
        "none".to_owned()
    }
    fn problems(&self, value: &Vec<String>) -> Option<String> {
        value.iter().find(|o| !valid_origin(o)).map(|origin| {
            format!(
                "entries must be origins like https://app.example.com, with no path or trailing slash (got {origin:?})"
            )
        })
    }
}

/// An origin: `http(s)://host[:port]`, nothing after.
pub fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', '?', '#', ' '])
}

/// Declares an area of settings once: each field's doc comment, name (its `latchkey.toml` key
/// unless `as "key"` says otherwise), type and declaration. Generates the struct and its
/// `load`, `describe` and `docs`.
macro_rules! settings_area {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                $field:ident $(as $key:literal)? : $ty:ty = $decl:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl $name {
            /// Reads every setting of the area.
            pub(super) fn load(layer: &mut $crate::config::declare::Layer<'_>) -> Self {
                Self {
                    $( $field: layer.load(&$decl, settings_area!(@key $field $($key)?)), )*
                }
            }

            /// `(key, value)` rows for `latchkey check`, secrets masked.
            pub(super) fn describe(&self, rows: &mut Vec<(&'static str, String)>) {
                $( rows.push((settings_area!(@key $field $($key)?), $decl.show(&self.$field))); )*
            }

            /// The README rows.
            pub(super) fn docs(docs: &mut Vec<$crate::config::declare::SettingDoc>) {
                $(
                    docs.push($crate::config::declare::SettingDoc::of(
                        &$decl,
                        settings_area!(@key $field $($key)?),
                        &[$($doc),+],
                    ));
                )*
            }
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
}
pub(crate) use settings_area;

//! Configuration variables: the one table of every variable ([`table`]) and the helpers
//! that read one through a platform's lookup. Errors name the variable and why, never a
//! secret's value. Depends on nothing else in the crate, so every module can use it.

use secrecy::SecretString;
use std::fmt::Display;
use std::str::FromStr;

pub mod table;

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{name} is not set")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A value outside what the variable accepts, e.g. `X must be a whole number, got "y"`.
    #[error("{name} {reason}{}", got(.value_hint))]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What it must be (`must be a whole number`).
        reason: String,
        /// The value as given (quoted), or `None` for a secret.
        value_hint: Option<String>,
    },
    /// A list the variable's own parser refused; the parser names the entry, never a
    /// secret's content.
    #[error("{name}: {reason}")]
    Unparsable {
        /// The variable.
        name: &'static str,
        /// The parser's message.
        reason: String,
    },
}

fn got(hint: &Option<String>) -> String {
    hint.as_ref()
        .map_or_else(String::new, |h| format!(", got {h}"))
}

impl ConfigError {
    /// The variable the error is about.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Missing { name } | Self::Invalid { name, .. } | Self::Unparsable { name, .. } => {
                name
            }
        }
    }
}

/// Adapters that carry errors as text (log lines, the 500 reply) convert with `?`.
impl From<ConfigError> for String {
    fn from(e: ConfigError) -> Self {
        e.to_string()
    }
}

/// A function that reads configuration. On Workers one script is collector and health
/// (and drains on a cron); on Spin each is its own component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    /// The ingestion endpoint (`functions/collector`).
    Collector,
    /// `/health`, `/metrics`, `/livez` (`functions/health`).
    Health,
    /// The drain: the native binary and the Spin `/internal/drain` component
    /// (`functions/processor`).
    Processor,
}

impl Component {
    /// Every component, in the order the docs list them.
    pub const ALL: &[Component] = &[Self::Collector, Self::Health, Self::Processor];

    /// The component's name, as spin.toml spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Collector => "collector",
            Self::Health => "health",
            Self::Processor => "processor",
        }
    }
}

/// What an unset (or empty) variable means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// The configuration is refused.
    Required,
    /// This value is used; it parses like a given one.
    Default(&'static str),
    /// The feature it configures is off or derived otherwise; the text says how.
    Optional(&'static str),
}

/// One row of the configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The name, as the environment, Workers `[vars]` and secrets spell it (Spin
    /// variables are the same in lower case).
    pub name: &'static str,
    /// What an unset value means.
    pub unset: Unset,
    /// A secret: never logged, never in `{:?}`, never in wrangler.toml `[vars]`.
    pub secret: bool,
    /// The components that read it.
    pub read_by: &'static [Component],
}

impl Variable {
    /// The name as Spin variables spell it.
    pub fn spin_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// Whether `component` reads it.
    pub fn read_by(&self, component: Component) -> bool {
        self.read_by.contains(&component)
    }

    fn default_text(&self) -> Option<&'static str> {
        match self.unset {
            Unset::Default(d) => Some(d),
            Unset::Required | Unset::Optional(_) => None,
        }
    }

    /// An [`ConfigError::Invalid`] for `value` (hidden when the variable is secret).
    pub fn invalid(&self, reason: impl Into<String>, value: &str) -> ConfigError {
        ConfigError::Invalid {
            name: self.name,
            reason: reason.into(),
            value_hint: (!self.secret).then(|| format!("{value:?}")),
        }
    }
}

/// Reads variables through a platform's lookup (environment, Workers vars and secrets,
/// Spin variables). Every read names a [`table`] row, so nothing can read a variable the
/// table does not list. The lookup is a `dyn Fn`: one copy of each helper in the wasm,
/// whatever closure each adapter passes.
pub struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Vars<'a> {
    /// Wrap a lookup.
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(get)
    }

    /// The value as given, untrimmed (`None` when unset).
    fn raw(&self, v: &Variable) -> Option<String> {
        (self.0)(v.name)
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn optional(&self, v: &Variable) -> Option<String> {
        self.raw(v)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The trimmed value, or the table's default (empty when it has none).
    pub fn text(&self, v: &Variable) -> String {
        self.optional(v)
            .unwrap_or_else(|| v.default_text().unwrap_or_default().to_string())
    }

    /// The trimmed value; [`ConfigError::Missing`] when unset or blank.
    pub fn required(&self, v: &Variable) -> Result<String, ConfigError> {
        self.optional(v)
            .ok_or(ConfigError::Missing { name: v.name })
    }

    /// A whole number, or the table's default.
    pub fn number<T: FromStr>(&self, v: &Variable) -> Result<T, ConfigError> {
        let text = self
            .optional(v)
            .or_else(|| v.default_text().map(str::to_string));
        let text = text.ok_or(ConfigError::Missing { name: v.name })?;
        text.parse()
            .map_err(|_| v.invalid("must be a whole number", &text))
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), or the table's default.
    pub fn flag(&self, v: &Variable) -> Result<bool, ConfigError> {
        match self.text(v).to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" | "off" => Ok(false),
            "1" | "true" | "yes" | "on" => Ok(true),
            other => Err(v.invalid("must be true or false", other)),
        }
    }

    /// A comma list handed to the type's own parser, whose error is reported under the
    /// variable's name. The value goes as given (the parsers trim entries; an empty
    /// `ALLOWED_ORIGINS` allows no origin); unset gives the table's default, else "".
    pub fn list<T, E: Display>(
        &self,
        v: &Variable,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        let text = self
            .raw(v)
            .unwrap_or_else(|| v.default_text().unwrap_or_default().to_string());
        parse(&text).map_err(|e| ConfigError::Unparsable {
            name: v.name,
            reason: e.to_string(),
        })
    }

    /// A secret, trimmed; `None` when unset or blank.
    pub fn secret(&self, v: &Variable) -> Option<SecretString> {
        self.optional(v).map(SecretString::from)
    }

    /// A required secret, trimmed.
    pub fn required_secret(&self, v: &Variable) -> Result<SecretString, ConfigError> {
        self.required(v).map(SecretString::from)
    }

    /// A secret exactly as given (a password may end in a space); empty when unset.
    pub fn verbatim_secret(&self, v: &Variable) -> SecretString {
        SecretString::from(self.raw(v).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const N: Variable = Variable {
        name: "N",
        unset: Unset::Default("7"),
        secret: false,
        read_by: Component::ALL,
    };
    const S: Variable = Variable {
        name: "S",
        unset: Unset::Required,
        secret: true,
        read_by: Component::ALL,
    };

    /// A lookup that answers `value` for every name.
    fn vars(value: Option<&'static str>) -> Vars<'static> {
        let get: &'static dyn Fn(&str) -> Option<String> = match value {
            None => &|_| None,
            Some(v) => Box::leak(Box::new(move |_: &str| Some(v.to_string()))),
        };
        Vars::new(get)
    }

    #[test]
    fn unset_and_blank_values_take_the_table_default() {
        assert_eq!(vars(None).number::<u64>(&N), Ok(7));
        assert_eq!(vars(Some("  ")).number::<u64>(&N), Ok(7));
        assert_eq!(vars(Some(" 12 ")).number::<u64>(&N), Ok(12));
        assert_eq!(vars(None).text(&N), "7");
        assert_eq!(
            vars(None).required(&S),
            Err(ConfigError::Missing { name: "S" })
        );
    }

    #[test]
    fn errors_quote_plain_values_and_hide_secret_ones() {
        let e = vars(Some("lots")).number::<u64>(&N).unwrap_err();
        assert_eq!(e.to_string(), "N must be a whole number, got \"lots\"");
        let e = vars(Some("hunter2")).number::<u64>(&S).unwrap_err();
        assert_eq!(e.to_string(), "S must be a whole number");
        assert_eq!(e.name(), "S");
        let e = vars(Some("maybe")).flag(&N).unwrap_err();
        assert_eq!(e.to_string(), "N must be true or false, got \"maybe\"");
        let e = vars(Some("x"))
            .list(&N, |_| Err::<(), _>("entry 1 is bad"))
            .unwrap_err();
        assert_eq!(e.to_string(), "N: entry 1 is bad");
    }

    #[test]
    fn flags_accept_the_usual_spellings() {
        for (text, want) in [("ON", true), ("yes", true), ("1", true), ("off", false)] {
            assert_eq!(vars(Some(text)).flag(&N), Ok(want), "{text}");
        }
    }

    #[test]
    fn secrets_are_trimmed_except_verbatim_ones() {
        assert_eq!(vars(Some(" t ")).secret(&S).unwrap().expose_secret(), "t");
        assert!(vars(Some(" ")).secret(&S).is_none());
        assert_eq!(vars(Some(" p ")).verbatim_secret(&S).expose_secret(), " p ");
        let debug = format!("{:?}", vars(Some("hunter2")).secret(&S));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}

//! Segment spec event model without a `Value` tree: an event is parsed into its
//! top-level keys and borrowed raw JSON values, so `properties`, `traits` and the rest
//! pass through byte for byte while the few fields we read are parsed on demand.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The six Segment call types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `track`: a user action, needs `event`.
    Track,
    /// `identify`: who the user is.
    Identify,
    /// `page`: a web page view.
    Page,
    /// `screen`: a mobile screen view.
    Screen,
    /// `group`: associates the user with a group, needs `groupId`.
    Group,
    /// `alias`: merges two identities, needs `previousId`.
    Alias,
}

impl Kind {
    /// Parse the `type` field value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "track" => Self::Track,
            "identify" => Self::Identify,
            "page" => Self::Page,
            "screen" => Self::Screen,
            "group" => Self::Group,
            "alias" => Self::Alias,
            _ => return None,
        })
    }

    /// The `type` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Track => "track",
            Self::Identify => "identify",
            Self::Page => "page",
            Self::Screen => "screen",
            Self::Group => "group",
            Self::Alias => "alias",
        }
    }
}

/// A JSON object as an ordered list of (key, raw value). Duplicate keys: last wins on
/// lookup, and only the last is written back.
#[derive(Debug, Default)]
pub struct RawObject<'a> {
    /// The members in document order.
    pub members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// Parse a JSON object from text. Errors if the text is not a JSON object.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parse from a raw value (which must be an object).
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        Self::parse(raw.get())
    }

    /// The raw value of a key, if present (last occurrence).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The raw value of a key unless it is absent or JSON `null`.
    pub fn get_present(&self, key: &str) -> Option<&'a RawValue> {
        self.get(key).filter(|v| v.get() != "null")
    }
}

struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjVisitor<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(k) = map.next_key_seed(KeySeed)? {
                    let v: &'de RawValue = map.next_value()?;
                    members.push((k, v));
                }
                Ok(RawObject { members })
            }
        }
        d.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

/// Parse a raw value as a JSON string, if it is one.
pub fn raw_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let t = raw.get();
    if !t.starts_with('"') {
        return None;
    }
    if !t.contains('\\') {
        return t.get(1..t.len() - 1).map(Cow::Borrowed);
    }
    serde_json::from_str::<String>(t).ok().map(Cow::Owned)
}

/// Whether a raw value is a JSON object.
pub fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// Appends JSON object members to a string buffer.
pub struct ObjectWriter {
    buf: String,
    first: bool,
}

impl ObjectWriter {
    /// Start an object with a capacity hint.
    pub fn with_capacity(n: usize) -> Self {
        let mut buf = String::with_capacity(n);
        buf.push('{');
        Self { buf, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        push_json_str(&mut self.buf, k);
        self.buf.push(':');
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, k: &str, json: &str) {
        self.key(k);
        self.buf.push_str(json);
    }

    /// A string member.
    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_json_str(&mut self.buf, v);
    }

    /// Close the object and return its text.
    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// Whether a byte must be escaped inside a JSON string: controls, `"` and `\\`.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Object keys seen so far: a list while small (the common case, a few dozen members,
/// where a scan beats a tree), a B-tree past that, so a hostile object with thousands of
/// members costs n log n, never n².
#[derive(Debug, Default)]
pub struct KeySet<'a> {
    small: Vec<&'a str>,
    big: Option<std::collections::BTreeSet<&'a str>>,
}

impl<'a> KeySet<'a> {
    const SMALL: usize = 32;

    /// Add `k`; `false` when it was already there.
    pub fn insert(&mut self, k: &'a str) -> bool {
        if let Some(big) = &mut self.big {
            return big.insert(k);
        }
        if self.small.contains(&k) {
            return false;
        }
        if self.small.len() < Self::SMALL {
            self.small.push(k);
            return true;
        }
        let mut big: std::collections::BTreeSet<&str> = self.small.drain(..).collect();
        big.insert(k);
        self.big = Some(big);
        true
    }

    /// Whether `k` was added.
    pub fn contains(&self, k: &str) -> bool {
        match &self.big {
            Some(big) => big.contains(k),
            None => self.small.contains(&k),
        }
    }
}

/// Append `s` as a JSON string literal. Runs of bytes that need no escaping are copied
/// as whole slices (the collector escapes every accepted batch once).
pub fn push_json_str(buf: &mut String, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push('"');
    push_json_str_content(buf, s);
    buf.push('"');
}

/// Append `s` escaped as the inside of a JSON string literal (no quotes), for strings
/// written in pieces.
pub fn push_json_str_content(buf: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| needs_escape(b)))
    {
        let at = i + off;
        buf.push_str(s.get(start..at).unwrap_or_default());
        match bytes.get(at).copied().unwrap_or_default() {
            b'"' => buf.push_str("\\\""),
            b'\\' => buf.push_str("\\\\"),
            b'\n' => buf.push_str("\\n"),
            b'\r' => buf.push_str("\\r"),
            b'\t' => buf.push_str("\\t"),
            b => {
                use std::fmt::Write as _;
                let _ = write!(buf, "\\u{b:04x}");
            }
        }
        i = at + 1;
        start = i;
    }
    buf.push_str(s.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn raw_object_keeps_values_verbatim() {
        let o = RawObject::parse(r#"{"a": {"x" : [1, 2]}, "b\u0041": "s", "a": 3}"#).unwrap();
        assert_eq!(o.get("a").unwrap().get(), "3");
        assert_eq!(o.get("bA").unwrap().get(), "\"s\"");
        assert_eq!(o.members[0].1.get(), r#"{"x" : [1, 2]}"#);
        assert!(RawObject::parse("[1]").is_err());
        assert!(RawObject::parse("{").is_err());
    }

    #[test]
    fn raw_str_handles_escapes() {
        let o = RawObject::parse(r#"{"a":"plain","b":"q\"\u00e9","c":5}"#).unwrap();
        assert_eq!(raw_str(o.get("a").unwrap()).unwrap(), "plain");
        assert_eq!(raw_str(o.get("b").unwrap()).unwrap(), "q\"é");
        assert!(raw_str(o.get("c").unwrap()).is_none());
    }

    #[test]
    fn key_sets_answer_alike_small_and_large() {
        let keys: Vec<String> = (0..100).map(|i| format!("k{}", i % 70)).collect();
        let mut set = KeySet::default();
        let fresh: Vec<bool> = keys.iter().map(|k| set.insert(k)).collect();
        assert_eq!(fresh.iter().filter(|f| **f).count(), 70);
        assert!(set.contains("k69") && set.contains("k0") && !set.contains("k70"));
    }

    proptest! {
        #[test]
        fn json_strings_round_trip(s in "\\PC*|[\\x00-\\x1f\"\\\\]*") {
            let mut buf = String::new();
            push_json_str(&mut buf, &s);
            let back: String = serde_json::from_str(&buf).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,64}") {
            let _ = RawObject::parse(&s);
        }
    }
}

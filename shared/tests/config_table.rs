//! The configuration table (`ingest_core::vars::table`) is the single source: what each
//! component reads, spin.toml, wrangler.toml, the README's table and `{:?}` of every
//! config struct are checked against it here.
//!
//! `UPDATE_README=1 cargo test -p ingest-core --test config_table` rewrites the README's
//! table from the table.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "the helpers of a test fail it by panicking"
)]

use ingest_core::config::{self, Config};
use ingest_core::drain::{DrainConfig, ProcessorConfig};
use ingest_core::vars::table::{VARIABLES, markdown};
use ingest_core::vars::{Component, Unset, Variable};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn root_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root_file(name)).unwrap()
}

fn names(filter: impl Fn(&Variable) -> bool) -> BTreeSet<String> {
    VARIABLES
        .iter()
        .filter(|v| filter(v))
        .map(|v| v.name.to_string())
        .collect()
}

/// A valid value for every variable, so that every read happens.
fn sample(name: &str, sink: &str) -> Option<String> {
    let row = VARIABLES.iter().find(|v| v.name == name)?;
    Some(match (name, row.unset) {
        ("SINK", _) => sink.to_string(),
        ("ALLOWED_WRITE_KEYS", _) => "SECRET-key".into(),
        ("REDIS_URL", _) => "https://db.upstash.example".into(),
        ("CLICKHOUSE_URL", _) => "https://ch.example:8443".into(),
        ("TRUSTED_PROXIES", _) => "10.0.0.0/8".into(),
        ("SIGNING_SECRETS", _) => "SECRET-key=SECRET-signing".into(),
        (_, Unset::Default(d)) => d.to_string(),
        _ if row.secret => format!("SECRET-{name}"),
        _ => format!("plain-{name}"),
    })
}

/// The names `load` asks for, with both sinks.
fn reads(load: impl Fn(&dyn Fn(&str) -> Option<String>)) -> BTreeSet<String> {
    let seen = RefCell::new(BTreeSet::new());
    for sink in ["redis", "clickhouse"] {
        load(&|name: &str| {
            seen.borrow_mut().insert(name.to_string());
            sample(name, sink)
        });
    }
    seen.into_inner()
}

/// What each component loads, as its adapters do: the collector and health functions
/// load `Config` and, when ClickHouse is configured, `DrainConfig` (the Worker drains
/// after ack and on its cron; the Spin collector serves the health routes too). The
/// processor: on Spin `Config` (for Upstash), natively only `Upstash` and the streams.
fn component_reads(c: Component) -> BTreeSet<String> {
    reads(|get| {
        Config::from_lookup(get).unwrap();
        DrainConfig::when_configured(get).unwrap().unwrap();
        if c == Component::Processor {
            ProcessorConfig::from_lookup(get).unwrap();
            config::Upstash::from_lookup(get).unwrap();
            config::shard_streams(get).unwrap();
        }
    })
}

#[test]
fn each_component_reads_exactly_its_rows_of_the_table() {
    for &c in Component::ALL {
        assert_eq!(component_reads(c), names(|v| v.read_by(c)), "{c:?}");
    }
}

#[test]
fn every_default_in_the_table_is_accepted() {
    let minimal = |name: &str| match name {
        "ALLOWED_WRITE_KEYS" => Some("k1".to_string()),
        "REDIS_URL" => Some("https://db.upstash.example".to_string()),
        "REDIS_TOKEN" | "CLICKHOUSE_URL" => Some("https://x.example".to_string()),
        _ => None,
    };
    Config::from_lookup(minimal).unwrap();
    DrainConfig::from_lookup(minimal).unwrap();
    ProcessorConfig::from_lookup(minimal).unwrap();
}

#[test]
fn debug_output_of_every_config_hides_every_secret() {
    let get = |name: &str| sample(name, "redis");
    let direct = |name: &str| sample(name, "clickhouse");
    let printed = [
        format!("{:?}", Config::from_lookup(get).unwrap()),
        format!("{:#?}", Config::from_lookup(direct).unwrap()),
        format!("{:?}", DrainConfig::from_lookup(get).unwrap()),
        format!("{:?}", ProcessorConfig::from_lookup(get).unwrap()),
        format!("{:?}", config::Upstash::from_lookup(get).unwrap()),
    ];
    for text in &printed {
        assert!(!text.contains("SECRET-"), "{text}");
    }
    // The samples did reach the structs: the secrets are there, only hidden.
    assert!(printed.iter().all(|t| t.contains("REDACTED")));
    for v in VARIABLES.iter().filter(|v| v.secret) {
        assert!(
            sample(v.name, "redis").unwrap().contains("SECRET-"),
            "{}",
            v.name
        );
    }
}

/// Deliberate deployment choices where a manifest's default differs from the code's.
const SPIN_OVERRIDES: &[(&str, &str)] = &[
    // the INSERT-only role the migrations create; the code falls back to ClickHouse's own
    ("clickhouse_user", "analytics_writer"),
];

#[test]
fn spin_toml_declares_what_each_component_reads() {
    let manifest: toml::Table = read("spin.toml").parse().unwrap();
    let declared = manifest["variables"].as_table().unwrap();
    let table_names: BTreeSet<String> = VARIABLES.iter().map(|v| v.spin_name()).collect();
    // The dashboard component has its own configuration (`dashboard::config`), outside
    // this table: what it references is declared for it.
    let dashboard: BTreeSet<String> = manifest["component"]["dashboard"]["variables"]
        .as_table()
        .map(|t| {
            t.values()
                .filter_map(|v| v.as_str())
                .filter_map(|v| v.trim().strip_prefix("{{")?.strip_suffix("}}"))
                .map(|n| n.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    for name in declared.keys() {
        assert!(
            table_names.contains(name) || dashboard.contains(name),
            "spin.toml declares {name}: not in the table"
        );
    }
    for v in VARIABLES {
        let spec = declared.get(&v.spin_name());
        let spec = spec.and_then(|s| s.as_table()).unwrap_or_else(|| {
            panic!("spin.toml [variables] lacks {}", v.spin_name());
        });
        let flag = |key: &str| spec.get(key).and_then(|s| s.as_bool()).unwrap_or(false);
        assert_eq!(flag("secret"), v.secret, "{}: secret", v.name);
        assert_eq!(flag("required"), v.unset == Unset::Required, "{}", v.name);
        let default = spec.get("default").and_then(|d| d.as_str());
        let want = match v.unset {
            Unset::Required => None,
            Unset::Default(d) => Some(
                SPIN_OVERRIDES
                    .iter()
                    .find(|(n, _)| *n == v.spin_name())
                    .map_or(d, |(_, o)| o),
            ),
            Unset::Optional(_) => Some(""),
        };
        assert_eq!(default, want, "{}: default", v.name);
    }
    let components = manifest["component"].as_table().unwrap();
    for &c in Component::ALL {
        let passed = components[c.name()]["variables"].as_table().unwrap();
        let got: BTreeSet<String> = passed.keys().cloned().collect();
        let want: BTreeSet<String> = VARIABLES
            .iter()
            .filter(|v| v.read_by(c))
            .map(|v| v.spin_name())
            .collect();
        assert_eq!(got, want, "[component.{}.variables]", c.name());
        for (key, value) in passed {
            assert_eq!(value.as_str(), Some(format!("{{{{ {key} }}}}").as_str()));
        }
    }
    let mut known: BTreeSet<&str> = Component::ALL.iter().map(|c| c.name()).collect();
    known.insert("dashboard"); // checked by tests/blackbox/test_spin_manifest.py
    for k in components.keys() {
        assert!(
            known.contains(k.as_str()),
            "spin.toml has an unknown component {k}"
        );
    }
}

/// Upper-case words in wrangler.toml's comments.
fn comment_words(text: &str) -> BTreeSet<String> {
    let comments: String = text
        .lines()
        .filter_map(|l| l.split_once('#').map(|(_, c)| c))
        .collect::<Vec<_>>()
        .join("\n");
    comments
        .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(str::to_string)
        .collect()
}

#[test]
fn wrangler_toml_mentions_what_the_worker_reads() {
    let text = read("wrangler.toml");
    let manifest: toml::Table = text.parse().unwrap();
    let vars: BTreeSet<String> = manifest["vars"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let commented = comment_words(&text);
    let known = names(|_| true);
    // A variable-like name (with an underscore) that the table lacks is stale.
    for name in vars
        .iter()
        .chain(commented.iter().filter(|w| w.contains('_')))
    {
        assert!(
            known.contains(name),
            "wrangler.toml names {name}: not in the table"
        );
    }
    // One script serves the collector and health, and drains on its cron.
    for v in VARIABLES
        .iter()
        .filter(|v| v.read_by(Component::Collector) || v.read_by(Component::Health))
    {
        if v.secret {
            assert!(
                !vars.contains(v.name),
                "{} is a secret: not in [vars]",
                v.name
            );
            assert!(
                commented.contains(v.name),
                "{}: list it with the secrets",
                v.name
            );
        } else {
            let named = vars.contains(v.name) || commented.contains(v.name);
            assert!(named, "wrangler.toml does not mention {}", v.name);
        }
    }
}

/// The README's table: the first run of `|` lines after `## Configuration`.
fn readme_table(readme: &str) -> (usize, usize) {
    let lines: Vec<&str> = readme.lines().collect();
    let heading = lines.iter().position(|l| *l == "## Configuration").unwrap();
    let start = heading
        + lines[heading..]
            .iter()
            .position(|l| l.starts_with('|'))
            .unwrap();
    let len = lines[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .count();
    (start, start + len)
}

#[test]
fn readme_configuration_table_is_the_rendered_table() {
    let readme = read("README.md");
    let (start, end) = readme_table(&readme);
    let lines: Vec<&str> = readme.lines().collect();
    let current = lines[start..end].join("\n") + "\n";
    let rendered = markdown();
    if current != rendered && std::env::var_os("UPDATE_README").is_some() {
        let mut out: Vec<&str> = lines[..start].to_vec();
        out.extend(rendered.lines());
        out.extend(&lines[end..]);
        std::fs::write(root_file("README.md"), out.join("\n") + "\n").unwrap();
        return;
    }
    assert!(
        current == rendered,
        "README.md's configuration table differs from vars::table; run \
         UPDATE_README=1 cargo test -p ingest-core --test config_table"
    );
}

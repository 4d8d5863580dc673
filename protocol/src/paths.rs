//! Endpoint paths, relative to the collector's base URL. The collector also accepts
//! Segment's one-letter aliases (`/v1/b`, `/v1/t`, …) and a trailing slash.

/// `POST`: a batch of events (`{"batch": [...]}`).
pub const BATCH: &str = "/v1/batch";
/// `POST`: a batch, under Segment's other name for it.
pub const IMPORT: &str = "/v1/import";
/// `POST`: one track event.
pub const TRACK: &str = "/v1/track";
/// `POST`: one identify event.
pub const IDENTIFY: &str = "/v1/identify";
/// `POST`: one page event.
pub const PAGE: &str = "/v1/page";
/// `POST`: one screen event.
pub const SCREEN: &str = "/v1/screen";
/// `POST`: one group event.
pub const GROUP: &str = "/v1/group";
/// `POST`: one alias event.
pub const ALIAS: &str = "/v1/alias";

/// Prefix of `GET /v1/projects/:writeKey/settings` (what analytics.js loads).
pub const SETTINGS_PREFIX: &str = "/v1/projects/";
/// Suffix of the settings path.
pub const SETTINGS_SUFFIX: &str = "/settings";

/// The settings path for `write_key`.
pub fn settings(write_key: &str) -> String {
    format!("{SETTINGS_PREFIX}{write_key}{SETTINGS_SUFFIX}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_path_has_the_key_between_prefix_and_suffix() {
        assert_eq!(super::settings("wk"), "/v1/projects/wk/settings");
    }
}

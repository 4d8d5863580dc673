-- Events: one row per Segment event. Keyed on (write_key_id, message_id) with
-- ReplacingMergeTree, so an event delivered twice (client retry, processor crash between
-- insert and XACK) is one row in `SELECT ... FINAL` and after merges. Keep the retry's
-- timestamp out of the key: skew correction makes it differ between deliveries.
CREATE DATABASE IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.events
(
    message_id         String,
    type               LowCardinality(String),
    event              String COMMENT 'track: event name; page/screen: name',
    user_id            String,
    anonymous_id       String,
    group_id           String,
    previous_id        String,
    write_key_id       LowCardinality(String) COMMENT 'first 16 hex of sha256(write key)',
    timestamp          DateTime64(3, 'UTC') COMMENT 'clock-skew corrected',
    original_timestamp Nullable(DateTime64(3, 'UTC')),
    sent_at            Nullable(DateTime64(3, 'UTC')),
    received_at        DateTime64(3, 'UTC'),
    ip                 String,
    country            LowCardinality(String),
    region             String,
    city               String,
    user_agent         String,
    library_name       LowCardinality(String),
    library_version    String,
    page_url           String,
    page_path          String,
    page_referrer      String,
    page_title         String,
    properties         String CODEC(ZSTD(1)) COMMENT 'JSON object',
    traits             String CODEC(ZSTD(1)) COMMENT 'JSON object',
    context            String CODEC(ZSTD(1)) COMMENT 'JSON object',
    integrations       String COMMENT 'JSON object',
    extra              String COMMENT 'JSON object of non-spec top-level fields',
    stream_id          String COMMENT 'Redis stream entry the event came from',
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX ts_minmax timestamp TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (write_key_id, message_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Back to 0001's shape: events ordered by (write_key_id, message_id), sessions by
-- (write_key_id, visitor_id, session_start). Same steps as the up migration: swap an
-- empty table in, then copy the rows back (`SELECT *` leaves out the MATERIALIZED
-- event_date, so the columns line up).
CREATE TABLE analytics.events_0004_old
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

EXCHANGE TABLES analytics.events AND analytics.events_0004_old;

INSERT INTO analytics.events SELECT * FROM analytics.events_0004_old;

DROP TABLE analytics.events_0004_old SYNC;

DROP VIEW IF EXISTS analytics.sessions_mv SYNC;

DROP TABLE IF EXISTS analytics.sessions SYNC;

-- cluster: local
CREATE TABLE analytics.sessions
(
    write_key_id  LowCardinality(String),
    visitor_id    String,
    user_id       String,
    session_start DateTime64(3, 'UTC'),
    session_end   DateTime64(3, 'UTC'),
    event_count   UInt64,
    entry_page    String
)
ENGINE = ReplacingMergeTree
ORDER BY (write_key_id, visitor_id, session_start);

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.sessions_mv
REFRESH EVERY 1 MINUTE TO analytics.sessions AS
WITH
    ordered AS (
        SELECT
            write_key_id,
            if(anonymous_id != '', anonymous_id, user_id) AS visitor_id,
            user_id,
            timestamp,
            if(type = 'page', if(page_path != '', page_path, page_url), '') AS page,
            lagInFrame(timestamp, 1, toDateTime64(0, 3, 'UTC')) OVER w AS prev_ts
        FROM analytics.events FINAL
        WINDOW w AS (PARTITION BY write_key_id, visitor_id ORDER BY timestamp ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    ),
    numbered AS (
        SELECT *,
            sum(if(prev_ts = toDateTime64(0, 3, 'UTC') OR dateDiff('second', prev_ts, timestamp) > 1800, 1, 0))
                OVER (PARTITION BY write_key_id, visitor_id ORDER BY timestamp ROWS UNBOUNDED PRECEDING) AS session_no
        FROM ordered
    )
SELECT
    write_key_id,
    visitor_id,
    argMaxIf(user_id, timestamp, user_id != '') AS user_id,
    min(timestamp) AS session_start,
    max(timestamp) AS session_end,
    count() AS event_count,
    argMinIf(page, timestamp, page != '') AS entry_page
FROM numbered
GROUP BY write_key_id, visitor_id, session_no;

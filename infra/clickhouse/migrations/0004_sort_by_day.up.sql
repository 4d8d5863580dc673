-- Sort events by project and day so that a dashboard's time range reads only its days,
-- while retries still collapse into one row. The day comes from the client's original
-- timestamp (originalTimestamp, the SDK's `timestamp`), which every delivery of an event
-- carries unchanged; the skew-corrected `timestamp` moves with each retry's sentAt and
-- stays out of the key. Events without a client timestamp go to the 1970-01-01 bucket:
-- nothing else about them is stable across retries. Date32 covers the whole storable
-- DateTime64 range (1900-2299); Date would wrap around outside 1970-2149.
-- Queries must filter on event_date to be pruned: see docs/DASHBOARD-STORAGE.md.
--
-- ClickHouse cannot change the front of a sorting key in place, so this builds the new
-- table and swaps it in before copying the old rows over: inserts that arrive during the
-- copy already land in the new table and nothing is lost; a row copied twice collapses
-- by key. The copy is one INSERT ... SELECT, fine for the local stack and small tables;
-- for a large table run the same steps by hand, one partition at a time
-- (docs/DASHBOARD-STORAGE.md, "Backfill"). Not re-runnable once it got past the first
-- statement: the CREATE fails if events_0004_new exists (see the same section).
CREATE TABLE analytics.events_0004_new
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
    event_date         Date32 MATERIALIZED toDate32(ifNull(original_timestamp, toDateTime64(0, 3, 'UTC')))
                       COMMENT 'UTC day of the client timestamp (1970-01-01: none); stable across retries',
    INDEX ts_minmax timestamp TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (write_key_id, event_date, type, event, message_id)
SETTINGS non_replicated_deduplication_window = 10000;

EXCHANGE TABLES analytics.events AND analytics.events_0004_new;

INSERT INTO analytics.events SELECT * FROM analytics.events_0004_new;

DROP TABLE analytics.events_0004_new SYNC;

-- Sessions: the table is recomputed wholesale every minute, so its key only serves reads;
-- dashboards filter it by session_start. Recreated with the view (it refills within a
-- minute); the view's query is 0002's.
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
ORDER BY (write_key_id, session_start, visitor_id);

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

-- Sessions: per visitor (anonymous_id, else user_id) and write key, a new session after 30
-- minutes without events. Gap-based sessions need the visitor's whole ordered history, which
-- an insert-triggered view never sees, so this is a refreshable materialized view: every
-- minute it recomputes the sessions table from deduplicated events (FINAL) and swaps it in.
-- cluster: local (each replica's view recomputes its own copy from its full replica of events;
-- a refresh replaces the target table, which a Replicated* target would not survive)
CREATE TABLE IF NOT EXISTS analytics.sessions
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

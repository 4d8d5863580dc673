-- Sessions that started in [from, to) (analytics.sessions, recomputed every minute from
-- deduplicated events): count, median length in seconds, and the share of one-event
-- sessions (bounces).
SELECT
    count() AS sessions,
    if(count() = 0, 0, quantileExact(0.5)(dateDiff('millisecond', session_start, session_end)) / 1000) AS median_seconds,
    if(count() = 0, 0, countIf(event_count = 1) / count()) AS bounce_rate
FROM analytics.sessions FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND session_start >= {from:DateTime64(3, 'UTC')}
  AND session_start < {to:DateTime64(3, 'UTC')}

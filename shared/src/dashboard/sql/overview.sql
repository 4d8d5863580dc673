-- Overview: events, unique visitors and sessions in [from, to), and the same figures for
-- the period just before it, [prev_from, from), for the period-over-period change.
-- A visitor is user_id, else anonymous_id. FINAL: a retried event is one row.
SELECT
    countIf(timestamp >= {from:DateTime64(3, 'UTC')}) AS events,
    uniqExactIf(if(user_id != '', user_id, anonymous_id),
        timestamp >= {from:DateTime64(3, 'UTC')} AND (user_id != '' OR anonymous_id != '')) AS users,
    countIf(timestamp < {from:DateTime64(3, 'UTC')}) AS prev_events,
    uniqExactIf(if(user_id != '', user_id, anonymous_id),
        timestamp < {from:DateTime64(3, 'UTC')} AND (user_id != '' OR anonymous_id != '')) AS prev_users,
    (
        SELECT count()
        FROM analytics.sessions FINAL
        WHERE write_key_id IN {keys:Array(String)}
          AND session_start >= {from:DateTime64(3, 'UTC')}
          AND session_start < {to:DateTime64(3, 'UTC')}
    ) AS sessions,
    (
        SELECT count()
        FROM analytics.sessions FINAL
        WHERE write_key_id IN {keys:Array(String)}
          AND session_start >= {prev_from:DateTime64(3, 'UTC')}
          AND session_start < {from:DateTime64(3, 'UTC')}
    ) AS prev_sessions
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({prev_from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {prev_from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}

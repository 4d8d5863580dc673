-- The most frequent track events in [from, to), with their unique visitors.
SELECT
    event,
    count() AS events,
    uniqExactIf(if(user_id != '', user_id, anonymous_id), user_id != '' OR anonymous_id != '') AS users
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
  AND type = 'track'
GROUP BY event
ORDER BY events DESC, event
LIMIT {limit:UInt32}

-- Events and unique visitors in [from, to) per country (the edge's geo field; '' when the
-- platform gave none).
SELECT
    country,
    count() AS events,
    uniqExactIf(if(user_id != '', user_id, anonymous_id), user_id != '' OR anonymous_id != '') AS users
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
GROUP BY country
ORDER BY events DESC, country
LIMIT {limit:UInt32}

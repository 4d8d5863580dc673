-- Page views in [from, to) per referring domain ('(direct)' when there is no referrer).
SELECT
    if(page_referrer = '', '(direct)', domain(page_referrer)) AS referrer,
    count() AS views
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
  AND type = 'page'
GROUP BY referrer
ORDER BY views DESC, referrer
LIMIT {limit:UInt32}

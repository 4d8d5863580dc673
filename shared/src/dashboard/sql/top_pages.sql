-- The most viewed pages (page calls) in [from, to): the path, else the URL.
SELECT
    if(page_path != '', page_path, page_url) AS page,
    count() AS views,
    uniqExactIf(if(user_id != '', user_id, anonymous_id), user_id != '' OR anonymous_id != '') AS users
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
  AND type = 'page'
GROUP BY page
ORDER BY views DESC, page
LIMIT {limit:UInt32}

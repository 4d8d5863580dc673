-- Events per interval in [from, to). `event` = '' counts every event, else only that event
-- name. `by_event` = 1 splits the series per event name (the `limit` most frequent names
-- in the range); 0 gives one series named ''. Buckets are Unix seconds.
SELECT
    toUnixTimestamp(toStartOfInterval(timestamp, toIntervalSecond({interval_s:UInt32}))) AS bucket,
    if({by_event:UInt8} = 1, event, '') AS name,
    count() AS events
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
  AND ({event:String} = '' OR event = {event:String})
  AND ({by_event:UInt8} = 0 OR event IN (
        SELECT event
        FROM analytics.events FINAL
        WHERE write_key_id IN {keys:Array(String)}
          AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                              AND toDate32({to:DateTime64(3, 'UTC')}) + 1
               OR event_date = toDate32('1970-01-01'))
          AND timestamp >= {from:DateTime64(3, 'UTC')}
          AND timestamp < {to:DateTime64(3, 'UTC')}
          AND event != ''
          AND ({event:String} = '' OR event = {event:String})
        GROUP BY event
        ORDER BY count() DESC, event
        LIMIT {limit:UInt32}
      ))
GROUP BY bucket, name
ORDER BY bucket, name

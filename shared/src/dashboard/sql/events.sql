-- Event explorer: the most recent events in [from, to), newest first, optionally only of
-- one type, one event name, or one visitor (user_id or anonymous_id). Paginated by a
-- cursor: the (timestamp, message_id) of the last row of the previous page; the first
-- page passes (to, '').
SELECT
    toUnixTimestamp64Milli(timestamp) AS ts_ms,
    message_id,
    type,
    event,
    user_id,
    anonymous_id,
    page_path,
    country,
    library_name,
    substring(properties, 1, 2048) AS properties
FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                      AND toDate32({to:DateTime64(3, 'UTC')}) + 1
       OR event_date = toDate32('1970-01-01'))
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}
  AND (timestamp, message_id) < ({cursor_ts:DateTime64(3, 'UTC')}, {cursor_id:String})
  AND ({type:String} = '' OR type = {type:String})
  AND ({event:String} = '' OR event = {event:String})
  AND ({user:String} = '' OR user_id = {user:String} OR anonymous_id = {user:String})
ORDER BY timestamp DESC, message_id DESC
LIMIT {limit:UInt32}

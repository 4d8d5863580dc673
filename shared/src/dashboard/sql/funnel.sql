-- Funnel: of the visitors with track events in [from, to), how many did steps[1], then
-- steps[2], ... each within window_s seconds of the first step (windowFunnel). At most 8
-- steps; `reached[k]` counts the visitors that got at least k + 1 steps far.
SELECT arraySlice([countIf(level >= 1), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4),
        countIf(level >= 5), countIf(level >= 6), countIf(level >= 7), countIf(level >= 8)],
    1, length({steps:Array(String)})) AS reached
FROM
(
    SELECT
        if(user_id != '', user_id, anonymous_id) AS visitor,
        windowFunnel({window_s:UInt32})(
            toDateTime(timestamp),
            length({steps:Array(String)}) >= 1 AND event = {steps:Array(String)}[1],
            length({steps:Array(String)}) >= 2 AND event = {steps:Array(String)}[2],
            length({steps:Array(String)}) >= 3 AND event = {steps:Array(String)}[3],
            length({steps:Array(String)}) >= 4 AND event = {steps:Array(String)}[4],
            length({steps:Array(String)}) >= 5 AND event = {steps:Array(String)}[5],
            length({steps:Array(String)}) >= 6 AND event = {steps:Array(String)}[6],
            length({steps:Array(String)}) >= 7 AND event = {steps:Array(String)}[7],
            length({steps:Array(String)}) >= 8 AND event = {steps:Array(String)}[8]
        ) AS level
    FROM analytics.events FINAL
    WHERE write_key_id IN {keys:Array(String)}
      AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1
                          AND toDate32({to:DateTime64(3, 'UTC')}) + 1
           OR event_date = toDate32('1970-01-01'))
      AND timestamp >= {from:DateTime64(3, 'UTC')}
      AND timestamp < {to:DateTime64(3, 'UTC')}
      AND type = 'track'
      AND event IN {steps:Array(String)}
      AND (user_id != '' OR anonymous_id != '')
    GROUP BY visitor
)

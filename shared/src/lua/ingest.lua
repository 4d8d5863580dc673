-- The atomic ingest script: rate limit, replay and retry checks, then the append.
-- KEYS and ARGV are written by shared/src/redis/ingest.rs (IngestKeys, IngestHead,
-- IngestTail); the names below follow those fields, in the same order.
local stream, dead_letters, rate_limit, marker, lock, wanted, nonce =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local max_requests, window_ms, marker_ttl_ms, nonce_ttl_ms, lock_ttl_ms =
  tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local write_key, request_id, received_at, events, accepted, rejected, rejects =
  ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
-- ARGV[13..]: (field, increment) pairs for the metrics hash, KEYS[8], when flushed.

if max_requests > 0 then
  local n = redis.call('INCR', rate_limit)
  if n == 1 then redis.call('PEXPIRE', rate_limit, window_ms) end
  if n > max_requests then
    local ttl = redis.call('PTTL', rate_limit)
    if ttl < 0 then redis.call('PEXPIRE', rate_limit, window_ms); ttl = tonumber(window_ms) end
    return {'limited', ttl}
  end
end
if nonce_ttl_ms > 0 and not redis.call('SET', nonce, '1', 'NX', 'PX', nonce_ttl_ms) then
  return {'replayed', 0}
end
-- One command for the retry marker: set it unless this request was appended before.
if marker_ttl_ms > 0 and not redis.call('SET', marker, request_id, 'NX', 'PX', marker_ttl_ms) then
  return {'duplicate', ''}
end
for i = 13, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[8], ARGV[i], ARGV[i + 1]) end
local id = ''
if events ~= '' then
  local added = redis.pcall('XADD', stream, '*', 'v', '1', 'n', accepted, 'wk', write_key, 'rid', request_id, 'at', received_at, 'events', events)
  if type(added) == 'table' and added.err then
    -- Not appended (out of memory, a wrong key type): take the marker and the nonce
    -- back, so the client's retry is appended rather than answered as a duplicate of
    -- nothing, or refused as a replay.
    if marker_ttl_ms > 0 then redis.call('DEL', marker) end
    if nonce_ttl_ms > 0 then redis.call('DEL', nonce) end
    return redis.error_reply(added.err)
  end
  id = added
end
if rejects ~= '' then
  redis.call('XADD', dead_letters, '*', 'wk', write_key, 'rid', request_id, 'at', received_at, 'rejects', rejects, 'count', rejected)
end
-- The drain lock is offered at most once per interval per isolate (lock_ttl_ms 0
-- otherwise); the drainer's release script looks for entries appended meanwhile.
local drain = 0
if lock_ttl_ms > 0 and id ~= '' then
  if redis.call('SET', lock, request_id, 'NX', 'PX', lock_ttl_ms) then
    drain = 1
  else
    redis.call('SET', wanted, '1', 'PX', lock_ttl_ms * 4)
  end
end
return {'ok', id, drain}

for i = 13, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[7], ARGV[i], ARGV[i + 1]) end
local max = tonumber(ARGV[1])
if max > 0 then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
  if n > max then
    local ttl = redis.call('PTTL', KEYS[3])
    if ttl < 0 then redis.call('PEXPIRE', KEYS[3], ARGV[2]); ttl = tonumber(ARGV[2]) end
    return {'limited', ttl}
  end
end
local nonce_ttl = tonumber(ARGV[12])
if nonce_ttl > 0 and not redis.call('SET', KEYS[8], '1', 'NX', 'PX', nonce_ttl) then
  return {'replayed', 0}
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  local first = redis.call('GET', KEYS[4])
  if first then return {'duplicate', first} end
end
local id = ''
if ARGV[4] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'v', '1', 'n', ARGV[5], 'wk', ARGV[7], 'rid', ARGV[8], 'at', ARGV[9], 'events', ARGV[4])
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[2], '*', 'wk', ARGV[7], 'rid', ARGV[8], 'at', ARGV[9], 'rejects', ARGV[6], 'count', ARGV[11])
end
if ttl > 0 then redis.call('SET', KEYS[4], id, 'PX', ttl) end
local drain = 0
local lock_ttl = tonumber(ARGV[10])
if lock_ttl > 0 and id ~= '' then
  if redis.call('SET', KEYS[5], ARGV[8], 'NX', 'PX', lock_ttl) then
    drain = 1
  else
    redis.call('SET', KEYS[6], '1', 'PX', lock_ttl * 4)
  end
end
return {'ok', id, drain}

-- Release the drain lock unless more entries arrived meanwhile.
-- KEYS: 1 drain lock, 2 drain-wanted flag, 3 stream. ARGV: 1 owner (request id),
-- 2 lock TTL ms, 3 consumer group.
-- Returns 'again' (the flag was set, or the stream holds entries the group has not been
-- delivered: drain once more, lock extended), 'released', or 'lost' (the lock expired
-- and someone else holds it).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local more = redis.call('DEL', KEYS[2]) == 1
if not more then
  local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
  if newest then
    local delivered = '0-0'
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[3])) do
      local info = {}
      for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
      if info['name'] == ARGV[3] then delivered = info['last-delivered-id'] end
    end
    local nm, ns = string.match(newest[1], '^(%d+)-(%d+)$')
    local dm, ds = string.match(delivered, '^(%d+)-(%d+)$')
    nm, ns, dm, ds = tonumber(nm), tonumber(ns), tonumber(dm), tonumber(ds)
    more = nm > dm or (nm == dm and ns > ds)
  end
end
if more then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'again'
end
redis.call('DEL', KEYS[1])
return 'released'

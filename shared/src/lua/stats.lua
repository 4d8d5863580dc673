local len = redis.call('XLEN', KEYS[1])
local dlq = redis.call('XLEN', KEYS[2])
local counters = redis.call('HGETALL', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, '', dlq, 0, counters, 0} end
local pending, oldest, found, backlog = 0, '', 0, len
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  if info['name'] == ARGV[1] then
    found = 1
    pending = tonumber(info['pending'])
    local undelivered = tonumber(info['lag'])
    if undelivered ~= nil then backlog = undelivered + pending end
    if pending > 0 then
      oldest = redis.call('XPENDING', KEYS[1], ARGV[1])[2]
    else
      local next = redis.call('XRANGE', KEYS[1], '(' .. info['last-delivered-id'], '+', 'COUNT', 1)
      if #next > 0 then oldest = next[1][1] end
    end
  end
end
if found == 0 then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #first > 0 then oldest = first[1][1] end
end
return {len, pending, oldest, dlq, found, counters, backlog}

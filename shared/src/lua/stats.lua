-- The stream's health figures, summed over its shards (STREAM_SHARDS).
-- KEYS: per shard 3: its stream, dead-letter stream, metrics hash. ARGV[1]: the group.
-- Returns {length, pending, oldest id not yet stored, dead letters, group found,
-- counters (flat, summed), backlog}.
local len, pending, dlq, found, backlog = 0, 0, 0, 0, 0
local oldest, oldest_ms = '', nil
local sums, order = {}, {}
local function older(id)
  if id == '' then return end
  local ms = tonumber(string.match(id, '^(%d+)'))
  if ms ~= nil and (oldest_ms == nil or ms < oldest_ms) then oldest, oldest_ms = id, ms end
end
for s = 0, #KEYS / 3 - 1 do
  local stream, dead, metrics = KEYS[3 * s + 1], KEYS[3 * s + 2], KEYS[3 * s + 3]
  dlq = dlq + redis.call('XLEN', dead)
  local counters = redis.call('HGETALL', metrics)
  for j = 1, #counters, 2 do
    local f = counters[j]
    if sums[f] == nil then sums[f] = 0; order[#order + 1] = f end
    sums[f] = sums[f] + tonumber(counters[j + 1])
  end
  if redis.call('EXISTS', stream) == 1 then
    local n = redis.call('XLEN', stream)
    len = len + n
    local shard_found, shard_backlog = 0, n
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local info = {}
      for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
      if info['name'] == ARGV[1] then
        shard_found = 1
        local p = tonumber(info['pending'])
        pending = pending + p
        local undelivered = tonumber(info['lag'])
        if undelivered ~= nil then shard_backlog = undelivered + p end
        if p > 0 then
          older(redis.call('XPENDING', stream, ARGV[1])[2])
        else
          local next = redis.call('XRANGE', stream, '(' .. info['last-delivered-id'], '+', 'COUNT', 1)
          if #next > 0 then older(next[1][1]) end
        end
      end
    end
    if shard_found == 0 then
      local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
      if #first > 0 then older(first[1][1]) end
    end
    found = math.max(found, shard_found)
    backlog = backlog + shard_backlog
  end
end
local flat = {}
for _, f in ipairs(order) do flat[#flat + 1] = f; flat[#flat + 1] = string.format('%.0f', sums[f]) end
return {len, pending, oldest, dlq, found, flat, backlog}

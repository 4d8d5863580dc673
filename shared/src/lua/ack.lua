local group = ARGV[1]
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[3], 'rows_inserted', ARGV[2]) end
local n = tonumber(ARGV[4])
local acked = 0
if n > 0 then acked = redis.call('XACK', KEYS[1], group, unpack(ARGV, 5, 4 + n)) end
local i = 5 + n
while i + 2 <= #ARGV do
  redis.call('XADD', KEYS[2], '*', 'source_id', ARGV[i], 'reason', ARGV[i + 1], 'entry', ARGV[i + 2], 'at', tostring(redis.call('TIME')[1]))
  acked = acked + redis.call('XACK', KEYS[1], group, ARGV[i])
  i = i + 3
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local bound = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local keep = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if bound == nil or less(keep, bound) then bound = keep end
end
local retention = tonumber(ARGV[3])
if bound ~= nil and retention > 0 then
  local t = redis.call('TIME')
  local cutoff = string.format('%d-0', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - retention)
  if less(cutoff, bound) then bound = cutoff end
end
local trimmed = 0
if bound ~= nil and bound ~= '0-0' then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', bound) end
return {acked, trimmed}

#!lua flags=allow-key-locking
-- (Upstash: lock only the keys in KEYS, not the whole database; every key this script
-- touches is passed in KEYS. The local Upstash front takes the flag out for redis-server.)
-- The atomic ingest script for a group of requests (one request is a group of one):
-- per request the rate limit, the replay and retry checks and the dead letters; the
-- appends batched per write key. KEYS and ARGV are written by shared/src/redis/ingest.rs
-- (GroupKeys, MemberKeys, MemberHead, MemberTail), in the order named below.
--
-- KEYS: 1 stream, 2 dead letters, 3 seen (retry markers: a sorted set scored by expiry),
--       4 drain lock, 5 drain wanted, 6 metrics; then per member m: 6+2m-1 its rate-limit
--       counter, 6+2m its signature nonce.
-- ARGV: 1 member count, 2 trim (drop markers that expired before this score; 0: not now),
--       3 attempt (1; 2 when a member sends the group again because its sender vanished);
--       then per member m, from b = 3 + (m-1)*14: b+1 requests per window (0: no limit),
--       b+2 window ms, b+3 nonce TTL ms (0: unsigned or v1), b+4 drain lock TTL ms (0: not
--       offered), b+5 write key, b+6 request id, b+7 received at, b+8 events JSON ('': none),
--       b+9 accepted, b+10 rejected, b+11 rejects JSON (''), b+12 metrics ("field\nn\n"...),
--       b+13 retry marker (''), b+14 its score: expiry in Unix µs (a random part below
--       the ms, so the score is the request's own).
--
-- Billed commands: EVAL, one INCRBY per distinct rate-limit counter (PEXPIRE when it is
-- new), one XADD per write key; with markers one ZADD NX (ZMSCORE too when a marker was
-- there before); SET NX per v2 nonce, XADD per request with listed rejects; HINCRBYs, the
-- drain lock's SET and the trim at most once per interval per isolate.
--
-- Returns one reply per member, in order: {'ok', entry id ('' when nothing appended),
-- drain 0/1}, {'limited', ms}, {'replayed', 0}, {'duplicate', ''} or {'error', message}.
local F = 14
local n = tonumber(ARGV[1])
local attempt = tonumber(ARGV[3])
local seen = KEYS[3]
local out = {}
local function arg(m, i) return ARGV[3 + (m - 1) * F + i] end
-- A marker's score for this attempt: each attempt stores a different one, so a marker
-- stored by an earlier attempt of the same call is told from one this call just added.
local function score(m) return tonumber(arg(m, 14)) + attempt - 1 end
local function nonce_back(m)
  if tonumber(arg(m, 3)) > 0 then redis.call('DEL', KEYS[6 + 2 * m]) end
end

-- A repeated call (attempt > 1): what an earlier attempt stored is a duplicate, before
-- any rate limit or nonce is looked at again.
if attempt > 1 then
  local names, asked = {}, {}
  for m = 1, n do
    if arg(m, 13) ~= '' then names[#names + 1] = arg(m, 13); asked[#asked + 1] = m end
  end
  if #names > 0 then
    local scores = redis.call('ZMSCORE', seen, unpack(names))
    for i, m in ipairs(asked) do
      if scores[i] then out[m] = { 'duplicate', '' } end
    end
  end
end

-- Rate limits: one INCRBY per counter, members judged in arrival order.
local counters, order = {}, {}
for m = 1, n do
  if not out[m] and tonumber(arg(m, 1)) > 0 then
    local k = KEYS[6 + 2 * m - 1]
    local c = counters[k]
    if not c then
      c = { max = tonumber(arg(m, 1)), window = arg(m, 2), members = {} }
      counters[k] = c
      order[#order + 1] = k
    end
    c.members[#c.members + 1] = m
  end
end
for _, k in ipairs(order) do
  local c = counters[k]
  local count = #c.members
  local after = redis.call('INCRBY', k, count)
  if after == count then redis.call('PEXPIRE', k, c.window) end
  if after > c.max then
    local ttl = redis.call('PTTL', k)
    if ttl < 0 then redis.call('PEXPIRE', k, c.window); ttl = tonumber(c.window) end
    for i, m in ipairs(c.members) do
      if after - count + i > c.max then out[m] = { 'limited', ttl } end
    end
  end
end

-- v2 signature nonces: each used once.
for m = 1, n do
  local ttl = tonumber(arg(m, 3))
  if not out[m] and ttl > 0 and not redis.call('SET', KEYS[6 + 2 * m], '1', 'NX', 'PX', ttl) then
    out[m] = { 'replayed', 0 }
  end
end

-- Retry markers: a request appended before is a duplicate; the same request twice in
-- this group answers as its first copy does (a duplicate if that one is appended).
local ask, taken, copy_of = {}, {}, {}
for m = 1, n do
  local marker = arg(m, 13)
  if not out[m] and marker ~= '' then
    if taken[marker] then copy_of[m] = taken[marker] else taken[marker] = m; ask[#ask + 1] = m end
  end
end
-- All are added at once (NX keeps an existing marker's score); only when fewer were new
-- than asked does ZMSCORE tell which: a marker added here carries its member's own score,
-- unique to the request (expiry in µs plus a random part).
-- A failure here (a full or mistyped set) answers those requests 'error' and takes their
-- nonces back, so their retries are neither refused as replays nor lost.
if #ask > 0 then
  local add = {}
  for _, m in ipairs(ask) do add[#add + 1] = string.format('%.0f', score(m)); add[#add + 1] = arg(m, 13) end
  local added = redis.pcall('ZADD', seen, 'NX', unpack(add))
  local failed = type(added) == 'table' and added.err
  if not failed and added < #ask then
    if #ask == 1 then
      out[ask[1]] = { 'duplicate', '' }
    else
      local names = {}
      for i, m in ipairs(ask) do names[i] = arg(m, 13) end
      local scores = redis.pcall('ZMSCORE', seen, unpack(names))
      failed = scores.err
      if not failed then
        for i, m in ipairs(ask) do
          if tonumber(scores[i]) ~= score(m) then out[m] = { 'duplicate', '' } end
        end
      end
    end
  end
  if failed then
    for _, m in ipairs(ask) do nonce_back(m); out[m] = { 'error', failed } end
  end
end

-- The appends: one entry per write key, holding the events of its members in order.
local entries, keys = {}, {}
for m = 1, n do
  if not out[m] and not copy_of[m] and arg(m, 8) ~= '' then
    local wk = arg(m, 5)
    if not entries[wk] then entries[wk] = {}; keys[#keys + 1] = wk end
    local e = entries[wk]
    e[#e + 1] = m
  end
end
for _, wk in ipairs(keys) do
  local members = entries[wk]
  local events, rids, count = arg(members[1], 8), {}, 0
  if #members > 1 then
    local parts = {}
    for i, m in ipairs(members) do parts[i] = string.sub(arg(m, 8), 2, -2) end
    events = '[' .. table.concat(parts, ',') .. ']'
  end
  for i, m in ipairs(members) do rids[i] = arg(m, 6); count = count + tonumber(arg(m, 9)) end
  local added = redis.pcall('XADD', KEYS[1], '*', 'v', '1', 'n', tostring(count), 'wk', wk,
    'rid', table.concat(rids, ','), 'at', arg(members[1], 7), 'events', events)
  for _, m in ipairs(members) do
    if type(added) == 'table' and added.err then
      -- Not appended (out of memory, a wrong key type): take the marker and the nonce
      -- back, so the client's retry is appended rather than answered as a duplicate of
      -- nothing, or refused as a replay.
      if arg(m, 13) ~= '' then redis.call('ZREM', seen, arg(m, 13)) end
      nonce_back(m)
      out[m] = { 'error', added.err }
    else
      out[m] = { 'ok', added, 0 }
    end
  end
end

for m, first in pairs(copy_of) do
  if not out[first] or out[first][1] == 'ok' then out[m] = { 'duplicate', '' } else out[m] = out[first] end
end

-- Per member that went through: its dead letters, its counters, the drain lock.
local offered = false
for m = 1, n do
  if not out[m] then out[m] = { 'ok', '', 0 } end
  local r = out[m]
  if r[1] == 'ok' then
    if arg(m, 11) ~= '' then
      redis.call('XADD', KEYS[2], '*', 'wk', arg(m, 5), 'rid', arg(m, 6), 'at', arg(m, 7),
        'rejects', arg(m, 11), 'count', arg(m, 10))
    end
    for field, by in string.gmatch(arg(m, 12), '([^\n]+)\n(%d+)\n') do
      redis.call('HINCRBY', KEYS[6], field, by)
    end
    -- The lock is offered at most once per interval per isolate; the drainer's release
    -- script looks for entries appended meanwhile.
    local lock_ttl = tonumber(arg(m, 4))
    if lock_ttl > 0 and r[2] ~= '' and not offered then
      offered = true
      if redis.call('SET', KEYS[4], arg(m, 6), 'NX', 'PX', lock_ttl) then
        r[3] = 1
      else
        redis.call('SET', KEYS[5], '1', 'PX', lock_ttl * 4)
      end
    end
  end
end
if ARGV[2] ~= '0' then redis.call('ZREMRANGEBYSCORE', seen, '-inf', ARGV[2]) end
return out

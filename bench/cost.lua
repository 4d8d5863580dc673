-- wrk script for scripts/cost: exactly COST_REQUESTS ingest requests per wrk thread, each
-- with fresh messageIds, so billed commands per request are counted, not estimated.
--   COST_EVENTS=1    POST /v1/t, text/plain, writeKey in the body: what analytics-next
--                    sends by default (one event per request).
--   COST_EVENTS=100  POST /v1/batch with Basic auth, 100 events (as bench/batch100.lua).
-- When a thread has sent its budget, its connections send GET /livez (no backend call)
-- until every ingest answer is in, then the thread stops: no ingest request is left in
-- flight when wrk exits. done() prints one line scripts/cost parses:
--   COST sent=<ingest requests sent> answered=<ingest answers> non2xx=<ingest non-2xx> ...
local key = os.getenv("COST_WRITE_KEY") or "bench_key"
local auth = "Basic " .. (os.getenv("COST_AUTH") or "")
local events = tonumber(os.getenv("COST_EVENTS") or "1")
local budget = tonumber(os.getenv("COST_REQUESTS") or "1000")

local event = '{"type":"track","event":"Product Viewed","userId":"user-%d","anonymousId":"anon-%d",'
  .. '"messageId":"%s-%d-%d","timestamp":"2026-11-25T10:00:00.000Z","properties":{"product_id":"507f1f77bcf86cd799439011",'
  .. '"sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","price":18.99,'
  .. '"quantity":1,"currency":"usd","url":"https://www.example.com/product/path"},"context":{"library":'
  .. '{"name":"analytics.js","version":"next-1.70.0"},"page":{"path":"/academy/","title":"Analytics Academy",'
  .. '"url":"https://segment.com/academy/"},"userAgent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",'
  .. '"locale":"en-US"}}'

local threads = {}
local next_id = 0
setup = function(thread)
  -- A global per-thread id: without it every thread would send the same messageIds.
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local prefix, sent, answered, non2xx, extra, verify_call, finished
init = function(args)
  math.randomseed(os.time() + tid * 7919 + math.floor(os.clock() * 1e6))
  prefix = string.format("c%02d%08x", tid, math.random(0, 0x7fffffff))
  sent, answered, non2xx, extra = 0, 0, 0, 0
  -- wrk calls request() once in the first thread's state to verify it, before the thread
  -- runs, and never sends that request: it must not count against the budget.
  verify_call = tid == 1
end

local livez = nil
request = function()
  livez = livez or wrk.format("GET", "/livez")
  if verify_call then
    verify_call = false
    return livez
  end
  if sent >= budget then return livez end
  sent = sent + 1
  if events == 1 then
    local body = string.format(event, sent, sent, prefix, sent, 1)
    body = body:sub(1, -2) .. ',"writeKey":"' .. key .. '","sentAt":"2026-11-25T10:00:01.000Z"}'
    return wrk.format("POST", "/v1/t", { ["Content-Type"] = "text/plain" }, body)
  end
  local evs = {}
  for i = 1, events do evs[i] = string.format(event, i, i, prefix, sent, i) end
  local body = '{"sentAt":"2026-11-25T10:00:01.000Z","batch":[' .. table.concat(evs, ",") .. ']}'
  return wrk.format("POST", "/v1/batch", { ["Authorization"] = auth, ["Content-Type"] = "application/json" }, body)
end

response = function(status, headers, body)
  if body and body:find('"status":"ok","version"', 1, true) then
    extra = extra + 1
  else
    answered = answered + 1
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
  end
  wrk.thread:set("sent", sent)
  wrk.thread:set("answered", answered)
  wrk.thread:set("non2xx", non2xx)
  if answered >= budget and not finished then
    -- wrk itself runs until -d: tell scripts/cost this thread is done (it then stops wrk).
    finished = true
    local dir = os.getenv("COST_DONE_DIR")
    if dir then
      local f = io.open(dir .. "/thread-" .. tid, "w")
      f:write(answered, "\n")
      f:close()
    end
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local s, a, n = 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + (t:get("sent") or 0)
    a = a + (t:get("answered") or 0)
    n = n + (t:get("non2xx") or 0)
  end
  io.write(string.format("COST sent=%d answered=%d non2xx=%d threads=%d events_per_request=%d "
    .. "p50_ms=%.1f p99_ms=%.1f socket_errors=%d\n", s, a, n, #threads, events,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

-- wrk script: POST /v1/batch with 100 analytics.js-shaped events per request, each with a
-- unique messageId (so the retry marker never short-circuits the append).
local key = os.getenv("BENCH_WRITE_KEY") or "bench_key"
local auth = "Basic " .. (os.getenv("BENCH_AUTH") or "")
local event = '{"type":"track","event":"Product Viewed","userId":"user-%d","messageId":"%s-%d-%d",'
  .. '"timestamp":"2026-11-25T10:00:00.000Z","properties":{"product_id":"507f1f77bcf86cd799439011",'
  .. '"sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","price":18.99,'
  .. '"quantity":1,"currency":"usd","url":"https://www.example.com/product/path"},"context":{"library":'
  .. '{"name":"analytics.js","version":"next-1.70.0"},"page":{"path":"/academy/","title":"Analytics Academy",'
  .. '"url":"https://segment.com/academy/"},"userAgent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",'
  .. '"locale":"en-US"}}'
local prefix, n
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  prefix = string.format("w%08x", math.random(0, 0x7fffffff))
  n = 0
end
request = function()
  n = n + 1
  local evs = {}
  for i = 1, 100 do evs[i] = string.format(event, i, prefix, n, i) end
  local body = '{"sentAt":"2026-11-25T10:00:01.000Z","batch":[' .. table.concat(evs, ",") .. ']}'
  return wrk.format("POST", "/v1/batch", { ["Authorization"] = auth, ["Content-Type"] = "application/json" }, body)
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, events %d, non-2xx %d, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
    summary.requests, summary.requests * 100, (summary.errors.status or 0),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end

-- swap.lua -- wrk script for bench/swap.sh and tests/integration/test_swap.py:
-- POST /v1/rank (JSON) for random world users, optionally paced, with a
-- machine-readable summary line at the end.
--
--   wrk -t2 -c32 -d60s -s bench/swap.lua http://127.0.0.1:PORT \
--       -- N_USERS [SEED] [DELAY_MS]
--
-- DELAY_MS (default 0: closed loop, as fast as the server answers) is the
-- mean pause of a connection between a response and its next request.
-- Pauses are drawn from an exponential distribution (Poisson arrivals per
-- connection) and rounded to whole milliseconds up or down at random so
-- that their mean is exactly DELAY_MS: wrk's timer has 1 ms resolution.
-- With C connections the offered rate is about C / (DELAY_MS + latency).
--
-- done() prints two lines which the scripts parse (wrk's own text output
-- stays as it is):
--   SWAPBENCH requests=N duration_s=S qps=Q p50_ms=.. p90_ms=.. p99_ms=..
--   p999_ms=.. max_ms=.. connect=.. read=.. write=.. timeout=.. non2xx=..
--   SWAPQ p:ms p:ms ...   the latency quantile function (1..98 by 1,
--                         98.1..99.9 by 0.1, 99.91..99.99 by 0.01, 100),
-- so that runs can be merged into exact-enough percentiles of the union.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
end

local n_users, delay_ms

function init(args)
  n_users = tonumber(args[1]) or 100000
  local seed = tonumber(args[2]) or 1
  delay_ms = tonumber(args[3]) or 0
  math.randomseed(seed * 7919 + (thread_no or 0))
  wrk.method = "POST"
  wrk.path = "/v1/rank"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = string.format('{"surface":"home_feed","user":{"id":%d}}',
                             math.random(1, n_users))
  return wrk.format(nil, nil, nil, body)
end

function delay()
  if delay_ms <= 0 then
    return 0
  end
  local d = -math.log(1 - math.random()) * delay_ms
  local whole = math.floor(d)
  if math.random() < d - whole then
    whole = whole + 1
  end
  return whole
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "SWAPBENCH requests=%d duration_s=%.3f qps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
    "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f connect=%d read=%d write=%d " ..
    "timeout=%d non2xx=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.timeout, e.status))
  local q = {}
  local function add(p)
    q[#q + 1] = string.format("%g:%.3f", p, latency:percentile(p) / 1000)
  end
  for p = 1, 98 do add(p) end
  for i = 981, 999 do add(i / 10) end
  for i = 9991, 9999 do add(i / 100) end
  q[#q + 1] = string.format("100:%.3f", latency.max / 1000)
  io.write("SWAPQ " .. table.concat(q, " ") .. "\n")
end

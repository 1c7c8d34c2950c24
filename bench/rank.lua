-- rank.lua -- wrk script: POST /v1/rank (JSON) for random users of the world.
--
--   wrk -t2 -c8 -d10s --latency -s bench/rank.lua http://127.0.0.1:PORT \
--       -- N_USERS [SEED] [SURFACE]
--
-- World user ids are 1..N_USERS (docs/world.md); the request carries only
-- the id, so the server fills the profile from its user store.  Each wrk
-- thread draws from its own generator seeded from SEED and the thread
-- number, so a run sends the same sequence of users every time.

local thread_count = 0

-- Runs in wrk's main Lua state, once per thread before it starts.
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
end

local n_users, surface

-- Runs in each thread's own Lua state.
function init(args)
  n_users = tonumber(args[1]) or 100000
  local seed = tonumber(args[2]) or 1
  surface = args[3] or "home_feed"
  math.randomseed(seed * 7919 + (thread_no or 0))
  wrk.method = "POST"
  wrk.path = "/v1/rank"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = string.format('{"surface":"%s","user":{"id":%d}}',
                             surface, math.random(1, n_users))
  return wrk.format(nil, nil, nil, body)
end

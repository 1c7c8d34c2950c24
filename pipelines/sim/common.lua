-- common.lua -- what every simulation pipeline shares (docs/simulation.md).
--
-- The sim pipelines live in pipelines/sim/, not in pipelines/: a server
-- given the pipelines/ directory loads every *.lua directly in it, and these
-- need the files `adfunnel world simulate` writes into the simulation's data
-- directory (availability.tsv).
--
--   retrieve   popular (prior value) + fresh (ads that arrived in the last
--              24 hours, boosted so that `keep` never drops them: new ads
--              have average priors and popular would never return them)
--   filter     targeting, availability (new ads arrive during the run),
--              frequency caps, budget pacing along the traffic curve
--   features   basic; rank: lr (all candidates, no keep, so exploration
--              sees every filtered candidate); calibrate: identity
--   auction    gsp, reserve 0.05, quality off (the regret comparator values
--              ads by true p x bid, docs/simulation.md), at most 2 ads of an
--              advertiser, never two adjacent
-- Deadlines are generous so that a busy machine never degrades a simulated
-- request: a run stays deterministic.

local M = {}

-- Hourly traffic weights, UTC hours 0..23: af_sim_traffic_shape in
-- core/world/sim_setup.c, the shape simulated requests follow.
M.traffic = { 0.40, 0.30, 0.25, 0.25, 0.30, 0.45, 0.70, 0.90, 1.00, 1.05,
              1.10, 1.15, 1.20, 1.15, 1.10, 1.10, 1.15, 1.25, 1.40, 1.50,
              1.45, 1.20, 0.90, 0.60 }

M.caps = {
  { max = 3,  units = 1, time_unit = "day",  per = "ad" },
  { max = 10, units = 6, time_unit = "hour", per = "campaign" },
}

-- The auction's parameters; exploration plugins that re-rank take the same.
M.auction = { reserve = 0.05, quality = false, max_per_advertiser = 2,
              no_adjacent_advertiser = true }

local function with_auction(t)
  for k, v in pairs(M.auction) do t[k] = v end
  return t
end

-- An exploration stage: plugin name and its own parameters, plus the
-- auction's.
function M.explore(name, params)
  local t = params or {}
  t[1] = name
  if name ~= "greedy" then with_auction(t) end
  return t
end

-- Declare surface `name`.  opts: explore (a stage from M.explore), rank
-- (false: no model, pCTR = the catalog prior), pacing (false: no
-- budget_pacing filter, the demand reference).
function M.surface(name, opts)
  local filter = {
    "targeting",
    { "availability", file = "availability.tsv" },
    { "frequency_cap", caps = M.caps },
  }
  if opts.pacing ~= false then
    filter[#filter + 1] = { "budget_pacing", curve = "traffic",
                            traffic = M.traffic }
  end
  filter.keep = 300
  local s = {
    deadline_ms = 10000,
    slots = 5,
    retrieve = {
      { "popular", k = 500 },
      { "fresh", k = 40, file = "availability.tsv", hours = 24, boost = 100 },
      deadline_ms = 10000,
    },
    filter = filter,
    features = { "basic" },
    calibrate = { "identity" },
    auction = with_auction({ "gsp" }),
    explore = opts.explore or { "greedy" },
  }
  if opts.rank ~= false then
    s.rank = { "lr", model = "models/lr.afm", deadline_ms = 10000 }
  end
  surface(name)(s)
end

return M

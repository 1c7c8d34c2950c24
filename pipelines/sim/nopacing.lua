-- nopacing: greedy without the budget_pacing filter.  Its spend is each
-- campaign's demand at these bids (world simulate --demand-pipeline
-- nopacing): the campaigns it takes past their budget are the ones whose
-- demand exceeds it.
local sim = require "common"
sim.surface("nopacing", { explore = sim.explore("greedy"), pacing = false })

-- thompson: Thompson sampling on every request over Beta CTR posteriors
-- from the run's own feedback, backed off advertiser -> campaign -> ad
-- (a new ad starts from its campaign's other ads).
local sim = require "common"
sim.surface("thompson", {
  explore = sim.explore("thompson", { budget = 1.0, prior = "advertiser",
                                      prior_strength = 100 }),
})

-- thompson_model: Thompson sampling whose prior mean is the lr model's pCTR
-- for this user (personalised) with the weight of 1,000 impressions, updated
-- by the ad's own clicks and impressions; a quarter of the requests sample
-- (exploration budget 0.25), the others rank by the posterior mean.
local sim = require "common"
sim.surface("thompson_model", {
  explore = sim.explore("thompson", { budget = 0.25, prior = "model",
                                      prior_strength = 1000 }),
})

-- posterior_greedy: learns but never explores.  The thompson plugin with
-- budget 0 ranks every request by the posterior mean CTR of each ad (the
-- run's own feedback, backed off advertiser -> campaign -> ad): greedy on
-- exactly the information thompson samples from.
local sim = require "common"
sim.surface("posterior_greedy", {
  explore = sim.explore("thompson", { budget = 0.0, prior = "advertiser",
                                      prior_strength = 100 }),
})

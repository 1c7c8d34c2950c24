-- greedy: the baseline.  The lr model's pCTR ranks, gsp prices, nothing
-- explores: what the model does not know about a new ad, it never learns.
local sim = require "common"
sim.surface("greedy", { explore = sim.explore("greedy") })

-- prior_greedy: no model and no learning.  pCTR is the catalog's prior_ctr
-- (a noisy estimate of each ad's CTR; for a new ad, its campaign's mean),
-- fixed for the whole run: the greedy policy on what thompson starts from.
local sim = require "common"
sim.surface("prior_greedy", { explore = sim.explore("greedy"), rank = false })

-- home_feed: the default surface.
--
-- Popular retrieval of 2,000 ads eligible for the user, targeting re-checked,
-- the 500 best by retrieval score kept, hashed user/ad/context features,
-- logistic regression on those 500, then a GSP auction for 5 slots.
-- Model paths are relative to the server's --data directory.

surface "home_feed" {
  deadline_ms = 25,        -- whole request; later stages are skipped past it
  slots = 5,

  retrieve = {
    { "popular", k = 2000 },
    deadline_ms = 5,
  },

  filter = { "targeting", keep = 500 },

  features = { "basic" },

  rank = {
    "lr", model = "models/lr.afm",
    keep = 50, deadline_ms = 5,
    on_timeout = "use_previous",   -- serve the retrieval order, marked degraded
  },

  calibrate = { "identity" },

  auction = { "gsp", reserve = 0.05, quality = true },

  explore = { "greedy" },
}

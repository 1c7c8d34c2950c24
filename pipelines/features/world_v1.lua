-- The simulated world's features, for training and serving alike.
--
-- Train on the impression log of `adfunnel world log` (its columns are the
-- serving sources, written by the same code the spec feature stage reads
-- requests with); serve with
--   features = { { "spec", spec = "features/world_v1.lua",
--                  vocab = "models/world_v1-lr.vocab.afm" } },
-- Request-side fields (user.*, context.*) come first: models compute them
-- once per request.  docs/learning.md explains the language.
features "world_v1" {
  data = { format = "tsv", header = true, file = "impressions.tsv" },
  label = "label",
  time = "time",
  order = { "time", numeric = true },   -- the log is in time order already
  split = "80/10/10",                   -- time-ordered train / valid / test
  min_count = 2,
  fields = {
    -- request side
    { "user_id", source = "user.id" },
    { "geo", source = "user.geo" },
    { "age_band", source = "user.age_band" },
    { "device", source = "user.device" },
    { "gender", source = "user.gender" },
    { "interests", source = "user.interests", type = "multi", max_len = 8 },
    { "hour", source = "context.hour" },
    { "day_of_week", source = "context.day_of_week" },
    { "position", source = "context.position" },
    -- candidate side
    { "ad_id", source = "ad.id" },
    { "advertiser", source = "ad.advertiser" },
    { "campaign", source = "ad.campaign" },
    { "category", source = "ad.category" },
    { "quality", source = "ad.quality",
      transform = { "buckets", 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 } },
    { "prior_ctr", source = "ad.prior_ctr",
      transform = { "buckets", 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2 } },
    { "age_x_category", cross = { "user.age_band", "ad.category" } },
    { "interest_x_category", cross = { "user.interests", "ad.category" },
      type = "multi", max_len = 8 },
  },
}

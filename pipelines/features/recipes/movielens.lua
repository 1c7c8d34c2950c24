-- MovieLens 100K as CTR: the anchors' recipe.  u.data joined with u.user
-- and u.item (the movielens reader); label rating >= 4; rows stably sorted
-- by timestamp; 80/10/10.
features "movielens" {
  data = { format = "movielens", file = "movielens/ml-100k" },
  label = { "rating", ge = 4 },
  order = { "timestamp", numeric = true },
  split = "80/10/10",
  min_count = 2,
  fields = {
    { "user_id" },
    { "item_id" },
    { "age_decade", source = "age", transform = { "int", { "div", 10 } } },
    { "gender" },
    { "occupation" },
    { "zip_first", source = "zip", transform = { "substr", 1, 1 } },
    { "release_year", source = "release_date", transform = { "suffix", 4 } },
    -- the only multi-valued field: genre ids with their flag set, mean-pooled
    { "genres", type = "multi", sep = "," },
  },
}

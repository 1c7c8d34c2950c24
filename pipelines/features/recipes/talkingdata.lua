-- TalkingData train_sample: the anchors' recipe.  Label is_attributed;
-- click_hour = the HH of click_time without a leading zero;
-- attributed_time is not used (it leaks the label).  Rows stably sorted by
-- the click_time string; 80/10/10.
features "talkingdata" {
  data = { format = "csv", file = "talkingdata/talkingdata_train_sample.csv" },
  label = "is_attributed",
  order = "click_time",
  split = "80/10/10",
  min_count = 2,
  fields = {
    { "ip" }, { "app" }, { "device" }, { "os" }, { "channel" },
    { "click_hour", source = "click_time", transform = { { "substr", 12, 2 }, "int" } },
  },
}

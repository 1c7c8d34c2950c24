surface "home_feed" {
  deadline_ms = 30, slots = 3,
  retrieve = { { "popular", k = 100 }, keep = 50, deadline_ms = 5, merge = "dedup" },
  filter = { "targeting", keep = 40 },
  features = { "basic" },
  rank = { "lr", model = "models/lr.afm", keep = 10, on_timeout = "keep" },
  calibrate = { "platt", a = 1.0, b = 0.0 },
  auction = { "gsp", reserve = 0.05, quality = true, slots = 3 },
  explore = "greedy",
  experiments = {
    salt = "fuzz",
    { name = "vcg", weight = 0.2, auction = { "vcg", reserve = 0.01 } },
    { name = "fp", weight = 0.1, auction = "first_price" },
  },
}

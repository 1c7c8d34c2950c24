-- The iPinYou fm.txt read as plain libsvm ("label index:value ..."): all
-- items in one multi-valued field with their values.  A format fixture
-- (the ipinyou recipe, with fields from the featindex, is ipinyou.lua).
features "ipinyou_libsvm" {
  data = { format = "libsvm", file = "ipinyou/ipinyou_train.fm.txt" },
  label = "label",
  split = "80/10/10",
  min_count = 2,
  fields = {
    { "features", type = "multi", sep = " ", values = true },
  },
}

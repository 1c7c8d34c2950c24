-- iPinYou demo sample: the anchors' recipe.  One-hot fm.txt rows; the
-- featindex file names 16 fields (ordered by their smallest index); a
-- field's token is its index as a decimal string.  File order, 80/10/10.
local names = { "weekday", "hour", "useragent", "IP", "region", "city", "adexchange",
                "domain", "slotid", "slotwidth", "slotheight", "slotvisibility",
                "slotformat", "creative", "advertiser", "slotprice" }
local fields = {}
for _, n in ipairs(names) do fields[#fields + 1] = { n } end

features "ipinyou" {
  data = { format = "ipinyou", file = "ipinyou/ipinyou_train.fm.txt",
           featindex = "ipinyou/ipinyou_featindex.fm.txt" },
  label = "label",
  split = "80/10/10",
  min_count = 2,
  fields = fields,
}

-- Criteo DAC head 10k: the anchors' recipe (../shared/anchors/README.md).
-- 40 tab-separated columns, no header: label, I1..I13, C1..C26.
-- I*: empty -> NA, v > 2 -> floor(ln(v)^2), else v.  C*: as written.
-- Split by line: 1-8000 train, 8001-9000 valid, 9001-10000 test.
local columns, fields = { "label" }, {}
for i = 1, 13 do
  columns[#columns + 1] = "I" .. i
  fields[#fields + 1] = { "I" .. i, transform = "criteo_int" }
end
for i = 1, 26 do
  columns[#columns + 1] = "C" .. i
  fields[#fields + 1] = { "C" .. i }
end

features "criteo" {
  data = { format = "tsv", file = "criteo/criteo_dac_train_head10k.tsv",
           header = false, columns = columns },
  label = "label",
  split = { train = { 1, 8000 }, valid = { 8001, 9000 }, test = { 9001, 10000 } },
  min_count = 5,
  fields = fields,
}

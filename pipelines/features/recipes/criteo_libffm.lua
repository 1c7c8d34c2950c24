-- The xLearn Criteo sample in libffm format (field:feature:value items):
-- one multi-valued field per libffm field id, each item's value kept
-- (values = true) rather than mean-pooled.  A format fixture: no anchor
-- numbers exist for it.
local columns, fields = { "label" }, {}
for f = 0, 17 do
  columns[#columns + 1] = tostring(f)
  fields[#fields + 1] = { "f" .. f, source = tostring(f), type = "multi", values = true }
end

features "criteo_libffm" {
  data = { format = "libffm", file = "criteo/xlearn_criteo_small_train.ffm.txt",
           columns = columns },
  label = "label",
  split = "80/10/10",
  min_count = 1,
  fields = fields,
}

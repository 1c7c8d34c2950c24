-- Avazu head 9,999: the anchors' recipe.  CSV with a header; label click;
-- hour_of_day = int(hour) mod 100; 21 columns as they are; id dropped.
-- File order, 80/10/10.
local fields = { { "hour_of_day", source = "hour", transform = { "int", { "mod", 100 } } } }
for _, c in ipairs({ "C1", "banner_pos", "site_id", "site_domain", "site_category",
                     "app_id", "app_domain", "app_category", "device_id", "device_ip",
                     "device_model", "device_type", "device_conn_type", "C14", "C15",
                     "C16", "C17", "C18", "C19", "C20", "C21" }) do
  fields[#fields + 1] = { c }
end

features "avazu" {
  data = { format = "csv", file = "avazu/avazu_train_head9999.csv" },
  label = "click",
  split = "80/10/10",
  min_count = 2,
  fields = fields,
}

local k = 0
for i = 1, 10 do k = k + i end
local t = { "popular", k = k * 10 }
local function stage(name) return { name } end
surface ("s" .. tostring(k)) {
  retrieve = { t },
  features = stage("basic"),
  auction = { "gsp", reserve = math.max(0.01, 0.02), params = { a = { b = 1 } } },
}

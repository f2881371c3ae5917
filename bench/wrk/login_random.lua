-- POST /login as a random one of BENCH_USERS seeded users (user0000000, user0000001, ...).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local users = tonumber(os.getenv("BENCH_USERS"))
local password = os.getenv("BENCH_PASSWORD")

function request()
  local name = string.format("user%07d", math.random(0, users - 1))
  return wrk.format(nil, nil, nil,
    '{"username":"' .. name .. '","password":"' .. password .. '"}')
end

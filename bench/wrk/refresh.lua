-- POST /refresh, each request with a different unused refresh token.
-- Tokens come from BENCH_TOKENS_FILE (one per line); each thread takes every n-th line.
-- Every answer carries the rotated token, which goes back into the thread's queue.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  queue = {}
  local n = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if i % n == id then table.insert(queue, line) end
    i = i + 1
  end
  failures = 0
end

function request()
  local token = table.remove(queue, 1)
  return wrk.format("POST", "/refresh", {["Content-Type"] = "application/json"},
                    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and token then
    table.insert(queue, token)
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("failures") end
  io.write(string.format("refresh_failures %d\n", failed))
end

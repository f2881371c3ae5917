-- Loaded first by every load script (dofile): counts the answers that are not 2xx, in
-- each wrk thread, and prints the total when the run ends ("failed N"), which
-- bench/harness.py reads. A row with any failed answer fails, whatever its ratio.
-- (wrk's own "Non-2xx or 3xx responses" line counts only statuses above 399.)
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

failed = 0

function count(status)
  if status < 200 or status > 299 then failed = failed + 1 end
end

function response(status, headers, body)
  count(status)
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failed") end
  io.write(string.format("failed %d\n", total))
end

-- This thread's share of a file's lines: every n-th line (n = BENCH_THREADS) from its id.
function my_lines(path)
  local mine, n, i = {}, tonumber(os.getenv("BENCH_THREADS")), 0
  for line in io.lines(path) do
    if i % n == id then table.insert(mine, line) end
    i = i + 1
  end
  return mine
end

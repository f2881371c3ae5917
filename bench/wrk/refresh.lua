-- POST /refresh, each request with a different unused refresh token.
-- Tokens come from BENCH_TOKENS_FILE (one per line); each thread takes every n-th line.
-- Every answer carries the rotated token, which goes back into the thread's queue; an
-- answer that is not a 200 with a token counts as failed.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
  queue = my_lines(os.getenv("BENCH_TOKENS_FILE"))
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
    failed = failed + 1
  end
end

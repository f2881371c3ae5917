-- GET with many users' bearer tokens (BENCH_TOKENS_FILE, one per line), each request
-- with the thread's next token in turn: what a gateway sees with many users at once.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
  tokens = my_lines(os.getenv("BENCH_TOKENS_FILE"))
  turn = 0
end

function request()
  turn = turn % #tokens + 1
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tokens[turn]})
end

-- GET with a DPoP-bound access token (BENCH_TOKEN) and a fresh proof per request: each
-- thread takes every n-th line of BENCH_PROOFS_FILE and uses each proof once (a proof
-- used twice is refused as a replay, and counts as failed).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
  proofs = my_lines(os.getenv("BENCH_PROOFS_FILE"))
  auth = "DPoP " .. os.getenv("BENCH_TOKEN")
  turn = 0
end

function request()
  turn = turn + 1
  return wrk.format(nil, nil, {["Authorization"] = auth, ["DPoP"] = proofs[turn]})
end

-- A sign-in of a user already logged in to Tollgate in this browser (issue 14): GET the
-- authorization endpoint with the browser's cookie (BENCH_COOKIE) -> 303 to the app with a
-- code; then POST the code to the token endpoint (client_secret_basic, PKCE verifier) ->
-- 200 with the tokens. Each thread keeps a queue of codes its answers brought back: a
-- connection exchanges one if there is one, else starts the next sign-in. An answer that
-- is neither a redirect with a code nor a 200 with an access token counts as failed; the
-- sign-ins completed (token answers) are printed as "signins N".
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

signins = 0

-- common.lua's list of threads is its own: keep ours too, to sum the sign-ins.
local signin_threads = {}
local count_thread = setup
function setup(thread)
  count_thread(thread)
  table.insert(signin_threads, thread)
end

function init(args)
  codes = {}
  authorize = wrk.format("GET", os.getenv("BENCH_AUTHORIZE_PATH"),
                         {["Cookie"] = os.getenv("BENCH_COOKIE")})
  exchange_headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = os.getenv("BENCH_CLIENT_AUTHORIZATION"),
  }
  exchange_tail = "&redirect_uri=" .. os.getenv("BENCH_REDIRECT_URI_ENCODED")
               .. "&code_verifier=" .. os.getenv("BENCH_CODE_VERIFIER")
end

function request()
  local code = table.remove(codes, 1)
  if code == nil then return authorize end
  return wrk.format("POST", "/auth", exchange_headers,
                    "grant_type=authorization_code&code=" .. code .. exchange_tail)
end

function response(status, headers, body)
  local location = headers["location"] or headers["Location"]
  if status >= 300 and status < 400 and location then
    local code = location:match("[?&]code=([^&]+)")
    if code then
      table.insert(codes, code)
      return
    end
  end
  if status == 200 and body:find('"access_token"', 1, true) then
    signins = signins + 1
    return
  end
  failed = failed + 1
end

function done(summary, latency, requests)
  local total_failed, total_signins = 0, 0
  for _, thread in ipairs(signin_threads) do
    total_failed = total_failed + thread:get("failed")
    total_signins = total_signins + thread:get("signins")
  end
  io.write(string.format("failed %d\nsignins %d\n", total_failed, total_signins))
end

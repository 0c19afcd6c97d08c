-- wrk script: POST /enqueue with a small text/plain body, then the same report as GET.
--
--   wrk -t2 -c32 -d6s -s bench/post.lua http://127.0.0.1:PORT/enqueue
--
-- Setting wrk.method, wrk.body and wrk.headers is enough: wrk builds every request
-- from them once (Content-Length included), so the script costs nothing per request.

wrk.method = "POST"
wrk.body = "hello from wrk"
wrk.headers["Content-Type"] = "text/plain; charset=utf-8"

-- done() lives in report.lua, next to this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

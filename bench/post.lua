-- wrk script: every request a POST /enqueue with a small text body.
--
--   wrk -t2 -c32 -d4s --latency -s bench/post.lua http://127.0.0.1:PORT/enqueue
--
-- wrk builds the request once from these fields (Content-Length included), so the
-- script costs nothing per request.
wrk.method = "POST"
wrk.body = "hello from wrk"
wrk.headers["Content-Type"] = "text/plain; charset=utf-8"

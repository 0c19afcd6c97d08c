-- wrk script: after the run, print one machine-readable line with what bench/ needs.
--
--   wrk -t2 -c32 -d6s --latency -s bench/report.lua http://127.0.0.1:PORT/
--
-- wrk calls done() once, after every thread has stopped. Latencies are in
-- microseconds. wrk counts a response with status > 399 as errors.status; the
-- other error counters are socket-level (connect, read, write, timeout).
-- bench/wrk.py parses the line that starts with "BENCH_WRK ".

done = function(summary, latency, requests)
   local e = summary.errors
   local p = {}
   for _, q in ipairs({ 50, 90, 99 }) do
      p[#p + 1] = string.format('"p%d": %d', q, latency:percentile(q))
   end
   io.write(string.format(
      'BENCH_WRK {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {%s, "mean": %.1f, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(p, ", "), latency.mean, latency.max))
end

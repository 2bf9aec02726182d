-- bench/wrk_report.lua — wrk script: one machine-readable result line.
--
-- wrk's own summary prints only the 50/75/90/99th percentiles and hides
-- errors in free text; bench/http.sh reads this line instead. Latencies are
-- in microseconds, as wrk measures them.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d " ..
    "status=%d timeout=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end

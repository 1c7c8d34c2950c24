"""GET /metrics reflects the requests served, in valid Prometheus text."""

import re

import afserver
from afserver import check

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset of label pairs): value}; checks every line."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            check(not line or line.startswith(("# HELP ", "# TYPE ")),
                  "bad comment line %r", line)
            continue
        m = LINE.match(line)
        check(m, "not an exposition line: %r", line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                      m.group(3) or ""))
        series[(m.group(1), labels)] = float(m.group(4))
    return series


def value(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def test_counters_after_requests():
    n_json, n_pb, n_bad = 7, 5, 3
    conn = SRV.connect()
    for uid in range(n_json):
        status, _, _ = SRV.rank_json({"surface": "home_feed",
                                      "user": {"id": uid + 1}}, conn=conn)
        check(status == 200, "json status %d", status)
    for uid in range(n_pb):
        status, _, _ = SRV.rank_pb({"surface": "home_feed",
                                    "user": {"id": uid + 1}}, conn=conn)
        check(status == 200, "pb status %d", status)
    for _ in range(n_bad):
        status, _, _ = SRV.request("POST", "/v1/rank", b"{",
                                   {"Content-Type": "application/json"}, conn)
        check(status == 400, "bad status %d", status)
    SRV.request("GET", "/healthz", conn=conn)
    conn.close()

    text = SRV.metrics()
    s = parse(text)
    ok = n_json + n_pb
    got = value(s, "adfunnel_requests_total", path="/v1/rank",
                surface="home_feed", status="200")
    check(got == ok, "200s: %r, expected %d\n%s", got, ok, text)
    got = value(s, "adfunnel_requests_total", path="/v1/rank", surface="",
                status="400")
    check(got == n_bad, "400s: %r, expected %d", got, n_bad)
    check(value(s, "adfunnel_requests_total", path="/healthz", surface="",
                status="200") >= 1, "healthz not counted")
    check(value(s, "adfunnel_request_duration_seconds_count",
                path="/v1/rank") == ok + n_bad, "duration count")
    check(value(s, "adfunnel_request_duration_seconds_bucket",
                path="/v1/rank", le="+Inf") == ok + n_bad, "+Inf bucket")
    check(value(s, "adfunnel_request_duration_seconds_sum",
                path="/v1/rank") > 0, "duration sum")
    for stage in ("retrieve", "filter", "features", "rank", "auction"):
        c = value(s, "adfunnel_stage_duration_seconds_count",
                  surface="home_feed", stage=stage)
        check(c == ok, "stage %s latency count %r, expected %d", stage, c, ok)
        c = value(s, "adfunnel_stage_candidates_count", surface="home_feed",
                  stage=stage)
        check(c == ok, "stage %s candidates count %r", stage, c)
        check(value(s, "adfunnel_stage_candidates_sum", surface="home_feed",
                    stage=stage) > 0, "stage %s: no candidates", stage)
        check(("adfunnel_stage_errors_total",
               frozenset({"surface": "home_feed", "stage": stage}.items()))
              in s, "stage %s: no error counter", stage)
    check(value(s, "adfunnel_degraded_total", surface="home_feed") == 0,
          "degraded with 10 s deadlines")
    check(("adfunnel_generation_id", frozenset()) in s, "no generation id")
    check(value(s, "adfunnel_http_workers") == 2, "workers gauge")
    for t in ("# TYPE adfunnel_requests_total counter",
              "# TYPE adfunnel_request_duration_seconds histogram",
              "# TYPE adfunnel_stage_duration_seconds histogram",
              "# TYPE adfunnel_stage_candidates summary"):
        check(t in text, "missing %r", t)


def test_metrics_count_themselves():
    SRV.metrics()
    s = parse(SRV.metrics())
    check(value(s, "adfunnel_requests_total", path="/metrics", surface="",
                status="200") >= 1, "/metrics not counted")


if __name__ == "__main__":
    with afserver.Server() as SRV:
        afserver.main([test_counters_after_requests,
                       test_metrics_count_themselves])

"""Bad requests get the right 4xx and a message that says what is wrong,
in the format the client speaks, and the server keeps serving."""

import json

import afserver
from afserver import check

JSON = {"Content-Type": "application/json"}
PB = {"Content-Type": "application/x-protobuf"}


def expect_json_error(status, hdrs, data, want_status, want_text, what):
    check(status == want_status, "%s: status %d, expected %d: %r", what,
          status, want_status, data)
    check(hdrs.get("content-type") == "application/json",
          "%s: content type %r", what, hdrs.get("content-type"))
    check(hdrs.get("x-request-id"), "%s: no X-Request-Id", what)
    msg = json.loads(data)["error"]
    check(want_text in msg, "%s: message %r lacks %r", what, msg, want_text)


JSON_CASES = [
    # (what, body, status, message substring)
    ("malformed JSON", b'{"surface": "home_feed",', 400,
     "invalid JSON at line 1, column"),
    ("not an object", b'[1, 2, 3]', 400, "must be a JSON object"),
    ("empty body", b'', 400, "invalid JSON"),
    ("missing surface", b'{"user": {"id": 1}}', 400, 'missing "surface"'),
    ("wrong type", b'{"surface": "home_feed", "user": {"geo": "x"}}', 400,
     "user.geo must be an integer in 0..31 (got a string)"),
    ("out of range", b'{"surface": "home_feed", "user": {"geo": 99}}', 400,
     "user.geo must be in 0..31 (got 99)"),
    ("interest out of range",
     b'{"surface": "home_feed", "user": {"interests": [3, 64]}}', 400,
     "user.interests[] must be in 0..63"),
    ("negative id", b'{"surface": "home_feed", "user": {"id": -4}}', 400,
     "user.id must be a non-negative integer"),
    ("too much history",
     ('{"surface": "home_feed", "user": {"history": [%s]}}'
      % ",".join(["1"] * 33)).encode(), 400, "too many user.history"),
    ("unknown key", b'{"surface": "home_feed", "usr": {}}', 400,
     'unknown field "usr"'),
    ("unknown nested key", b'{"surface": "home_feed", "context": {"hr": 1}}',
     400, 'unknown field "context.hr"'),
    ("invalid UTF-8", b'{"surface": "home_\xff"}', 400,
     "unable to decode byte 0xff"),
    ("unknown surface", b'{"surface": "search"}', 404,
     'unknown surface "search"; served surfaces: home_feed'),
]


def test_json_errors():
    for what, body, status, text in JSON_CASES:
        s, h, d = SRV.request("POST", "/v1/rank", body, JSON)
        expect_json_error(s, h, d, status, text, what)


def test_protobuf_errors():
    pb2 = afserver.pb2()
    cases = [
        ("garbage", b"\xff\xff\xff\xff\xff\x0f", 400, "invalid protobuf"),
        ("truncated", afserver.pb_request({"surface": "home_feed",
                                           "user": {"id": 5}})[:-2],
         400, "invalid protobuf"),
        ("out of range", afserver.pb_request(
            {"surface": "home_feed", "user": {"id": 5, "geo": 40}}), 400,
         "user.geo must be in 0..31 (got 40)"),
        ("missing surface", afserver.pb_request({"user": {"id": 5}}), 400,
         'missing "surface"'),
        ("unknown surface", afserver.pb_request({"surface": "nope"}), 404,
         'unknown surface "nope"'),
    ]
    for what, body, status, text in cases:
        s, h, d = SRV.request("POST", "/v1/rank", body, PB)
        check(s == status, "%s: status %d, expected %d", what, s, status)
        check(h.get("content-type") == "application/x-protobuf",
              "%s: content type %r", what, h.get("content-type"))
        err = pb2.Error()
        err.ParseFromString(d)
        check(text in err.error, "%s: message %r lacks %r", what, err.error,
              text)


def test_content_type():
    body = b'{"surface": "home_feed"}'
    for what, hdrs in [("text/plain", {"Content-Type": "text/plain"}),
                       ("form", {"Content-Type":
                                 "application/x-www-form-urlencoded"}),
                       ("none", {})]:
        s, h, d = SRV.request("POST", "/v1/rank", body, hdrs)
        expect_json_error(s, h, d, 415, "Content-Type must be", what)
    # Parameters and case do not matter.
    s, _, d = SRV.request("POST", "/v1/rank", body,
                          {"Content-Type": "Application/JSON; charset=utf-8"})
    check(s == 200, "json with charset: %d %r", s, d)


def test_routes_and_methods():
    s, h, d = SRV.request("GET", "/nope")
    expect_json_error(s, h, d, 404, "no route for /nope", "unknown path")
    s, h, d = SRV.request("GET", "/v1/rank")
    expect_json_error(s, h, d, 405, "allowed: POST", "GET /v1/rank")
    check(h.get("allow") == "POST", "Allow %r", h.get("allow"))
    s, h, d = SRV.request("DELETE", "/metrics")
    expect_json_error(s, h, d, 405, "allowed: GET", "DELETE /metrics")
    s, h, d = SRV.request("HEAD", "/healthz")
    check(s == 200 and d == b"", "HEAD /healthz: %d %r", s, d)


def test_oversized_body():
    # Just over the 64 KiB default, and far over it: the server reads and
    # discards the body (lingering close) so the client gets the 413
    # instead of a connection reset.
    for size in (70 * 1024, 2 * 1024 * 1024):
        big = json.dumps({"surface": "home_feed", "request_id": "x",
                          "pad": "a" * size}).encode()
        s, h, d = SRV.request("POST", "/v1/rank", big, JSON)
        check(s == 413, "%d bytes: status %d", len(big), s)
        check(b"Request Entity Too Large" in d, "%d bytes: body %r", len(big),
              d[:200])
    # Exactly at the limit is accepted (and then judged as JSON).
    body = b'{"surface": "home_feed", "request_id": "x"}'
    body = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    s, _, d = SRV.request("POST", "/v1/rank", body, JSON)
    check(s == 200, "64 KiB body: status %d %r", s, d[:200])


def test_still_serving():
    status, _, r = SRV.rank_json({"surface": "home_feed", "user": {"id": 3}})
    check(status == 200 and len(r["ads"]) == 5, "after bad inputs: %d", status)
    check(SRV.alive(), "server died")


if __name__ == "__main__":
    with afserver.Server() as SRV:
        afserver.main([test_json_errors, test_protobuf_errors,
                       test_content_type, test_routes_and_methods,
                       test_oversized_body, test_still_serving])

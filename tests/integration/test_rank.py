"""POST /v1/rank over JSON and protobuf against the real server."""

import struct

import afserver
from afserver import check

SLOTS = 5
USERS = [1, 2, 3, 17, 42, 99, 123, 500, 777, 1024, 1500, 1999]


def f32(x):
    """A JSON number as the float32 the server had."""
    return struct.unpack("f", struct.pack("f", x))[0]


def request(uid, **extra):
    body = {"surface": "home_feed", "request_id": "t-%d" % uid,
            "user": {"id": uid}, "context": {"hour": 13, "day_of_week": 2}}
    body.update(extra)
    return body


def check_ads(ads, reserve, what):
    check(len(ads) == SLOTS, "%s: %d ads, expected %d", what, len(ads), SLOTS)
    for i, ad in enumerate(ads):
        check(ad["slot"] == i + 1, "%s: slot %r at %d", what, ad["slot"], i)
        check(0.0 < ad["pctr"] < 1.0, "%s: pctr %r", what, ad["pctr"])
        check(ad["bid"] > 0, "%s: bid %r", what, ad["bid"])
        # float32 on the wire: compare with a little slack
        check(reserve * (1 - 1e-6) <= ad["price"] <= ad["bid"] * (1 + 1e-6),
              "%s: slot %d price %r not in [reserve %r, bid %r]", what,
              ad["slot"], ad["price"], reserve, ad["bid"])
        for k in ("ad_id", "advertiser_id", "campaign_id", "pcvr", "score",
                  "propensity", "explored", "bid_type"):
            check(k in ad, "%s: ad without %s", what, k)


def test_rank_json():
    reserve = afserver.reserve_price()
    for uid in USERS:
        status, hdrs, r = SRV.rank_json(request(uid))
        check(status == 200, "user %d: status %d %r", uid, status, r)
        check(hdrs["content-type"] == "application/json", "content type %r",
              hdrs["content-type"])
        check(hdrs["x-request-id"] == "t-%d" % uid, "x-request-id %r",
              hdrs.get("x-request-id"))
        check(r["request_id"] == "t-%d" % uid, "request_id %r",
              r["request_id"])
        check(r["surface"] == "home_feed", "surface %r", r["surface"])
        check(r["pipeline_version"], "no pipeline_version")
        check(r["degraded"] is False, "degraded with 10 s deadlines")
        check(r["models"] and r["models"][0]["version"], "no model version")
        check("stages" not in r, "stages without explain")
        check_ads(r["ads"], reserve, "user %d" % uid)


def test_json_and_protobuf_agree():
    for uid in USERS:
        body = request(uid)
        js, jh, j = SRV.rank_json(body)
        ps, ph, p = SRV.rank_pb(body)
        check(js == 200 and ps == 200, "statuses %d %d", js, ps)
        check(ph["content-type"] == "application/x-protobuf", "pb type %r",
              ph["content-type"])
        check(ph["x-request-id"] == jh["x-request-id"], "request ids differ")
        check(p.request_id == j["request_id"], "request_id differs")
        check(p.pipeline_version == j["pipeline_version"], "pipeline differs")
        check(p.degraded == j["degraded"], "degraded differs")
        check(len(p.ads) == len(j["ads"]), "user %d: %d vs %d ads", uid,
              len(p.ads), len(j["ads"]))
        for pa, ja in zip(p.ads, j["ads"]):
            for k in ("slot", "ad_id", "advertiser_id", "campaign_id",
                      "explored", "bid_type"):
                check(getattr(pa, k) == ja[k], "user %d slot %d: %s %r vs %r",
                      uid, ja["slot"], k, getattr(pa, k), ja[k])
            for k in ("pctr", "pcvr", "bid", "price", "score", "propensity"):
                check(getattr(pa, k) == f32(ja[k]),
                      "user %d slot %d: %s %r vs %r", uid, ja["slot"], k,
                      getattr(pa, k), ja[k])
        check([m.version for m in p.models] ==
              [m["version"] for m in j["models"]], "models differ")


def test_explain():
    body = request(5, explain=True)
    status, _, r = SRV.rank_json(body)
    check(status == 200, "status %d", status)
    names = [s["stage"] for s in r["stages"]]
    for want in ("retrieve", "filter", "features", "rank", "auction"):
        check(want in names, "stage %s missing from %r", want, names)
    for s in r["stages"]:
        for k in ("plugin", "in", "out", "us", "timed_out", "error"):
            check(k in s, "stage without %s: %r", k, s)
    retrieve = r["stages"][names.index("retrieve")]
    check(retrieve["out"] > 0, "retrieval returned nothing")
    ps, _, p = SRV.rank_pb(body)
    check(ps == 200 and [s.stage for s in p.stages] == names,
          "pb stages %r", [s.stage for s in p.stages])


def test_request_fields():
    # Explicit demographics override the user store; an unknown user id
    # with full demographics still ranks.
    body = {"surface": "home_feed",
            "user": {"id": 10 ** 12, "geo": 3, "age_band": 2, "device": 1,
                     "gender": 0, "interests": [1, 5, 7], "history": [1, 2]},
            "context": {"hour": 23, "day_of_week": 6}}
    status, hdrs, r = SRV.rank_json(body)
    check(status == 200, "status %d %r", status, r)
    # No request_id given: one is generated and echoed.
    check(r["request_id"], "no generated request id")
    check(hdrs["x-request-id"] == r["request_id"], "header %r body %r",
          hdrs.get("x-request-id"), r["request_id"])
    check_ads(r["ads"], afserver.reserve_price(), "explicit user")


def test_keepalive():
    conn = SRV.connect()
    for uid in USERS:
        status, _, r = SRV.rank_json(request(uid), conn=conn)
        check(status == 200, "status %d", status)
    conn.close()


if __name__ == "__main__":
    with afserver.Server() as SRV:
        afserver.main([test_rank_json, test_json_and_protobuf_agree,
                       test_explain, test_request_fields, test_keepalive])
        check(SRV.alive(), "server died")

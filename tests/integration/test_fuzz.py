"""10,000 random and mutated request bodies: every one gets an HTTP answer
(no reset, no hang), the server stays up, and /healthz is fine afterwards.

Bodies are derived, with a seeded RNG, from valid JSON and protobuf
requests by byte flips, truncation, insertion, deletion and splicing, plus
purely random bytes; each is sent with a JSON or protobuf content type.
Several keep-alive connections run in parallel to keep it fast on a
sanitizer build.
"""

import http.client
import json
import random
import socket
import threading
import time

import afserver
from afserver import check

N_BODIES = 10000
N_CONNS = 4
SEED = 20261122
OK_STATUSES = {200, 400, 404}


def seeds():
    """Valid requests in both formats."""
    reqs = [
        {"surface": "home_feed", "user": {"id": 7}},
        {"surface": "home_feed", "request_id": "fz-1", "explain": True,
         "user": {"id": 123, "geo": 3, "age_band": 2, "device": 1,
                  "gender": 0, "interests": [1, 5, 9], "history": [4, 8]},
         "context": {"hour": 13, "day_of_week": 2}},
        {"surface": "home_feed", "context": {"hour": 0}},
        {"surface": "other_surface", "user": {"id": 1}},
    ]
    js = [json.dumps(r).encode() for r in reqs]
    pbs = [afserver.pb_request(r) for r in reqs]
    return reqs, js, pbs


TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"null", b"true",
          b"-1", b"1e999", b"\\u0000", b"\xff", b"\xc3", b"99999999999999999999",
          b'"geo"', b'"surface"', b"\x00", b"\x80\x80\x80\x80\x80\x80\x80\x80"]


def random_value(rng):
    return rng.choice([
        None, True, False, rng.randint(-2, 70), rng.randint(-2**63, 2**63 - 1),
        rng.random() * 100, "", "x" * rng.randint(1, 80), "home_feed",
        [rng.randint(-1, 65) for _ in range(rng.randint(0, 70))], {},
        {"id": rng.randint(0, 3000)}])


def mutate_fields(rng, req):
    """Set a random (possibly unknown) field to a random value."""
    req = json.loads(json.dumps(req))
    where = rng.choice([req, req.setdefault("user", {}),
                        req.setdefault("context", {})])
    keys = list(where.keys()) + ["geo", "hour", "interests", "history",
                                 "explain", "request_id", "surface", "zzz"]
    where[rng.choice(keys)] = random_value(rng)
    return json.dumps(req).encode()


def mutate(rng, body):
    b = bytearray(body)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
        op = rng.randrange(6)
        if op == 0 and b:  # byte flips
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:  # truncation
            del b[rng.randrange(len(b)):]
        elif op == 2:  # random insertion
            pos = rng.randint(0, len(b))
            b[pos:pos] = bytes(rng.randrange(256)
                               for _ in range(rng.randint(1, 16)))
        elif op == 3:  # token insertion
            pos = rng.randint(0, len(b))
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 4 and b:  # deletion
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 8)]
        elif op == 5 and b:  # splice a chunk of itself
            i = rng.randrange(len(b))
            chunk = b[i:i + rng.randint(1, 32)]
            pos = rng.randint(0, len(b))
            b[pos:pos] = chunk * rng.randint(1, 4)
    return bytes(b)


def make_body(rng, reqs, js, pbs):
    kind = rng.random()
    if kind < 0.05:  # valid requests interleaved with the broken ones
        i = rng.randrange(len(js))
        if rng.random() < 0.5:
            return js[i], "application/json"
        return pbs[i], "application/x-protobuf"
    if kind < 0.1:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 512)))
    elif kind < 0.4:
        body = mutate(rng, rng.choice(js))
    elif kind < 0.6:
        body = mutate_fields(rng, rng.choice(reqs))
    else:
        body = mutate(rng, rng.choice(pbs))
    ctype = ("application/json" if rng.random() < 0.5
             else "application/x-protobuf")
    return body, ctype


class Worker(threading.Thread):
    def __init__(self, index, count, corpus):
        super().__init__()
        self.rng = random.Random(SEED + index)
        self.count = count
        self.corpus = corpus
        self.failures = []
        self.statuses = {}
        self.reconnects = 0

    def run(self):
        conn = SRV.connect(timeout=60)
        for i in range(self.count):
            body, ctype = make_body(self.rng, *self.corpus)
            try:
                conn.request("POST", "/v1/rank", body=body,
                             headers={"Content-Type": ctype})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.failures.append("no answer to %r (%s): %r" %
                                     (body[:80], ctype, e))
                conn.close()
                conn = SRV.connect(timeout=60)
                continue
            self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
            problem = self.judge(r, data, ctype)
            if problem:
                self.failures.append("%s for %r (%s)" % (problem, body[:80],
                                                          ctype))
            if (r.getheader("Connection") or "").lower() == "close":
                conn.close()
                conn = SRV.connect(timeout=60)
                self.reconnects += 1
        conn.close()

    @staticmethod
    def judge(r, data, ctype):
        if r.status not in OK_STATUSES:
            return "status %d %r" % (r.status, data[:200])
        if not r.getheader("X-Request-Id"):
            return "no X-Request-Id"
        if ctype == "application/json":
            try:
                doc = json.loads(data)
            except ValueError:
                return "reply is not JSON: %r" % data[:200]
            if r.status != 200 and not doc.get("error"):
                return "error reply without a message"
        else:
            pb2 = afserver.pb2()
            m = pb2.RankResponse() if r.status == 200 else pb2.Error()
            try:
                m.ParseFromString(data)
            except Exception as e:  # protobuf raises DecodeError
                return "reply is not protobuf: %r" % e
            if r.status != 200 and not m.error:
                return "error reply without a message"
        return None


def test_fuzz():
    corpus = seeds()
    afserver.pb2()  # generate before the threads start
    per = N_BODIES // N_CONNS
    workers = [Worker(i, per + (1 if i < N_BODIES % N_CONNS else 0), corpus)
               for i in range(N_CONNS)]
    t0 = time.time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.time() - t0
    statuses = {}
    failures = []
    for w in workers:
        failures += w.failures
        for k, v in w.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    afserver.log("   %d bodies in %.1f s, statuses %s" % (
        sum(w.count for w in workers), elapsed, dict(sorted(statuses.items()))))
    check(not failures, "%d failures, first ones:\n%s", len(failures),
          "\n".join(failures[:10]))
    check(sum(statuses.values()) == N_BODIES, "answers %d", sum(
        statuses.values()))
    check(statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0,
          "the corpus should hit both valid and invalid requests: %r",
          statuses)


RAW_PARTS = [
    b"POST /v1/rank HTTP/1.1\r\n", b"GET /healthz HTTP/1.0\r\n",
    b"BREW /v1/rank HTTP/1.1\r\n", b"POST /v1/rank?x=%zz HTTP/1.1\r\n",
    b"POST http://h/v1/rank HTTP/1.1\r\n", b"POST * HTTP/9.9\r\n",
    b"Host: x\r\n", b"Content-Type: application/json\r\n",
    b"Content-Type: application/x-protobuf\r\n", b"Content-Length: 5\r\n",
    b"Content-Length: -1\r\n", b"Content-Length: 99999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n",
    b"Connection: close\r\n", b"X: " + b"y" * 20000 + b"\r\n", b"\r\n",
    b"5\r\n{\"a\":\r\n0\r\n\r\n", b"zz\r\n", b"{\"surface\":\"home_feed\"}",
    b"\x00\xff", b"\n\n\n",
]


def test_raw_http():
    """Malformed HTTP around the bodies: the server may answer or close,
    but must neither crash nor hang."""
    rng = random.Random(SEED)
    for _ in range(300):
        if rng.random() < 0.2:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        else:
            data = b"".join(rng.choice(RAW_PARTS)
                            for _ in range(rng.randint(1, 8)))
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=30)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except socket.timeout:
            raise AssertionError("server hung on %r" % data[:100])
        except OSError:
            pass  # garbage may be answered with a reset; a hang may not
        finally:
            s.close()
    check(SRV.alive(), "server died:\n%s", SRV.log()[-3000:])


def test_alive_afterwards():
    check(SRV.alive(), "server died:\n%s", SRV.log()[-3000:])
    status, _, body = SRV.request("GET", "/healthz")
    check(status == 200 and body == b"ok\n", "healthz %d %r", status, body)
    status, _, r = SRV.rank_json({"surface": "home_feed", "user": {"id": 2}})
    check(status == 200 and len(r["ads"]) == 5, "rank after fuzz: %d", status)


if __name__ == "__main__":
    with afserver.Server() as SRV:
        afserver.main([test_fuzz, test_raw_http, test_alive_afterwards])
        # A clean drain and exit after the storm (sanitizers report at exit).
        SRV.signal(15)
        code = SRV.wait(60)
        check(code == 0, "exit code %d:\n%s", code, SRV.log()[-3000:])

"""Back-pressure and size limits of issue 5's hardening: the 503 a worker
at its connection cap answers carries Retry-After; a response larger than
--max-response is replaced by a 500; the admin API has its own body limit."""

import json
import socket
import time

import afadmin
import afserver
from afserver import check

BODY = b'{"surface": "home_feed", "user": {"id": 3}}'
REQUEST = (b"POST /v1/rank HTTP/1.1\r\nHost: t\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
           % (len(BODY), BODY))


def read_reply(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        check(chunk, "closed before a reply: %r", data)
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, v = line.split(b":", 1)
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), head.decode().lower(), body


def test_retry_after_at_cap():
    with afadmin.AdminServer(["--max-connections", "2"], workers=1,
                             private_plugins=False) as srv:
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=30)
                 for _ in range(3)]
        time.sleep(1.0)  # all three accepted before any request
        replies = []
        for s in socks:
            s.sendall(REQUEST)
            replies.append(read_reply(s))
        for s in socks:
            s.close()
        status, head, body = replies[2]
        check(status == 503, "third: %d %r", status, body)
        check("retry-after: 1" in head, "no Retry-After:\n%s", head)
        check("connection: close" in head, "no Connection: close")
        check(all(r[0] == 200 for r in replies[:2]), "first two: %r",
              [r[0] for r in replies[:2]])


def test_response_limit():
    with afadmin.AdminServer(["--max-response", "1024"],
                             private_plugins=False) as srv:
        status, _, r = srv.rank_json({"surface": "home_feed",
                                      "user": {"id": 3}})
        small = len(json.dumps(r))
        status, _, r = srv.rank_json({"surface": "home_feed", "explain": True,
                                      "user": {"id": 3}})
        if small < 1024:
            check(status == 500 and "exceeds the 1024-byte limit" in
                  r.get("error", ""), "explain reply: %d %r", status, r)
        else:
            check(status == 500, "reply over the limit: %d", status)
        check(srv.alive(), "server died")


def test_admin_body_limit():
    with afadmin.AdminServer(private_plugins=False) as srv:
        big = json.dumps({"surface": "x" * 70000}).encode()
        c = afserver.http.client.HTTPConnection("127.0.0.1", srv.admin_port,
                                                timeout=30)
        c.request("POST", "/admin/pipelines/reload", body=big, headers={
            "Authorization": "Bearer " + afadmin.TOKEN,
            "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        check(r.status == 413, "oversized admin body: %d", r.status)
        status, doc = srv.admin("POST", "/admin/pipelines/reload",
                                {"surface": 5})
        check(status == 400, "bad type: %d %r", status, doc)
        status, doc = srv.admin("GET", "/admin/nothing")
        check(status == 404, "unknown route: %d", status)
        status, doc = srv.admin("GET", "/admin/rollback")
        check(status == 405, "wrong method: %d", status)


if __name__ == "__main__":
    afserver.main([test_retry_after_at_cap, test_response_limit,
                   test_admin_body_limit])

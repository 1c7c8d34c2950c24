"""Back-pressure: a worker at its connection cap stops accepting (new
clients wait in the backlog, then get served), and a connection it had
already accepted is answered 503 with Connection: close."""

import socket
import time

import afserver
from afserver import check

BODY = b'{"surface": "home_feed", "user": {"id": 3}}'
REQUEST = (b"POST /v1/rank HTTP/1.1\r\nHost: t\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
           % (len(BODY), BODY))


def connect():
    return socket.create_connection(("127.0.0.1", SRV.port), timeout=30)


def read_reply(sock):
    """One HTTP reply: (status, headers text, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        check(chunk, "connection closed before a reply: %r", data)
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


def rank(sock):
    sock.sendall(REQUEST)
    return read_reply(sock)


def test_backlog_when_full():
    c1, c2 = connect(), connect()
    check(rank(c1)[0] == 200, "c1")
    check(rank(c2)[0] == 200, "c2")
    # At the cap: the worker stops accepting; c3's request waits.
    c3 = connect()
    c3.sendall(REQUEST)
    c3.settimeout(1.0)
    try:
        c3.recv(1)
        waited = False
    except socket.timeout:
        waited = True
    check(waited, "c3 was served while the worker was at its cap")
    # A slot frees: c3 is accepted and served.
    c1.close()
    c3.settimeout(30)
    status, _, _ = read_reply(c3)
    check(status == 200, "c3 after a slot freed: %d", status)
    c2.close()
    c3.close()


def test_503_for_accepted_excess():
    time.sleep(0.2)  # let the server see the closes above
    socks = [connect() for _ in range(3)]
    time.sleep(1.0)  # all three accepted before any request
    check(rank(socks[0])[0] == 200, "first")
    check(rank(socks[1])[0] == 200, "second")
    status, head, body = rank(socks[2])
    check(status == 503, "third: status %d %r", status, body)
    check(b"too many open connections" in body, "third: %r", body)
    check("connection: close" in head, "no Connection: close:\n%s", head)
    for s in socks:
        s.close()
    time.sleep(0.2)
    m = SRV.metrics()
    check("adfunnel_http_rejected_connections_total 1" in m,
          "rejections not counted")


def test_serving_after():
    status, _, r = SRV.rank_json({"surface": "home_feed", "user": {"id": 4}})
    check(status == 200, "status %d", status)


if __name__ == "__main__":
    with afserver.Server(["--max-connections", "2"], workers=1) as SRV:
        afserver.main([test_backlog_when_full, test_503_for_accepted_excess,
                       test_serving_after])

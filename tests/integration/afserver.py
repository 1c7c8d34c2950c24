"""Shared helpers for the integration tests: a small world, the real server
on an ephemeral port, HTTP calls, and the protobuf schema for Python.

Environment (set by ctest, see tests/CMakeLists.txt):
  AF_BIN         the adfunnel executable
  AF_SOURCE_DIR  the source tree (pipelines/, include/adfunnel/)
  AF_BUILD_DIR   the build tree (the world is cached under it)
  AF_PLUGIN_DIR  the shipped plugins

Only the Python standard library is used, plus python3-protobuf (Debian's
package) for the protobuf tests.
"""

import atexit
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get(
    "AF_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("AF_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
AF_BIN = os.environ.get("AF_BIN", os.path.join(BUILD_DIR, "adfunnel"))
PLUGIN_DIR = os.environ.get("AF_PLUGIN_DIR", os.path.join(BUILD_DIR, "plugins"))

WORLD_ARGS = ["--ads", "5000", "--users", "2000", "--seed", "7"]
N_USERS = 2000


def log(msg):
    print(msg, flush=True)


def run(cmd, timeout=600):
    """Run a command; raise with its output if it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (
            " ".join(cmd), p.returncode, p.stdout.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


# --------------------------------------------------------------------------
# The world and the pipeline
# --------------------------------------------------------------------------

def world_dir():
    """A small world with a fitted LR model, generated once per build tree
    (tests run in parallel: a file lock serialises the generation)."""
    cache = os.path.join(BUILD_DIR, "tmp", "itest-world-" +
                         "-".join(a.strip("-") for a in WORLD_ARGS))
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = os.path.join(cache, ".complete")
        if not os.path.exists(done):
            shutil.rmtree(cache, ignore_errors=True)
            t = time.time()
            run([AF_BIN, "world", "gen", "--out", cache] + WORLD_ARGS)
            run([AF_BIN, "world", "fit-lr", "--data", cache, "--pipeline",
                 os.path.join(SOURCE_DIR, "pipelines", "home_feed.lua")])
            open(done, "w").close()
            log("generated the test world in %.1f s" % (time.time() - t))
    return cache


def relaxed_pipeline(tmpdir):
    """pipelines/home_feed.lua with every deadline raised to 10 s: sanitizer
    builds are slow, and a stage that times out would make two identical
    requests differ (the fallback is marked degraded)."""
    src = os.path.join(SOURCE_DIR, "pipelines", "home_feed.lua")
    with open(src) as f:
        text = f.read()
    text = re.sub(r"deadline_ms\s*=\s*\d+", "deadline_ms = 10000", text)
    dst = os.path.join(tmpdir, "home_feed.lua")
    with open(dst, "w") as f:
        f.write(text)
    return dst


def reserve_price():
    """The auction reserve of pipelines/home_feed.lua."""
    with open(os.path.join(SOURCE_DIR, "pipelines", "home_feed.lua")) as f:
        m = re.search(r'"gsp"[^}]*reserve\s*=\s*([0-9.]+)', f.read())
    return float(m.group(1)) if m else 0.0


# --------------------------------------------------------------------------
# The protobuf schema
# --------------------------------------------------------------------------

_pb2 = None


def pb2():
    """adfunnel_pb2, generated from include/adfunnel/adfunnel.proto with
    protoc at test time."""
    global _pb2
    if _pb2 is not None:
        return _pb2
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        # A non-Debian python3 on PATH (pyenv) does not see Debian's
        # python3-protobuf; it is pure Python plus an optional extension.
        sys.path.append("/usr/lib/python3/dist-packages")
        import google.protobuf  # noqa: F401
    out = tempfile.mkdtemp(prefix="af-pb2-")
    atexit.register(shutil.rmtree, out, True)
    inc = os.path.join(SOURCE_DIR, "include", "adfunnel")
    run(["protoc", "--python_out=" + out, "-I", inc,
         os.path.join(inc, "adfunnel.proto")])
    sys.path.insert(0, out)
    import adfunnel_pb2
    _pb2 = adfunnel_pb2
    return _pb2


def pb_request(body):
    """A RankRequest (bytes) equivalent to the JSON request dict `body`."""
    m = pb2().RankRequest()
    m.surface = body.get("surface", "")
    m.request_id = body.get("request_id", "")
    m.explain = bool(body.get("explain", False))
    user = body.get("user")
    if user is not None:
        m.user.id = user.get("id", 0)
        for k in ("geo", "age_band", "device", "gender"):
            if k in user:
                setattr(m.user, k, user[k])
        m.user.interests.extend(user.get("interests", []))
        m.user.history.extend(user.get("history", []))
    ctx = body.get("context")
    if ctx is not None:
        for k in ("hour", "day_of_week"):
            if k in ctx:
                setattr(m.context, k, ctx[k])
    return m.SerializeToString()


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

class Server:
    """The real `adfunnel serve` on 127.0.0.1 and an ephemeral port."""

    def __init__(self, extra_args=(), workers=2, pipeline=None):
        self.tmp = tempfile.mkdtemp(prefix="af-itest-")
        self.world = world_dir()
        self.pipeline = pipeline or relaxed_pipeline(self.tmp)
        self.port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.cmd = [AF_BIN, "serve", "--host", "127.0.0.1", "--port", "0",
                    "--port-file", self.port_file, "--data", self.world,
                    "--pipelines", self.pipeline, "--plugins", PLUGIN_DIR,
                    "--workers", str(workers)] + list(extra_args)
        self.proc = None
        self.port = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        # On failure keep the server's log for the post-mortem.
        self.kill(cleanup=exc_type is None)
        if exc_type is not None:
            log("server log kept in %s" % self.log_path)
        return False

    def start(self, timeout=120):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d before listening:\n%s"
                                   % (self.proc.returncode, self.log()))
            if time.time() > deadline:
                raise RuntimeError("server not listening after %d s:\n%s"
                                   % (timeout, self.log()))
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        status, _, body = self.request("GET", "/healthz")
        if status != 200 or body != b"ok\n":
            raise RuntimeError("healthz: %d %r" % (status, body))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait for the process to exit; returns its exit code."""
        return self.proc.wait(timeout=timeout)

    def kill(self, cleanup=True):
        """Stop the server (SIGTERM, then SIGKILL after 30 s) and, with
        cleanup, remove its temporary directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None
        if cleanup:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def connect(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """One request; returns (status, headers dict lower-cased, body).
        With `conn` the keep-alive connection is reused."""
        own = conn is None
        c = conn or self.connect()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return r.status, hdrs, data
        finally:
            if own:
                c.close()

    def rank_json(self, body, conn=None):
        status, hdrs, data = self.request(
            "POST", "/v1/rank", json.dumps(body).encode(),
            {"Content-Type": "application/json"}, conn)
        return status, hdrs, json.loads(data)

    def rank_pb(self, body, conn=None):
        status, hdrs, data = self.request(
            "POST", "/v1/rank", pb_request(body),
            {"Content-Type": "application/x-protobuf"}, conn)
        if status == 200:
            m = pb2().RankResponse()
        else:
            m = pb2().Error()
        m.ParseFromString(data)
        return status, hdrs, m

    def metrics(self):
        status, _, data = self.request("GET", "/metrics")
        assert status == 200, status
        return data.decode()


def check(cond, msg, *args):
    if not cond:
        raise AssertionError(msg % args if args else msg)


def main(tests):
    """Run test functions in order; exit non-zero on the first failure."""
    for t in tests:
        t0 = time.time()
        log("== %s" % t.__name__)
        t()
        log("   ok (%.2f s)" % (time.time() - t0))
    log("all %d passed" % len(tests))

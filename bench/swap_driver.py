#!/usr/bin/env python3
"""swap_driver.py -- hot-swap a running adfunnel server over its admin API
at a fixed rate (bench/swap.sh, tests/integration/test_swap*.py).

Every INTERVAL seconds one "tick" runs the operations given with --ops, in
order (default: all three; with --rotate, only the next one of them):
  model     deploy the next of two model files to home_feed's rank stage
  pipeline  reload all pipelines from disk
  plugin    rewrite the plugin file with the next of two contents (atomic
            rename) and reload the plugin, so every reload dlopens new code
A tick that takes longer than INTERVAL is followed by the next at once.
At the end one JSON object is printed: operations done, failures (with the
server's reasons), and admin-call latency percentiles.

Also usable as a module: relabel_model(), plugin_variants(), Driver.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import struct
import sys
import threading
import time
import zlib

MODEL_HEADER = 256
OFF_VERSION, LEN_VERSION = 32, 64
OFF_HEADER_CRC = 252


def relabel_model(src, dst, version):
    """Copy an .afm model file with another version label (header CRC
    recomputed), written atomically."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    label = version.encode()[:LEN_VERSION - 1]
    data[OFF_VERSION:OFF_VERSION + LEN_VERSION] = label.ljust(LEN_VERSION,
                                                              b"\0")
    crc = zlib.crc32(bytes(data[:OFF_HEADER_CRC])) & 0xffffffff
    data[OFF_HEADER_CRC:OFF_HEADER_CRC + 4] = struct.pack("<I", crc)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, dst)


def plugin_variants(so_path, workdir):
    """Two files with the plugin's code and different bytes: the original
    and one with 64 bytes appended (ELF loaders ignore trailing data), so
    that alternating them gives a new content hash -- a fresh dlopen -- at
    every reload."""
    a = os.path.join(workdir, "variant-a.so")
    b = os.path.join(workdir, "variant-b.so")
    shutil.copyfile(so_path, a)
    shutil.copyfile(so_path, b)
    with open(b, "ab") as f:
        f.write(b"adfunnel-swap-variant".ljust(64, b"\0"))
    os.chmod(a, 0o755)
    os.chmod(b, 0o755)
    return a, b


def install(src, dst):
    """Replace dst by a copy of src the safe way: write aside, rename."""
    tmp = dst + ".swap-tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)


class Admin:
    """A keep-alive client of the admin API."""

    def __init__(self, port, token, host="127.0.0.1", timeout=120):
        self.host, self.port, self.token = host, port, token
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + self.token,
                   "Content-Type": "application/json"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                text = r.read()
                try:
                    doc = json.loads(text)
                except ValueError:
                    doc = {"raw": text.decode(errors="replace")}
                return r.status, doc
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


class Driver:
    """Runs ticks until stopped; collects results."""

    def __init__(self, admin, models, plugin_name=None, plugin_file=None,
                 plugin_variants_=None, ops=("model", "pipeline", "plugin"),
                 interval=0.1, surface="home_feed", rotate=False):
        self.admin = admin
        self.models = models
        self.plugin_name = plugin_name
        self.plugin_file = plugin_file
        self.variants = plugin_variants_
        self.ops = ops
        self.interval = interval
        self.surface = surface
        self.rotate = rotate
        self.stop_event = threading.Event()
        self.counts = {op: 0 for op in ops}
        self.failures = []
        self.latencies = []
        self.ticks = 0
        self.elapsed = 0.0
        self.thread = None

    def one(self, op, i):
        if op == "model":
            body = {"surface": self.surface, "model": self.models[i % 2]}
            return self.admin.call("POST", "/admin/models/deploy", body)
        if op == "pipeline":
            return self.admin.call("POST", "/admin/pipelines/reload", {})
        if op == "plugin":
            install(self.variants[(i + 1) % 2], self.plugin_file)
            return self.admin.call("POST", "/admin/plugins/reload",
                                   {"name": self.plugin_name})
        raise ValueError(op)

    def run(self, duration=None):
        t0 = time.monotonic()
        next_tick = t0
        while not self.stop_event.is_set():
            if duration is not None and time.monotonic() - t0 >= duration:
                break
            ops = self.ops
            if self.rotate:
                ops = (self.ops[self.ticks % len(self.ops)],)
            for op in ops:
                s = time.monotonic()
                try:
                    status, doc = self.one(op, self.ticks // len(self.ops)
                                           if self.rotate else self.ticks)
                except Exception as e:  # connection-level failure
                    status, doc = -1, {"error": repr(e)}
                self.latencies.append(time.monotonic() - s)
                if status == 200:
                    self.counts[op] += 1
                else:
                    self.failures.append({"op": op, "status": status,
                                          "error": doc.get("error", doc)})
            self.ticks += 1
            next_tick += self.interval
            pause = next_tick - time.monotonic()
            if pause > 0:
                self.stop_event.wait(pause)
            else:
                next_tick = time.monotonic()
        self.elapsed = time.monotonic() - t0

    def start(self, duration=None):
        self.thread = threading.Thread(target=self.run, args=(duration,))
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join()

    def summary(self):
        lat = sorted(self.latencies)

        def pct(p):
            if not lat:
                return 0.0
            return 1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
        done = sum(self.counts.values())
        return {"ticks": self.ticks, "elapsed_s": round(self.elapsed, 3),
                "interval_s": self.interval, "rotate": self.rotate,
                "ops": self.counts,
                "swaps": done,
                "swaps_per_s": round(done / self.elapsed, 2)
                if self.elapsed else 0,
                "failures": self.failures,
                "admin_ms": {"p50": round(pct(50), 2),
                             "p99": round(pct(99), 2),
                             "max": round(1000 * lat[-1], 2) if lat else 0}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--token", required=True, help="the bearer token")
    ap.add_argument("--model", action="append", required=True,
                    help="model file (twice: the two alternated)")
    ap.add_argument("--plugin-name", default="lr")
    ap.add_argument("--plugin-file", help="the plugin file to rewrite")
    ap.add_argument("--variant", action="append",
                    help="plugin file contents (twice)")
    ap.add_argument("--ops", default="model,pipeline,plugin")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--rotate", action="store_true",
                    help="one operation per tick, in turn")
    ap.add_argument("--duration", type=float, required=True)
    args = ap.parse_args()
    ops = tuple(o for o in args.ops.split(",") if o)
    if len(args.model) != 2 or ("plugin" in ops and (
            not args.plugin_file or not args.variant or
            len(args.variant) != 2)):
        ap.error("give --model twice; with the plugin op, --plugin-file and "
                 "--variant twice")
    d = Driver(Admin(args.admin_port, args.token), args.model,
               args.plugin_name, args.plugin_file, args.variant, ops,
               args.interval, rotate=args.rotate)
    signal.signal(signal.SIGTERM, lambda *_: d.stop_event.set())
    d.run(args.duration)
    print(json.dumps(d.summary()))
    return 0 if not d.failures else 1


if __name__ == "__main__":
    sys.exit(main())

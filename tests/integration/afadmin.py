"""Helpers of the admin / hot-swap integration tests (test_admin*.py,
test_swap*.py): the real server with its admin listener, a private copy of
the plugin directory (so tests may rewrite plugin files), admin calls, and
what /proc says about the process.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import time

import afserver
from afserver import check

sys.path.insert(0, os.path.join(afserver.SOURCE_DIR, "bench"))
import swap_driver  # noqa: E402  (bench/swap_driver.py)

TOKEN = "itest-token-0123456789abcdef"
TOKEN_ID = "itest"


def is_sanitized():
    """True for an ASan/UBSan build (the tests relax timing there)."""
    cache = os.path.join(afserver.BUILD_DIR, "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "AF_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


class AdminServer(afserver.Server):
    """afserver.Server plus --admin-* options, a token file, an audit log
    and a private, writable copy of the shipped plugins."""

    def __init__(self, extra_args=(), workers=2, pipeline=None,
                 admin_args=None, private_plugins=True):
        super().__init__(extra_args, workers, pipeline)
        self.token_file = os.path.join(self.tmp, "tokens")
        with open(self.token_file, "w") as f:
            f.write("# test tokens\n%s:%s\n" % (TOKEN_ID, TOKEN))
        os.chmod(self.token_file, 0o600)
        self.audit_path = os.path.join(self.tmp, "audit.jsonl")
        self.admin_port_file = os.path.join(self.tmp, "admin-port")
        self.plugin_dir = afserver.PLUGIN_DIR
        if private_plugins:
            self.plugin_dir = os.path.join(self.tmp, "plugins")
            os.makedirs(self.plugin_dir)
            os.chmod(self.plugin_dir, 0o755)
            for so in glob.glob(os.path.join(afserver.PLUGIN_DIR, "*.so")):
                shutil.copy2(so, self.plugin_dir)
            i = self.cmd.index("--plugins")
            self.cmd[i + 1] = self.plugin_dir
        self.cache_parent = os.path.join(self.tmp, "cache")
        os.makedirs(self.cache_parent, mode=0o700)
        if admin_args is None:
            # --admin-nice 0: tests check correctness, and on a busy
            # machine a niced admin thread makes every change slow.
            admin_args = ["--admin-port", "0", "--admin-nice", "0",
                          "--admin-port-file", self.admin_port_file,
                          "--admin-token-file", self.token_file,
                          "--admin-audit-log", self.audit_path,
                          "--plugin-cache", self.cache_parent]
        self.cmd += admin_args
        self.admin_port = None
        self.client = None

    def start(self, timeout=120):
        super().start(timeout)
        deadline = time.time() + 30
        while not os.path.exists(self.admin_port_file):
            check(time.time() < deadline, "no admin port file:\n%s",
                  self.log())
            time.sleep(0.05)
        with open(self.admin_port_file) as f:
            self.admin_port = int(f.read().strip())
        self.client = swap_driver.Admin(self.admin_port, TOKEN)
        return self

    def admin(self, method, path, body=None):
        """(status, JSON document) of one admin call with the token."""
        return self.client.call(method, path, body)

    def change(self, path, body=None, expect=200):
        status, doc = self.admin("POST", path, body if body is not None
                                 else {})
        check(status == expect, "%s %s: %d %r (expected %d)", path, body,
              status, doc, expect)
        return doc

    def generation(self):
        status, hdrs, _ = self.rank_json({"surface": "home_feed",
                                          "user": {"id": 1}})
        check(status == 200, "rank: %d", status)
        return int(hdrs["x-generation"])

    def model_version(self, user=1, headers=None):
        """The rank-stage model version a ranking reports."""
        body = json.dumps({"surface": "home_feed", "user": {"id": user}})
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, hdrs, data = self.request("POST", "/v1/rank", body.encode(), h)
        check(status == 200, "rank: %d %r", status, data)
        doc = json.loads(data)
        for m in doc.get("models", []):
            if m.get("stage") == "rank":
                return m.get("version"), hdrs
        raise AssertionError("no rank model in %r" % doc)

    def audit_entries(self):
        with open(self.audit_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    # --- /proc ---------------------------------------------------------

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def mapped_plugins(self):
        """Distinct plugin files mapped (the cached copies, by path)."""
        seen = set()
        with open("/proc/%d/maps" % self.proc.pid) as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "adfunnel-plugins-" in parts[5]:
                    seen.add(parts[5].strip())
        return seen

    def cache_files(self):
        return sorted(glob.glob(os.path.join(self.cache_parent, "*", "*.so")))


def model_variant(srv, name, version):
    """The world's fitted LR model relabelled `version`, as srv.tmp/<name>
    (an absolute path: deploys accept those as well as data-relative ones)."""
    dst = os.path.join(srv.tmp, name)
    swap_driver.relabel_model(os.path.join(srv.world, "models", "lr.afm"),
                              dst, version)
    return dst


def run_ctl(srv, *args):
    """`adfunnel ctl ARGS` against srv: (exit status, stdout, stderr)."""
    env = dict(os.environ)
    env["ADFUNNEL_ADMIN"] = "127.0.0.1:%d" % srv.admin_port
    env["ADFUNNEL_ADMIN_TOKEN_FILE"] = srv.token_file
    p = subprocess.run([afserver.AF_BIN, "ctl"] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()

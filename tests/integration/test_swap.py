"""Hot swap under load: while wrk (bench/swap.lua) ranks continuously, the
model is swapped, the pipelines reloaded and a plugin reloaded with new code
every 100 ms (bench/swap_driver.py).  Every request must succeed: no non-2xx
answer, no socket error; every swap must succeed too.  The short version of
bench/swap.sh (which also compares latency)."""

import os
import re
import shutil
import subprocess

import afadmin
import afserver
from afserver import check

DURATION_S = 5
MIN_SWAPS = 15


def run_wrk(srv, seconds):
    """wrk against /v1/rank for `seconds`; returns the SWAPBENCH fields."""
    script = os.path.join(afserver.SOURCE_DIR, "bench", "swap.lua")
    p = subprocess.run(
        ["wrk", "-t1", "-c4", "-d%ds" % seconds, "--timeout", "10s", "-s",
         script, "http://127.0.0.1:%d" % srv.port, "--",
         str(afserver.N_USERS), "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 60)
    out = p.stdout.decode(errors="replace")
    m = re.search(r"^SWAPBENCH (.*)$", out, re.M)
    check(p.returncode == 0 and m, "wrk failed (%d):\n%s", p.returncode, out)
    return {k: float(v) for k, v in
            (kv.split("=") for kv in m.group(1).split())}, out


def run_traffic(srv, seconds):
    """Without wrk: `adfunnel world traffic` for about `seconds`."""
    p = subprocess.run(
        [afserver.AF_BIN, "world", "traffic", "--url",
         "http://127.0.0.1:%d" % srv.port, "--data", srv.world,
         "--requests", str(300 * seconds), "--concurrency", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors="replace")
    return {"requests": 300.0 * seconds,
            "non2xx": 0.0 if p.returncode == 0 else 1.0,
            "connect": 0.0, "read": 0.0, "write": 0.0, "timeout": 0.0}, out


def test_swaps_under_load():
    # Correctness, not latency, is checked here: the admin thread gets the
    # same CPU priority as the workers so that swaps keep coming on a busy
    # (or sanitized) machine.  Load runs in rounds of DURATION_S until
    # MIN_SWAPS swaps happened (at most 6 rounds).
    with afadmin.AdminServer(["--admin-nice", "0"]) as srv:
        so = os.path.join(srv.plugin_dir, "model_lr.so")
        variants = afadmin.swap_driver.plugin_variants(so, srv.tmp)
        models = [afadmin.model_variant(srv, "lr-a.afm", "lr-swap-a"),
                  afadmin.model_variant(srv, "lr-b.afm", "lr-swap-b")]
        driver = afadmin.swap_driver.Driver(
            afadmin.swap_driver.Admin(srv.admin_port, afadmin.TOKEN), models,
            "lr", so, variants, interval=0.1)
        g0 = srv.generation()
        driver.start()
        try:
            for _ in range(6):
                if shutil.which("wrk"):
                    res, out = run_wrk(srv, DURATION_S)
                else:
                    res, out = run_traffic(srv, DURATION_S)
                afserver.log("load: %s" % " ".join("%s=%g" % kv for kv in
                                                    sorted(res.items())))
                check(res["requests"] > 100, "too few requests:\n%s", out)
                for k in ("non2xx", "connect", "read", "write", "timeout"):
                    check(res[k] == 0, "%s = %g during swaps:\n%s", k,
                          res[k], out)
                if sum(driver.counts.values()) >= MIN_SWAPS:
                    break
        finally:
            driver.stop()
        summary = driver.summary()
        afserver.log("swaps: %r" % summary)
        check(not summary["failures"], "swaps failed: %r",
              summary["failures"][:5])
        check(summary["swaps"] >= MIN_SWAPS, "too few swaps: %r", summary)
        check(srv.generation() >= g0 + summary["swaps"],
              "generations did not advance")
        check(srv.alive(), "server died")


if __name__ == "__main__":
    afserver.main([test_swaps_under_load])

"""The admin API end to end: tokens, plugin list / load / reload / unload,
pipeline reloads, model deploys, versions, rollback, canary, refusals that
leave the current generation serving, SIGHUP, the audit log, /metrics and
`adfunnel ctl`."""

import hashlib
import json
import os
import re
import shutil
import signal
import time

import afadmin
import afserver
from afserver import check

SRV = None


def serving_ok():
    status, hdrs, r = SRV.rank_json({"surface": "home_feed",
                                     "user": {"id": 3}})
    check(status == 200 and len(r["ads"]) > 0, "not serving: %d %r",
          status, r)
    return int(hdrs["x-generation"])


def test_token_required():
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": "Basic " + afadmin.TOKEN},
                    {"Authorization": "Bearer " + afadmin.TOKEN[:-1]}):
        c = afserver.http.client.HTTPConnection("127.0.0.1", SRV.admin_port,
                                                timeout=30)
        c.request("GET", "/admin/plugins", headers=headers)
        r = c.getresponse()
        body = r.read()
        c.close()
        check(r.status == 401, "%r: %d %r", headers, r.status, body)
        check(r.getheader("WWW-Authenticate", "").startswith("Bearer"),
              "no WWW-Authenticate")
    check(re.search(r"^adfunnel_admin_auth_failures_total [4-9]",
                    SRV.metrics(), re.M), "auth failures not counted")
    status, doc = SRV.admin("GET", "/admin/plugins")
    check(status == 200, "with the token: %d %r", status, doc)


def test_list_plugins():
    status, doc = SRV.admin("GET", "/admin/plugins")
    check(status == 200, "%d", status)
    by_name = {p["name"]: p for p in doc["plugins"]}
    check({"lr", "popular", "gsp", "basic"} <= set(by_name), "%r",
          list(by_name))
    lr = by_name["lr"]
    for key in ("name", "kind", "version", "file", "sha256", "abi",
                "used_by"):
        check(key in lr, "no %s in %r", key, lr)
    check(lr["kind"] == "model" and re.match(r"^\d+\.\d+$", lr["abi"]),
          "%r", lr)
    with open(lr["file"], "rb") as f:
        check(hashlib.sha256(f.read()).hexdigest() == lr["sha256"],
              "sha256 is not the file's")
    check(lr["used_by"] == "home_feed/control/rank", "%r", lr["used_by"])


def test_reload_changed_plugin():
    """A plugin rewritten on disk: the reload loads the new bytes from a new
    cached copy; the old copy is unmapped once its generation is gone."""
    path = os.path.join(SRV.plugin_dir, "model_lr.so")
    before = SRV.mapped_plugins()
    a, b = afadmin.swap_driver.plugin_variants(path, SRV.tmp)
    afadmin.swap_driver.install(b, path)
    with open(path, "rb") as f:
        new_sha = hashlib.sha256(f.read()).hexdigest()
    g0 = serving_ok()
    doc = SRV.change("/admin/plugins/reload", {"name": "lr"})
    check(doc["generation"] > g0, "%r", doc)
    check(serving_ok() == doc["generation"], "new generation not serving")
    lr = {p["name"]: p for p in SRV.admin("GET", "/admin/plugins")[1]
          ["plugins"]}["lr"]
    check(lr["sha256"] == new_sha, "reloaded sha %s, file %s", lr["sha256"],
          new_sha)
    check(any(new_sha in m for m in SRV.mapped_plugins()),
          "new copy not mapped")
    # Back to the original bytes: the copy of the variant goes away once no
    # held version uses it (keep-versions 2 holds two previous ones).
    afadmin.swap_driver.install(a, path)
    for _ in range(3):
        SRV.change("/admin/pipelines/reload", {})
    SRV.change("/admin/plugins/reload", {"name": "lr"})
    for _ in range(3):
        SRV.change("/admin/pipelines/reload", {})
    deadline = time.time() + 10
    while any(new_sha in m for m in SRV.mapped_plugins()):
        check(time.time() < deadline, "variant still mapped: %r",
              SRV.mapped_plugins())
        time.sleep(0.1)
    check(SRV.mapped_plugins() == before, "mapped %r, before %r",
          SRV.mapped_plugins(), before)


def test_broken_plugin_refused():
    path = os.path.join(SRV.plugin_dir, "model_lr.so")
    saved = os.path.join(SRV.tmp, "model_lr.good")
    shutil.copy2(path, saved)
    g0 = serving_ok()
    try:
        with open(path + ".tmp", "wb") as f:
            f.write(b"\x7fELF this is not a shared object")
        os.replace(path + ".tmp", path)
        status, doc = SRV.admin("POST", "/admin/plugins/reload",
                                {"name": "lr"})
        check(status == 422, "broken plugin: %d %r", status, doc)
        check(path in doc["error"] and "not a loadable shared object" in
              doc["error"], "unclear: %r", doc["error"])
        check(serving_ok() == g0, "generation changed after a refusal")
        # A plugin that is not even allowed: world-writable.
        os.replace(saved, path)
        shutil.copy2(path, saved)
        os.chmod(path, 0o757)
        status, doc = SRV.admin("POST", "/admin/plugins/reload",
                                {"name": "lr"})
        check(status == 422 and "world-writable" in doc["error"], "%d %r",
              status, doc)
        check(serving_ok() == g0, "generation changed after a refusal")
    finally:
        os.replace(saved, path)
        os.chmod(path, 0o755)


def test_unload_and_load():
    status, doc = SRV.admin("POST", "/admin/plugins/unload", {"name": "lr"})
    check(status == 409 and "home_feed/control/rank" in doc["error"],
          "unload in use: %d %r", status, doc)
    SRV.change("/admin/plugins/unload", {"name": "vcg"})
    names = [p["name"] for p in SRV.admin("GET", "/admin/plugins")[1]
             ["plugins"]]
    check("vcg" not in names, "vcg still listed")
    status, doc = SRV.admin("POST", "/admin/plugins/unload", {"name": "vcg"})
    check(status == 404, "unload twice: %d %r", status, doc)
    SRV.change("/admin/plugins/load", {"path": "auction_vcg.so"})
    status, doc = SRV.admin("POST", "/admin/plugins/load",
                            {"path": "auction_vcg"})
    check(status == 409 and "already loaded" in doc["error"], "%d %r",
          status, doc)
    serving_ok()


def test_load_only_from_plugin_dirs():
    outside = os.path.join(SRV.tmp, "elsewhere")
    os.makedirs(outside)
    shutil.copy2(os.path.join(SRV.plugin_dir, "auction_vcg.so"),
                 os.path.join(outside, "auction_other.so"))
    os.symlink(os.path.join(outside, "auction_other.so"),
               os.path.join(SRV.plugin_dir, "auction_link.so"))
    try:
        for path in (os.path.join(outside, "auction_other.so"),
                     SRV.plugin_dir + "/../elsewhere/auction_other.so",
                     "../elsewhere/auction_other.so", "/etc/passwd",
                     "auction_link.so"):
            status, doc = SRV.admin("POST", "/admin/plugins/load",
                                    {"path": path})
            check(status in (400, 404) and ("plugin director" in doc["error"]
                                           or "outside" in doc["error"]),
                  "%s: %d %r", path, status, doc)
    finally:
        os.unlink(os.path.join(SRV.plugin_dir, "auction_link.so"))


def test_pipeline_error_refused():
    g0 = serving_ok()
    with open(SRV.pipeline) as f:
        good = f.read()
    try:
        bad = good.replace('filter = { "targeting"', 'filter = { "targetting"')
        with open(SRV.pipeline, "w") as f:
            f.write(bad)
        status, doc = SRV.admin("POST", "/admin/pipelines/reload", {})
        check(status == 422, "%d %r", status, doc)
        check(re.search(r"home_feed\.lua:\d+: unknown plugin \"targetting\"",
                        doc["error"]), "unclear: %r", doc["error"])
        # A change elsewhere must not pick the edited file up silently.
        status, doc = SRV.admin("POST", "/admin/plugins/reload",
                                {"name": "gsp"})
        check(status in (409, 422), "%d %r", status, doc)
        check(serving_ok() == g0, "generation changed after refusals")
        with open(SRV.pipeline, "w") as f:
            f.write(good.replace("slots = 5", "slots = 5 "))
        status, doc = SRV.admin("POST", "/admin/plugins/reload",
                                {"name": "gsp"})
        check(status == 409 and "changed on disk" in doc["error"], "%d %r",
              status, doc)
    finally:
        with open(SRV.pipeline, "w") as f:
            f.write(good)
    SRV.change("/admin/pipelines/reload", {"surface": "home_feed"})
    status, doc = SRV.admin("POST", "/admin/pipelines/reload",
                            {"surface": "nope"})
    check(status == 404 and "home_feed" in doc["error"], "%d %r", status,
          doc)
    serving_ok()


def test_deploy_and_rollback():
    v2 = afadmin.model_variant(SRV, "lr-v2.afm", "lr-itest-v2")
    v3 = afadmin.model_variant(SRV, "lr-v3.afm", "lr-itest-v3")
    v0, _ = SRV.model_version()
    SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                        "model": v2})
    check(SRV.model_version()[0] == "lr-itest-v2", "v2 not served")
    SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                        "stage": "rank", "arm": "control",
                                        "model": v3})
    check(SRV.model_version()[0] == "lr-itest-v3", "v3 not served")
    status, doc = SRV.admin("GET", "/admin/versions")
    check(status == 200 and doc["stable"] == SRV.generation(), "%r", doc)
    held = [v for v in doc["versions"] if v["label"] == "previous"]
    check(len(held) == 2, "previous held: %r", held)
    models = doc["versions"][0]["detail"]["surfaces"][0]["models"]
    check(any(m["version"] == "lr-itest-v3" for m in models), "%r", models)
    # One call back to v2, another back to the original.
    doc = SRV.change("/admin/rollback")
    check(SRV.model_version()[0] == "lr-itest-v2", "rollback to v2")
    SRV.change("/admin/rollback")
    check(SRV.model_version()[0] == v0, "rollback to %s", v0)
    # Back to the pipeline's own model via null.
    SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                        "model": v2})
    SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                        "model": None})
    check(SRV.model_version()[0] == v0, "undeploy")
    # Bad targets.
    for body, code in (({"surface": "nope", "model": v2}, 404),
                       ({"surface": "home_feed", "stage": "auction",
                         "model": v2}, 400),
                       ({"surface": "home_feed", "arm": "x", "model": v2},
                        404),
                       ({"surface": "home_feed", "model": "/no/such.afm"},
                        404),
                       ({"surface": "home_feed"}, 400),
                       ({"surface": "home_feed", "model": v2, "bogus": 1},
                        400)):
        status, doc = SRV.admin("POST", "/admin/models/deploy", body)
        check(status == code, "%r: %d %r", body, status, doc)


def test_instances_kept():
    """A swap creates again only what it changes: the other plugin
    instances are shared with the generation it replaces."""
    doc = SRV.change("/admin/pipelines/reload", {})
    n = doc["instances"]
    check(n >= 5 and doc["instances_kept"] == n, "unchanged reload: %r", doc)
    v2 = afadmin.model_variant(SRV, "lr-kept.afm", "lr-itest-kept")
    doc = SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                              "model": v2})
    check(doc["instances_kept"] == n - 1, "deploy: %r", doc)
    doc = SRV.change("/admin/plugins/reload", {"name": "lr"})
    check(doc["instances_kept"] == n - 1, "plugin reload: %r", doc)
    # The model file rewritten under the same name: a reload re-reads it.
    st = os.stat(v2)
    os.utime(v2, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
    doc = SRV.change("/admin/pipelines/reload", {})
    check(doc["instances_kept"] == n - 1, "model file changed: %r", doc)
    doc = SRV.change("/admin/pipelines/reload", {})
    check(doc["instances_kept"] == n, "nothing changed: %r", doc)
    # A parameter changed in the pipeline file: that stage only.
    with open(SRV.pipeline) as f:
        good = f.read()
    try:
        with open(SRV.pipeline, "w") as f:
            f.write(good.replace("reserve = 0.05", "reserve = 0.06"))
        doc = SRV.change("/admin/pipelines/reload", {})
        check(0 < doc["instances_kept"] < n, "reserve changed: %r", doc)
    finally:
        with open(SRV.pipeline, "w") as f:
            f.write(good)
    SRV.change("/admin/pipelines/reload", {})
    SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                        "model": None})
    serving_ok()


def test_corrupt_model_refused():
    src = afadmin.model_variant(SRV, "lr-corrupt.afm", "lr-corrupt")
    with open(src, "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xff]))
    g0 = serving_ok()
    status, doc = SRV.admin("POST", "/admin/models/deploy",
                            {"surface": "home_feed", "model": src})
    check(status == 422, "%d %r", status, doc)
    check("lr-corrupt.afm" in doc["error"] and "crc" in doc["error"].lower(),
          "unclear: %r", doc["error"])
    check(serving_ok() == g0, "generation changed")


def test_canary():
    v2 = afadmin.model_variant(SRV, "lr-canary.afm", "lr-itest-canary")
    stable_v, _ = SRV.model_version()
    doc = SRV.change("/admin/models/deploy", {"surface": "home_feed",
                                              "model": v2, "label": "canary",
                                              "share": 0})
    canary_gen = doc["generation"]
    v, hdrs = SRV.model_version(headers={"X-Version-Label": "canary"})
    check(v == "lr-itest-canary" and hdrs["x-version-label"] == "canary" and
          int(hdrs["x-generation"]) == canary_gen, "%s %r", v, hdrs)
    v, hdrs = SRV.model_version()
    check(v == stable_v and hdrs["x-version-label"] == "stable", "%s %r", v,
          hdrs)
    # A share of users, sticky per user.
    SRV.change("/admin/canary/share", {"share": 0.5})
    labels = {u: SRV.model_version(user=u)[1]["x-version-label"]
              for u in range(1, 41)}
    n = sum(1 for l in labels.values() if l == "canary")
    check(5 <= n <= 35, "canary served %d of 40 at share 0.5", n)
    again = {u: SRV.model_version(user=u)[1]["x-version-label"]
             for u in range(1, 41)}
    check(labels == again, "not sticky")
    m = SRV.metrics()
    check('adfunnel_version_info{label="canary",generation="%d"} 1'
          % canary_gen in m, "no canary version info")
    check(re.search(r'adfunnel_version_model_info\{label="canary".*'
                    r'version="lr-itest-canary"\} 1', m), "no canary model")
    status, _, body = SRV.request(
        "POST", "/v1/rank", b'{"surface":"home_feed","user":{"id":1}}',
        {"Content-Type": "application/json", "X-Version-Label": "beta"})
    check(status == 400 and b"unknown version label" in body, "%d", status)
    SRV.change("/admin/canary/promote")
    check(SRV.model_version()[0] == "lr-itest-canary", "promote")
    status, doc = SRV.admin("POST", "/admin/canary/drop")
    check(status == 409, "drop without canary: %d", status)
    SRV.change("/admin/rollback")
    check(SRV.model_version()[0] == stable_v, "rollback after promote")
    SRV.change("/admin/pipelines/reload", {"label": "canary"})
    SRV.change("/admin/canary/drop")
    _, hdrs = SRV.model_version(headers={"X-Version-Label": "canary"})
    check(hdrs["x-version-label"] == "stable", "dropped canary served")


def test_sighup_reloads_pipelines():
    with open(SRV.pipeline) as f:
        good = f.read()
    try:
        with open(SRV.pipeline, "w") as f:
            f.write(good.replace("slots = 5", "slots = 3"))
        g0 = serving_ok()
        SRV.signal(signal.SIGHUP)
        deadline = time.time() + 30
        while serving_ok() == g0:
            check(time.time() < deadline, "SIGHUP did not reload:\n%s",
                  SRV.log()[-2000:])
            time.sleep(0.05)
        _, _, r = SRV.rank_json({"surface": "home_feed", "user": {"id": 3}})
        check(len(r["ads"]) == 3, "slots = 3 not applied: %d", len(r["ads"]))
    finally:
        with open(SRV.pipeline, "w") as f:
            f.write(good)
    SRV.change("/admin/pipelines/reload", {})
    check(len(SRV.rank_json({"surface": "home_feed", "user": {"id": 3}})[2]
              ["ads"]) == 5, "restored")


def test_audit_and_metrics():
    entries = SRV.audit_entries()
    check(len(entries) >= 10, "%d audit entries", len(entries))
    for e in entries:
        for key in ("when", "who", "peer", "action", "target", "result",
                    "status", "generation", "message"):
            check(key in e, "no %s in %r", key, e)
    whos = {e["who"] for e in entries}
    check(whos == {afadmin.TOKEN_ID, "SIGHUP"}, "who: %r", whos)
    check(afadmin.TOKEN not in open(SRV.audit_path).read(), "token logged")
    check(any(e["result"] == "error" and e["status"] == 422 for e in entries),
          "refusals not audited")
    check(all(e["peer"].startswith("127.0.0.1:") for e in entries
              if e["who"] != "SIGHUP"), "peers")
    status, doc = SRV.admin("GET", "/admin/audit?limit=3")
    check(status == 200 and len(doc["entries"]) == 3, "%d %r", status, doc)
    m = SRV.metrics()
    for action in ("plugin.reload", "plugin.load", "plugin.unload",
                   "pipeline.reload", "model.deploy", "version.rollback",
                   "canary.promote"):
        check(re.search(r'adfunnel_admin_changes_total\{action="%s",'
                        r'result="ok"\} [1-9]' % re.escape(action), m),
              "no ok count for %s", action)
    check(re.search(r'adfunnel_admin_changes_total\{action="model.deploy",'
                    r'result="error"\} [1-9]', m), "no error count")
    check(re.search(r"^adfunnel_generation_id %d$" % serving_ok(), m, re.M),
          "generation id")
    check(re.search(r'adfunnel_version_model_info\{label="stable",.*'
                    r'surface="home_feed".*stage="rank"', m), "model info")


def test_ctl():
    rc, out, err = afadmin.run_ctl(SRV, "plugins")
    check(rc == 0 and "lr" in out and "model" in out, "%d %s %s", rc, out,
          err)
    rc, out, err = afadmin.run_ctl(SRV, "reload", "lr")
    check(rc == 0 and "is stable" in out, "%d %s %s", rc, out, err)
    rc, out, err = afadmin.run_ctl(SRV, "unload", "lr")
    check(rc == 1 and "in use" in err, "%d %s %s", rc, out, err)
    rc, out, err = afadmin.run_ctl(SRV, "versions")
    check(rc == 0 and out.startswith("stable "), "%d %s %s", rc, out, err)
    rc, out, err = afadmin.run_ctl(SRV, "rollback")
    check(rc == 0 and "rolled back" in out, "%d %s %s", rc, out, err)
    rc, out, err = afadmin.run_ctl(SRV, "--json", "audit", "2")
    check(rc == 0 and len(json.loads(out)["entries"]) == 2, "%d %s", rc, out)
    rc, out, err = afadmin.run_ctl(SRV, "frobnicate")
    check(rc == 2, "usage error: %d", rc)


def main():
    global SRV
    with afadmin.AdminServer() as srv:
        SRV = srv
        afserver.main([test_token_required, test_list_plugins,
                       test_reload_changed_plugin, test_broken_plugin_refused,
                       test_unload_and_load, test_load_only_from_plugin_dirs,
                       test_pipeline_error_refused, test_deploy_and_rollback,
                       test_instances_kept, test_corrupt_model_refused, test_canary,
                       test_sighup_reloads_pipelines, test_audit_and_metrics,
                       test_ctl])
        check(srv.alive(), "server died")


if __name__ == "__main__":
    main()

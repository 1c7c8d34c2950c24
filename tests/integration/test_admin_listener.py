"""Where the admin API listens, and when it refuses to: loopback by default;
a non-loopback address without --admin-allow-remote gives no listener at all
(the server refuses to start); no token file, or one others can read, is
refused too."""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile

import afadmin
import afserver
from afserver import check


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused_start(args, expect):
    """The server with `args` must exit non-zero, saying `expect`, without
    ever listening."""
    srv = afadmin.AdminServer(admin_args=args, private_plugins=False)
    try:
        p = subprocess.run(srv.cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        check(p.returncode != 0, "started with %r:\n%s", args, out)
        check(expect in out, "%r: no %r in:\n%s", args, expect, out)
        check(not os.path.exists(srv.port_file), "listened anyway")
    finally:
        srv.kill()


TMP = tempfile.mkdtemp(prefix="af-admin-listener-")
atexit.register(shutil.rmtree, TMP, True)


def token_file(mode):
    path = os.path.join(tempfile.mkdtemp(dir=TMP), "tok")
    with open(path, "w") as f:
        f.write("ops:" + afadmin.TOKEN + "\n")
    os.chmod(path, mode)
    return path


def test_non_loopback_without_opt_in():
    port = free_port()
    refused_start(["--admin-host", "0.0.0.0", "--admin-port", str(port),
                   "--admin-token-file", token_file(0o600)],
                  "not a loopback address")
    # Nothing listens on the admin port from any address.
    s = socket.socket()
    s.settimeout(2)
    try:
        rc = s.connect_ex(("127.0.0.1", port))
    finally:
        s.close()
    check(rc != 0, "something listens on %d", port)


def test_token_file_rules():
    refused_start(["--admin-port", "0"], "token file is required")
    refused_start(["--admin-port", "0", "--admin-token-file",
                   token_file(0o644)], "chmod 600")
    short = token_file(0o600)
    with open(short, "w") as f:
        f.write("tooshort\n")
    refused_start(["--admin-port", "0", "--admin-token-file", short],
                  "a token is 16..256 printable characters")


def test_remote_with_opt_in():
    srv = afadmin.AdminServer(admin_args=[
        "--admin-host", "0.0.0.0", "--admin-allow-remote",
        "--admin-port", "0", "--admin-port-file", None,
        "--admin-token-file", None], private_plugins=False)
    i = srv.cmd.index("--admin-port-file")
    srv.cmd[i + 1] = srv.admin_port_file
    i = srv.cmd.index("--admin-token-file")
    srv.cmd[i + 1] = srv.token_file
    with srv:
        status, doc = srv.admin("GET", "/admin/versions")
        check(status == 200, "%d %r", status, doc)
        check("non-loopback" in srv.log(), "no warning logged")


def test_default_is_loopback():
    with afadmin.AdminServer(private_plugins=False) as srv:
        with open("/proc/net/tcp") as f:
            rows = f.read().splitlines()[1:]
        hexport = "%04X" % srv.admin_port
        local = [r.split()[1] for r in rows if r.split()[1].endswith(":" +
                                                                     hexport)
                 and r.split()[3] == "0A"]
        check(local == ["0100007F:" + hexport], "admin listens on %r", local)


if __name__ == "__main__":
    afserver.main([test_non_loopback_without_opt_in, test_token_file_rules,
                   test_remote_with_opt_in, test_default_is_loopback])

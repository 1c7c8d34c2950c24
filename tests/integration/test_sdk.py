"""The SDK as a third-party author uses it: install adfunnel into a prefix,
build sdk/template out of the source tree against the installed CMake
package only, and load the result in a pipeline with `adfunnel check`."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ["AF_BIN"]
BUILD = os.environ["AF_BUILD_DIR"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


class SdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="af-sdk-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = run(["cmake", "--install", BUILD, "--prefix", cls.prefix])
        assert r.returncode == 0, r.stderr
        cls.world = os.path.join(cls.tmp, "world")
        r = run([BIN, "world", "gen", "--out", cls.world, "--ads", "300",
                 "--users", "100", "--seed", "3"])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_installed_layout(self):
        for rel in ("include/adfunnel/af_plugin.h", "include/adfunnel/adfunnel.proto",
                    "lib/cmake/adfunnel/adfunnelConfig.cmake",
                    "lib/pkgconfig/adfunnel.pc", "share/adfunnel/template/temperature.c",
                    "lib/adfunnel/plugins/auction_gsp.so", "bin/adfunnel"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)

    def test_template_builds_and_loads(self):
        src = os.path.join(self.tmp, "myplugin")
        shutil.copytree(os.path.join(self.prefix, "share/adfunnel/template"), src)
        bld = os.path.join(src, "build")
        r = run(["cmake", "-S", src, "-B", bld, "-DCMAKE_PREFIX_PATH=" + self.prefix])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run(["cmake", "--build", bld])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        so = os.path.join(bld, "calibrator_temperature.so")
        self.assertTrue(os.path.exists(so))
        # Exactly one exported symbol of its own: the entry point.
        r = run(["nm", "-D", "--defined-only", so])
        own = [l.split()[-1] for l in r.stdout.splitlines() if " T " in l]
        self.assertEqual(own, ["af_plugin_entry"])

        plugins = os.path.join(self.prefix, "lib/adfunnel/plugins")
        good = os.path.join(self.tmp, "good.lua")
        with open(good, "w") as f:
            f.write('surface "s" {\n  retrieve = "popular",\n'
                    '  calibrate = { "temperature", t = 1.5 },\n'
                    '  auction = "gsp",\n}\n')
        r = run([os.path.join(self.prefix, "bin/adfunnel"), "check", "--plugins", bld,
                 "--plugins", plugins, "--data", self.world, good])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("temperature", r.stdout)

        bad = os.path.join(self.tmp, "bad.lua")
        with open(bad, "w") as f:
            f.write('surface "s" {\n  retrieve = "popular",\n'
                    '  calibrate = { "temperature", t = -1 },\n'
                    '  auction = "gsp",\n}\n')
        r = run([BIN, "check", "--plugins", bld, "--plugins", plugins,
                 "--data", self.world, bad])
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.lua:3:", r.stderr)
        self.assertIn("t must be a number", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

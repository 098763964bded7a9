"""mcpbkctl doctor on healthy and broken setups."""

import json
import os
import subprocess
import unittest

from harness import DaemonTestCase, run_ctl


class DoctorTest(DaemonTestCase):

    def doctor(self, code):
        r = run_ctl(self.sb, "doctor", "--json")
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        return {c["name"]: c for c in out["checks"]}, out

    def test_healthy_setup(self):
        self.sb.write("~/.cursor/mcp.json", '{"mcpServers": {"a": {}}}')
        self.daemon.start()
        checks, out = self.doctor(0)
        self.assertTrue(out["ok"])
        self.assertEqual(checks["daemon"]["level"], "ok")
        self.assertIn("running", checks["daemon"]["message"])
        self.assertIn("cursor (1)", checks["hosts"]["message"])
        self.assertEqual(checks["store"]["level"], "ok")
        # Human output too.
        r = run_ctl(self.sb, "doctor")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"doctor: no problems found", r.stdout)

    def test_a_notify_command_that_cannot_run(self):
        self.sb.write_config(self.config +
                             "notify:\n  command: [no-such-notifier, m]\n")
        self.daemon.start()
        checks, out = self.doctor(0)  # a warning, not a problem
        self.assertEqual(checks["notify"]["level"], "warning")
        self.assertEqual(checks["notify"]["message"],
                         "notify.command: no-such-notifier is not found in "
                         "PATH")
        self.assertIn("full path", checks["notify"]["fix"])
        # Not "all clear" either: the summary counts the warnings.
        r = run_ctl(self.sb, "doctor")
        self.assertEqual(r.returncode, 0)
        warned = r.stdout.count(b"\nwarn  ")
        self.assertGreaterEqual(warned, 1)
        self.assertTrue(r.stdout.endswith(
            b"\ndoctor: no problems found, %d warning%s to look at\n"
            % (warned, b"" if warned == 1 else b"s")), r.stdout)
        self.sb.write_config(self.config + "notify:\n  command: [true, m]\n")
        checks, out = self.doctor(0)
        self.assertEqual(checks["notify"]["level"], "ok")
        self.assertIn("runs /", checks["notify"]["message"])

    def test_a_watched_file_that_broke(self):
        self.sb.write("~/.cursor/mcp.json", '{"mcpServers": {"a": {}}}')
        self.daemon.start()
        good = self.wait_snapshot("~/.cursor/mcp.json",
                                  '{"mcpServers": {"a": {}}}')["id"]
        self.sb.write("~/.cursor/mcp.json", '{"mcpServers": {"a": ')
        bad = self.wait_snapshot("~/.cursor/mcp.json",
                                 '{"mcpServers": {"a": ')["id"]
        checks, out = self.doctor(0)  # the setup works: a warning
        self.assertEqual(checks["files"]["level"], "warning")
        self.assertEqual(checks["files"]["message"],
                         f"~/.cursor/mcp.json does not parse (snapshot #{bad})")
        self.assertIn(f"mcpbkctl restore {good} puts it back",
                      checks["files"]["fix"])
        # With the daemon down too (read from the store).
        self.daemon.stop()
        checks, out = self.doctor(1)  # the daemon is a problem
        self.assertEqual(checks["files"]["message"],
                         f"~/.cursor/mcp.json does not parse (snapshot #{bad})")

    def test_broken_setup_names_each_fix(self):
        self.daemon.start()
        self.assertEqual(self.daemon.stop(), 0)
        self.sb.write_config("retention:\n  max_count: ten\n")
        os.chmod(self.sb.store_file, 0o644)
        checks, out = self.doctor(1)
        self.assertFalse(out["ok"])
        self.assertEqual(checks["config"]["level"], "problem")
        self.assertIn("retention.max_count", checks["config"]["message"])
        self.assertIn("--check-config", checks["config"]["fix"])
        self.assertEqual(checks["daemon"]["level"], "problem")
        self.assertIn("mcpbkd", checks["daemon"]["fix"])
        self.assertEqual(checks["store"]["level"], "problem")
        self.assertIn("chmod 600", checks["store"]["fix"])
        r = run_ctl(self.sb, "doctor")
        self.assertRegex(r.stdout.decode(),
                         r"\ndoctor: 3 problems found(, \d+ warnings? to "
                         r"look at)?\n$")
        r = run_ctl(self.sb, "doctor")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"fix: ", r.stdout)

    def test_an_immutable_store_is_named_with_its_fix(self):
        # `chattr +i` (or a backup tool's lock): nothing can be recorded, and
        # a restart does not mend it, so the fix is the attribute's.
        self.sb.write("~/.cursor/mcp.json", '{"mcpServers": {"a": {}}}')
        self.daemon.start()
        self.wait_snapshot("~/.cursor/mcp.json", '{"mcpServers": {"a": {}}}')
        store = str(self.sb.store_file)
        r = subprocess.run(["chattr", "+i", store], capture_output=True)
        if r.returncode != 0:
            self.skipTest("no chattr +i here: " + r.stderr.decode().strip())
        self.addCleanup(subprocess.run, ["chattr", "-i", store])
        checks, out = self.doctor(1)
        self.assertEqual(checks["store"]["level"], "problem")
        self.assertIn("immutable", checks["store"]["message"])
        self.assertIn("no change can be recorded", checks["store"]["message"])
        self.assertEqual(checks["store"]["fix"],
                         f"sudo chattr -i {store}")
        subprocess.run(["chattr", "-i", store], check=True)
        checks, out = self.doctor(0)
        self.assertEqual(checks["store"]["level"], "ok")


if __name__ == "__main__":
    unittest.main()

"""The daemon under valgrind memcheck through a short workload: changes,
list, show, restore, a subscriber, a rescan, then SIGTERM. It must exit 0
with no memcheck error and nothing definitely lost.

Skipped in the sanitizer build (MCPBK_SANITIZED=1, set by
tests/CMakeLists.txt): valgrind and ASan do not mix."""

import json
import os
import re
import shutil
import signal
import subprocess
import unittest

from harness import (DaemonTestCase, MCPBKD, connect, read_line, request,
                     run_ctl, wait_for)

CURSOR = "~/.cursor/mcp.json"


def servers_json(*names):
    return json.dumps({"mcpServers": {n: {"command": "npx", "args": [n]}
                                      for n in names}}, indent=2) + "\n"


@unittest.skipIf(os.environ.get("MCPBK_SANITIZED") == "1",
                 "valgrind does not run ASan-instrumented binaries")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class ValgrindTest(DaemonTestCase):

    def test_memcheck_clean_through_a_workload(self):
        vg_log = os.path.join(self.sb.root, "valgrind.log")
        self.sb.write(CURSOR, servers_json("a"))
        log = open(self.daemon.log_path, "ab")
        self.daemon.proc = subprocess.Popen(
            ["valgrind", "--leak-check=full", "--error-exitcode=99",
             "--errors-for-leak-kinds=definite", "--track-fds=no",
             f"--log-file={vg_log}", MCPBKD, "--log-level", "debug"],
            env=self.sb.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        log.close()
        self.daemon.wait_ready(timeout=120)
        self.wait_snapshot(CURSOR, servers_json("a"), timeout=60)
        sub = connect(self.sb.socket, timeout=60)
        sub.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
        self.assertTrue(json.loads(read_line(sub))["ok"])
        for names in (("a", "b"), ("b",), ("b", "c")):
            self.sb.write(CURSOR, servers_json(*names))
            self.wait_snapshot(CURSOR, servers_json(*names), timeout=60)
        first = self.snapshots(CURSOR)[0]["id"]
        for args in (["list"], ["show", first], ["diff", first],
                     ["restore", first, "--yes"], ["verify"], ["events"]):
            r = run_ctl(self.sb, *args, timeout=120)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
        self.daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.store.events("rescan"), 60, "a rescan")
        self.assertTrue(request(self.sb.socket, "status", timeout=60)["ok"])
        # Idle: the trim unmaps code and read-only data; the next change
        # and request run on pages faulted back in, still without an error.
        wait_for(lambda: "idle: released" in self.daemon.log(), 120,
                 "the idle trim")
        self.sb.write(CURSOR, servers_json("d"))
        self.wait_snapshot(CURSOR, servers_json("d"), timeout=60)
        r = run_ctl(self.sb, "show", first, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        sub.close()
        rc = self.daemon.stop(signal.SIGTERM, timeout=120)
        with open(vg_log) as f:
            report = f.read()
        self.assertEqual(rc, 0, report[-4000:])
        self.assertIn("ERROR SUMMARY: 0 errors", report, report[-4000:])
        print("\n" + "\n".join(ln for ln in report.splitlines()
                                if re.search("ERROR SUMMARY|lost:|in use at "
                                             "exit|total heap usage", ln)),
              flush=True)
        m = re.search(r"definitely lost: ([\d,]+) bytes", report)
        if m:  # absent when every block was freed
            self.assertEqual(m.group(1), "0", report[-4000:])
        else:
            self.assertIn("All heap blocks were freed", report)


if __name__ == "__main__":
    unittest.main()

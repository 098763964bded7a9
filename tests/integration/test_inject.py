"""Faults injected at chosen system calls of a restore, with strace's
`-e inject` (no shim, no rebuilt binary): the Nth fsync, fdatasync, rename,
write or pwrite64 of a real `mcpbkctl restore` fails with an errno, or the
process is killed right there, for every N the restore reaches.

The restore runs offline (no daemon: the client writes the file and the
store itself), over a file whose current content the store does not have
yet, so the restore must record it (pre-restore) before replacing it.
After each run:
- the file holds the old or the new bytes, never a mix;
- if it holds the new bytes, the old ones are in the store;
- a restore that reported failure left the file as it was, and one that
  reported success (possibly with a warning) put the new bytes in place;
- the store passes SQLite's integrity check;
- only a killed run may leave a temp file, at most one.

The same faults in a restore run by the daemon, and in a capture's commit
in the daemon, are below (strace attached to the running mcpbkd).
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import unittest

from harness import MCPBKCTL, DaemonTestCase, run_ctl, wait_for

CURSOR = "~/.cursor/mcp.json"
OLD_RECORDED = '{"mcpServers": {"recorded": {"command": "npx"}}}\n'
RESTORED = '{"mcpServers": {"restored": {"command": "npx"}}}\n'
CURRENT = '{"mcpServers": {"current": {"command": "npx"}}}\n'

# (system call, what strace does at its Nth call). Errors are those the
# kernel gives for a failing disk or a full one; signal=KILL stops the
# client dead at that call.
FAULTS = [
    ("fsync", "error=EIO"),
    ("fdatasync", "error=EIO"),
    ("rename", "error=EIO"),
    ("write", "error=ENOSPC"),
    ("pwrite64", "error=ENOSPC"),
    ("fsync", "signal=KILL"),
    ("fdatasync", "signal=KILL"),
    ("rename", "signal=KILL"),
    ("pwrite64", "signal=KILL"),
]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def tracer_pid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


def attach_strace(pid, trace, syscall, action, n):
    """strace attached to a running process, faulting its Nth `syscall`
    from now on; returns once the process is traced."""
    tracer = subprocess.Popen(
        ["strace", "-qq", "-p", str(pid), "-o", trace, "-e",
         "trace=" + syscall, "-e", f"inject={syscall}:{action}:when={n}"])
    wait_for(lambda: tracer_pid(pid) == tracer.pid, 10, "strace to attach")
    return tracer


@unittest.skipUnless(shutil.which("strace"), "needs strace")
class RestoreFaultBase(DaemonTestCase):
    """A store and a file to restore over, copied back before each run."""

    def setUp(self):
        super().setUp()
        probe = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"],
                               capture_output=True)
        if probe.returncode != 0:
            self.skipTest("strace cannot trace here: " +
                          probe.stderr.decode().strip())
        # A store with two snapshots of the file (ids 1 and 2), made by the
        # real daemon, then stopped; the file is then changed behind its
        # back, as while it was not running.
        self.sb.write(CURSOR, RESTORED)
        self.daemon.start()
        self.wait_snapshot(CURSOR, RESTORED)
        self.sb.write(CURSOR, OLD_RECORDED)
        self.wait_snapshot(CURSOR, OLD_RECORDED)
        self.daemon.stop()
        self.sb.write(CURSOR, CURRENT)
        self.base = self.sb.root + ".base"
        shutil.copytree(self.sb.root, self.base, symlinks=True)

    def tearDown(self):
        shutil.rmtree(self.base, ignore_errors=True)
        super().tearDown()

    def reset(self):
        shutil.rmtree(self.sb.root)
        shutil.copytree(self.base, self.sb.root, symlinks=True)

    def check_run(self, what, r, killed):
        with open(self.sb.path(CURSOR)) as f:
            data = f.read()
        self.assertIn(data, (CURRENT, RESTORED), f"{what}: mixed content")
        con = sqlite3.connect(self.sb.store_file)
        try:
            self.assertEqual(
                con.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                what)
            shas = {row[0] for row in
                    con.execute("SELECT sha256 FROM snapshots")}
        finally:
            con.close()
        if data == RESTORED:
            self.assertIn(sha(CURRENT), shas,
                          f"{what}: the file was replaced but its old "
                          f"content is not in the store")
        # A restore done whose report could not be written fails for that
        # reason alone ("cannot write to standard output"): whether the file
        # was replaced is then not in the exit code.
        output_lost = b"cannot write to standard output" in r.stderr
        if output_lost:
            self.assertEqual(r.returncode, 1, what)
        if not killed and not output_lost:
            if r.returncode == 0:
                self.assertEqual(data, RESTORED, f"{what}: reported done")
            else:
                self.assertEqual(r.returncode, 1, f"{what}: {r.stderr!r}")
                self.assertEqual(data, CURRENT,
                                 f"{what}: reported failed, file replaced")
                self.assertTrue(r.stderr.strip(), f"{what}: no message")
        temps = [n for n in os.listdir(os.path.dirname(self.sb.path(CURSOR)))
                 if n != "mcp.json"]
        self.assertLessEqual(len(temps), 1 if killed else 0,
                             f"{what}: {temps}")


class RestoreFaultTest(RestoreFaultBase):
    """An offline mcpbkctl restore, strace running it."""

    def restore_with(self, syscall, action, n):
        trace = os.path.join(self.sb.root, "strace.txt")
        cmd = ["strace", "-qq", "-f", "-o", trace, "-e", "trace=" + syscall,
               "-e", f"inject={syscall}:{action}:when={n}", MCPBKCTL,
               "--socket", os.path.join(self.sb.root, "nowhere"),
               "restore", "1", "--yes"]
        env = dict(self.sb.env)
        if os.environ.get("MCPBK_SANITIZED"):
            # LeakSanitizer cannot run under ptrace; ASan itself can.
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                                   ":detect_leaks=0").lstrip(":")
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
        with open(trace) as f:
            reached = "INJECTED" in f.read() or r.returncode == -9
        return r, reached

    def test_every_reached_call_of_a_restore(self):
        runs = 0
        for syscall, action in FAULTS:
            if syscall == "write" and os.environ.get("MCPBK_SANITIZED"):
                # ASan's runtime write()s to a pipe to probe memory, and
                # stops the process (exit 0) when that fails.
                continue
            for n in range(1, 200):
                self.reset()
                r, reached = self.restore_with(syscall, action, n)
                if not reached:
                    # Past the last such call: the restore ran whole.
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.check_run(f"{syscall} #{n} not reached", r, False)
                    self.assertGreater(n, 1, f"{syscall} is never called")
                    break
                runs += 1
                self.check_run(f"{syscall}:{action} at call {n}", r,
                               action == "signal=KILL")
        # The last run's store opens in a daemon, and verify is clean.
        self.daemon.start()
        r = run_ctl(self.sb, "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        print(f"\n{runs} restores with a fault injected", flush=True)


DAEMON_FAULTS = [
    ("fsync", "error=EIO"),
    ("rename", "error=EIO"),
    ("fsync", "signal=KILL"),
    ("rename", "signal=KILL"),
]


class DaemonRestoreFaultTest(RestoreFaultBase):
    """The same through the daemon: strace attaches to the running mcpbkd
    (so only the restore's calls are counted: a capture syncs with
    fdatasync, and only a restore uses fsync and rename) and faults its
    Nth fsync or rename. A killed daemon is started again, which must
    remove the temp file its dead restore left and record the file as it
    is."""

    def restore_through_daemon(self, syscall, action, n):
        self.daemon.start()
        trace = os.path.join(self.sb.root, "strace.txt")
        tracer = attach_strace(self.daemon.proc.pid, trace, syscall, action,
                               n)
        try:
            r = run_ctl(self.sb, "restore", "1", "--yes", timeout=60)
        finally:
            tracer.terminate()
            tracer.wait(10)
        with open(trace) as f:
            reached = "INJECTED" in f.read()
        killed = self.daemon.proc.poll() is not None
        return r, reached or killed, killed

    def test_every_reached_call_of_a_daemon_restore(self):
        runs = 0
        for syscall, action in DAEMON_FAULTS:
            for n in range(1, 20):
                self.reset()
                r, reached, killed = self.restore_through_daemon(
                    syscall, action, n)
                what = f"daemon {syscall}:{action} at call {n}"
                if not reached:
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.daemon.stop()
                    self.check_run(what + " (not reached)", r, False)
                    break
                runs += 1
                if killed:
                    self.assertEqual(r.returncode, 3, f"{what}: {r.stderr}")
                    self.check_run(what, r, True)
                    # Started again: the dead restore's temp file goes, and
                    # the file is recorded as it is.
                    self.daemon.start()
                    with open(self.sb.path(CURSOR)) as f:
                        data = f.read()
                    self.wait_snapshot(CURSOR, data)
                    wait_for(lambda: os.listdir(os.path.dirname(
                        self.sb.path(CURSOR))) == ["mcp.json"], 10,
                        "the temp file to be removed")
                    v = run_ctl(self.sb, "verify")
                    self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                else:
                    self.daemon.stop()
                    self.check_run(what, r, False)
                self.daemon.kill()
        print(f"\n{runs} daemon restores with a fault injected", flush=True)


@unittest.skipUnless(shutil.which("strace"), "needs strace")
class DaemonCaptureFaultTest(DaemonTestCase):
    """A capture's commit faulted in the running daemon: its Nth fdatasync
    (the WAL's, once per snapshot) or pwrite64 (the WAL frames) fails with
    EIO or kills it. A failed capture is retried; a killed daemon, started
    again, records the file as it is. Either way the last save ends up in
    the store and `verify` is clean."""

    FAULTS = [("fdatasync", "error=EIO"), ("pwrite64", "error=EIO"),
              ("fdatasync", "signal=KILL"), ("pwrite64", "signal=KILL")]

    def test_faulted_capture_commits(self):
        self.sb.write(CURSOR, OLD_RECORDED)
        self.daemon.start()
        self.wait_snapshot(CURSOR, OLD_RECORDED)
        runs = 0
        for syscall, action in self.FAULTS:
            for n in (1, 2, 3):
                trace = os.path.join(self.sb.root, f"strace-{runs}.txt")
                tracer = attach_strace(self.daemon.proc.pid, trace, syscall,
                                       action, n)
                content = (f'{{"mcpServers": {{"v{runs}": '
                           f'{{"command": "npx"}}}}}}\n')
                path = self.sb.path(CURSOR)
                with open(path + ".tmp", "w") as f:
                    f.write(content)
                os.replace(path + ".tmp", path)
                if action == "signal=KILL":
                    wait_for(lambda: self.daemon.proc.poll() is not None or
                             self.snapshots(CURSOR)[-1]["sha256"] ==
                             sha(content), 20, "the kill or the snapshot")
                    tracer.terminate()
                    tracer.wait(10)
                    reached = self.daemon.proc.poll() is not None
                    if reached:
                        self.daemon.start()
                else:
                    self.wait_snapshot(CURSOR, content, timeout=30)
                    tracer.terminate()
                    tracer.wait(10)
                    with open(trace) as f:
                        reached = "INJECTED" in f.read()
                if n == 1:
                    # The first such call after the save is the capture's.
                    self.assertTrue(reached, f"{syscall}:{action} not reached")
                self.wait_snapshot(CURSOR, content, timeout=30)
                runs += 1
        r = run_ctl(self.sb, "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        log = self.daemon.log()
        self.assertIn("cannot snapshot", log)  # the EIO runs did fail
        self.assertIn("snapshots work again", log)
        print(f"\n{runs} captures with a fault injected", flush=True)


class SaveDuringRestoreTest(RestoreFaultBase):
    """A host saves the file while an offline restore replaces it."""

    def test_a_save_after_the_restore_read_the_file_is_kept(self):
        # Every fsync of the restore waits 1 s. Once it has recorded the
        # file it replaces (pre-restore), the next is its temp file's, just
        # before the rename; meanwhile the host saves the file. Before, the
        # rename replaced that save, which no snapshot held: lost. Now the
        # restore leaves the file as the host saved it and says so.
        host = '{"mcpServers": {"host": {"command": "npx"}}}\n'
        env = dict(self.sb.env)
        if os.environ.get("MCPBK_SANITIZED"):
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                                   ":detect_leaks=0").lstrip(":")
        for extra in ((), ("--only-mcp",)):
            self.reset()
            proc = subprocess.Popen(
                ["strace", "-qq", "-f", "-o", "/dev/null", "-e", "trace=fsync",
                 "-e", "inject=fsync:delay_enter=1000000", MCPBKCTL,
                 "--socket", os.path.join(self.sb.root, "nowhere"),
                 "restore", "1", "--yes", *extra],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                def recorded():
                    con = sqlite3.connect(self.sb.store_file, timeout=5)
                    try:
                        return (sha(CURRENT),) in con.execute(
                            "SELECT sha256 FROM snapshots").fetchall()
                    finally:
                        con.close()
                wait_for(recorded, 30, "the pre-restore snapshot")
                self.sb.write(CURSOR, host)
                out, err = proc.communicate(timeout=60)
            finally:
                proc.kill()
            self.assertEqual(proc.returncode, 1, (extra, out, err))
            self.assertIn(b"changed while it was being replaced (another "
                          b"program saved it meanwhile): it was left as it "
                          b"is; restore again", err)
            with open(self.sb.path(CURSOR)) as f:
                self.assertEqual(f.read(), host, extra)
            self.assertEqual(
                os.listdir(os.path.dirname(self.sb.path(CURSOR))),
                ["mcp.json"])


if __name__ == "__main__":
    unittest.main()

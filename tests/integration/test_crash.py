"""Crash consistency: SIGKILL the daemon (or a restoring client) at random
moments — during a write storm, while retention prunes on every snapshot,
in the middle of a restore — and check that nothing is lost or half-written.

MCPBK_STRESS_ROUNDS sets the rounds of each scenario (CI default 20; see
docs/RELIABILITY.md for the large local runs). MCPBK_STRESS_SEED replays a
run; the seed in use is printed.
"""

import glob
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
import unittest
import zlib

from harness import (DaemonTestCase, Daemon, MCPBKCTL, request, run_ctl,
                     sha256, wait_for)

ROUNDS = int(os.environ.get("MCPBK_STRESS_ROUNDS", "20"))
SEED = int(os.environ.get("MCPBK_STRESS_SEED", str(int(time.time()))))
FILES = [f"~/storm/f{i}.json" for i in range(4)]

# Retention that prunes on every snapshot, so kills land inside prunes too.
CONFIG = """\
watch:
  debounce_ms: 20
  max_delay_ms: 200
  paths:
    - {path: "~/storm/*.json", host: cursor}
retention:
  max_count: 2
  min_keep: 0
  max_age_days: 0
  keep_daily: 0
  keep_weekly: 0
  keep_monthly: 0
  prune_interval_s: 1
log:
  level: info
"""


def doc(tag, pad=0):
    body = {"mcpServers": {tag: {"command": "npx", "args": ["-y", tag]}}}
    if pad:
        body["pad"] = "x" * pad
    return json.dumps(body, indent=2) + "\n"


def temp_files(path):
    d, name = os.path.split(path)
    return glob.glob(os.path.join(glob.escape(d), "." + name + ".mcpbk-tmp-*"))


class CrashTestCase(DaemonTestCase):
    config = CONFIG

    def setUp(self):
        super().setUp()
        self.rng = random.Random(SEED + zlib.crc32(self.id().encode()))
        print(f"\n{self.id()}: seed {SEED}, {ROUNDS} rounds", flush=True)

    def assert_store_sound(self):
        """verify is clean, every snapshot row points at a blob and every
        delta at its keyframe."""
        r = run_ctl(self.sb, "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        con = sqlite3.connect(f"file:{self.sb.store_file}?mode=ro", uri=True,
                              timeout=10)
        try:
            self.assertEqual(con.execute("PRAGMA foreign_key_check").fetchall(),
                             [])
            orphans = con.execute(
                "SELECT count(*) FROM snapshots s LEFT JOIN blobs b "
                "ON s.sha256 = b.sha256 WHERE b.sha256 IS NULL").fetchone()[0]
            self.assertEqual(orphans, 0)
            # Every delta's keyframe is there, and is whole.
            bad_bases = con.execute(
                "SELECT count(*) FROM blobs d LEFT JOIN blobs k "
                "ON d.base = k.sha256 WHERE d.base IS NOT NULL AND "
                "(k.sha256 IS NULL OR k.base IS NOT NULL)").fetchone()[0]
            self.assertEqual(bad_bases, 0)
        finally:
            con.close()

    def restart(self):
        self.daemon.kill()
        self.daemon = Daemon(self.sb)
        self.daemon.start()


class KillDuringStormTest(CrashTestCase):

    def test_sigkill_at_random_moments_loses_nothing(self):
        final = {}
        for rel in FILES:
            final[rel] = doc(f"{rel[-7:-5]}-0")
            self.sb.write(rel, final[rel])
        self.daemon.start()
        writes = 0
        for rnd in range(ROUNDS):
            # Each round starts from a restarted daemon: everything written
            # before (and after) the last kill must be in the store.
            for rel in FILES:
                self.wait_snapshot(rel, final[rel], timeout=30)
            self.assert_store_sound()
            n = self.rng.randrange(1, 120)
            kill_at = self.rng.randrange(0, n)
            for i in range(n):
                rel = self.rng.choice(FILES)
                final[rel] = doc(f"r{rnd}w{i}", pad=self.rng.randrange(0, 4000))
                if self.rng.random() < 0.5:
                    self.sb.write(rel, final[rel])
                else:
                    tmp = self.sb.path(rel) + ".tmp"
                    with open(tmp, "w") as f:
                        f.write(final[rel])
                    os.rename(tmp, self.sb.path(rel))
                writes += 1
                if i == kill_at:
                    # Sometimes right away, sometimes once it is busy.
                    time.sleep(self.rng.random() * 0.05)
                    self.daemon.kill()
            self.restart()
        for rel in FILES:
            self.wait_snapshot(rel, final[rel], timeout=30)
        self.assert_store_sound()
        print(f"storm: {ROUNDS} SIGKILLs, {writes} writes, 0 losses",
              flush=True)


class KillDuringRestoreTest(CrashTestCase):
    """A restore is killed at a random instant: the file holds the old or the
    new bytes, never a mix, and at most the one temp file of the killed
    writer remains until the daemon's next scan removes it."""

    PAD = 512 << 10  # big enough that a kill often lands mid-write

    def setUp(self):
        super().setUp()
        self.target = self.sb.path(FILES[0])
        self.versions = [doc("old", self.PAD), doc("new", self.PAD + 1)]
        self.sb.write(FILES[0], self.versions[0])
        self.daemon.start()
        self.ids = []
        for v in self.versions:
            # Saved whole (temp file, rename): written in place, a writer
            # descheduled between the truncation and the write (a loaded CI
            # machine) let the daemon record the empty file, and max_count 2
            # then pruned the old version before it could be pinned.
            tmp = self.target + ".tmp"
            with open(tmp, "w") as f:
                f.write(v)
            os.rename(tmp, self.target)
            self.ids.append(self.wait_snapshot(FILES[0], v, timeout=30)["id"])
        # Pin them so max_count 2 keeps them through the restores.
        for i in self.ids:
            self.assertTrue(request(self.sb.socket, "pin", {"id": i})["ok"])
        self.digests = {sha256(v): n for n, v in enumerate(self.versions)}

    def current_version(self):
        with open(self.target, "rb") as f:
            data = f.read()
        self.assertIn(sha256(data), self.digests,
                      f"{self.target} holds {len(data)} bytes matching "
                      f"neither version")
        return self.digests[sha256(data)]

    def test_kill_the_offline_client_mid_restore(self):
        # A socket nobody listens on makes mcpbkctl restore by itself.
        nowhere = os.path.join(self.sb.root, "nowhere.sock")
        timings = []
        for _ in range(3):
            want = 1 - self.current_version()
            start = time.monotonic()
            r = run_ctl(self.sb, "--socket", nowhere, "restore",
                        self.ids[want], "--yes")
            self.assertEqual(r.returncode, 0, r.stderr)
            timings.append(time.monotonic() - start)
            self.assertEqual(self.current_version(), want)
        span = max(timings) * 1.2
        killed = completed = leftovers = 0
        for _ in range(ROUNDS):
            want = 1 - self.current_version()
            before = set(temp_files(self.target))
            proc = subprocess.Popen(
                [MCPBKCTL, "--socket", nowhere, "restore",
                 str(self.ids[want]), "--yes"],
                env=self.sb.env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            time.sleep(self.rng.random() * span)
            proc.kill()
            rc = proc.wait()
            if rc == -signal.SIGKILL:
                killed += 1
            else:
                completed += 1
            self.current_version()  # old or new, never partial
            left = len(set(temp_files(self.target)) - before)
            self.assertLessEqual(left, 1)
            leftovers += left
        # The next rescan removes what the killed writers left.
        self.daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: not temp_files(self.target), 15,
                 "stale temp files to be removed")
        self.wait_snapshot(FILES[0], self.versions[self.current_version()],
                           timeout=30)
        self.assert_store_sound()
        print(f"offline restore: {ROUNDS} rounds, {killed} killed mid-way, "
              f"{completed} finished first, {leftovers} temp files left "
              f"(all removed by the rescan), 0 partial files", flush=True)

    def test_kill_the_daemon_mid_restore(self):
        timings = []
        for _ in range(3):
            want = 1 - self.current_version()
            start = time.monotonic()
            r = request(self.sb.socket, "restore", {"id": self.ids[want]},
                        timeout=60)
            self.assertTrue(r["ok"], r)
            timings.append(time.monotonic() - start)
        span = max(timings) * 1.2
        killed = leftovers = 0
        outcome = [0, 0]  # old bytes kept, new bytes written
        for _ in range(max(ROUNDS // 2, 1)):
            want = 1 - self.current_version()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.sb.socket)
            s.sendall(json.dumps({"v": 1, "id": 1, "op": "restore",
                                  "args": {"id": self.ids[want]}}).encode()
                      + b"\n")
            time.sleep(self.rng.random() * span)
            self.daemon.kill()
            s.close()
            killed += 1
            outcome[self.current_version() == want] += 1
            left = len(temp_files(self.target))
            self.assertLessEqual(left, 1)
            leftovers += left
            self.restart()
            # The restart's scan removes the dead daemon's temp file and
            # captures whatever the file holds.
            wait_for(lambda: not temp_files(self.target), 15,
                     "stale temp files to be removed")
            self.wait_snapshot(FILES[0], self.versions[self.current_version()],
                               timeout=30)
            self.assert_store_sound()
        print(f"daemon restore: {killed} SIGKILLs mid-restore ({outcome[0]} "
              f"left the old bytes, {outcome[1]} the new), {leftovers} temp "
              f"files left (removed at restart), 0 partial files", flush=True)

    def test_stale_temp_files_go_only_when_their_writer_is_gone(self):
        gone = subprocess.Popen(["true"])
        gone.wait()
        d, name = os.path.split(self.target)
        dead = os.path.join(d, f".{name}.mcpbk-tmp-{gone.pid}-1")
        live = os.path.join(d, f".{name}.mcpbk-tmp-{os.getpid()}-2")
        for p in (dead, live):
            with open(p, "w") as f:
                f.write("partial")
        self.daemon.send_signal(signal.SIGUSR1)
        wait_for(lambda: not os.path.exists(dead), 10,
                 "the dead writer's temp file to be removed")
        self.assertTrue(os.path.exists(live))
        self.assertIn("left by an interrupted restore", self.daemon.log())
        # Temp files are never snapshotted.
        self.assertFalse([s for s in self.snapshots() if "mcpbk-tmp" in
                          s["path"]])
        os.unlink(live)


if __name__ == "__main__":
    unittest.main()

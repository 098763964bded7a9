"""Concurrency: a hundred clients at once while the daemon snapshots a write
storm, an offline mcpbkctl writing the same SQLite store as the running
daemon, and a long request that only reads answered beside the daemon's
loop. The daemon's loop is one thread; requests that only read (list, show,
content, diff, events, verify) are answered by reader threads with their
own connections to the store."""

import base64
import json
import os
import random
import signal
import socket
import threading
import time
import unittest

from harness import (DaemonTestCase, connect, read_line, request, run_ctl,
                     sha256, wait_for)

FILES = [f"~/storm/f{i}.json" for i in range(4)]
CONFIG = """\
watch:
  debounce_ms: 20
  max_delay_ms: 200
  paths:
    - {path: "~/storm/*.json", host: cursor}
log:
  level: info
"""


def doc(tag):
    return json.dumps({"mcpServers": {tag: {"command": "npx",
                                            "args": ["-y", tag]}}}) + "\n"


class Storm:
    """Rewrites FILES in a background thread until stopped."""

    def __init__(self, sb):
        self.sb = sb
        self.final = {}
        self.writes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        rng = random.Random(7)
        while not self._stop.is_set():
            rel = rng.choice(FILES)
            self.final[rel] = doc(f"storm{self.writes}")
            self.sb.write(rel, self.final[rel])
            self.writes += 1
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class ConcurrencyTest(DaemonTestCase):
    config = CONFIG

    def setUp(self):
        super().setUp()
        for rel in FILES:
            self.sb.write(rel, doc("start-" + rel[-7:-5]))
        self.daemon.start()
        for rel in FILES:
            self.wait_snapshot(rel, doc("start-" + rel[-7:-5]))
        self.source = self.snapshots(FILES[0])[-1]
        self.source_bytes = doc("start-f0")

    def settle(self, storm):
        for rel, content in storm.final.items():
            self.wait_snapshot(rel, content, timeout=30)
        r = run_ctl(self.sb, "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_hundred_clients_during_a_storm(self):
        errors = []
        counts = {"list": 0, "show": 0, "dry_run": 0, "restore": 0,
                  "ctl_restore": 0, "subscribe": 0}
        lock = threading.Lock()
        sid = self.source["id"]

        def call(s, op, args, rid):
            s.sendall(json.dumps({"v": 1, "id": rid, "op": op,
                                  "args": args}).encode() + b"\n")
            reply = json.loads(read_line(s))
            if not reply.get("ok") or reply.get("id") != rid:
                raise AssertionError(f"{op}: {reply}")
            return reply["result"]

        def client(n):
            try:
                role = n % 6
                dest = self.sb.path(f"restored/{n}.json")
                if role == 5:
                    r = run_ctl(self.sb, "restore", sid, "--to", dest, "--yes",
                                timeout=60)
                    if r.returncode != 0:
                        raise AssertionError(r.stderr)
                    key = "ctl_restore"
                else:
                    with connect(self.sb.socket, timeout=60) as s:
                        if role == 0:
                            for i in range(5):
                                call(s, "list", {"limit": 20}, i)
                            key = "list"
                        elif role == 1:
                            res = call(s, "show", {"id": sid}, 1)
                            assert res["snapshot"]["id"] == sid, res
                            key = "show"
                        elif role == 2:
                            res = call(s, "restore", {"id": sid,
                                                      "dry_run": True}, 1)
                            assert res["dry_run"] is True, res
                            key = "dry_run"
                        elif role == 3:
                            call(s, "restore", {"id": sid, "to": dest}, 1)
                            key = "restore"
                        else:
                            s.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
                            # Pushed messages may share a read with the
                            # reply: read whole lines.
                            lines = s.makefile("rb")
                            reply = json.loads(lines.readline())
                            assert reply["ok"], reply
                            # The storm makes snapshots; each is pushed.
                            for _ in range(3):
                                msg = json.loads(lines.readline())
                                assert msg["event"] in ("snapshot", "event")
                            lines.close()
                            key = "subscribe"
                if role in (3, 5):
                    with open(dest) as f:
                        assert f.read() == self.source_bytes, dest
                with lock:
                    counts[key] += 1
            except Exception as e:  # reported below
                errors.append(f"client {n}: {e!r}")

        with Storm(self.sb) as storm:
            threads = [threading.Thread(target=client, args=(n,))
                       for n in range(100)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(sum(counts.values()), 100, counts)
        self.settle(storm)
        self.assertTrue(request(self.sb.socket, "status")["ok"])
        print(f"\n100 clients {counts}, {storm.writes} storm writes, "
              f"0 errors", flush=True)

    def test_sighup_reloads_during_requests_and_a_storm(self):
        # Two valid configs, swapped at each SIGHUP: the second watches one
        # more glob and debounces differently, so each reload resolves the
        # watched files again while requests are in flight.
        other = CONFIG.replace("debounce_ms: 20", "debounce_ms: 35").replace(
            '    - {path: "~/storm/*.json", host: cursor}\n',
            '    - {path: "~/storm/*.json", host: cursor}\n'
            '    - {path: "~/other/*.json", host: cursor}\n')
        self.sb.write("~/other/o.json", doc("other"))
        errors = []
        done = threading.Event()
        sid = self.source["id"]

        def requests_loop(n):
            try:
                with connect(self.sb.socket, timeout=60) as s:
                    i = 0
                    while not done.is_set():
                        op, args = [("list", {"limit": 20}),
                                    ("status", {}),
                                    ("show", {"id": sid}),
                                    ("restore", {"id": sid, "to": self.sb.path(
                                        f"restored/{n}.json")})][i % 4]
                        s.sendall(json.dumps({"v": 1, "id": i, "op": op,
                                              "args": args}).encode() + b"\n")
                        reply = json.loads(read_line(s))
                        if not reply.get("ok") or reply.get("id") != i:
                            raise AssertionError(f"{op}: {reply}")
                        i += 1
            except Exception as e:  # reported below
                errors.append(f"client {n}: {e!r}")

        reloads = 0
        with Storm(self.sb) as storm:
            threads = [threading.Thread(target=requests_loop, args=(n,))
                       for n in range(4)]
            for t in threads:
                t.start()
            for reloads in range(1, 41):
                # Renamed into place: a reload still running from the last
                # signal never reads a half-written file.
                tmp = self.sb.config_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write(other if reloads % 2 else CONFIG)
                os.replace(tmp, self.sb.config_file)
                self.daemon.send_signal(signal.SIGHUP)
                time.sleep(0.05)
            done.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        self.settle(storm)
        log = self.daemon.log()
        self.assertGreater(log.count("config reloaded"), 0)
        self.assertNotIn("config reload refused", log)
        # The config in place now (the storm files only) is what is watched.
        status = request(self.sb.socket, "status")["result"]
        self.assertIn(self.sb.path(FILES[0]),
                      [w["path"] for w in status["watched"]])
        print(f"\n{reloads} reloads, {storm.writes} storm writes, 0 errors",
              flush=True)

    def test_offline_client_writes_while_the_daemon_runs(self):
        # A socket nobody listens on: mcpbkctl opens the daemon's store
        # itself, so two processes write one SQLite store.
        nowhere = os.path.join(self.sb.root, "nowhere.sock")
        errors = []
        dests = []

        def offline(n):
            for i in range(5):
                dest = self.sb.path(f"offline/{n}-{i}.json")
                r = run_ctl(self.sb, "--socket", nowhere, "restore",
                            self.source["id"], "--to", dest, "--yes",
                            timeout=60)
                if r.returncode != 0 or b"using the store directly" \
                        not in r.stderr:
                    errors.append(r.stderr.decode())
                    continue
                dests.append(dest)
                r = run_ctl(self.sb, "--socket", nowhere, "--json", "list",
                            "--limit", "5")
                if r.returncode != 0:
                    errors.append(r.stderr.decode())

        with Storm(self.sb) as storm:
            threads = [threading.Thread(target=offline, args=(n,))
                       for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
        self.assertEqual(errors, [])
        self.assertEqual(len(dests), 20)
        for dest in dests:
            with open(dest) as f:
                self.assertEqual(f.read(), self.source_bytes)
            snaps = self.store.snapshots(dest)
            self.assertEqual([s["trigger"] for s in snaps], ["restore"])
            self.assertEqual(snaps[0]["sha256"], sha256(self.source_bytes))
        self.settle(storm)
        # The daemon's own writes and the client's interleave; ids stay
        # unique and increasing.
        ids = [s["id"] for s in self.store.snapshots()]
        self.assertEqual(ids, sorted(set(ids)))
        print(f"\noffline client: 20 restores + 20 lists beside "
              f"{storm.writes} storm writes, 0 errors", flush=True)


# The same settings, watching one big file.
BIG_CONFIG = CONFIG.replace("~/storm/*.json", "~/big.json")


def big_doc(indent, projects=8000):
    """A config (~1.6 MB with 8 000 projects) whose every line changes with
    the indent: a diff between two indents has no line in common, the
    slowest kind. Its line diff stops at its budget (DiffBudget), the rest
    of it (masking, the 3 MB reply) grows with the size: about 3 s in a
    Debug build."""
    projects = {f"/home/u/p{i}": {"history": [f"entry {i}.{j}"
                                              for j in range(6)], "n": i}
                for i in range(projects)}
    return json.dumps({"mcpServers": {"a": {"command": "npx"}},
                       "projects": projects}, indent=indent) + "\n"


class LongReadTest(DaemonTestCase):
    config = BIG_CONFIG

    def two_versions(self):
        """Starts the daemon with big.json indented by 2, then saves it
        indented by 4; returns the two snapshots' ids (their diff is
        slow)."""
        self.sb.write("big.json", big_doc(2))
        self.daemon.start()
        self.wait_snapshot("big.json", big_doc(2))
        self.sb.write("big.json", big_doc(4))
        self.wait_snapshot("big.json", big_doc(4))
        return [s["id"] for s in self.snapshots("big.json")]

    def reading(self):
        reply = request(self.sb.socket, "status")
        self.assertTrue(reply["ok"], reply)
        return [r["op"] for r in reply["result"].get("reading", [])]

    def test_a_long_diff_blocks_neither_clients_nor_captures(self):
        first, second = self.two_versions()
        with connect(self.sb.socket, timeout=120) as slow:
            # Pipelined on one connection: the replies come in order.
            slow.sendall(json.dumps({"v": 1, "id": "diff", "op": "diff",
                                     "args": {"id": first, "id2": second}})
                         .encode() + b"\n" +
                         b'{"v":1,"id":"after","op":"status"}\n')
            # Other connections are answered while the diff runs (before,
            # status waited for it and never saw it running).
            wait_for(lambda: "diff" in self.reading(), timeout=30,
                     what="status showing the diff in progress")
            shown = run_ctl(self.sb, "status")
            self.assertIn(b"in progress: diff for ", shown.stdout)
            listed = request(self.sb.socket, "list", {"limit": 5})
            self.assertTrue(listed["ok"], listed)
            self.assertEqual(len(listed["result"]["snapshots"]), 2)
            # A change saved meanwhile is recorded at once.
            self.sb.write("big.json", big_doc(3))
            self.wait_snapshot("big.json", big_doc(3), timeout=30)
            self.assertIn("diff", self.reading(),
                          "the diff ended before the checks: make it longer")
            diff = json.loads(read_line(slow))
            after = json.loads(read_line(slow))
        self.assertEqual(diff["id"], "diff")
        self.assertTrue(diff["ok"], diff)
        self.assertFalse(diff["result"]["identical"])
        self.assertIn('+    "mcpServers": {', diff["result"]["unified"])
        self.assertIn('-  "mcpServers": {', diff["result"]["unified"])
        self.assertEqual(after["id"], "after")
        self.assertTrue(after["ok"], after)
        self.assertEqual(self.reading(), [])

    def test_a_restore_preview_is_answered_beside_the_loop(self):
        # A restore's preview changes nothing: its diff of two very
        # different versions runs on a reader thread, and a save meanwhile
        # is recorded at once (it waited for the preview on the loop).
        first, _ = self.two_versions()
        with connect(self.sb.socket, timeout=120) as slow:
            slow.sendall(json.dumps({"v": 1, "id": "preview",
                                     "op": "restore",
                                     "args": {"id": first, "dry_run": True}})
                         .encode() + b"\n")
            wait_for(lambda: "restore" in self.reading(), timeout=30,
                     what="status showing the preview in progress")
            self.sb.write("big.json", big_doc(3))
            self.wait_snapshot("big.json", big_doc(3), timeout=30)
            self.assertIn("restore", self.reading(),
                          "the preview ended before the checks")
            preview = json.loads(read_line(slow))
        self.assertTrue(preview["ok"], preview)
        self.assertTrue(preview["result"]["dry_run"])
        self.assertTrue(preview["result"]["changed"])
        with open(self.sb.path("big.json")) as f:
            self.assertEqual(f.read(), big_doc(3))

    def test_long_reads_leave_a_thread_for_the_others(self):
        # Three diffs at once: two are answered, the third waits, and a
        # list is answered meanwhile (before, the three took every reader
        # thread and the list waited for one of them).
        first, second = self.two_versions()
        slow = [connect(self.sb.socket, timeout=120) for _ in range(3)]
        try:
            for n, s in enumerate(slow):
                s.sendall(json.dumps({"v": 1, "id": n, "op": "diff",
                                      "args": {"id": first, "id2": second}})
                          .encode() + b"\n")

            def two_running_one_waiting():
                r = request(self.sb.socket, "status")["result"]
                return ([x["op"] for x in r["reading"]] == ["diff", "diff"]
                        and r["reading_waiting"] == 1)
            wait_for(two_running_one_waiting, timeout=30,
                     what="two diffs running and one waiting")
            listed = request(self.sb.socket, "list", {"limit": 5},
                             timeout=60)
            self.assertTrue(listed["ok"], listed)
            # No diff has ended: the list did not wait for one.
            self.assertTrue(two_running_one_waiting(),
                            "a diff ended before the list was answered")
            for n, s in enumerate(slow):
                reply = json.loads(read_line(s))
                self.assertEqual(reply["id"], n)
                self.assertTrue(reply["ok"], reply)
        finally:
            for s in slow:
                s.close()

    def test_store_deleted_during_a_long_read(self):
        # The daemon reopens its store while a reader is busy with the old
        # one: it waits for nothing (before, it waited for the reader), the
        # reader's reply still comes, and the next reads see the new store.
        first, second = self.two_versions()
        with connect(self.sb.socket, timeout=120) as slow:
            slow.sendall(json.dumps({"v": 1, "id": 1, "op": "diff",
                                     "args": {"id": first, "id2": second}})
                         .encode() + b"\n")
            wait_for(lambda: "diff" in self.reading(), timeout=30,
                     what="status showing the diff in progress")
            os.unlink(self.sb.store_file)
            wait_for(lambda: "deleted or replaced" in json.dumps(
                request(self.sb.socket, "status")["result"]["warnings"]),
                timeout=30, what="the daemon reopening its store")
            self.sb.write("big.json", big_doc(3))
            self.wait_snapshot("big.json", big_doc(3), timeout=30)
            self.assertIn("diff", self.reading(),
                          "the diff ended before the checks: the daemon "
                          "waited for it, or it is too short")
            diff = json.loads(read_line(slow))
        self.assertTrue(diff["ok"], diff)
        listed = request(self.sb.socket, "list")
        self.assertTrue(listed["ok"], listed)
        self.assertEqual([s["id"] for s in listed["result"]["snapshots"]],
                         [s["id"] for s in reversed(self.snapshots())])

    def test_a_subscribed_connection_keeps_replies_among_pushes(self):
        # `events --follow` subscribes, then reads the history: what is
        # pushed before the history's reply must be in it. So requests on
        # a subscribed connection are answered in order with its pushes
        # (on the loop), a long one included.
        first, second = self.two_versions()
        with connect(self.sb.socket, timeout=120) as sub:
            sub.sendall(b'{"v":1,"id":"sub","op":"subscribe"}\n')
            self.assertTrue(json.loads(read_line(sub))["ok"])
            sub.sendall(json.dumps({"v": 1, "id": "diff", "op": "diff",
                                    "args": {"id": first, "id2": second}})
                        .encode() + b"\n")
            # Saved while the diff is (or is about to be) computed.
            self.sb.write("big.json", big_doc(3))
            reply = json.loads(read_line(sub))
            self.assertEqual(reply.get("id"), "diff", reply)
            self.assertTrue(reply["ok"], reply)
            pushed = json.loads(read_line(sub))
            self.assertIn(pushed.get("event"), ("snapshot", "event"), pushed)

    def test_a_half_closed_connection_gets_whole_replies(self):
        # A client that sends its requests and then shuts down its writing
        # side (`nc -N`, `socat`) reads every reply whole, however long.
        self.sb.write("big.json", big_doc(2))
        self.daemon.start()
        first = self.wait_snapshot("big.json", big_doc(2))["id"]
        for newline in (b"\n", b""):
            for op, args in (("content", {"id": first}),
                             ("restore", {"id": first, "dry_run": True}),
                             ("status", {})):
                with connect(self.sb.socket, timeout=60) as s:
                    s.sendall(json.dumps({"v": 1, "id": op, "op": op,
                                          "args": args}).encode() + newline)
                    s.shutdown(socket.SHUT_WR)
                    data = b""
                    while chunk := s.recv(1 << 16):
                        data += chunk
                self.assertTrue(data.endswith(b"\n"), (op, newline, len(data)))
                reply = json.loads(data)
                self.assertTrue(reply["ok"], reply)
                if op == "content":
                    self.assertEqual(base64.b64decode(
                        reply["result"]["content_base64"]).decode(),
                        big_doc(2))

    def test_sigterm_during_a_long_diff_stops_within_2_s(self):
        # A diff's own work cannot be interrupted: the daemon exits without
        # waiting for it (before, it waited for the diff to end).
        first, second = self.two_versions()
        with connect(self.sb.socket, timeout=120) as slow:
            slow.sendall(json.dumps({"v": 1, "id": 1, "op": "diff",
                                     "args": {"id": first, "id2": second}})
                         .encode() + b"\n")
            wait_for(lambda: "diff" in self.reading(), timeout=30,
                     what="status showing the diff in progress")
            start = time.monotonic()
            self.assertEqual(self.daemon.stop(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - start, 2.0)
            # The connection was closed without a reply.
            self.assertEqual(read_line(slow), b"")
        self.assertFalse(os.path.exists(self.sb.socket))
        self.assertIn("exiting without waiting for it", self.daemon.log())
        # Everything recorded is there.
        self.assertEqual(len(self.snapshots("big.json")), 2)

    def test_sigterm_with_quick_reads_in_flight_stops_within_2_s(self):
        # A read answered beside the loop that ended after the stop began
        # armed the 5 s idle timer again, and the daemon waited it out.
        self.sb.write("big.json", big_doc(2))
        self.daemon.start()
        self.wait_snapshot("big.json", big_doc(2))
        conns = [connect(self.sb.socket, timeout=10) for _ in range(3)]
        try:
            for i, c in enumerate(conns):
                op = ("verify", "list", "events")[i]
                c.sendall(json.dumps({"v": 1, "id": i, "op": op}).encode()
                          + b"\n")
            start = time.monotonic()
            self.assertEqual(self.daemon.stop(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - start, 2.0)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    unittest.main()

"""Integration tests of mcpbkctl and the socket protocol: the real daemon,
the real client, and raw socket requests that misbehave on purpose."""

import json
import os
import pty
import signal
import shutil
import socket
import stat
import subprocess
import threading
import unittest

from harness import (DEFAULT_CONFIG, Daemon, DaemonTestCase, MCPBKCTL,
                     Sandbox, connect, read_line, request, request_as_nobody,
                     run_ctl, sha256, wait_for)

CURSOR = "~/.cursor/mcp.json"
TOKEN = "ghp_supersecretvalue0123456789abcd"

ALL_OPS = ["status", "hosts", "list", "show", "content", "diff", "restore",
           "snapshot", "prune", "verify", "events", "subscribe", "pin",
           "unpin", "export", "import", "reload"]


def servers_json(*names, token=TOKEN):
    doc = {"mcpServers": {n: {"command": "npx", "args": ["-y", f"@x/{n}"],
                              "env": {"GITHUB_TOKEN": token}}
                          for n in names}}
    return json.dumps(doc, indent=2) + "\n"


class LineReader:
    """Reads messages line by line from a socket that may deliver several
    lines in one chunk."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def message(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def apply_unified(before, diff):
    """What `patch` makes of a unified diff of `before`: every context and
    removed line is checked against it."""
    old = before.splitlines(keepends=True)
    lines = diff.split("\n")
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    out, at = [], 0
    for i, line in enumerate(lines[2:], start=2):
        if not line:
            continue
        no_newline = i + 1 < len(lines) and lines[i + 1].startswith("\\")
        text = line[1:] + ("" if no_newline else "\n")
        if line.startswith("@@ -"):
            start, length = map(int, line[4:].split(" ")[0].split(","))
            first = start if length == 0 else start - 1
            assert first >= at, line
            out += old[at:first]
            at = first
        elif line[0] in " -":
            assert old[at] == text, (line, old[at])
            at += 1
            if line[0] == " ":
                out.append(text)
        elif line[0] == "+":
            out.append(text)
        else:
            assert line.startswith("\\"), line
    return "".join(out + old[at:])


def ctl_json(testcase, *args, code=0):
    """Runs mcpbkctl --json and returns the parsed object."""
    r = run_ctl(testcase.sb, "--json", *args)
    testcase.assertEqual(r.returncode, code,
                         f"mcpbkctl {args}: {r.stderr.decode()}")
    return json.loads(r.stdout)


class ClientTestCase(DaemonTestCase):
    """A daemon with two snapshots of ~/.cursor/mcp.json: v1 (github, fs)
    and v2 (github only)."""

    def setUp(self):
        super().setUp()
        self.v1 = servers_json("github", "fs")
        self.v2 = servers_json("github")
        self.cursor = self.sb.write(CURSOR, self.v1)
        os.chmod(self.cursor, 0o640)
        self.daemon.start()
        self.id1 = self.wait_snapshot(CURSOR, self.v1)["id"]
        self.sb.write(CURSOR, self.v2)
        self.id2 = self.wait_snapshot(CURSOR, self.v2)["id"]

    def ctl(self, *args, code=0, input=None):
        r = run_ctl(self.sb, *args, input=input)
        self.assertEqual(r.returncode, code,
                         f"mcpbkctl {args}: stdout {r.stdout!r} "
                         f"stderr {r.stderr!r}")
        return r


class CommandsTest(ClientTestCase):

    def test_state_dir_names_the_store_even_with_a_daemon(self):
        # The daemon here serves the sandbox's store; --state-dir names
        # another: that one is read, and the client says so (it answered
        # from the daemon's store, unsaid).
        other = os.path.join(self.sb.root, "other")
        r = self.ctl("--state-dir", other, "list", code=1)
        self.assertIn(f"serves {self.sb.state_dir}, not the state directory "
                      f"asked for, {other}: reading that directory's store "
                      "directly".encode(), r.stderr)
        self.assertIn(b"no store at", r.stderr)
        import sqlite3
        os.makedirs(other, mode=0o700)
        src = sqlite3.connect(self.sb.store_file)
        dst = sqlite3.connect(os.path.join(other, "store.db"))
        src.backup(dst)
        src.close()
        dst.close()
        self.sb.write(CURSOR, servers_json("only-here"))
        self.wait_snapshot(CURSOR, servers_json("only-here"))
        listed = ctl_json(self, "--state-dir", other, "list")["snapshots"]
        self.assertEqual(len(listed), 2)
        self.assertEqual(len(ctl_json(self, "list")["snapshots"]), 3)
        # $MCPBK_STATE_DIR the same.
        r = run_ctl(self.sb, "--json", "list",
                    extra_env={"MCPBK_STATE_DIR": other})
        self.assertEqual(len(json.loads(r.stdout)["snapshots"]), 2)
        self.assertIn(b"reading that directory's store directly", r.stderr)
        # Its own directory named: the daemon answers.
        r = self.ctl("--state-dir", self.sb.state_dir, "list")
        self.assertNotIn(b"reading", r.stderr)
        # A directory another mcpbkd serves: that one is to be asked.
        second = Sandbox(DEFAULT_CONFIG)
        self.addCleanup(second.cleanup)
        other_daemon = Daemon(second)
        other_daemon.start()
        self.addCleanup(other_daemon.kill)
        r = self.ctl("--state-dir", second.state_dir, "status", code=3)
        self.assertIn(f"serves {self.sb.state_dir}, not the state directory "
                      f"asked for, {second.state_dir}; mcpbkd (pid "
                      f"{other_daemon.proc.pid}) serves that one: reach it "
                      "with its --socket".encode(), r.stderr)
        # Another config named: the daemon's own settings apply, and the
        # client says whose.
        other_config = os.path.join(self.sb.root, "other.yaml")
        with open(other_config, "w") as f:
            f.write("retention:\n  max_count: 1\n")
        r = self.ctl("--config", other_config, "prune", "--dry-run")
        self.assertIn(b"uses its own config, ", r.stderr)
        self.assertIn(f"not --config {other_config}: its settings apply to "
                      "what it does".encode(), r.stderr)
        r = run_ctl(self.sb, "prune", "--dry-run",
                    extra_env={"MCPBK_CONFIG": other_config})
        self.assertIn(f"not $MCPBK_CONFIG {other_config}: its settings "
                      "apply to what it does".encode(), r.stderr)
        # A --config that is not there is a mistake, not the defaults.
        missing = os.path.join(self.sb.root, "missing.yaml")
        r = self.ctl("--config", missing, "prune", code=2)
        self.assertEqual(f"mcpbkctl: --config {missing}: no such file\n"
                         .encode(), r.stderr)
        r = run_ctl(self.sb, "prune", extra_env={"MCPBK_CONFIG": missing})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(f"mcpbkctl: $MCPBK_CONFIG {missing}: no such file\n"
                         .encode(), r.stderr)

    def test_status(self):
        out = self.ctl("status").stdout.decode()
        self.assertIn("mcpbkd", out)
        self.assertIn("store:", out)
        self.assertIn("~/.cursor/mcp.json", out)
        # Counts agree with their nouns (v2 removed a server: one event).
        self.assertIn(" 2 snapshots of 1 file, 2 blobs, 1 event\n", out)
        self.assertNotIn("\x1b[", out)  # no colour when not a tty
        st = ctl_json(self, "status")
        self.assertIsInstance(st["instance_id"], str)
        self.assertEqual(st["pid"], self.daemon.proc.pid)
        self.assertFalse(st["offline"])
        self.assertEqual(sorted(st["ops"]), sorted(ALL_OPS))
        self.assertGreaterEqual(st["store"]["snapshots"], 2)
        self.assertTrue(any(w["path"] == self.cursor for w in st["watched"]))

    def test_status_names_a_file_that_broke(self):
        # A hand edit that does not parse, then an installer's reset to no
        # servers: status says so, with the last good snapshot to go back
        # to; online and offline alike. A file that never had servers is no
        # problem, and a repaired one is none any more.
        self.sb.write(VSCODE_SETTINGS, '{"editor.fontSize": 13}\n')
        self.wait_snapshot(VSCODE_SETTINGS, '{"editor.fontSize": 13}\n')
        broken = self.v2[:-9]
        self.sb.write(CURSOR, broken)
        bad = self.wait_snapshot(CURSOR, broken)["id"]
        good = (f"its newest snapshot #{bad} does not parse; the last good "
                f"one is #{self.id2} (1 server): mcpbkctl diff {self.id2} "
                f"shows what changed since, mcpbkctl restore {self.id2} "
                f"puts it back")
        out = self.ctl("status").stdout.decode()
        self.assertIn(f"watching, does not parse (#{bad})", out)
        self.assertIn(f"problem: ~/.cursor/mcp.json: {good}\n", out)
        self.assertNotIn("settings.json:", out)
        entry = [w for w in ctl_json(self, "status")["watched"]
                 if w["path"] == self.cursor][0]
        self.assertEqual((entry["problem"], entry["latest_id"],
                          entry["last_good_id"], entry["last_good_servers"]),
                         ("unparseable", bad, self.id2, 1))
        emptied = '{"mcpServers": {}}\n'
        self.sb.write(CURSOR, emptied)
        empty = self.wait_snapshot(CURSOR, emptied)["id"]
        self.daemon.stop()
        r = run_ctl(self.sb, "status")
        self.assertEqual(r.returncode, 3, r.stderr)
        out = r.stdout.decode()
        self.assertIn(f"offline, no MCP servers (#{empty})", out)
        self.assertIn(f"problem: ~/.cursor/mcp.json: its newest snapshot "
                      f"#{empty} has no MCP servers; the last good one is "
                      f"#{self.id2} (1 server)", out)
        self.daemon.start()
        self.sb.write(CURSOR, self.v1)
        self.wait_snapshot(CURSOR, self.v1)
        out = self.ctl("status").stdout.decode()
        self.assertNotIn("problem:", out)
        self.assertNotIn("does not parse", out)

    def test_a_config_with_mistakes_does_not_lock_the_client_out(self):
        # The running daemon keeps the config it started with; the client
        # reports each mistake in the file and goes on with the rest.
        with open(self.sb.config_file) as f:
            good = f.read()
        self.sb.write_config(good + "retention:\n  max_count: ten\nbogus: 1\n")
        r = self.ctl("list", "--json")
        self.assertEqual([s["id"] for s in json.loads(r.stdout)["snapshots"]],
                         [self.id2, self.id1])
        err = r.stderr.decode()
        self.assertIn('retention.max_count: expected a non-negative integer, '
                      'got "ten"', err)
        self.assertIn("bogus: unknown key", err)
        self.assertIn("going on with the default for each key above", err)
        self.assertTrue(all(line.startswith("mcpbkctl: ")
                            for line in err.splitlines()), err)
        # Even a file that does not parse: a restore still works.
        self.sb.write_config("watch: [\n")
        r = self.ctl("restore", str(self.id1), "--yes")
        self.assertIn(b"(syntax)", r.stderr)
        with open(self.cursor) as f:
            self.assertEqual(f.read(), self.v1)
        # Without the daemon, retention rules with mistakes delete nothing:
        # the defaults in their place (max_age_days 90, max_count 100)
        # deleted what the user meant to keep. prune refuses; a restore
        # (which prunes its path after its record) keeps every snapshot.
        self.assertEqual(self.daemon.stop(), 0)
        self.sb.write_config(good + "retention:\n  max_count: 1\n"
                             "  max_age_days: never\n")
        before = {s["id"] for s in self.snapshots(CURSOR)}
        self.assertGreater(len(before), 2)
        for args in (["prune"], ["prune", "--dry-run"]):
            r = self.ctl(*args, code=1)
            self.assertIn(b"the config's retention rules have mistakes",
                          r.stderr)
        self.ctl("restore", str(self.id2), "--yes")
        after = {s["id"] for s in self.snapshots(CURSOR)}
        self.assertTrue(before < after, (before, after))
        # The same rules without the mistake do delete.
        self.sb.write_config(good + "retention:\n  max_count: 1\n"
                             "  min_keep: 0\n  keep_daily: 0\n")
        self.ctl("prune")
        self.assertLess(len(self.snapshots(CURSOR)), len(after))

    def test_hosts(self):
        out = self.ctl("hosts").stdout.decode()
        self.assertIn("cursor (Cursor)", out)
        hosts = ctl_json(self, "hosts")["hosts"]
        cursor = next(h for h in hosts if h["name"] == "cursor")
        f = next(f for f in cursor["files"] if f["path"] == self.cursor)
        self.assertTrue(f["exists"])
        self.assertTrue(f["watched"])
        self.assertEqual(f["snapshots"], 2)

    def test_list(self):
        snaps = ctl_json(self, "list")["snapshots"]
        self.assertEqual([s["id"] for s in snaps][:2], [self.id2, self.id1])
        s = snaps[0]
        for key in ("id", "host", "path", "taken_at", "sha256", "size",
                    "mode", "trigger", "risk", "servers", "summary", "note",
                    "pinned"):
            self.assertIn(key, s)
        self.assertRegex(s["taken_at"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(s["sha256"], sha256(self.v2))
        self.assertEqual(s["mode"], 0o640)
        # Filters.
        self.assertEqual(len(ctl_json(self, "list", "--limit", "1")
                             ["snapshots"]), 1)
        self.assertEqual(ctl_json(self, "list", "--host", "vscode")
                         ["snapshots"], [])
        self.assertEqual(len(ctl_json(self, "list", "--path", CURSOR.replace(
            "~", self.sb.home))["snapshots"]), 2)
        self.assertEqual(len(ctl_json(self, "list", "--newer-than", "1h")
                         ["snapshots"]), 2)
        self.assertEqual(ctl_json(self, "list", "--since", "2999-01-01")
                         ["snapshots"], [])
        # Nothing found: said with the file a relative --path named.
        r = subprocess.run([MCPBKCTL, "list", "--path", ".cursor/mcp.json"],
                           env=self.sb.env, cwd=self.sb.root,
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(
            r.stdout.decode(),
            f"no snapshots of {self.sb.root}/.cursor/mcp.json "
            "(`mcpbkctl hosts` lists the files watched)\n")
        self.assertEqual(self.ctl("list", "--host", "vscode").stdout,
                         b"no snapshots matching the filters given\n")
        out = self.ctl("list").stdout.decode()
        header = out.splitlines()[0].split()
        self.assertEqual(header, ["ID", "WHEN", "HOST", "PATH", "SIZE",
                                  "TRIGGER", "RISK", "SUMMARY"])
        self.assertIn("~/.cursor/mcp.json", out)
        self.assertRegex(out, r"\((just now|\d+[smhd] ago)\)")
        # Usage errors exit 2.
        self.ctl("list", "--newer-than", "soon", code=2)
        self.ctl("list", "--limit", "many", code=2)
        for bad in ("0", "-1", "2.5"):
            r = self.ctl("list", "--limit", bad, code=2)
            self.assertIn(b"--limit: must be a whole number of at least 1, "
                          b"not " + bad.encode(), r.stderr)
        self.ctl("events", "--limit", "0", code=2)
        self.ctl("no-such-command", code=2)
        # An empty filter is a mistake, not "everything".
        for option in ("--path", "--since", "--host", "--newer-than"):
            r = self.ctl("list", option, "", code=2)
            self.assertIn(f"{option}: must not be empty".encode(), r.stderr)
        # And an empty place for the daemon's files: not the default.
        for option in ("--state-dir", "--socket", "--config"):
            r = self.ctl(option, "", "status", code=2)
            self.assertIn(f"{option}: must not be empty".encode(), r.stderr)
            # Written OPTION=, it does not take the next word instead.
            for args in ((option + "=", "status", "status"),
                         ("status", option + "=")):
                r = self.ctl(*args, code=2)
                self.assertIn(f"{option}: must not be empty".encode(),
                              r.stderr)
        # So is an empty file name where a command writes or reads one.
        for args, option in ((("export", "-o", ""), "--output"),
                             (("restore", self.id1, "--to", ""), "--to"),
                             (("import", ""), "FILE"),
                             (("snapshot", ""), "PATH"),
                             (("snapshot", "--host", ""), "--host")):
            r = self.ctl(*args, code=2)
            self.assertIn(f"{option}: must not be empty".encode(), r.stderr)
        # A file that is not watched needs its host to be snapshotted.
        r = self.ctl("snapshot", self.sb.path("~/elsewhere.json"), code=1)
        self.assertIn(b"elsewhere.json is not a watched file; to snapshot it, "
                      b"give its host (`mcpbkctl snapshot PATH --host HOST`)",
                      r.stderr)
        # A host that is not in the catalog is a usage error, everywhere.
        for args in (("list",), ("export", "-o", self.sb.path("x.mcpbk")),
                     ("snapshot",), ("restore", "--last-good", "--yes")):
            r = self.ctl(*args, "--host", "nonesuch", code=2)
            self.assertIn(b'mcpbkctl: --host: unknown host "nonesuch" '
                          b'(known: claude-desktop, ', r.stderr)

    def test_tables_line_up_and_print_no_control_characters(self):
        # A wide (CJK) path keeps the columns after it lined up; a server
        # name with an escape sequence (from a cloned repository's
        # .mcp.json, say) is shown escaped, not sent to the terminal.
        import unicodedata

        def columns(text):
            return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
                       for c in text)
        self.sb.write_config(DEFAULT_CONFIG.replace(
            "watch:\n", "watch:\n  paths:\n    - {path: \"~/项目/mcp.json\", "
            "host: cursor}\n"))
        self.assertTrue(request(self.sb.socket, "reload")["ok"])
        red = "evil\x1b[31mred"
        self.sb.write("~/项目/mcp.json", servers_json("数据库", red))
        self.wait_snapshot("~/项目/mcp.json", servers_json("数据库", red))
        self.sb.write("~/项目/mcp.json", servers_json("数据库"))
        self.wait_snapshot("~/项目/mcp.json", servers_json("数据库"))
        out = self.ctl("list", "--limit", "3").stdout.decode()
        self.assertNotIn("\x1b", out)
        self.assertIn("evil\\x1b[31mred", out)
        lines = out.splitlines()
        at = [columns(line[:line.index(" B ")]) for line in lines[1:]]
        self.assertEqual(len(set(at)), 1, out)
        ids = [s["id"] for s in self.snapshots("~/项目/mcp.json")]
        out = self.ctl("show", ids[-1]).stdout.decode()
        self.assertNotIn("\x1b", out)
        self.assertIn("evil\\x1b[31mred", out)

    def test_show_names_project_servers_from_home(self):
        # ~/.claude.json's project servers are NAME@/their/dir: shown from ~
        # (the JSON keeps the full path).
        doc = {"mcpServers": {"g": {"command": "npx"}},
               "projects": {self.sb.path("~/work/p"): {
                   "mcpServers": {"local": {"command": "x"}}}}}
        text = json.dumps(doc, indent=2)
        self.sb.write("~/.claude.json", text)
        snap = self.wait_snapshot("~/.claude.json", text)
        out = self.ctl("show", snap["id"]).stdout.decode()
        self.assertIn("\n  local@~/work/p: {", out)
        self.assertNotIn(self.sb.path("~"), out)
        full = "local@" + self.sb.path("~/work/p")
        self.assertIn(full, ctl_json(self, "show", snap["id"])["servers"])

    def test_show_masks_secrets(self):
        out = self.ctl("show", self.id1).stdout.decode()
        self.assertIn("github", out)
        self.assertIn("fs", out)
        self.assertNotIn(TOKEN, out)
        self.assertIn(TOKEN[-4:], out)
        out = self.ctl("show", self.id1, "--show-secrets").stdout.decode()
        self.assertIn(TOKEN, out)
        shown = ctl_json(self, "show", self.id1)
        self.assertEqual(sorted(shown["servers"]), ["fs", "github"])
        self.assertNotIn(TOKEN, json.dumps(shown))
        r = self.ctl("show", "999999", code=1)
        # Said once: the reply's one detail is its message.
        self.assertEqual(r.stderr,
                         b"mcpbkctl: no snapshot with id 999999 (mcpbkctl list shows "
                         b"the ids there are; retention removes old ones "
                         b"unless pinned) [not_found]\n")

    def test_show_masks_a_secret_where_it_is_repeated(self):
        # The value of a secret env entry repeated in args and in a URL was
        # shown in clear by `show` (a masked `diff` masked it).
        key = "mysupersecretvalue99"
        doc = {"mcpServers": {"api": {
            "command": "npx", "args": ["--key=" + key, "--verbose"],
            "url": "https://h.example/mcp?k=" + key,
            "env": {"API_KEY": key}}}}
        text = json.dumps(doc, indent=2) + "\n"
        self.sb.write(CURSOR, text)
        sid = self.wait_snapshot(CURSOR, text)["id"]
        for args in (("show", sid), ("--json", "show", sid)):
            out = self.ctl(*args).stdout.decode()
            self.assertNotIn(key, out, args)
            self.assertIn("e99", out, args)
        shown = ctl_json(self, "show", sid)["servers"]["api"]
        self.assertEqual(shown["args"][1], "--verbose")
        self.assertTrue(shown["url"].startswith("https://h.example/mcp?k="))
        self.assertIn(key, self.ctl("show", sid,
                                    "--show-secrets").stdout.decode())

    def test_cat_is_byte_exact_even_for_binary(self):
        self.assertEqual(self.ctl("cat", self.id1).stdout, self.v1.encode())
        blob = b"\xff\xfe{not json\x00\x80 \xe2\x28\xa1\n"
        self.sb.write(CURSOR, blob, mode="wb")
        snap = self.wait_snapshot(CURSOR, blob)
        self.assertEqual(snap["risk"], "critical")
        self.assertEqual(self.ctl("cat", snap["id"]).stdout, blob)
        # Non-UTF-8 content never breaks the JSON replies.
        listed = ctl_json(self, "list")["snapshots"]
        self.assertEqual(listed[0]["id"], snap["id"])
        diff = ctl_json(self, "diff", self.id1, snap["id"])
        self.assertIn("unified", diff)
        content = ctl_json(self, "cat", snap["id"])
        import base64
        self.assertEqual(base64.b64decode(content["content_base64"]), blob)

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_output_to_a_full_disk_fails(self):
        # `mcpbkctl cat 42 > copy.json` on a full disk exited 0 and left an
        # empty copy; every command's output is now checked once flushed.
        for args in (["cat", self.id1], ["list"], ["--json", "status"],
                     ["diff", self.id1]):
            with open("/dev/full", "wb") as full:
                r = subprocess.run([MCPBKCTL] + [str(a) for a in args],
                                   env=self.sb.env, stdout=full,
                                   stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(r.returncode, 1, f"{args}: {r.stderr!r}")
            self.assertIn(b"standard output", r.stderr, args)
            self.assertEqual(r.stderr.count(b"standard output"), 1, args)

    def test_closed_standard_descriptors(self):
        # Run with stdout closed (`>&-`), the client's socket took fd 1: what
        # it printed went to the daemon, which ran it as requests (a
        # snapshot's bytes could pin or restore), and it exited 0. With stdin
        # closed, the restore's question read the daemon's socket and hung.
        self.sb.write(CURSOR, '{"v":1,"id":9,"op":"pin","args":{"id":%d}}\n'
                      % self.id1)
        ping = self.wait_snapshot(CURSOR, '{"v":1,"id":9,"op":"pin","args":'
                                  '{"id":%d}}\n' % self.id1)["id"]

        def run(redirect, *args):
            return subprocess.run(
                ["/bin/sh", "-c", 'exec "$0" "$@" ' + redirect, MCPBKCTL]
                + [str(a) for a in args], env=self.sb.env,
                capture_output=True, timeout=20)
        for args in (["cat", ping], ["list"], ["status"], ["show", self.id1]):
            r = run(">&-", *args)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(b"standard output", r.stderr, args)
        self.assertFalse(ctl_json(self, "show", self.id1)["snapshot"]["pinned"])
        # Following, it stops at once (it ran until the daemon did).
        r = run(">&-", "events", "--follow")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"standard output", r.stderr)
        r = run("<&-", "restore", self.id1)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"no answer on standard input", r.stderr)
        # Closed stderr: the error goes nowhere, the exit code still says it.
        r = run("2>&-", "show", 999)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, b"")

    def test_control_characters_in_a_file_are_shown_escaped(self):
        # A file holding escape sequences (not JSON, but a file is what it
        # is): `diff` and a restore's preview printed them raw, so a
        # terminal cleared its screen, set its title, or hid the lines above
        # the restore's question.
        evil = '{"mcpServers":{}}\x1b[2J\x1b]0;pwned\x07\r\n'
        self.sb.write(CURSOR, evil)
        bad = self.wait_snapshot(CURSOR, evil)["id"]
        self.sb.write(CURSOR, self.v2)
        self.wait_snapshot(CURSOR, self.v2)
        for args in (["diff", self.id2, bad], ["diff", bad],
                     ["restore", bad, "--dry-run"]):
            r = self.ctl(*args)
            self.assertNotIn(b"\x1b", r.stdout, args)
            self.assertNotIn(b"\x07", r.stdout, args)
            # A CRLF line end stays as it is.
            self.assertIn(b'{"mcpServers":{}}\\x1b[2J\\x1b]0;pwned\\x07\r\n',
                          r.stdout, args)
        # Error messages naming such a path escape it too.
        r = self.ctl("snapshot", self.sb.path("~/x\x1b[31my.json"), code=1)
        self.assertNotIn(b"\x1b", r.stderr)
        self.assertIn(b"x\\x1b[31my.json", r.stderr)
        r = self.ctl("list", "--path", self.sb.path("~/x\x1b[2Jy.json"))
        self.assertIn(b"no snapshots of ~/x\\x1b[2Jy.json", r.stdout)

    def test_diff(self):
        out = self.ctl("diff", self.id1).stdout.decode()
        self.assertIn("fs (removed)", out)
        self.assertIn("--- #%d" % self.id1, out)
        self.assertNotIn(TOKEN, out)
        d = ctl_json(self, "diff", self.id1)
        self.assertEqual(d["to"]["kind"], "file")
        self.assertEqual(d["servers"], [{"name": "fs", "kind": "removed",
                                         "fields": []}])
        self.assertFalse(d["identical"])
        d = ctl_json(self, "diff", self.id1, self.id2)
        self.assertEqual(d["to"]["snapshot"]["id"], self.id2)
        d = ctl_json(self, "diff", self.id2)
        self.assertTrue(d["identical"])
        self.assertEqual(d["unified"], "")
        out = self.ctl("diff", self.id1, "--show-secrets").stdout.decode()
        self.assertIn(TOKEN, out)
        # Against a file deleted since: it is said missing, not "emptied".
        os.remove(self.cursor)
        d = ctl_json(self, "diff", self.id1)
        self.assertFalse(d["to"]["exists"])
        self.assertEqual(d["summary"], "missing: the file does not exist now")
        out = self.ctl("diff", self.id1).stdout.decode()
        self.assertIn("missing: the file does not exist now", out)
        self.assertNotIn("emptied", out)

    def test_diff_of_a_file_rewritten_in_another_layout(self):
        # Every line re-indented, 60 000 lines in all: a shortest line diff
        # takes the daemon's line diff O(lines x changes), minutes at 16 MB.
        # It now stops at its budget and shows every line from the first
        # difference to the last removed, then added, and says so.
        doc = json.loads(self.v2)
        doc["mcpServers"]["github"]["args"] = [f"--opt-{i}"
                                               for i in range(30000)]
        del doc["mcpServers"]["github"]["env"]  # no masked line
        two = json.dumps(doc, indent=2) + "\n"
        four = json.dumps(doc, indent=4) + "\n"
        ids = []
        for text in (two, four):
            self.sb.write(CURSOR, text)
            ids.append(ctl_json(self, "snapshot", self.cursor)
                       ["snapshots"][0]["id"])
        d = ctl_json(self, "diff", *ids)
        self.assertTrue(d["unified_whole"])
        self.assertEqual(apply_unified(two, d["unified"]), four)
        out = self.ctl("diff", *ids).stdout.decode()
        self.assertIn("(too different to compare line by line: every line "
                      "from the first difference to the last is shown "
                      "removed, then added)", out)
        # The restore's preview says the same; a small change is a
        # shortest diff and says nothing.
        d = ctl_json(self, "restore", ids[0], "--dry-run")
        self.assertTrue(d["unified_whole"])
        self.assertEqual(apply_unified(four, d["unified"]), two)
        d = ctl_json(self, "diff", self.id1, self.id2)
        self.assertFalse(d["unified_whole"])
        d = ctl_json(self, "diff", self.id1, self.id2, "--show-secrets")
        self.assertEqual(apply_unified(self.v1, d["unified"]), self.v2)
        self.assertNotIn("too different", self.ctl("diff", self.id1,
                                                   self.id2).stdout.decode())

    def test_a_change_of_a_secret_alone_is_not_called_no_difference(self):
        # A token changed except in its last four characters masks to the
        # same line: the masked diff is empty, but the files differ. Before,
        # `diff` and the restore's preview said "(no differences)".
        other = TOKEN[:4] + "X" + TOKEN[5:]
        self.sb.write(CURSOR, servers_json("github", token=other))
        id3 = self.wait_snapshot(CURSOR, servers_json("github",
                                                      token=other))["id"]
        for args in (("diff", self.id2, id3), ("diff", self.id2),
                     ("restore", self.id2, "--dry-run")):
            out = self.ctl(*args).stdout.decode()
            self.assertIn("(only secret values differ: --show-secrets shows "
                          "them)", out, args)
            self.assertNotIn("(no differences)", out, args)
            self.assertNotIn(TOKEN, out)
        out = self.ctl("diff", self.id2, id3, "--show-secrets").stdout.decode()
        self.assertIn("+" + ' ' * 8 + f'"GITHUB_TOKEN": "{other}"', out)

    def test_snapshot_pin_unpin(self):
        r = ctl_json(self, "snapshot", CURSOR.replace("~", self.sb.home),
                     "--note", "before the upgrade")
        snap = r["snapshots"][0]
        self.assertEqual(snap["trigger"], "manual")
        self.assertTrue(snap["pinned"])
        self.assertEqual(snap["note"], "before the upgrade")
        self.assertEqual(snap["sha256"], sha256(self.v2))
        # Always recorded, even unchanged; by host too.
        r = ctl_json(self, "snapshot", "--host", "cursor")
        self.assertEqual(len(r["snapshots"]), 1)
        self.assertFalse(r["snapshots"][0]["pinned"])
        r = self.ctl("snapshot", self.sb.path("not-watched.json"), code=1)
        self.assertIn(b"args.paths[0]", r.stderr)
        # Nothing recorded is a failure: a host with no file yet, a watched
        # path that is not a regular file.
        r = self.ctl("snapshot", "--host", "windsurf", code=1)
        self.assertIn(b"none of host windsurf's files exists here", r.stderr)
        windsurf = self.sb.path("~/.codeium/windsurf/mcp_config.json")
        os.makedirs(os.path.dirname(windsurf), exist_ok=True)
        os.mkfifo(windsurf)
        try:
            r = self.ctl("snapshot", "--host", "windsurf", code=1)
            self.assertIn(b"mcpbkctl: no snapshot taken", r.stderr)
            r = self.ctl("snapshot", windsurf, code=1)
            self.assertIn(b"skipped ~/.codeium/windsurf/mcp_config.json: ",
                          r.stdout)
            r = self.ctl("snapshot", windsurf, self.cursor, code=1)
            self.assertIn(b"manual", r.stdout)
        finally:
            os.remove(windsurf)
        self.ctl("pin", self.id1)
        self.assertTrue(ctl_json(self, "show", self.id1)["snapshot"]["pinned"])
        out = self.ctl("unpin", self.id1).stdout.decode()
        self.assertIn("unpinned snapshot #%d" % self.id1, out)
        self.assertFalse(ctl_json(self, "show", self.id1)["snapshot"]["pinned"])

    def test_prune_verify_events(self):
        r = ctl_json(self, "prune", "--dry-run")
        self.assertTrue(r["dry_run"])
        self.assertEqual(r["count"], len(r["deleted"]))
        self.assertIn("would delete", self.ctl("prune", "--dry-run").stdout
                      .decode())
        r = ctl_json(self, "prune")
        self.assertIn("bytes_freed", r)
        v = ctl_json(self, "verify")
        self.assertTrue(v["ok"])
        self.assertGreaterEqual(v["snapshots_checked"], 2)
        self.assertIn(b"ok:", self.ctl("verify").stdout)
        # A risky change is an event.
        self.sb.write(CURSOR, "")
        self.wait_snapshot(CURSOR, "")
        events = ctl_json(self, "events")["events"]
        self.assertTrue(any(e["path"] == self.cursor and
                            e["severity"] == "critical" for e in events))
        out = self.ctl("events", "--limit", "5").stdout.decode()
        self.assertIn("SEVERITY", out)
        # Paths in messages are shown from ~, as in the PATH column.
        self.assertIn("critical risk change to ~/.cursor/mcp.json: emptied",
                      out)
        self.assertNotIn(self.sb.home, out)
        # The event log keeps its newest 10 000 events (prune trims it, as
        # the daemon's periodic retention run does).
        import sqlite3
        db = sqlite3.connect(self.sb.store_file)
        with db:
            db.executemany(
                "INSERT INTO events(at, severity, kind, path, message, "
                "details) VALUES (1, 'info', 'filler', '', ?, '{}')",
                [(f"filler {i}",) for i in range(10_000)])
        total = db.execute("SELECT count(*) FROM events").fetchone()[0]
        newest = db.execute("SELECT max(id) FROM events").fetchone()[0]
        db.close()
        out = self.ctl("prune").stdout.decode()
        dropped = total - 10_000
        self.assertIn(f"; the event log dropped its {dropped} oldest "
                      f"event{'' if dropped == 1 else 's'}\n", out)
        events = self.store.events()
        self.assertEqual(len(events), 10_000)
        self.assertEqual(events[-1]["id"], newest)
        self.assertNotIn("; the event log",
                         self.ctl("prune").stdout.decode())

    def test_verify_fails_on_a_tampered_blob(self):
        import sqlite3
        self.daemon.stop()
        con = sqlite3.connect(self.sb.store_file)
        con.execute("UPDATE blobs SET data = ? WHERE sha256 = ?",
                    (b"garbage", sha256(self.v1)))
        con.commit()
        con.close()
        self.daemon.start()
        r = self.ctl("verify", code=1)
        self.assertIn(b"problem", r.stdout)
        r = self.ctl("cat", self.id1, code=1)
        self.assertIn(b"integrity_error", r.stderr)

    def test_events_follow_streams(self):
        proc = subprocess.Popen([MCPBKCTL, "events", "--follow", "--json"],
                                env=self.sb.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            raw = []
            reader = threading.Thread(
                target=lambda: [raw.append(l) for l in proc.stdout],
                daemon=True)
            reader.start()

            class Lines:  # each line parsed as it is looked at
                def __iter__(self):
                    return (json.loads(l) for l in list(raw))
            lines = Lines()
            # Wait until the subscription is live (history printed or the
            # daemon counts the connection), then change the file.
            wait_for(lambda: request(self.sb.socket, "status")["result"]
                     .get("connections", 0) >= 2, 10, "the subscriber")
            content = servers_json("github", "slack")
            self.sb.write(CURSOR, content)
            msg = wait_for(lambda: next(
                (m for m in lines if m.get("event") == "snapshot" and
                 m["data"]["sha256"] == sha256(content)), None), 10,
                "a streamed snapshot")
            self.assertEqual(msg["v"], 1)
            self.assertEqual(msg["data"]["path"], self.cursor)
            # The daemon going away ends the stream with one more line: the
            # error, as JSON on one line like the rest (it was six).
            self.assertEqual(self.daemon.stop(), 0)
            self.assertEqual(proc.wait(10), 3)
            reader.join(10)
            self.assertEqual(json.loads(raw[-1])["error"]["code"],
                             "unreachable")
            for line in raw:
                json.loads(line)
        finally:
            proc.kill()
            proc.wait()

    def test_usage_and_help(self):
        # Every subcommand is listed, though a command defines only its own.
        out = self.ctl("--help").stdout.decode()
        for name in ("status", "hosts", "list", "show", "cat", "diff",
                     "restore", "snapshot", "pin", "unpin", "prune", "verify",
                     "events", "doctor", "export", "import"):
            self.assertRegex(out, rf"\n  {name} ", name)
        self.assertRegex(self.ctl("--version").stdout.decode(),
                         r"^mcpbkctl \d+\.\d+\.\d+\n$")
        out = self.ctl("restore", "--help").stdout.decode()
        self.assertIn("--last-good", out)
        self.assertNotIn("at most N snapshots", out)  # list's --limit
        # Usage errors say what is wrong, as "mcpbkctl: ...", and exit 2.
        commands = ("the commands are status, hosts, list, show, cat, diff, "
                    "restore, snapshot, pin, unpin, prune, verify, events, "
                    "doctor, export, import\n")
        self.assertEqual(self.ctl(code=2).stderr.decode(),
                         "mcpbkctl: give a command; " + commands)
        self.assertEqual(self.ctl("--json", "lsit", code=2).stderr.decode(),
                         'mcpbkctl: unknown command "lsit"; ' + commands)
        self.assertTrue(self.ctl("list", "--bogus", code=2).stderr.startswith(
            b"mcpbkctl: The following argument was not expected: --bogus\n"))
        for args, bad in ((("show", "-5"), "ID: -5"),
                          (("restore", "abc", "--yes"), "ID: abc"),
                          (("pin", "0"), "ID: 0"),
                          (("cat", "1.5"), "ID: 1.5"),
                          (("diff", "1", "x"), "ID2: x")):
            name, value = bad.split(": ")
            self.assertTrue(self.ctl(*args, code=2).stderr.decode().startswith(
                f"mcpbkctl: {name}: not a snapshot id (a whole number of at "
                f"least 1): {value}\n"), args)
        # An option value that names another subcommand is still a value.
        r = self.ctl("snapshot", self.cursor, "--note", "list")
        snap = self.snapshots(CURSOR)[-1]
        self.assertEqual(snap["note"], "list", r.stdout)
        self.ctl("--json", "list", "--limit", "1")

    def test_json_failures_are_json_too(self):
        # With --json every failure is one JSON object on stdout: usage
        # errors, an unreachable daemon and a daemon's error reply alike.
        def error(*args, code):
            r = self.ctl("--json", *args, code=code)
            return json.loads(r.stdout)["error"]
        e = error("lsit", code=2)
        self.assertEqual(e["code"], "usage")
        self.assertTrue(e["message"].startswith('unknown command "lsit"'))
        e = error("restore", "abc", "--yes", code=2)
        self.assertEqual(e["code"], "usage")
        self.assertIn("not a snapshot id", e["message"])
        self.assertEqual(error("show", "999999", code=1)["code"], "not_found")
        self.assertTrue(error("restore", self.id1, code=1)["message"]
                        .startswith("restore cancelled: no answer"))
        r = run_ctl(self.sb, "--json", "--socket", self.sb.path("nowhere"),
                    "events", "--follow")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "unreachable")

    def test_import_usage_errors(self):
        self.ctl("import", self.sb.path("b.mcpbk"), "--on-conflict",
                 "sideways", code=2)
        self.ctl("export", code=2)  # -o is required
        r = self.ctl("export", "-o", "-", code=2)
        self.assertIn(b"a bundle is not written to standard output", r.stderr)
        r = self.ctl("import", "-", code=2)
        self.assertIn(b"a bundle is not read from standard input", r.stderr)


class RestoreTest(ClientTestCase):

    def test_round_trip_is_byte_exact_and_keeps_the_mode(self):
        before = len(self.snapshots(CURSOR))
        r = self.ctl("restore", self.id1, "--yes")
        self.assertIn(b"restored #%d" % self.id1, r.stdout)
        # The replaced file is held open only until the reply is sent (its
        # blocks are freed then, not during the rename), not until the next
        # request: nothing else is asked before this check.
        fd_dir = f"/proc/{self.daemon.proc.pid}/fd"

        def replaced_files_held():
            held = []
            for name in os.listdir(fd_dir):
                try:
                    link = os.readlink(os.path.join(fd_dir, name))
                except FileNotFoundError:
                    continue
                if link.startswith(self.cursor) and link.endswith("(deleted)"):
                    held.append(link)
            return held
        wait_for(lambda: not replaced_files_held(), timeout=5,
                 what="the daemon to close the replaced file")
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        self.assertEqual(stat.S_IMODE(os.stat(self.cursor).st_mode), 0o640)
        snaps = self.snapshots(CURSOR)
        self.assertEqual(snaps[-1]["trigger"], "restore")
        self.assertEqual(snaps[-1]["sha256"], sha256(self.v1))
        self.assertEqual(len(snaps), before + 1)
        # The daemon does not record the restore's own write again: once a
        # later change to another file is recorded, the restore's write has
        # been handled too.
        marker = servers_json("marker")
        self.sb.write("~/.codeium/windsurf/mcp_config.json", marker)
        self.wait_snapshot("~/.codeium/windsurf/mcp_config.json", marker)
        self.assertEqual(len(self.snapshots(CURSOR)), before + 1)

    def test_a_restore_is_an_event_of_its_own(self):
        # Emptied by someone: a critical change, and its event. Putting v1
        # back is a change rated medium or more (against v2, the last good
        # version: a server comes back), but it is the user's doing: its
        # event says restored, at info, not a risky change.
        self.sb.write(CURSOR, "")
        emptied = self.wait_snapshot(CURSOR, "")["id"]
        before = {e["id"] for e in ctl_json(self, "events")["events"]}
        r = ctl_json(self, "restore", self.id1, "--yes")
        risk = r["snapshot"]["risk"]
        self.assertIn(risk, ("medium", "high", "critical"))
        new = [e for e in ctl_json(self, "events")["events"]
               if e["id"] not in before]
        self.assertEqual([(e["kind"], e["severity"]) for e in new],
                         [("restored", "info")], new)
        self.assertEqual(new[0]["path"], self.cursor)
        self.assertEqual(new[0]["details"]["snapshot_id"],
                         r["snapshot"]["id"])
        self.assertEqual(new[0]["details"]["restored_from"], int(self.id1))
        self.assertEqual(new[0]["details"]["previous_id"], emptied)
        self.assertEqual(new[0]["details"]["risk"], risk)
        self.assertIn(f"restored snapshot #{self.id1} to ~/.cursor/mcp.json:",
                      self.ctl("events", "--limit", "1").stdout.decode())

    def test_missing_id_or_tampered_blob_touches_nothing(self):
        st = os.stat(self.cursor)
        r = self.ctl("restore", "99999", "--yes", code=1)
        self.assertTrue(r.stderr.startswith(b"mcpbkctl: "), r.stderr)
        self.assertIn(b"99999", r.stderr)
        import sqlite3
        con = sqlite3.connect(self.sb.store_file)
        con.execute("UPDATE blobs SET data = ? WHERE sha256 = ?",
                    (b"garbage", sha256(self.v1)))
        con.commit()
        con.close()
        before = len(self.snapshots(CURSOR))
        r = self.ctl("restore", self.id1, "--yes", code=1)
        self.assertIn(b"integrity_error", r.stderr)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        self.assertEqual(os.stat(self.cursor).st_mtime_ns, st.st_mtime_ns)
        self.assertEqual(len(self.snapshots(CURSOR)), before)
        # A blob that reads back whole but is not what its hash names: the
        # check runs while the temp file is written, and fails the restore
        # before anything is replaced or recorded.
        con = sqlite3.connect(self.sb.store_file)
        con.execute("UPDATE blobs SET compression = 'none', data = ?, "
                    "base = NULL WHERE sha256 = ?",
                    (servers_json("impostor").encode(), sha256(self.v1)))
        con.commit()
        con.close()
        r = self.ctl("restore", self.id1, "--yes", code=1)
        self.assertIn(b"integrity_error", r.stderr)
        self.assertIn(b"does not match its hash", r.stderr)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        self.assertEqual(os.stat(self.cursor).st_mtime_ns, st.st_mtime_ns)
        self.assertEqual(len(self.snapshots(CURSOR)), before)
        self.assertEqual(os.listdir(os.path.dirname(self.cursor)),
                         ["mcp.json"])

    def test_pre_restore_snapshot_of_unrecorded_content(self):
        self.daemon.stop()
        v3 = servers_json("github", "other")
        self.sb.write(CURSOR, v3)
        r = run_ctl(self.sb, "--json", "restore", self.id1, "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"using the store directly", r.stderr)
        result = json.loads(r.stdout)
        pre = [s for s in self.snapshots(CURSOR)
               if s["id"] == result["pre_restore_id"]][0]
        self.assertEqual(pre["trigger"], "pre-restore")
        self.assertEqual(pre["sha256"], sha256(v3))
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())

    def test_a_write_that_cannot_start_records_nothing(self):
        # The temp file is made before the current content is snapshotted:
        # a directory where no file can be created (immutable, which binds
        # root too) fails the restore before anything is recorded, even
        # with unrecorded content in the file.
        chattr = shutil.which("chattr")
        if chattr is None:
            self.skipTest("no chattr")
        self.daemon.stop()
        v3 = servers_json("github", "other")
        self.sb.write(CURSOR, v3)
        before = self.snapshots(CURSOR)
        directory = os.path.dirname(self.cursor)
        if subprocess.run([chattr, "+i", directory],
                          capture_output=True).returncode != 0:
            self.skipTest("this filesystem or user cannot set immutable")
        try:
            r = run_ctl(self.sb, "restore", self.id1, "--yes")
        finally:
            subprocess.run([chattr, "-i", directory], check=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot create a temporary file", r.stderr)
        self.assertEqual(self.snapshots(CURSOR), before)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), v3.encode())
        self.assertEqual(sorted(os.listdir(directory)), ["mcp.json"])

    def test_a_replace_that_fails_records_no_restore(self):
        # The restore's record is made while the temp file is written and
        # committed only once the file is replaced: an immutable file (the
        # directory is writable, so the temp file is made and written, and
        # the rename over the file fails) leaves the store as it was and no
        # temp file behind.
        chattr = shutil.which("chattr")
        if chattr is None:
            self.skipTest("no chattr")
        before = self.snapshots(CURSOR)
        if subprocess.run([chattr, "+i", self.cursor],
                          capture_output=True).returncode != 0:
            self.skipTest("this filesystem or user cannot set immutable")
        try:
            r = run_ctl(self.sb, "restore", self.id1, "--yes")
        finally:
            subprocess.run([chattr, "-i", self.cursor], check=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot rename over", r.stderr)
        self.assertEqual(self.snapshots(CURSOR), before)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        directory = os.path.dirname(self.cursor)
        self.assertEqual(sorted(os.listdir(directory)), ["mcp.json"])
        # The next restore works and records itself once.
        self.ctl("restore", self.id1, "--yes")
        snaps = self.snapshots(CURSOR)
        self.assertEqual(len(snaps), len(before) + 1)
        self.assertEqual(snaps[-1]["trigger"], "restore")

    def ctl_at_terminal(self, *args, answer):
        """Runs mcpbkctl with a terminal as its stdin (so it asks before
        restoring), typing answer; returns (exit code, stdout, stderr)."""
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen(
                [MCPBKCTL] + [str(a) for a in args], env=self.sb.env,
                stdin=follower, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            os.close(follower)
            follower = -1
            os.write(leader, answer.encode())
            out, err = proc.communicate(timeout=30)
        finally:
            if follower >= 0:
                os.close(follower)
            os.close(leader)
        return proc.returncode, out.decode(), err.decode()

    def test_colour_only_on_a_terminal_that_shows_it(self):
        def at_terminal(term):
            leader, follower = pty.openpty()
            try:
                env = dict(self.sb.env, TERM=term)
                proc = subprocess.Popen([MCPBKCTL, "list"], env=env,
                                        stdout=follower,
                                        stderr=subprocess.PIPE)
                os.close(follower)
                follower = -1
                out = b""
                while True:
                    try:
                        chunk = os.read(leader, 65536)
                    except OSError:  # EIO: the other end closed
                        break
                    if not chunk:
                        break
                    out += chunk
                proc.wait(30)
            finally:
                if follower >= 0:
                    os.close(follower)
                os.close(leader)
            return out
        self.assertIn(b"\x1b[", at_terminal("xterm"))
        # TERM=dumb (Emacs' shell) would show the codes as text.
        self.assertNotIn(b"\x1b[", at_terminal("dumb"))

    def test_asks_at_a_terminal(self):
        before = self.snapshots(CURSOR)
        code, out, err = self.ctl_at_terminal("restore", self.id1,
                                              answer="n\n")
        self.assertEqual(code, 1, err)
        self.assertIn("fs (added)", out)
        self.assertIn("Restore? [y/N]", err)
        self.assertIn("restore cancelled", err)
        self.assertEqual(self.snapshots(CURSOR), before)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        code, out, err = self.ctl_at_terminal("restore", self.id1,
                                              answer="y\n")
        self.assertEqual(code, 0, err)
        self.assertIn(f"restored #{self.id1}", out)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        self.assertEqual(len(self.snapshots(CURSOR)), len(before) + 1)

    def answer_after(self, args, meanwhile, answer=b"y\n"):
        """Runs mcpbkctl ARGS, calls meanwhile() once it asks, then answers;
        returns (exit code, stdout, stderr)."""
        proc = subprocess.Popen([MCPBKCTL, *map(str, args)], env=self.sb.env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            err = b""
            while b"Restore? [y/N]" not in err:
                chunk = proc.stderr.read1(4096)
                self.assertTrue(chunk, f"{args}: no question: {err!r}")
                err += chunk
            meanwhile()
            out, rest = proc.communicate(answer, timeout=30)
        finally:
            proc.kill()
        return proc.returncode, out, err + rest

    def test_a_save_while_the_question_waits_is_not_replaced(self):
        # The preview compared the file as it was; saved again before the
        # answer, it is not what the user agreed to replace. Before, the
        # restore went on (the save kept only as a pre-restore snapshot);
        # now it stops, and the next restore shows the new diff.
        saved = servers_json("github", "saved-meanwhile")
        for args in (("restore", self.id1), ("restore", self.id1, "--only-mcp"),
                     ("--json", "restore", self.id1), None):
            if args is None:
                # Missing at the preview, created before the answer.
                os.remove(self.cursor)
                args = ("restore", self.id1)
            else:
                self.sb.write(CURSOR, self.v2)
            code, out, err = self.answer_after(
                args, lambda: self.sb.write(CURSOR, saved))
            self.assertEqual(code, 1, (args, out, err))
            self.assertIn(b"~/.cursor/mcp.json changed since the preview: "
                          b"nothing was restored; restore again to see what "
                          b"it would replace now", err)
            with open(self.cursor) as f:
                self.assertEqual(f.read(), saved, args)
        # Unchanged, the answer restores (and a missing file too).
        self.sb.write(CURSOR, self.v2)
        r = self.ctl("restore", self.id1, input=b"y\n")
        self.assertIn(f"restored #{self.id1}".encode(), r.stdout)
        os.remove(self.cursor)
        r = self.ctl("restore", self.id2, input=b"y\n")
        self.assertIn(f"restored #{self.id2}".encode(), r.stdout)

    def test_a_large_file_hashed_beside_the_restore(self):
        # From 256 KiB the file restored over is hashed on the daemon's
        # helper thread: its hash still stops a restore whose preview saw
        # other bytes (and the temp file goes), and still names the
        # pre-restore snapshot of what is replaced.
        def large(tag):
            doc = json.loads(servers_json("github"))
            doc["history"] = [f"{tag} {i:06d}" for i in range(40000)]
            return json.dumps(doc, indent=2) + "\n"
        v_large, saved = large("a"), large("b")
        self.assertGreater(len(v_large), 256 * 1024)
        self.assertEqual(len(v_large), len(saved))
        self.sb.write(CURSOR, v_large)
        self.wait_snapshot(CURSOR, v_large)
        # --json: its preview has no diff (40 000 lines would fill stdout's
        # pipe before the question is read).
        code, out, err = self.answer_after(
            ("--json", "restore", self.id1),
            lambda: self.sb.write(CURSOR, saved))
        self.assertEqual(code, 1, (out, err))
        self.assertIn(b"changed since the preview: nothing was restored", err)
        with open(self.cursor) as f:
            self.assertEqual(f.read(), saved)
        self.assertEqual([n for n in os.listdir(os.path.dirname(self.cursor))
                          if "mcpbk-tmp" in n], [])
        # Saved with the daemon stopped, the bytes are not in the store: the
        # restore (offline, through the same op) records them first.
        self.daemon.stop()
        saved = large("c")
        self.sb.write(CURSOR, saved)
        r = self.ctl("--json", "restore", self.id1, "--yes")
        result = json.loads(r.stdout)
        pre = [s for s in self.snapshots(CURSOR)
               if s["id"] == result["pre_restore_id"]]
        self.assertEqual(len(pre), 1, result)
        self.assertEqual(pre[0]["trigger"], "pre-restore")
        self.assertEqual(pre[0]["sha256"], sha256(saved))
        self.assertEqual(result["current_sha256"], sha256(saved))
        with open(self.cursor) as f:
            self.assertEqual(f.read(), self.v1)

    def test_asks_without_a_terminal_too(self):
        # Without --yes the answer is read from stdin whatever it is: none
        # (a script's empty stdin) or "n" cancels, "y" from a pipe restores.
        before = self.snapshots(CURSOR)
        for answer in (b"", b"n\n"):
            r = self.ctl("restore", self.id1, code=1, input=answer)
            self.assertIn(b"fs (added)", r.stdout)
            self.assertIn(b"Restore? [y/N] \n", r.stderr)
            self.assertIn(b"mcpbkctl: restore cancelled", r.stderr)
            self.assertEqual(self.snapshots(CURSOR), before)
            with open(self.cursor, "rb") as f:
                self.assertEqual(f.read(), self.v2.encode())
        r = self.ctl("restore", self.id1, code=1, input=b"")
        self.assertIn(b"no answer on standard input (--yes restores without "
                      b"asking)", r.stderr)
        for answer in (b"nope\n", b"yess\n"):
            r = self.ctl("restore", self.id1, code=1, input=answer)
            self.assertIn(b"mcpbkctl: restore cancelled (y or yes restores)",
                          r.stderr)
        # Any case, spaces and a \r around it.
        for n, answer in enumerate((b" Yes \r\n", b"Y\n", b"YES\n",
                                    b"yes\n")):
            sid = (self.id1, self.id2)[n % 2]
            r = self.ctl("restore", sid, input=answer)
            self.assertIn(f"restored #{sid}".encode(), r.stdout, answer)
        r = self.ctl("restore", self.id1, input=b"y\n")
        self.assertIn(f"restored #{self.id1}".encode(), r.stdout)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())

    def test_a_file_that_already_holds_the_snapshot_is_left_alone(self):
        # Restoring what the file already holds neither asks, nor writes,
        # nor records a restore.
        self.ctl("restore", self.id1, "--yes")
        st = os.stat(self.cursor)
        before = self.snapshots(CURSOR)
        code, out, err = self.ctl_at_terminal("restore", self.id1,
                                              answer="y\n")
        self.assertEqual(code, 0, err)
        self.assertNotIn("Restore?", err)
        self.assertIn("(no differences)", out)
        self.assertIn("nothing to restore: ~/.cursor/mcp.json already holds "
                      f"the content of snapshot #{self.id1}", out)
        r = self.ctl("restore", self.id1, "--yes")
        self.assertEqual(r.stdout.decode(),
                         "nothing to restore: ~/.cursor/mcp.json already "
                         f"holds the content of snapshot #{self.id1}\n")
        d = ctl_json(self, "restore", self.id1, "--yes")
        self.assertFalse(d["changed"])
        self.assertFalse(d["dry_run"])  # it said true: the preview's reply
        self.assertNotIn("snapshot", d)
        self.assertNotIn("pre_restore_id", d)
        self.assertEqual(self.snapshots(CURSOR), before)
        self.assertEqual(os.stat(self.cursor).st_mtime_ns, st.st_mtime_ns)
        self.assertEqual(os.stat(self.cursor).st_ino, st.st_ino)

    def test_dry_run_changes_nothing(self):
        st = os.stat(self.cursor)
        before = self.snapshots()
        r = self.ctl("restore", self.id1, "--dry-run")
        out = r.stdout.decode()
        self.assertIn("dry run", out)
        self.assertIn("fs (added)", out)
        self.assertNotIn("--only-mcp", out)  # nothing else differs
        d = ctl_json(self, "restore", self.id1, "--dry-run")
        self.assertTrue(d["dry_run"])
        self.assertTrue(d["changed"])
        self.assertFalse(d["beyond_mcp"])
        self.assertIn("+++", d["unified"])
        # diff:false leaves out only the text diff.
        lean = request(self.sb.socket, "restore",
                       {"id": int(self.id1), "dry_run": True, "diff": False})
        self.assertNotIn("unified", lean["result"])
        self.assertEqual(lean["result"]["summary"], d["summary"])
        self.assertEqual(lean["result"]["servers"], d["servers"])
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        self.assertEqual(os.stat(self.cursor).st_mtime_ns, st.st_mtime_ns)
        self.assertEqual(self.snapshots(), before)

    def test_warns_when_the_host_is_running(self):
        # A process named like Cursor's: a copy of sleep called "cursor".
        fake = self.sb.path("bin/cursor")
        os.makedirs(os.path.dirname(fake), exist_ok=True)
        shutil.copy(shutil.which("sleep"), fake)
        proc = subprocess.Popen([fake, "60"])
        try:
            for args in (["--dry-run"], ["--yes"]):
                d = ctl_json(self, "restore", self.id1, *args)
                self.assertIn("Cursor appears to be running (cursor)",
                              d.get("warning", ""), args)
            with open(self.cursor, "rb") as f:
                self.assertEqual(f.read(), self.v1.encode())
        finally:
            proc.kill()
            proc.wait()
        d = ctl_json(self, "restore", self.id2, "--yes")
        self.assertNotIn("running", d.get("warning", ""))

    def test_through_a_symlink(self):
        real = self.sb.write("~/dotfiles/cursor-mcp.json", self.v2)
        os.chmod(real, 0o600)
        os.unlink(self.cursor)
        os.symlink(real, self.cursor)
        self.ctl("restore", self.id1, "--yes")
        self.assertTrue(os.path.islink(self.cursor))
        self.assertEqual(os.readlink(self.cursor), real)
        with open(real, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        self.assertEqual(stat.S_IMODE(os.stat(real).st_mode), 0o600)
        # The directory the link leads into deleted (a dotfiles checkout
        # removed): it is made again, as a host's own directory would be,
        # and the link still leads to the restored file. It was "cannot
        # create a temporary file", after a preview that said it would work.
        shutil.rmtree(self.sb.path("~/dotfiles"))
        self.ctl("restore", self.id2, "--dry-run")
        self.ctl("restore", self.id2, "--yes")
        self.assertEqual(os.readlink(self.cursor), real)
        with open(real, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())

    def test_the_file_a_link_leads_to_names_the_watched_path(self):
        # With ~/.cursor/mcp.json a link into a dotfiles repository, the
        # snapshots are filed under the link's path; naming the file it
        # leads to finds them too.
        real = self.sb.write("~/dotfiles/cursor/mcp.json", self.v2)
        os.unlink(self.cursor)
        os.symlink("../dotfiles/cursor/mcp.json", self.cursor)
        ids = [s["id"] for s in self.snapshots(CURSOR)]
        listed = ctl_json(self, "list", "--path", real)["snapshots"]
        self.assertEqual([s["id"] for s in listed], ids[::-1])
        self.assertTrue(all(s["path"] == self.cursor for s in listed))
        self.sb.write("~/dotfiles/cursor/mcp.json", "{broken")
        self.wait_snapshot(CURSOR, "{broken")
        r = ctl_json(self, "restore", "--last-good", "--path", real, "--yes")
        self.assertEqual(r["restored_from"]["id"], self.id2)
        self.assertEqual(r["restored_to"], self.cursor)
        self.assertTrue(os.path.islink(self.cursor))
        with open(real, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        r = ctl_json(self, "snapshot", real, "--note", "by its target")
        self.assertEqual([s["path"] for s in r["snapshots"]], [self.cursor])
        bundle = self.sb.path("cursor.mcpbk")
        r = ctl_json(self, "export", "--path", real, "-o", bundle)
        self.assertEqual(r["snapshots"], len(self.snapshots(CURSOR)))
        # A path that is no link's target is taken as it is.
        other = self.sb.write("~/dotfiles/other.json", self.v1)
        self.assertEqual(
            ctl_json(self, "list", "--path", other)["snapshots"], [])

    def test_a_file_that_is_gone_gets_its_last_known_mode(self):
        # chmod 600 of a file that holds tokens is no new snapshot (the
        # content is the same) but the newest one takes the mode, and a
        # restore after the file was deleted does not bring the wider mode
        # back.
        count = len(self.snapshots(CURSOR))
        os.chmod(self.cursor, 0o600)
        wait_for(lambda: self.snapshots(CURSOR)[-1]["mode"] == 0o600, 10,
                 "the newest snapshot to take the new mode")
        self.assertEqual(self.snapshots(CURSOR)[-1]["id"], self.id2)
        self.assertEqual(len(self.snapshots(CURSOR)), count)
        # Touched, mode unchanged: nothing to record (once a later change
        # to another file is recorded, the touch has been handled).
        os.utime(self.cursor)
        marker = servers_json("marker")
        self.sb.write("~/.codeium/windsurf/mcp_config.json", marker)
        self.wait_snapshot("~/.codeium/windsurf/mcp_config.json", marker)
        self.assertEqual(len(self.snapshots(CURSOR)), count)
        os.remove(self.cursor)
        self.ctl("restore", self.id1, "--yes")
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        self.assertEqual(stat.S_IMODE(os.stat(self.cursor).st_mode), 0o600)
        self.assertEqual(len(self.snapshots(CURSOR)), count + 1)
        self.assertIn(f"restored snapshot #{self.id1} to ~/.cursor/mcp.json "
                      "(the file was missing): ",
                      self.ctl("events", "--limit", "1").stdout.decode())
        # --only-mcp has no file to keep the rest of: it says so.
        os.remove(self.cursor)
        r = self.ctl("restore", self.id2, "--only-mcp", "--yes")
        self.assertIn("warning: ~/.cursor/mcp.json does not exist: the whole "
                      "snapshot is written, not only its servers",
                      r.stderr.decode())
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())

    def test_to_another_path(self):
        other = self.sb.path("restored/copy.json")
        os.makedirs(os.path.dirname(other))
        r = ctl_json(self, "restore", self.id1, "--to", other, "--yes")
        self.assertEqual(r["restored_to"], other)
        with open(other, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        # The recorded mode is used for a new file.
        self.assertEqual(stat.S_IMODE(os.stat(other).st_mode), 0o640)
        # Over a file with settings of its own: the note says they go.
        with open(other, "w") as f:
            json.dump({"theme": "dark", "mcpServers": {}}, f)
        r = self.ctl("restore", self.id1, "--to", other, "--dry-run")
        self.assertIn("note: this also replaces everything else "
                      f"~/restored/copy.json holds with what is in #{self.id1}"
                      "; --only-mcp", r.stdout.decode())
        self.ctl("restore", self.id1, "--to", other, "--yes")
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        # Another host's file in another format would not parse afterwards:
        # refused, whole or --only-mcp, and nothing is written.
        codex = self.sb.path("~/.codex/config.toml")
        for extra in ([], ["--only-mcp"]):
            r = self.ctl("restore", self.id1, "--to", codex, "--yes",
                         *extra, code=1)
            self.assertIn(f"snapshot #{self.id1} is json (cursor), and "
                          "~/.codex/config.toml is toml (codex): restored "
                          "there it would not parse; give --to a path of "
                          "its own", r.stderr.decode())
            self.assertFalse(os.path.exists(codex))
        # The same through a symbolic link to that file.
        os.makedirs(os.path.dirname(codex))
        with open(codex, "w") as f:
            f.write('model = "o3"\n')
        link = self.sb.path("restored/link.toml")
        os.symlink(codex, link)
        r = self.ctl("restore", self.id1, "--to", link, "--yes", code=1)
        self.assertIn("is toml (codex): restored there it would not parse",
                      r.stderr.decode())
        with open(codex) as f:
            self.assertEqual(f.read(), 'model = "o3"\n')

    def test_last_good(self):
        self.sb.write(CURSOR, "{broken")
        self.wait_snapshot(CURSOR, "{broken")
        r = ctl_json(self, "restore", "--last-good", "--path", self.cursor,
                     "--yes")
        self.assertEqual(r["restored_from"]["id"], self.id2)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v2.encode())
        self.ctl("restore", "--last-good", code=2)
        r = self.ctl("restore", "--last-good", "--host", "zed", "--yes",
                     code=1)
        self.assertIn(b"no good snapshot", r.stderr)

    def test_last_good_of_a_host_with_several_files(self):
        # The newest good snapshot of a host may be of another of its files
        # than the one that broke: with several, the path is asked for.
        self.sb.write(CURSOR, "{broken")
        self.wait_snapshot(CURSOR, "{broken")
        r = ctl_json(self, "restore", "--last-good", "--host", "cursor",
                     "--dry-run")
        self.assertEqual(r["restored_from"]["id"], self.id2)
        project = self.sb.path("~/code/app")
        os.makedirs(project)
        self.sb.write_config(DEFAULT_CONFIG.replace(
            "watch:\n", f"watch:\n  project_roots: [{project}]\n"))
        self.assertTrue(request(self.sb.socket, "reload")["ok"])
        mcp = self.sb.write("~/code/app/.cursor/mcp.json", self.v1)
        self.wait_snapshot("~/code/app/.cursor/mcp.json", self.v1)
        r = self.ctl("restore", "--last-good", "--host", "cursor", "--yes",
                     code=1)
        self.assertEqual(
            r.stderr.decode(),
            "mcpbkctl: host cursor has good snapshots of 2 files "
            "(~/.cursor/mcp.json, ~/code/app/.cursor/mcp.json): give the "
            "path of the one to restore [bad_request]\n")
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), b"{broken")
        r = ctl_json(self, "restore", "--last-good", "--host", "cursor",
                     "--path", self.cursor, "--yes")
        self.assertEqual(r["restored_from"]["id"], self.id2)
        with open(mcp, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())

    def test_only_mcp_keeps_the_rest(self):
        doc = json.loads(self.v2)
        doc["theme"] = "dark"
        self.sb.write(CURSOR, json.dumps(doc, indent=2) + "\n")
        # A whole restore would put the theme back too: its preview says so,
        # and points at --only-mcp. The order of keys and the layout are no
        # difference.
        out = self.ctl("restore", self.id1, "--dry-run").stdout.decode()
        self.assertIn("note: this also puts back everything else "
                      "~/.cursor/mcp.json holds as it was in "
                      f"#{self.id1}; --only-mcp restores just the MCP "
                      "servers and keeps the rest\n", out)
        self.assertTrue(
            ctl_json(self, "restore", self.id1, "--dry-run")["beyond_mcp"])
        self.assertFalse(ctl_json(self, "restore", self.id1, "--dry-run",
                                  "--only-mcp").get("beyond_mcp", False))
        reordered = {"theme": "dark", **json.loads(self.v1)}
        self.sb.write(CURSOR, json.dumps(reordered, indent=4))
        self.assertTrue(
            ctl_json(self, "restore", self.id2, "--dry-run")["beyond_mcp"])
        del reordered["theme"]
        self.sb.write(CURSOR, json.dumps(reordered, indent=4))
        self.assertFalse(
            ctl_json(self, "restore", self.id2, "--dry-run")["beyond_mcp"])
        self.sb.write(CURSOR, json.dumps(doc, indent=2) + "\n")
        self.ctl("restore", self.id1, "--only-mcp", "--yes")
        with open(self.cursor) as f:
            now = json.load(f)
        self.assertEqual(now["theme"], "dark")
        self.assertEqual(sorted(now["mcpServers"]), ["fs", "github"])
        self.sb.write(CURSOR, "{not json")
        r = self.ctl("restore", self.id1, "--only-mcp", "--yes", code=1)
        self.assertIn(b"only the MCP servers", r.stderr)


VSCODE_SETTINGS = "~/.config/Code/User/settings.json"
CODEX = "~/.codex/config.toml"

SETTINGS_SERVERS_V1 = """{
            // from the marketplace
            "github": {"type": "http", "url": "https://example.com/mcp/"},
            "fs": {"command": "npx", "args": ["-y", "fs"]},
        }"""
SETTINGS_SERVERS_V2 = """{
            "github": {"type": "http", "url": "https://example.com/mcp/"}
        }"""
SETTINGS = """// my settings
{
    "editor.fontSize": {size},
    "mcp": {
        /* tools for the agent */
        "servers": {servers}
    },
    "workbench.colorTheme": "Default Dark+", // the theme
}
"""

CODEX_SERVERS_V1 = """# docs, local
[mcp_servers.docs]
command = 'docs-server'
args = ["--port", "4000"]

[mcp_servers.github]
command = "npx"
"""
CODEX_TEXT = """# Codex
model = "{model}"  # the model

{servers}
[profiles.fast]
model = "o4-mini"
"""


GOOSE = "~/.config/goose/config.yaml"
GOOSE_V1 = """# Goose
GOOSE_PROVIDER: anthropic   # the provider
GOOSE_MODEL: {model}
extensions:
  developer:
    enabled: true
    type: builtin
  # fetch pages
  fetch:
    cmd: uvx
    args: [mcp-server-fetch]
    type: stdio
# the end
"""


class NotUtf8Test(DaemonTestCase):
    """Paths whose names are not UTF-8 reach the daemon with each bad byte
    made U+FFFD (JSON cannot carry them)."""

    config = DaemonTestCase.config.replace("watch:\n", """watch:
  paths:
    - {path: "~/code/*/.mcp.json", host: claude-code}
""")

    def two_projects(self, a_dir, b_dir):
        """~/code/A/.mcp.json (server "a") and ~/code/B/.mcp.json ("b"),
        recorded by the daemon; their paths as bytes."""
        home = self.sb.home.encode()
        a = home + b"/code/" + a_dir + b"/.mcp.json"
        b = home + b"/code/" + b_dir + b"/.mcp.json"
        self.daemon.start()
        for path, name in ((a, "a"), (b, "b")):
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as f:
                f.write(json.dumps({"mcpServers": {name: {"command": "x"}}}))
        wait_for(lambda: len(json.loads(run_ctl(self.sb, "--json", "list")
                                        .stdout or "{}")
                             .get("snapshots", [])) == 2, 10,
                 "both files recorded")
        return a, b

    def test_names_alike_once_replaced_are_not_guessed(self):
        a, b = self.two_projects(b"bad\xffx", b"bad\xfex")
        # Which of the two was meant cannot be told: refused, not guessed
        # (the first that read the same was taken, and a restore wrote it).
        for args in (["list", "--path", a],
                     ["restore", "--last-good", "--path", a, "--yes"],
                     ["snapshot", a]):
            r = subprocess.run([MCPBKCTL.encode()] + [x if isinstance(x, bytes)
                                                      else x.encode()
                                                      for x in args],
                               env=self.sb.env, capture_output=True,
                               timeout=30)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(b"2 watched files have names that read", r.stderr)
        with open(b, "rb") as f:
            self.assertIn(b'"b"', f.read())

    def test_a_name_with_a_real_replacement_character(self):
        # One name holds a bad byte, the other a real U+FFFD: once sent, the
        # first reads exactly as the second, which was taken at once.
        a, _ = self.two_projects(b"a\xffx", b"a\xef\xbf\xbdx")
        r = subprocess.run([MCPBKCTL.encode(), b"list", b"--path", a],
                           env=self.sb.env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"2 watched files have names that read", r.stderr)


class OnlyMcpTest(DaemonTestCase):
    """restore --only-mcp of files people comment by hand: every byte
    outside the server maps stays as it is, through the daemon and
    without it."""

    def test_only_mcp_into_another_hosts_file(self):
        # Claude Desktop keeps its servers under mcpServers, Zed under
        # context_servers: --only-mcp found none of Zed's in the snapshot
        # and "restored" that, deleting Zed's servers (exit 0).
        desktop = "~/.config/Claude/claude_desktop_config.json"
        zed = "~/.config/zed/settings.json"
        d = servers_json("fs")
        z = '{\n  "theme": "One Dark",\n  "context_servers": {\n    "gh": ' \
            '{"command": "gh-mcp"}\n  }\n}\n'
        self.sb.write(desktop, d)
        self.sb.write(zed, z)
        self.daemon.start()
        first = self.wait_snapshot(desktop, d)["id"]
        self.wait_snapshot(zed, z)
        for extra in ([], ["--dry-run"]):
            r = run_ctl(self.sb, "restore", first, "--only-mcp", "--to",
                        self.sb.path(zed), "--yes", *extra)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"--only-mcp cannot move the servers of snapshot "
                          f"#{first} (claude-desktop: mcpServers) into "
                          f"{zed} (zed: context_servers)", r.stderr.decode())
        with open(self.sb.path(zed)) as f:
            self.assertEqual(f.read(), z)
        # Into ~/.claude.json, whose top-level map is Cursor's kind: that
        # one is replaced, and the projects' servers stay.
        claude = "~/.claude.json"
        c = json.dumps({"mcpServers": {"old": {"command": "o"}}, "projects": {
            self.sb.path("~/p"): {"mcpServers": {"local": {"command": "l"}}}}},
            indent=2) + "\n"
        self.sb.write(claude, c)
        self.wait_snapshot(claude, c)
        self.sb.write(CURSOR, servers_json("cur"))
        cur = self.wait_snapshot(CURSOR, servers_json("cur"))["id"]
        r = run_ctl(self.sb, "restore", cur, "--only-mcp", "--to",
                    self.sb.path(claude), "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.sb.path(claude)) as f:
            doc = json.load(f)
        self.assertEqual(list(doc["mcpServers"]), ["cur"])
        self.assertEqual(doc["projects"][self.sb.path("~/p")]["mcpServers"],
                         {"local": {"command": "l"}})

    def test_only_mcp_over_an_emptied_file_writes_the_snapshot(self):
        # A 0-byte file (a crash, a failed write): --only-mcp merged the
        # servers into nothing and wrote them out again, comments and
        # layout gone, without a word.
        zed = "~/.config/zed/settings.json"
        z = ('{\n  "theme": "One Dark",\n  "context_servers": {\n'
             '    // local MCP server\n    "gh": {"command": "gh-mcp", '
             '"args": ["a", "b"]}\n  }\n}\n')
        self.sb.write(zed, z)
        self.daemon.start()
        first = self.wait_snapshot(zed, z)["id"]
        for emptied in ("", "\n  \n"):
            self.sb.write(zed, emptied)
            self.wait_snapshot(zed, emptied)
            r = run_ctl(self.sb, "restore", first, "--only-mcp", "--yes")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"{zed} is empty: the whole snapshot is written, "
                          "not only its servers", r.stderr.decode())
            with open(self.sb.path(zed)) as f:
                self.assertEqual(f.read(), z)
            self.wait_snapshot(zed, z)

    def test_only_mcp_moves_strict_servers_out_of_a_commented_file(self):
        # Gemini's settings.json is commented; its servers need not be:
        # "restored there it would not parse" was said of a move that
        # parses. Servers with a comment among them are still refused.
        gemini = "~/.gemini/settings.json"
        desktop = "~/.config/Claude/claude_desktop_config.json"
        plain = ('{\n  // my gemini settings\n  "theme": "x",\n'
                 '  "mcpServers": {"g": {"command": "node", "args": '
                 '["g.js"]}}\n}\n')
        commented = ('{\n  "mcpServers": {\n    // the one I use\n'
                     '    "g": {"command": "node"}\n  }\n}\n')
        d = servers_json("fs")
        self.sb.write(desktop, d)
        self.sb.write(gemini, plain)
        self.daemon.start()
        self.wait_snapshot(desktop, d)
        first = self.wait_snapshot(gemini, plain)["id"]
        r = run_ctl(self.sb, "restore", first, "--only-mcp", "--to",
                    self.sb.path(desktop), "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.sb.path(desktop)) as f:
            self.assertEqual(list(json.load(f)["mcpServers"]), ["g"])
        self.sb.write(gemini, commented)
        second = self.wait_snapshot(gemini, commented)["id"]
        r = run_ctl(self.sb, "restore", second, "--only-mcp", "--to",
                    self.sb.path(desktop), "--yes")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"jsonc with comments or trailing commas in its "
                      b"servers", r.stderr)
        with open(self.sb.path(desktop)) as f:
            self.assertEqual(list(json.load(f)["mcpServers"]), ["g"])

    def test_vscode_inputs_come_back_with_the_servers(self):
        # A server's "${input:pat}" refers to VS Code's inputs: restoring
        # the servers alone would leave it pointing at nothing.
        path = "~/.config/Code/User/mcp.json"
        inputs = ('  "inputs": [\n    {"id": "pat", "type": "promptString", '
                  '"password": true}\n  ],\n')
        v1 = ('{\n' + inputs + '  "servers": {\n    "gh": {"type": "http", '
              '"url": "https://api.example/mcp", "headers": '
              '{"Authorization": "Bearer ${input:pat}"}}\n  }\n}\n')
        v2 = '{\n  // emptied by an update\n  "servers": {}\n}\n'
        self.sb.write(path, v1)
        self.daemon.start()
        first = self.wait_snapshot(path, v1)["id"]
        # A change of the inputs alone is an MCP change (VS Code's trigger
        # is mcp): it was not recorded, and diff said "no MCP change".
        no_inputs = v1.replace(inputs, "")
        self.sb.write(path, no_inputs)
        snap = self.wait_snapshot(path, no_inputs)
        self.assertEqual(snap["summary"], "inputs changed")
        self.sb.write(path, v1)
        self.wait_snapshot(path, v1)
        self.sb.write(path, v2)
        self.wait_snapshot(path, v2)
        r = run_ctl(self.sb, "restore", str(first), "--only-mcp", "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.sb.path(path)) as f:
            text = f.read()
        self.assertIn("// emptied by an update", text)
        self.assertIn('"id": "pat"', text)
        self.assertIn("${input:pat}", text)
        # Its JSONC with a comment does not go into Cursor's strict JSON;
        # the one without comments does.
        second = self.snapshots(path)[-2]["id"]
        cursor = self.sb.path("~/.cursor/mcp.json")
        r = run_ctl(self.sb, "restore", str(second), "--to", cursor, "--yes")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"snapshot #{second} is jsonc with comments or trailing "
                      "commas (vscode), and ~/.cursor/mcp.json is json "
                      "(cursor)", r.stderr.decode())
        self.assertFalse(os.path.exists(cursor))
        r = run_ctl(self.sb, "restore", str(first), "--to", cursor, "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(cursor) as f:
            self.assertEqual(f.read(), v1)

    def test_comments_and_layout_outside_the_servers_stay(self):
        v1 = SETTINGS.replace("{size}", "14").replace(
            "{servers}", SETTINGS_SERVERS_V1)
        t1 = CODEX_TEXT.replace("{model}", "o3").replace(
            "{servers}", CODEX_SERVERS_V1)
        self.sb.write(VSCODE_SETTINGS, v1)
        self.sb.write(CODEX, t1)
        self.daemon.start()
        id_settings = self.wait_snapshot(VSCODE_SETTINGS, v1)["id"]
        id_codex = self.wait_snapshot(CODEX, t1)["id"]
        # A server goes, a setting changes, a comment is added.
        v2 = SETTINGS.replace("{size}", "16").replace(
            "{servers}", SETTINGS_SERVERS_V2).replace(
            "// my settings", "// my settings, tidied")
        t2 = CODEX_TEXT.replace("{model}", "gpt-5").replace(
            "{servers}", "# none for now\n")
        self.sb.write(VSCODE_SETTINGS, v2)
        self.sb.write(CODEX, t2)
        self.wait_snapshot(VSCODE_SETTINGS, v2)
        self.wait_snapshot(CODEX, t2)

        r = run_ctl(self.sb, "restore", str(id_settings), "--only-mcp",
                    "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        want = v2.replace(SETTINGS_SERVERS_V2, SETTINGS_SERVERS_V1)
        with open(self.sb.path(VSCODE_SETTINGS)) as f:
            self.assertEqual(f.read(), want)

        # Goose's YAML: a server goes, the model changes.
        g1 = GOOSE_V1.replace("{model}", "claude-sonnet")
        self.sb.write(GOOSE, g1)
        id_goose = self.wait_snapshot(GOOSE, g1)["id"]
        fetch = g1[g1.index("  # fetch pages"):g1.index("# the end")]
        g2 = g1.replace(fetch, "").replace("claude-sonnet", "claude-opus")
        self.sb.write(GOOSE, g2)
        self.wait_snapshot(GOOSE, g2)
        r = run_ctl(self.sb, "restore", str(id_goose), "--only-mcp", "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.sb.path(GOOSE)) as f:
            self.assertEqual(f.read(), g1.replace("claude-sonnet",
                                                  "claude-opus"))

        # Without the daemon, the client does the same.
        self.assertEqual(self.daemon.stop(), 0)
        r = run_ctl(self.sb, "restore", str(id_codex), "--only-mcp", "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"using the store directly", r.stderr)
        with open(self.sb.path(CODEX)) as f:
            self.assertEqual(f.read(), t2 + "\n" + CODEX_SERVERS_V1.rstrip(
                "\n") + "\n")
        self.assertNotIn(b"warning", r.stderr)

    def test_a_file_written_out_whole_is_a_warning(self):
        # Codex servers set as an inline table: the text edits do not cover
        # that layout, so the whole file is written out again, without its
        # comments; the restore says so (and the old file is in the history).
        t1 = CODEX_TEXT.replace("{model}", "o3").replace(
            "{servers}", CODEX_SERVERS_V1)
        self.sb.write(CODEX, t1)
        self.daemon.start()
        id_codex = self.wait_snapshot(CODEX, t1)["id"]
        t2 = ('# mine\nmodel = "gpt-5"\n'
              'mcp_servers = { x = { command = "x" } }\n')
        self.sb.write(CODEX, t2)
        self.wait_snapshot(CODEX, t2)
        warning = (b"mcpbkctl: warning: the servers could not be put in place "
                   b"within the file's own text, so the whole file is written "
                   b"out again: its values are kept, its comments and layout "
                   b"are not (the replaced file stays in the history)\n")
        r = run_ctl(self.sb, "restore", str(id_codex), "--only-mcp",
                    "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(warning, r.stderr)
        # Asked first: the warning comes once, with the preview, and the
        # piped answer's line is ended.
        r = run_ctl(self.sb, "restore", str(id_codex), "--only-mcp",
                    input=b"y\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.count(warning), 1, r.stderr)
        self.assertIn(b"Restore? [y/N] \n", r.stderr)
        self.sb.write(CODEX, t2)
        self.wait_snapshot(CODEX, t2)
        r = run_ctl(self.sb, "restore", str(id_codex), "--only-mcp", "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(warning, r.stderr)
        with open(self.sb.path(CODEX)) as f:
            text = f.read()
        self.assertNotIn("# mine", text)
        self.assertIn('model = "gpt-5"', text)
        self.assertIn(t2.encode(), run_ctl(
            self.sb, "cat", str(self.snapshots(CODEX)[-2]["id"])).stdout)


class OfflineTest(ClientTestCase):

    def test_a_store_on_a_read_only_file_system_is_read(self):
        # A disk remounted read-only: "cannot open the store: Read-only
        # file system" for list and cat too, the day they were needed.
        self.assertEqual(self.daemon.stop(), 0)
        state = self.sb.state_dir
        script = (f"mount --bind '{state}' '{state}' && "
                  f"mount -o remount,bind,ro '{state}' && "
                  f"'{MCPBKCTL}' --json list && '{MCPBKCTL}' cat {self.id1}")
        r = subprocess.run(["unshare", "-m", "sh", "-c", script],
                           env=self.sb.env, capture_output=True, timeout=60)
        if b"mount" in r.stderr and r.returncode != 0 and \
                b"snapshots" not in r.stdout:
            self.skipTest("no read-only bind mount here: " +
                          r.stderr.decode().strip())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"the store is on a read-only file system", r.stderr)
        self.assertIn(b'"snapshots"', r.stdout)
        self.assertTrue(r.stdout.endswith(self.v1.encode()), r.stdout)
        # What would record something says what does work instead.
        script = (f"mount --bind '{state}' '{state}' && "
                  f"mount -o remount,bind,ro '{state}' && "
                  f"'{MCPBKCTL}' restore {self.id1} --yes")
        r = subprocess.run(["unshare", "-m", "sh", "-c", script],
                           env=self.sb.env, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"`restore` cannot record anything; `mcpbkctl cat ID > "
                      b"FILE` writes a snapshot's bytes", r.stderr)

    def test_read_commands_work_without_the_daemon(self):
        self.assertEqual(self.daemon.stop(), 0)
        line = b"daemon not reachable at " + self.sb.socket.encode() + \
            b"; reading the store directly"
        r = run_ctl(self.sb, "--json", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(line, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["snapshots"]), 2)
        r = run_ctl(self.sb, "show", self.id1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(line, r.stderr)
        r = run_ctl(self.sb, "cat", self.id1)
        self.assertEqual(r.stdout, self.v1.encode())
        r = run_ctl(self.sb, "diff", self.id1)
        self.assertIn(b"fs (removed)", r.stdout)
        r = run_ctl(self.sb, "restore", self.id1, "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.cursor, "rb") as f:
            self.assertEqual(f.read(), self.v1.encode())
        # The event log (why did it stop?), hosts, verify, pin and prune
        # work on the store too.
        # (Those that can change it say "using" instead of "reading".)
        for cmd in (["events"], ["hosts"], ["verify"], ["pin", str(self.id1)],
                    ["unpin", str(self.id1)], ["prune", "--dry-run"]):
            r = run_ctl(self.sb, *cmd)
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertIn(line if cmd[0] in ("events", "hosts", "verify")
                          else line.replace(b"reading", b"using"), r.stderr)
        # status says what is not running, shows the rest, and exits 3.
        r = run_ctl(self.sb, "status")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"mcpbkd is not running: nothing is being protected",
                      r.stdout)
        self.assertIn(b"3 snapshots of 1 file", r.stdout)  # + the restore
        r = run_ctl(self.sb, "--json", "status")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertTrue(json.loads(r.stdout)["offline"])
        # What only the daemon does says how to start it.
        r = run_ctl(self.sb, "events", "--follow")
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"systemctl --user start mcpbkd", r.stderr)
        # The daemon picks up the offline history when it comes back.
        self.daemon.start()
        snaps = ctl_json(self, "list")["snapshots"]
        self.assertEqual(snaps[0]["trigger"], "restore")

    def test_a_stopped_daemon_is_said_at_once(self):
        # A daemon stopped by SIGSTOP (or a debugger) still has its socket
        # listening: the client's request is accepted by the kernel and
        # never answered. The client says so instead of waiting out its
        # two-minute timeout.
        self.daemon.send_signal(signal.SIGSTOP)
        try:
            for cmd in (["list"], ["--json", "status"], ["restore", self.id1,
                                                         "--yes"]):
                r = run_ctl(self.sb, *cmd, timeout=20)
                self.assertEqual(r.returncode, 3, (cmd, r.stderr))
                pid = str(self.daemon.proc.pid).encode()
                self.assertIn(b"mcpbkd (pid " + pid + b") is stopped and "
                              b"cannot answer; `kill -CONT " + pid +
                              b"` lets it go on", r.stderr)
            r = run_ctl(self.sb, "doctor", timeout=20)
            self.assertIn(b"mcpbkd (pid " + pid + b") is stopped", r.stdout)
            self.assertIn(b"fix: kill -CONT " + pid, r.stdout)
            # Clients that gave up (a status bar polling) fill its queue of
            # connections: a new one waited in connect() for ever.
            for _ in range(20000):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(self.sb.socket)
                except BlockingIOError:
                    break
                finally:
                    s.close()
            else:
                self.fail("the queue of connections never filled")
            r = run_ctl(self.sb, "status", timeout=20)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn(b"mcpbkd (pid " + pid + b") is stopped", r.stdout)
            r = run_ctl(self.sb, "list", timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"mcpbkd (pid " + pid + b") is stopped and cannot "
                          b"answer; `kill -CONT " + pid + b"` lets it go on; "
                          b"reading the store directly", r.stderr)
        finally:
            self.daemon.send_signal(signal.SIGCONT)
        # It answers again, and the restore its client gave up on is not
        # done when it goes on: the client said it failed.
        self.assertEqual(len(ctl_json(self, "list")["snapshots"]), 2)
        wait_for(lambda: "a client left before its `restore` request ran; "
                 "not done" in self.daemon.log(), what="the restore dropped")
        self.assertEqual(len(ctl_json(self, "list")["snapshots"]), 2)
        with open(self.cursor) as f:
            self.assertEqual(f.read(), self.v2)

    def test_a_file_in_place_of_the_socket_is_named(self):
        # "does not answer at ... (Connection refused); its --socket reaches
        # it" named the very socket that failed.
        junk = os.path.join(self.sb.root, "junk")
        with open(junk, "w") as f:
            f.write("x")
        os.rename(junk, self.sb.socket)
        said = (b" is not a socket (a file is in its place); remove it "
                b"and the daemon listens there again")
        for cmd in ("list", "status", "doctor"):
            r = run_ctl(self.sb, cmd)
            self.assertIn(said, r.stdout + r.stderr, cmd)
        os.unlink(self.sb.socket)
        wait_for(lambda: run_ctl(self.sb, "status").returncode == 0, 15,
                 "the daemon to listen again")

    def test_a_daemon_listening_elsewhere_is_not_down(self):
        # sudo, cron or ssh without a login session: another XDG_RUNTIME_DIR,
        # so another socket, but the same state directory. The client said
        # "mcpbkd is not running: nothing is being protected".
        other = os.path.join(self.sb.root, "other-runtime")
        os.makedirs(other, mode=0o700)
        env = {"XDG_RUNTIME_DIR": other}
        pid = str(self.daemon.proc.pid).encode()
        said = b"mcpbkd (pid " + pid + b") serves " + \
            os.path.dirname(self.sb.store_file).encode() + \
            b" but does not answer at " + other.encode()
        r = run_ctl(self.sb, "status", extra_env=env)
        self.assertEqual(r.returncode, 3, r.stderr)
        # Where it does listen, from /proc ("its --socket reaches it" said
        # nothing of where that is).
        sock = self.sb.socket.encode()
        self.assertIn(b"mcpbkd (pid " + pid + b") runs but does not answer "
                      b"here: it listens at " + sock + b": `mcpbkctl "
                      b"--socket " + sock + b"` reaches it", r.stdout)
        self.assertNotIn(b"not running", r.stdout)
        # The store is read (and written) beside it, as offline clients do,
        # and the note says which daemon that is.
        for cmd, verb in ((["list"], b"reading"), (["pin", self.id1],
                                                   b"using")):
            r = run_ctl(self.sb, *cmd, extra_env=env)
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertIn(said, r.stderr)
            self.assertIn(b"`mcpbkctl --socket " + sock + b"` reaches it; " +
                          verb + b" the store directly", r.stderr)
        self.assertTrue(ctl_json(self, "show", self.id1)["snapshot"]["pinned"])
        # What needs the daemon says where it is.
        r = run_ctl(self.sb, "events", "--follow", extra_env=env)
        self.assertEqual(r.returncode, 3)
        self.assertIn(said, r.stderr)
        r = run_ctl(self.sb, "doctor", extra_env=env)
        self.assertIn(said, r.stdout)
        self.assertIn(b"fix: it listens at " + sock + b": `mcpbkctl --socket "
                      + sock + b"` reaches it", r.stdout)
        # Its --socket reaches it.
        r = run_ctl(self.sb, "--socket", self.sb.socket, "status",
                    extra_env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_store_at_all(self):
        self.daemon.stop()
        os.unlink(self.sb.store_file)
        r = run_ctl(self.sb, "list")
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"no store", r.stderr)


class ProtocolTest(DaemonTestCase):
    """Raw socket requests, including broken ones; the daemon keeps serving
    everyone else throughout."""

    def setUp(self):
        super().setUp()
        self.sb.write(CURSOR, servers_json("github"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("github"))
        # A well-behaved client that stays connected throughout.
        self.bystander = connect(self.sb.socket)

    def tearDown(self):
        self.bystander.close()
        super().tearDown()

    def bystander_ok(self):
        self.bystander.sendall(b'{"v":1,"id":"b","op":"status"}\n')
        reply = json.loads(read_line(self.bystander))
        self.assertTrue(reply["ok"])
        self.assertEqual(reply["id"], "b")

    def raw(self, payload):
        with connect(self.sb.socket) as s:
            s.sendall(payload)
            line = read_line(s)
        self.assertTrue(line.endswith(b"\n"), payload)
        reply = json.loads(line.decode("utf-8"))  # always valid UTF-8
        self.assertEqual(reply["v"], 1)
        return reply

    def expect_error(self, payload, code, field=None):
        reply = self.raw(payload)
        self.assertFalse(reply["ok"], payload)
        self.assertEqual(reply["error"]["code"], code, reply)
        self.assertTrue(reply["error"]["message"])
        if field:
            fields = [d["field"] for d in reply["error"].get("details", [])]
            self.assertIn(field, fields, reply)
        self.bystander_ok()
        return reply

    def test_replies_echo_the_id(self):
        for rid in (7, "abc", None, 1.5, True):
            req = {"v": 1, "id": rid, "op": "status"}
            reply = self.raw(json.dumps(req).encode() + b"\n")
            self.assertTrue(reply["ok"])
            self.assertEqual(reply["id"], rid)
        reply = self.raw(b'{"v":1,"op":"status"}\n')
        self.assertIsNone(reply["id"])

    def test_malformed_requests(self):
        self.expect_error(b"{not json\n", "bad_request")
        self.expect_error(b"[1,2]\n", "bad_request")
        self.expect_error(b"\n", "bad_request")
        self.expect_error(b'{"v":1,"id":1}\n', "bad_request", "op")
        self.expect_error(b'{"id":1,"op":"status"}\n', "bad_request", "v")
        self.expect_error(b'{"v":"1","id":1,"op":"status"}\n', "bad_request",
                          "v")
        self.expect_error(b'{"v":2,"id":1,"op":"status"}\n',
                          "unsupported_version")
        self.expect_error(b'{"v":1,"id":1,"op":"explode"}\n', "unknown_op",
                          "op")
        self.expect_error(b'{"v":1,"id":1,"op":7}\n', "bad_request", "op")
        self.expect_error(b'{"v":1,"id":1,"op":"list","args":[1]}\n',
                          "bad_request", "args")
        self.expect_error(b'{"v":1,"id":{"a":1},"op":"status"}\n',
                          "bad_request", "id")
        # The JSON reader stopped at a NUL byte and answered what came
        # before it.
        self.expect_error(b'{"v":1,"id":5,"op":"status"}\x00garbage\n',
                          "bad_request")
        # An id past 64 bits would come back as another number.
        self.expect_error(b'{"v":1,"id":123456789012345678901234567890,'
                          b'"op":"status"}\n', "bad_request", "id")

    def test_wrong_argument_types(self):
        cases = [
            ("list", {"limit": "ten"}, "args.limit"),
            ("list", {"limit": 0}, "args.limit"),
            ("list", {"limit": 1.5}, "args.limit"),
            ("list", {"since": "yesterday-ish"}, "args.since"),
            ("list", {"path": "relative/path"}, "args.path"),
            ("list", {"bogus": 1}, "args.bogus"),
            ("show", {}, "args.id"),
            ("show", {"id": "1"}, "args.id"),
            ("show", {"id": 1, "show_secrets": "yes"}, "args.show_secrets"),
            ("restore", {"id": 1, "dry_run": 1}, "args.dry_run"),
            ("restore", {"id": 1, "diff": "no"}, "args.diff"),
            ("snapshot", {"paths": "~/.cursor/mcp.json"}, "args.paths"),
            ("snapshot", {"paths": [1]}, "args.paths[0]"),
            ("events", {"after_id": -1}, "args.after_id"),
            # null is not "absent": {"dry_run": null} did a real restore.
            ("restore", {"id": 1, "dry_run": None}, "args.dry_run"),
            ("prune", {"dry_run": None}, "args.dry_run"),
            ("list", {"limit": None}, "args.limit"),
            # 2^63 wrapped to a time long past: every snapshot.
            ("list", {"since": 1 << 63}, "args.since"),
            # A NUL byte ends the path for the system: another file.
            ("snapshot", {"paths": [self.sb.path(CURSOR) + "\0/etc/passwd"],
                          "host": "cursor"}, "args.paths[0]"),
            ("export", {"output": self.sb.path("~/a\0b")}, "args.output"),
            # The daemon's own standard output: its log.
            ("export", {"output": "/proc/self/fd/1"}, "args.output"),
            ("import", {"file": self.sb.path("~/a\0b")}, "args.file"),
        ]
        for op, args, field in cases:
            req = {"v": 1, "id": 1, "op": op, "args": args}
            reply = self.expect_error(json.dumps(req).encode() + b"\n",
                                      "bad_request", field)
            self.assertIn(field, reply["error"]["message"])
        req = {"v": 1, "id": 1, "op": "show", "args": {"id": 424242}}
        self.expect_error(json.dumps(req).encode() + b"\n", "not_found",
                          "args.id")

    def test_import_of_a_fifo_is_refused_without_blocking(self):
        # Opening a FIFO waits for a writer: the daemon's one thread hung,
        # and with it every client and every capture.
        fifo = self.sb.path("~/bundle.fifo")
        os.mkfifo(fifo)
        for dry_run in (True, False):
            req = {"v": 1, "id": 1, "op": "import",
                   "args": {"file": fifo, "dry_run": dry_run}}
            reply = self.expect_error(json.dumps(req).encode() + b"\n",
                                      "bad_request")
            self.assertIn("is not a regular file (a FIFO)",
                          reply["error"]["message"])

    def test_restore_to_what_is_not_a_file_is_refused(self):
        # A socket gave "cannot read the file to restore over ... No such
        # device or address".
        self.sb.write(CURSOR, servers_json("a"))
        snap = self.wait_snapshot(CURSOR, servers_json("a"))
        place = self.sb.path("~/place")
        os.makedirs(place)
        fifo = self.sb.path("~/a.fifo")
        os.mkfifo(fifo)
        for target, what in ((self.sb.socket, b"not a regular file"),
                             (fifo, b"not a regular file"),
                             (place, b"a directory")):
            r = run_ctl(self.sb, "restore", str(snap["id"]), "--to", target,
                        "--yes")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b" is " + what + b"; a snapshot is restored to a "
                          b"file", r.stderr)
        self.bystander_ok()

    def test_nothing_is_written_into_the_state_directory(self):
        # An export or a restore over store.db (or the lock) replaced the
        # daemon's history with an empty store, and said it worked.
        self.sb.write(CURSOR, servers_json("a"))
        snap = self.wait_snapshot(CURSOR, servers_json("a"))
        state = os.path.dirname(self.sb.store_file)
        link = self.sb.path("~/state-link")
        os.symlink(state, link)
        before = [s["id"] for s in self.snapshots()]
        for target in (self.sb.store_file, state + "/mcpbkd.lock",
                       state + "/new-file", link + "/store.db"):
            r = run_ctl(self.sb, "export", "-o", target)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(b"state directory", r.stderr)
            r = run_ctl(self.sb, "restore", str(snap["id"]), "--to", target,
                        "--yes")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(b"state directory", r.stderr)
        self.assertFalse(os.path.exists(state + "/new-file"))
        self.assertEqual([s["id"] for s in self.snapshots()], before)
        self.bystander_ok()

    def test_non_utf8_request(self):
        self.expect_error(b'{"v":1,"id":1,"op":"list\xff\xfe"}\n',
                          "bad_request")
        self.expect_error(b'{"v":1,"id":"\xc3\x28","op":"status"}\n',
                          "bad_request")

    def test_oversized_line_is_refused_and_closed(self):
        with connect(self.sb.socket) as s:
            payload = b'{"v":1,"id":1,"op":"list","args":{"x":"' + \
                b"a" * (1 << 20) + b'"}}\n'
            def send():
                try:
                    s.sendall(payload)
                except OSError:
                    pass  # the daemon closed the connection first
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            line = read_line(s)
            reply = json.loads(line)
            self.assertEqual(reply["error"]["code"], "too_large")
            # Then the connection is closed.
            rest = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except ConnectionResetError:
                pass
            self.assertEqual(rest, b"")
            sender.join(5)
        self.bystander_ok()
        # Just under the limit is fine (a bad_request for the unknown arg).
        req = b'{"v":1,"id":1,"op":"status","args":{"x":"' + \
            b"a" * ((1 << 20) - 60) + b'"}}\n'
        self.assertLessEqual(len(req) - 1, 1 << 20)
        self.expect_error(req, "bad_request", "args.x")

    def test_pipelined_requests_on_one_connection(self):
        with connect(self.sb.socket) as s:
            s.sendall(b"".join(
                json.dumps({"v": 1, "id": i, "op": "list"}).encode() + b"\n"
                for i in range(20)))
            buf = b""
            while buf.count(b"\n") < 20:
                chunk = s.recv(65536)
                self.assertTrue(chunk)
                buf += chunk
            ids = [json.loads(l)["id"] for l in buf.splitlines()]
            self.assertEqual(ids, list(range(20)))

    def test_half_closed_request_without_newline(self):
        with connect(self.sb.socket) as s:
            s.sendall(b'{"v":1,"id":3,"op":"status"}')
            s.shutdown(socket.SHUT_WR)
            reply = json.loads(read_line(s))
            self.assertEqual(reply["id"], 3)
            self.assertTrue(reply["ok"])

    def test_content_and_subscribe_over_the_socket(self):
        snaps = request(self.sb.socket, "list")["result"]["snapshots"]
        reply = request(self.sb.socket, "content", {"id": snaps[0]["id"]})
        import base64
        self.assertEqual(base64.b64decode(reply["result"]["content_base64"]),
                         servers_json("github").encode())
        with connect(self.sb.socket) as s:
            lines = LineReader(s)
            s.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
            self.assertTrue(lines.message()["result"]["subscribed"])
            self.sb.write(CURSOR, servers_json("github", "new"))
            msg = lines.message()
            while msg["event"] != "snapshot":  # events may come first
                self.assertEqual(msg["event"], "event")
                msg = lines.message()
            self.assertEqual(msg["data"]["path"], self.sb.path(CURSOR))

    def test_fifty_concurrent_clients(self):
        results = []
        errors = []

        def client(n):
            try:
                with connect(self.sb.socket) as s:
                    for i in range(5):
                        s.sendall(json.dumps({"v": 1, "id": n * 10 + i,
                                              "op": "list"}).encode() + b"\n")
                        reply = json.loads(read_line(s))
                        results.append(reply["ok"] and
                                       reply["id"] == n * 10 + i)
            except Exception as e:  # collected and reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 250)
        self.assertTrue(all(results))
        self.bystander_ok()

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root and setpriv to act as another user")
    def test_other_uid_is_refused(self):
        # Let uid 65534 reach the socket; the daemon itself must refuse it.
        for d in (self.sb.root, self.sb.runtime_dir,
                  os.path.dirname(self.sb.socket)):
            os.chmod(d, 0o711)
        os.chmod(self.sb.socket, 0o666)
        lines = request_as_nobody(self.sb.socket,
                                  '{"v":1,"id":1,"op":"list"}')
        self.assertEqual(len(lines), 1, lines)
        reply = json.loads(lines[0])
        self.assertEqual(reply["error"]["code"], "forbidden")
        self.bystander_ok()


if __name__ == "__main__":
    unittest.main()

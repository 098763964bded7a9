"""Security: private files, other users refused even through a world-open
socket, no writes through another user's symlink, no secrets in logs or
events, bounded memory per connection, and notify.command without a
shell."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import unittest

from harness import (AS_NOBODY, DaemonTestCase, connect, read_line, request,
                     request_as_nobody, run_ctl, status_kib,
                     wait_for)

CURSOR = "~/.cursor/mcp.json"
CODEX = "~/.codex/config.toml"
SANITIZED = os.environ.get("MCPBK_SANITIZED") == "1"
can_switch_user = unittest.skipUnless(
    os.geteuid() == 0 and shutil.which("setpriv"),
    "needs root and setpriv to act as another user")


def servers_json(*names, env=None):
    return json.dumps({"mcpServers": {
        n: {"command": "npx", "args": ["-y", n], "env": env or {}}
        for n in names}}, indent=2) + "\n"


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


class PermissionsTest(DaemonTestCase):

    def test_every_state_file_is_private(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        for d in (self.sb.state_dir, os.path.dirname(self.sb.socket)):
            self.assertEqual(os.stat(d).st_mode & 0o777, 0o700, d)
        for name in os.listdir(self.sb.state_dir):
            p = os.path.join(self.sb.state_dir, name)
            self.assertEqual(os.stat(p).st_mode & 0o077, 0, p)
        self.assertEqual(os.stat(self.sb.socket).st_mode & 0o777, 0o600)

    @can_switch_user
    def test_world_open_socket_still_refuses_another_uid(self):
        self.daemon.start()
        for d in (self.sb.root, self.sb.runtime_dir,
                  os.path.dirname(self.sb.socket)):
            os.chmod(d, 0o777)
        os.chmod(self.sb.socket, 0o777)
        lines = request_as_nobody(
            self.sb.socket, '{"v":1,"id":1,"op":"restore","args":{"id":1}}')
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(json.loads(lines[0])["error"]["code"], "forbidden")
        self.assertIn("refused a connection from uid 65534", self.daemon.log())
        # The store stays out of reach even so (state dir 0700).
        r = subprocess.run(AS_NOBODY + [sys.executable, "-c",
                                        "open(__import__('sys').argv[1])",
                                        self.sb.store_file],
                           capture_output=True, timeout=30, cwd="/")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"PermissionError", r.stderr)
        self.assertTrue(request(self.sb.socket, "status")["ok"])


class SymlinkTest(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.snap = self.wait_snapshot(CURSOR, servers_json("a"))
        self.shared = os.path.join(self.sb.root, "shared")
        os.makedirs(self.shared)
        os.chmod(self.shared, 0o1777)
        self.victim = self.sb.write("~/.bashrc", "# mine\n")
        self.link = os.path.join(self.shared, "mcp.json")
        os.symlink(self.victim, self.link)

    def test_restore_refuses_another_users_symlink(self):
        os.lchown(self.link, 65534, 65534)
        for extra in ([], ["--socket", os.path.join(self.sb.root, "none")]):
            r = run_ctl(self.sb, *extra, "restore", self.snap["id"], "--to",
                        self.link, "--yes")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(b"owned by uid 65534", r.stderr)
            with open(self.victim) as f:
                self.assertEqual(f.read(), "# mine\n")
            self.assertTrue(os.path.islink(self.link))

    def test_restore_follows_our_own_symlink(self):
        r = run_ctl(self.sb, "restore", self.snap["id"], "--to", self.link,
                    "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.islink(self.link))
        with open(self.victim) as f:
            self.assertEqual(f.read(), servers_json("a"))


class SecretsTest(DaemonTestCase):
    config = DaemonTestCase.config.replace("level: debug", "level: trace")
    TOKENS = ["ghp_S3cr3tT0kenValue0123456789abcdefABCD",
              "sk-live-ZZtopSecretApiKey9876543210",
              "xoxb-1111-2222-SlackBotSecretValue",
              "Bearer-eyJhbGciOiJIUzI1NiJ9.secretpayload",
              "hunter2-very-secret-password-value"]

    def test_no_secret_value_reaches_the_log_or_the_events(self):
        t = self.TOKENS
        self.sb.write(CURSOR, servers_json(
            "github", "slack", "api",
            env={"GITHUB_TOKEN": t[0], "API_KEY": t[1], "SLACK_TOKEN": t[2]}))
        self.sb.write(CODEX, f'[mcp_servers.db]\ncommand = "db"\n'
                             f'env = {{ DB_PASSWORD = "{t[4]}" }}\n')
        self.daemon.start()
        self.wait_quiet()
        steps = [
            servers_json("github", env={"GITHUB_TOKEN": t[0],
                                        "AUTH": t[3]}),      # removals
            '{"mcpServers": {"github": {"env": {"GITHUB_TOKEN": "'
            + t[0] + '", "X": "' + t[3],                       # unparseable
            "",                                                 # emptied
            servers_json("github", env={"GITHUB_TOKEN": t[0]}),
        ]
        for content in steps:
            self.sb.write(CURSOR, content)
            self.wait_snapshot(CURSOR, content)
        bad_toml = f'[mcp_servers.db\nenv = {{ DB_PASSWORD = "{t[4]}"'
        self.sb.write(CODEX, bad_toml)
        self.wait_snapshot(CODEX, bad_toml)
        # Clients read it all back over the socket (the daemon logs at
        # trace while serving them).
        for args in (["list"], ["events"], ["show", "1"], ["diff", "2"],
                     ["status"]):
            run_ctl(self.sb, *args)
        self.assertEqual(self.daemon.stop(), 0)
        log = self.daemon.log()
        self.assertIn("snapshot", log)  # it did log at trace
        con = sqlite3.connect(self.sb.store_file)
        try:
            events = con.execute(
                "SELECT kind || ' ' || path || ' ' || message || ' ' || "
                "details FROM events").fetchall()
            summaries = con.execute(
                "SELECT summary || ' ' || servers FROM snapshots").fetchall()
        finally:
            con.close()
        self.assertTrue(events)
        text = "\n".join(r[0] for r in events + summaries)
        for token in t:
            self.assertNotIn(token, log)
            self.assertNotIn(token, text)
        print(f"\nsecrets: {len(t)} tokens, {len(log.splitlines())} log "
              f"lines, {len(events)} events, 0 leaks", flush=True)


class BoundedMemoryTest(DaemonTestCase):
    # ASan's allocator has redzones and keeps freed memory in a quarantine
    # (made small here); the bound is looser there.
    SLACK_KIB = (250 if SANITIZED else 120) * 1024

    def setUp(self):
        super().setUp()
        self.big = servers_json("big").replace(
            "{", '{"pad": "' + "x" * (512 << 10) + '", ', 1)
        self.sb.write(CURSOR, self.big)
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.daemon.start(extra_env={
            "ASAN_OPTIONS": asan + (":" if asan else "")
            + "quarantine_size_mb=8"})
        self.snap = self.wait_snapshot(CURSOR, self.big)
        self.bystander = connect(self.sb.socket)

    def tearDown(self):
        self.bystander.close()
        super().tearDown()

    def bystander_ok(self):
        self.bystander.sendall(b'{"v":1,"id":"b","op":"status"}\n')
        self.assertTrue(json.loads(read_line(self.bystander))["ok"])

    def test_huge_line_without_newline(self):
        before = rss_kib(self.daemon.proc.pid)
        with connect(self.sb.socket) as s:
            sent = 0
            try:
                chunk = b"x" * (1 << 20)
                for _ in range(64):
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # closed by the daemon after its error line
            reply = json.loads(read_line(s))
        self.assertEqual(reply["error"]["code"], "too_large")
        self.assertLess(rss_kib(self.daemon.proc.pid) - before, 16 * 1024)
        self.bystander_ok()

    def test_clients_that_never_read(self):
        before = rss_kib(self.daemon.proc.pid)
        # Pipelined "content" requests of a 512 KiB snapshot whose replies
        # are never read: without back-pressure that is ~1.4 GB of replies.
        req = json.dumps({"v": 1, "id": 1, "op": "content",
                          "args": {"id": self.snap["id"]}}).encode() + b"\n"
        hogs = []
        for _ in range(10):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(self.sb.socket)
            s.settimeout(1)
            try:
                for _ in range(200):
                    s.sendall(req)
            except socket.timeout:
                pass  # the daemon stopped reading from us: good
            except (BrokenPipeError, ConnectionResetError):
                pass  # or dropped us for not reading: good too
            hogs.append(s)
        # And subscribers that never read while snapshots are made.
        for _ in range(50):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(self.sb.socket)
            try:
                s.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass  # dropped already (too many connections): fine
            hogs.append(s)
        for i in range(30):
            content = servers_json(f"s{i}")
            self.sb.write("~/.codeium/windsurf/mcp_config.json", content)
            self.wait_snapshot("~/.codeium/windsurf/mcp_config.json", content)
        grown = rss_kib(self.daemon.proc.pid) - before
        self.bystander_ok()
        r = run_ctl(self.sb, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        for s in hogs:
            s.close()
        print(f"\nnever-reading clients: RSS grew {grown // 1024} MiB "
              f"(bound {self.SLACK_KIB // 1024} MiB)", flush=True)
        self.assertLess(grown, self.SLACK_KIB)


class NotifyTest(DaemonTestCase):

    def test_notify_command_text_is_never_interpreted_by_a_shell(self):
        out = os.path.join(self.sb.root, "message")
        mark = os.path.join(self.sb.root, "pwned")
        writer = ("import sys; open(sys.argv[1], 'w')"
                  ".write(sys.argv[2] + '|' + sys.argv[3])")
        self.sb.write_config(self.config + "notify:\n  command: "
                             + json.dumps([sys.executable, "-c", writer, out,
                                           "{message}", "{path}$(touch "
                                           + mark + "2)"]) + "\n")
        evil = [f"$(touch {mark})", f"`touch {mark}`", f"; touch {mark}",
                "keep"]
        self.sb.write(CURSOR, servers_json(*evil))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json(*evil))
        self.sb.write(CURSOR, servers_json("keep"))  # high risk: 3 of 4 gone
        # The writer creates the file before it writes: wait for the text.
        wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 10,
                 "notify.command to run")
        with open(out) as f:
            text = f.read()
        self.assertIn(f"$(touch {mark})", text)
        self.assertIn(f"`touch {mark}`", text)
        self.assertTrue(text.endswith(f"$(touch {mark}2)"), text)
        self.assertFalse(os.path.exists(mark))
        self.assertFalse(os.path.exists(mark + "2"))


if __name__ == "__main__":
    unittest.main()

"""Helpers for integration tests: a sandboxed HOME, the real mcpbkd, the real
mcpbkctl, raw socket requests and condition waits with deadlines.

Every test runs the daemon with HOME and XDG_* inside a fresh temp dir and with
every MCPBK_* and host override variable removed, so nothing outside the
sandbox is read or written. A failing test keeps its sandbox (and the daemon's
log) and prints where it is.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import weakref

BUILD_DIR = os.environ.get("MCPBK_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "debug")
MCPBKD = os.path.join(BUILD_DIR, "daemon", "mcpbkd")
MCPBKCTL = os.path.join(BUILD_DIR, "client", "mcpbkctl")

# Variables that would make the daemon look outside the sandbox.
_STRIPPED_PREFIXES = ("MCPBK_", "XDG_")
_STRIPPED = {
    "CLAUDE_CONFIG_DIR", "VSCODE_APPDATA", "VSCODE_PORTABLE", "CODEX_HOME",
    "GEMINI_CLI_HOME", "CLINE_MCP_SETTINGS_PATH", "CLINE_DATA_DIR",
    "CLINE_DIR", "CONTINUE_GLOBAL_DIR", "GOOSE_PATH_ROOT", "OPENCODE_CONFIG",
    "OPENCODE_CONFIG_DIR", "COPILOT_HOME", "FLATPAK_XDG_CONFIG_HOME",
    "NOTIFY_SOCKET", "NO_COLOR",
}

DEFAULT_CONFIG = """\
watch:
  debounce_ms: 50
  max_delay_ms: 400
  poll_interval_ms: 100
log:
  level: debug
"""


def status_kib(pid, field):
    """A memory figure of /proc/PID/status (VmRSS, RssFile, ...) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def wait_for(condition, timeout=10.0, what="a condition", interval=0.01):
    """Polls condition() until it returns a true value, which is returned;
    fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Sandbox:
    """A temp dir holding a fake home and XDG dirs, plus the environment that
    points there."""

    def __init__(self, config=DEFAULT_CONFIG):
        self.root = tempfile.mkdtemp(prefix="mcpbk-it-")
        self.home = os.path.join(self.root, "home")
        self.config_home = os.path.join(self.home, ".config")
        self.state_home = os.path.join(self.home, ".local", "state")
        self.runtime_dir = os.path.join(self.root, "run")
        for d in (self.home, self.config_home, self.state_home):
            os.makedirs(d, exist_ok=True)
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED}
        env.update({
            "HOME": self.home,
            "XDG_CONFIG_HOME": self.config_home,
            "XDG_STATE_HOME": self.state_home,
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_RUNTIME_DIR": self.runtime_dir,
        })
        self.env = env
        self.state_dir = os.path.join(self.state_home, "mcpbk")
        self.store_file = os.path.join(self.state_dir, "store.db")
        self.socket = os.path.join(self.runtime_dir, "mcpbk", "mcpbkd.sock")
        self.config_file = os.path.join(self.config_home, "mcpbk", "config.yaml")
        if config is not None:
            self.write_config(config)

    def write_config(self, text):
        os.makedirs(os.path.dirname(self.config_file), exist_ok=True)
        with open(self.config_file, "w") as f:
            f.write(text)

    def path(self, rel):
        """An absolute path inside the fake home ("~/" optional)."""
        if rel.startswith("~/"):
            rel = rel[2:]
        return os.path.join(self.home, rel)

    def write(self, rel, data, mode="w"):
        """Writes a file in place (truncate + write), creating parents."""
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, mode) as f:
            f.write(data)
        return p

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Daemon:
    """The real mcpbkd running in a sandbox."""

    def __init__(self, sandbox, args=()):
        self.sandbox = sandbox
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(sandbox.root, "mcpbkd.log")

    def start(self, wait=True, extra_env=None):
        env = dict(self.sandbox.env)
        if extra_env:
            env.update(extra_env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MCPBKD] + self.args, env=env,
                                     stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"mcpbkd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                reply = request(self.sandbox.socket, "status")
            except OSError:
                return False
            return reply.get("ok")
        wait_for(ready, timeout, "the daemon to answer status")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("mcpbkd did not stop after " + str(sig))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect(socket_path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(socket_path)
    except OSError:
        s.close()
        raise
    return s


# Bytes received past the last returned line, per socket: replies and
# stream messages may arrive together.
_pending = weakref.WeakKeyDictionary()


def read_line(sock):
    """Returns exactly one line (with its newline), or what arrived before
    the peer closed (b"" when nothing)."""
    buf = _pending.pop(sock, b"")
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    if rest:
        _pending[sock] = rest
    return line + b"\n"


def request(socket_path, op, args=None, req_id=1, timeout=10.0):
    """Sends one request and returns the parsed reply."""
    with connect(socket_path, timeout) as s:
        msg = {"v": 1, "id": req_id, "op": op}
        if args is not None:
            msg["args"] = args
        s.sendall(json.dumps(msg).encode() + b"\n")
        line = read_line(s)
    if not line:
        raise OSError("connection closed without a reply")
    return json.loads(line)


# Runs a command as uid/gid 65534 (needs root and setpriv).
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

_RAW_CLIENT = """\
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\\n")
except OSError:
    pass
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


def request_as_nobody(socket_path, line):
    """Sends one raw request line as uid 65534 and returns the lines the
    daemon sent before it closed the connection."""
    r = subprocess.run(AS_NOBODY + ["/usr/bin/python3", "-c", _RAW_CLIENT,
                                    socket_path, line],
                       capture_output=True, timeout=30, cwd="/")
    if r.returncode != 0:
        raise AssertionError(f"client as uid 65534 failed: {r.stderr!r}")
    return r.stdout.decode().splitlines()


def run_ctl(sandbox, *args, input=None, extra_env=None, timeout=30):
    """Runs the real mcpbkctl in the sandbox; returns CompletedProcess with
    bytes stdout/stderr."""
    env = dict(sandbox.env)
    if extra_env:
        env.update(extra_env)
    return subprocess.run([MCPBKCTL] + [str(a) for a in args], env=env,
                          input=input, capture_output=True, timeout=timeout)


class StoreReader:
    """Reads the store file directly (SQLite), independent of the protocol."""

    def __init__(self, path):
        self.path = path

    def _query(self, sql, params=()):
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                              timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def snapshots(self, path=None):
        """Snapshot rows as dicts, oldest first."""
        cols = ["id", "host", "path", "taken_at", "sha256", "size", "mode",
                "trigger", "risk", "parsed", "servers", "summary", "note",
                "pinned"]
        sql = f"SELECT {', '.join(cols)} FROM snapshots"
        params = ()
        if path is not None:
            sql += " WHERE path = ?"
            params = (path,)
        rows = self._query(sql + " ORDER BY id", params)
        out = []
        for r in rows:
            d = dict(zip(cols, r))
            d["servers"] = json.loads(d["servers"])
            out.append(d)
        return out

    def events(self, kind=None):
        cols = ["id", "at", "severity", "kind", "path", "message", "details"]
        sql = f"SELECT {', '.join(cols)} FROM events"
        params = ()
        if kind:
            sql += " WHERE kind = ?"
            params = (kind,)
        return [dict(zip(cols, r)) for r in self._query(sql + " ORDER BY id",
                                                         params)]


def sha256(data):
    import hashlib
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


class DaemonTestCase(unittest.TestCase):
    """Gives each test a sandbox (self.sb), a daemon (self.daemon, not yet
    started) and a store reader (self.store). Keeps the sandbox when the test
    fails."""

    config = DEFAULT_CONFIG

    def setUp(self):
        self.sb = Sandbox(self.config)
        self.daemon = Daemon(self.sb)
        self.store = StoreReader(self.sb.store_file)

    def tearDown(self):
        self.daemon.kill()
        result = getattr(self._outcome, "result", None)
        failed = False
        if result is not None:
            failed = any(t is self for t, _ in result.failures + result.errors)
        if failed:
            print(f"\nkept sandbox {self.sb.root}; daemon log:\n"
                  f"{self.daemon.log()[-4000:]}")
        else:
            self.sb.cleanup()

    # Domain helpers.
    def snapshots(self, rel=None):
        if not os.path.exists(self.sb.store_file):
            return []
        return self.store.snapshots(self.sb.path(rel) if rel else None)

    def wait_snapshot(self, rel, content, timeout=10.0):
        """Waits until the newest snapshot of a path holds exactly content."""
        digest = sha256(content)

        def check():
            snaps = self.snapshots(rel)
            return snaps[-1] if snaps and snaps[-1]["sha256"] == digest else None
        return wait_for(check, timeout, f"a snapshot of {rel} with the "
                        f"expected content")

    def status_warnings(self):
        """The warnings the running daemon's status lists."""
        return request(self.sb.socket, "status")["result"]["warnings"]

    def wait_quiet(self, timeout=10.0):
        """Waits until the daemon has no pending changes."""
        def quiet():
            r = request(self.sb.socket, "status")
            result = r.get("result", {})
            daemon = result.get("daemon", result)
            return r.get("ok") and daemon.get("pending_changes", 0) == 0
        wait_for(quiet, timeout, "the daemon to settle")

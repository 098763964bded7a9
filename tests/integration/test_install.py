"""scripts/install, the service definitions, man pages and completions.

The install tests run the real scripts/install in a sandboxed HOME with a
prefix inside the sandbox. It installs from the build dir under test
(MCPBK_BUILD_DIR, already built, so the build step is a no-op) and with
--no-deps (the suite's runner installed them). No systemd user manager is
reachable from the sandbox (its XDG_RUNTIME_DIR is empty and the session bus
address is removed), so the script takes its detached path.
"""

import os
import plistlib
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import harness
from harness import Sandbox, StoreReader, request, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALL = os.path.join(ROOT, "scripts", "install")
BUILD_DIR = os.path.abspath(harness.BUILD_DIR)
COMPLETIONS = os.path.join(ROOT, "scripts", "completions")
MAN_PAGES = [os.path.join(ROOT, "docs", "man", "mcpbkd.8"),
             os.path.join(ROOT, "docs", "man", "mcpbkctl.1")]

INSTALLED = [
    "bin/mcpbkd", "bin/mcpbkctl", "share/man/man8/mcpbkd.8",
    "share/man/man1/mcpbkctl.1", "share/mcpbk/config.yaml",
    "share/bash-completion/completions/mcpbkctl",
    "share/zsh/site-functions/_mcpbkctl",
    "share/fish/vendor_completions.d/mcpbkctl.fish",
    "lib/systemd/user/mcpbkd.service",
]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class SandboxedInstall(unittest.TestCase):
    """A sandbox, a prefix inside it, and scripts/install run there. Stops a
    daemon the script left running and keeps the sandbox on failure."""

    config = None

    def setUp(self):
        self.sb = Sandbox(self.config)
        self.prefix = os.path.join(self.sb.root, "prefix")
        self.env = dict(self.sb.env)
        # Keep systemctl --user from reaching a real user manager.
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.env["CMAKE_BUILD_PARALLEL_LEVEL"] = "1"
        self.lock_file = os.path.join(self.sb.state_dir, "mcpbkd.lock")
        self.outputs = []

    def tearDown(self):
        pid = self.lock_pid()
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        result = getattr(self._outcome, "result", None)
        failed = result is not None and any(
            t is self for t, _ in result.failures + result.errors)
        if failed:
            log = os.path.join(self.sb.state_dir, "mcpbkd.log")
            print(f"\nkept sandbox {self.sb.root}")
            for out in self.outputs:
                print(out)
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    print("daemon log:\n" + f.read()[-4000:])
        else:
            self.sb.cleanup()

    def install(self, *args, expect=0):
        cmd = [INSTALL, "--prefix", self.prefix, "--build-dir", BUILD_DIR,
               "--no-deps", *args]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL)
        self.outputs.append(f"$ {' '.join(cmd)}\n-> {r.returncode}\n"
                            f"{r.stdout}\n{r.stderr}")
        if expect is not None:
            self.assertEqual(r.returncode, expect, self.outputs[-1])
        return r

    def lock_pid(self):
        try:
            with open(self.lock_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def status(self):
        reply = request(self.sb.socket, "status")
        self.assertTrue(reply.get("ok"), reply)
        return reply["result"]

    def ctl(self, *args):
        return subprocess.run([os.path.join(self.prefix, "bin", "mcpbkctl"),
                               *args], env=self.env, capture_output=True,
                              text=True, timeout=30)


class InstallTest(SandboxedInstall):

    def test_install_upgrade_uninstall(self):
        # First run: files, default config, a detached daemon that answers.
        r = self.install()
        self.assertIn("started mcpbkd detached", r.stdout)
        self.assertIn("will NOT start at login", r.stdout)
        for rel in INSTALLED:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        with open(self.sb.config_file) as f, \
                open(os.path.join(ROOT, "config.yaml")) as g:
            self.assertEqual(f.read(), g.read())
        first = self.status()
        self.assertTrue(pid_alive(first["pid"]))
        ctl = self.ctl("status")
        self.assertEqual(ctl.returncode, 0, ctl.stderr)
        self.assertIn("mcpbkd", ctl.stdout)

        # It protects: a new host file is snapshotted.
        path = self.sb.write("~/.cursor/mcp.json",
                             '{"mcpServers": {"github": {"command": "gh"}}}')
        store = StoreReader(self.sb.store_file)
        wait_for(lambda: os.path.exists(self.sb.store_file)
                 and store.snapshots(path), 15, "a snapshot of mcp.json")

        # Second run upgrades in place: a new daemon, the user's config kept.
        with open(self.sb.config_file, "a") as f:
            f.write("# edited by the user\n")
        r = self.install()
        self.assertIn(f"stopping the previously started mcpbkd "
                      f"(pid {first['pid']})", r.stdout)
        self.assertIn("keeping your configuration", r.stdout)
        second = self.status()
        self.assertNotEqual(second["instance_id"], first["instance_id"])
        self.assertNotEqual(second["pid"], first["pid"])
        self.assertFalse(pid_alive(first["pid"]))
        with open(self.sb.config_file) as f:
            self.assertTrue(f.read().endswith("# edited by the user\n"))

        # Uninstall: daemon stopped, programs gone, store and config kept.
        r = self.install("--uninstall")
        wait_for(lambda: not pid_alive(second["pid"]), 10, "mcpbkd to exit")
        with self.assertRaises(OSError):
            request(self.sb.socket, "status")
        for rel in INSTALLED:
            self.assertFalse(os.path.exists(os.path.join(self.prefix, rel)),
                             rel)
        self.assertFalse(os.path.exists(
            os.path.join(self.prefix, "share", "mcpbk")))
        self.assertTrue(os.path.exists(self.sb.store_file))
        self.assertIn(f"kept the snapshot store: {self.sb.store_file}",
                      r.stdout)
        self.assertTrue(os.path.exists(self.sb.config_file))
        self.assertEqual(len(store.snapshots(path)), 1)

        # Uninstalling again is harmless.
        r = self.install("--uninstall")
        self.assertIn("kept the snapshot store", r.stdout)

    def test_no_start_installs_files_only(self):
        r = self.install("--no-start")
        self.assertIn("not starting", r.stdout)
        for rel in INSTALLED:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertFalse(os.path.exists(self.sb.socket))
        self.assertEqual(self.lock_pid(), 0)


class InvalidConfigTest(SandboxedInstall):
    config = "retention:\n  max_count: ten\n"

    def test_invalid_config_stops_before_starting(self):
        r = self.install(expect=None)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("retention.max_count", r.stderr)
        self.assertIn("configuration is invalid", r.stderr)
        self.assertFalse(os.path.exists(self.sb.socket))
        with open(self.sb.config_file) as f:
            self.assertEqual(f.read(), self.config)


class ServiceFilesTest(SandboxedInstall):

    def test_systemd_unit(self):
        self.install("--no-start")
        unit = os.path.join(self.prefix, "lib", "systemd", "user",
                            "mcpbkd.service")
        with open(unit) as f:
            text = f.read()
        mcpbkd = os.path.join(self.prefix, "bin", "mcpbkd")
        for line in (f"ExecStart={mcpbkd}", "Type=notify",
                     "Restart=on-failure", "RestartPreventExitStatus=78",
                     "ExecReload=/bin/kill -HUP $MAINPID",
                     "WantedBy=default.target"):
            self.assertIn(line + "\n", text)
        self.assertNotIn("@MCPBKD_PATH@", text)
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed "
                          "(scripts/deps installs the systemd package)")
        env = dict(self.env)
        env["MANPATH"] = os.path.join(self.prefix, "share", "man") + ":"
        r = subprocess.run([analyze, "verify", unit], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("mcpbkd.service", r.stdout + r.stderr)

    def test_launchd_plist(self):
        # What scripts/install does on macOS: fill in the two paths.
        with open(os.path.join(ROOT, "launchd", "com.mcpbk.mcpbkd.plist")) as f:
            text = f.read()
        text = text.replace("@MCPBKD_PATH@", "/Users/me/.local/bin/mcpbkd")
        text = text.replace("@LOG_PATH@",
                            "/Users/me/Library/Logs/mcpbk/mcpbkd.log")
        self.assertNotIn("@", text)
        plist = plistlib.loads(text.encode())
        self.assertEqual(plist["Label"], "com.mcpbk.mcpbkd")
        self.assertEqual(plist["ProgramArguments"],
                         ["/Users/me/.local/bin/mcpbkd"])
        self.assertIs(plist["RunAtLoad"], True)
        self.assertEqual(plist["KeepAlive"], {"SuccessfulExit": False})
        self.assertEqual(plist["ProcessType"], "Background")
        self.assertEqual(plist["StandardOutPath"], plist["StandardErrorPath"])
        self.assertTrue(plist["StandardOutPath"].startswith("/"))
        plutil = shutil.which("plutil")
        if plutil:
            with tempfile.NamedTemporaryFile("w", suffix=".plist") as f:
                f.write(text)
                f.flush()
                r = subprocess.run([plutil, "-lint", f.name],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class CompletionTest(unittest.TestCase):
    """Each completion loads; bash's and fish's offer commands, flags and
    snapshot ids from a stand-in mcpbkctl."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mcpbk-completion-")
        fake = os.path.join(self.tmp, "mcpbkctl")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\necho \'{"snapshots":[{"host":"cursor",'
                    '"id":12,"path":"/a"},{"host":"zed","id":7}]}\'\n')
        os.chmod(fake, 0o755)
        self.env = dict(os.environ, PATH=self.tmp + os.pathsep +
                        os.environ.get("PATH", ""), HOME=self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_shell(self, argv):
        return subprocess.run(argv, env=self.env, capture_output=True,
                              text=True, timeout=60, cwd=self.tmp)

    def test_bash(self):
        script = os.path.join(COMPLETIONS, "mcpbkctl.bash")
        r = self.run_shell(["bash", "-c", f'source "{script}"; '
                            "complete -p mcpbkctl"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertIn("-F _mcpbkctl mcpbkctl", r.stdout)

        def complete(*words):
            line = " ".join(f"'{w}'" for w in words)
            r = self.run_shell(["bash", "-c", f'source "{script}"; '
                                f"COMP_WORDS=({line}); "
                                f"COMP_CWORD={len(words) - 1}; _mcpbkctl; "
                                'printf "%s\\n" "${COMPREPLY[@]}"'])
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.split()
        self.assertIn("restore", complete("mcpbkctl", ""))
        self.assertEqual(complete("mcpbkctl", "--json", "sh"), ["show"])
        self.assertEqual(complete("mcpbkctl", "show", ""), ["12", "7"])
        self.assertEqual(complete("mcpbkctl", "diff", "12", ""), ["12", "7"])
        self.assertIn("--only-mcp", complete("mcpbkctl", "restore", "--"))
        self.assertEqual(complete("mcpbkctl", "list", "--host", "claude-d"),
                         ["claude-desktop"])
        self.assertEqual(complete("mcpbkctl", "import", "--on-conflict", "r"),
                         ["rename"])

    def test_zsh(self):
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        r = self.run_shell(["zsh", "-n", os.path.join(COMPLETIONS,
                                                      "_mcpbkctl")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_fish(self):
        if not shutil.which("fish"):
            self.skipTest("fish is not installed")
        script = os.path.join(COMPLETIONS, "mcpbkctl.fish")
        r = self.run_shell(["fish", "-n", script])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_shell(["fish", "-c", f"source '{script}'; "
                            "complete -C 'mcpbkctl sh'; "
                            "complete -C 'mcpbkctl show '; "
                            "complete -C 'mcpbkctl restore --on'"])
        self.assertEqual(r.returncode, 0, r.stderr)
        words = [line.split("\t")[0] for line in r.stdout.splitlines()]
        for expected in ("show", "12", "7", "--only-mcp"):
            self.assertIn(expected, words)


class ManPageTest(unittest.TestCase):

    def test_pages_render_without_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        for page in MAN_PAGES:
            r = subprocess.run(["groff", "-man", "-z", "-ww", page],
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)
            if shutil.which("man"):
                r = subprocess.run(["man", "--warnings", "-l", page],
                                   capture_output=True, text=True,
                                   env=dict(os.environ, MANWIDTH="80",
                                            MANPAGER="cat", PAGER="cat"))
                self.assertEqual((r.returncode, r.stderr), (0, ""), page)
                name = os.path.basename(page).split(".")[0]
                self.assertTrue(re.search(rf"\b{name}\b", r.stdout), page)

    def test_pages_cover_every_command(self):
        with open(MAN_PAGES[1]) as f:
            page = f.read().replace("\\-", "-")
        for command in ("status", "hosts", "list", "show", "cat", "diff",
                        "restore", "snapshot", "pin", "unpin", "prune",
                        "verify", "events", "export", "import", "doctor",
                        "--json", "--socket", "--config", "--state-dir",
                        "--show-secrets"):
            self.assertIn(command, page)


if __name__ == "__main__":
    unittest.main()

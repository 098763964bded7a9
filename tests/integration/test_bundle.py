"""Export and import between two sandboxed machines, through the real
daemons and the real mcpbkctl."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

from harness import (Daemon, DEFAULT_CONFIG, MCPBKCTL, MCPBKD, Sandbox,
                     StoreReader, request, run_ctl, sha256, wait_for)

CURSOR = "~/.cursor/mcp.json"
SECRET = "ghp_" + "Q" * 36


def config(n):
    return json.dumps({"mcpServers": {
        "github": {"command": "gh-mcp",
                   "env": {"GITHUB_TOKEN": SECRET}},
        "n": {"command": f"v{n}"}}}, indent=2) + "\n"


class Machine:
    def __init__(self):
        self.sb = Sandbox(DEFAULT_CONFIG)
        self.daemon = Daemon(self.sb)
        self.store = StoreReader(self.sb.store_file)

    def ctl(self, *args, code=0):
        r = run_ctl(self.sb, *args)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        return r


class BundleTest(unittest.TestCase):

    def setUp(self):
        self.a = Machine()
        self.b = Machine()
        self.bundle = os.path.join(self.a.sb.root, "history.mcpbk")
        # Machine A records three versions of its Cursor config.
        self.a.sb.write(CURSOR, config(0))
        self.a.daemon.start()
        for n in range(0, 3):
            if n:
                self.a.sb.write(CURSOR, config(n))
            path = self.a.sb.path(CURSOR)
            wait_for(lambda: any(s["sha256"] == sha256(config(n))
                                 for s in self.a.store.snapshots(path)),
                     10, f"version {n} on machine A")

    def tearDown(self):
        for m in (self.a, self.b):
            m.daemon.kill()
        failed = any(t is self for t, _ in
                     self._outcome.result.failures + self._outcome.result.errors)
        if failed:
            print(f"\nkept {self.a.sb.root} and {self.b.sb.root}")
        else:
            self.a.sb.cleanup()
            self.b.sb.cleanup()

    def test_round_trip_between_two_machines(self):
        r = self.a.ctl("export", "-o", self.bundle, "--json")
        out = json.loads(r.stdout)
        self.assertEqual(out["snapshots"], 3)
        self.assertEqual(os.stat(self.bundle).st_mode & 0o777, 0o600)
        shutil.copy(self.bundle, os.path.join(self.b.sb.root, "in.mcpbk"))
        self.b.daemon.start()
        r = self.b.ctl("import", os.path.join(self.b.sb.root, "in.mcpbk"),
                       "--map-home", "--json")
        res = json.loads(r.stdout)
        self.assertEqual((res["created"], res["skipped"]), (3, 0))
        # Same path on B after --map-home, original times, trigger import.
        b_path = self.b.sb.path(CURSOR)
        snaps = self.b.store.snapshots(b_path)
        a_snaps = self.a.store.snapshots(self.a.sb.path(CURSOR))
        self.assertEqual([s["taken_at"] for s in snaps],
                         [s["taken_at"] for s in a_snaps])
        self.assertTrue(all(s["trigger"] == "import" for s in snaps))
        # Restore the oldest on B: byte exact.
        self.b.ctl("restore", str(snaps[0]["id"]), "--yes")
        with open(b_path) as f:
            self.assertEqual(f.read(), config(0))
        # A second import skips everything.
        r = self.b.ctl("import", os.path.join(self.b.sb.root, "in.mcpbk"),
                       "--map-home", "--json")
        self.assertEqual(json.loads(r.stdout)["skipped"], 3)
        # The event log says where the history came from, once: the second
        # import added nothing.
        imported = [e for e in json.loads(self.b.ctl(
            "events", "--json").stdout)["events"] if e["kind"] == "imported"]
        self.assertEqual(len(imported), 1, imported)
        self.assertEqual(imported[0]["severity"], "info")
        self.assertEqual(imported[0]["message"],
                         "imported 3 snapshots from "
                         f"{os.path.join(self.b.sb.root, 'in.mcpbk')} (made on "
                         f"{res['source_machine']}, 0 already here)")
        self.assertEqual(imported[0]["details"]["created"], 3)

    def test_an_older_history_imported_is_listed_below_the_newer_one(self):
        # B's own history of the file is newer than A's: a good version,
        # then a broken save. A's three versions imported afterwards are
        # listed by their times, below B's, and --last-good restores B's
        # good version, not A's newest (recorded later, but older).
        self.a.ctl("export", "-o", self.bundle)
        path = self.b.sb.write(CURSOR, config(10))
        self.b.daemon.start()
        wait_for(lambda: len(self.b.store.snapshots(path)) == 1, 10,
                 "B's version")
        self.b.sb.write(CURSOR, '{"mcpServers": {')
        wait_for(lambda: len(self.b.store.snapshots(path)) == 2, 10,
                 "B's broken save")
        self.b.ctl("import", self.bundle, "--map-home")
        listed = json.loads(self.b.ctl("list", "--json").stdout)["snapshots"]
        self.assertEqual([s["trigger"] for s in listed],
                         ["change", "initial", "import", "import", "import"])
        self.assertEqual([s["taken_at"] for s in listed],
                         sorted((s["taken_at"] for s in listed), reverse=True))
        self.b.ctl("restore", "--last-good", "--path", CURSOR, "--yes")
        with open(path) as f:
            self.assertEqual(f.read(), config(10))
        # What B records next is listed first.
        self.b.sb.write(CURSOR, config(11))
        wait_for(lambda: json.loads(self.b.ctl(
            "list", "--limit", "1", "--json").stdout)["snapshots"][0][
                "sha256"] == sha256(config(11)), 10, "B's next version")

    def test_a_new_machine_rates_its_changes_against_its_own_history(self):
        # A's history imported onto B, where the file is not there yet: it
        # is not "deleted" (it never was here). Then B's own file, and a
        # change to it, are rated against B's versions, not A's newer ones
        # (B's first version was "critical +local -github -n", and a
        # change to it "high" with A's servers in its summary).
        self.a.ctl("export", "-o", self.bundle)
        self.b.daemon.start()
        self.b.ctl("import", self.bundle, "--map-home")
        status = json.loads(self.b.ctl("status", "--json").stdout)
        cursor = [w for w in status["watched"]
                  if w["path"] == self.b.sb.path(CURSOR)]
        self.assertEqual(len(cursor), 1, status["watched"])
        self.assertFalse(cursor[0].get("deleted", False), cursor)
        local = json.dumps({"mcpServers": {"local": {"command": "l"}}})
        path = self.b.sb.write(CURSOR, local)
        wait_for(lambda: any(s["sha256"] == sha256(local)
                             for s in self.b.store.snapshots(path)), 10,
                 "B's own first version")
        both = json.dumps({"mcpServers": {"local": {"command": "l"},
                                          "b2": {"command": "b"}}})
        self.b.sb.write(CURSOR, both)
        wait_for(lambda: any(s["sha256"] == sha256(both)
                             for s in self.b.store.snapshots(path)), 10,
                 "B's change")
        listed = json.loads(self.b.ctl("list", "--path", CURSOR, "--json")
                            .stdout)["snapshots"]
        mine = [s for s in listed if s["trigger"] != "import"]
        self.assertEqual([s["summary"] for s in mine],
                         ["+b2", "initial: 1 server"])
        self.assertNotIn(mine[0]["risk"], ("high", "critical"))
        events = json.loads(self.b.ctl("events", "--json").stdout)["events"]
        self.assertFalse([e for e in events if e["kind"] == "risky_change"
                          and e["details"]["risk"] in ("high", "critical")],
                         events)

    def test_the_last_good_version_is_this_machines_own(self):
        # A's good versions, dated after B's own, are another machine's
        # servers: B's broken file was "parseable again ... against A's",
        # a high risk change, and status named A's as the last good one.
        mine = json.dumps({"mcpServers": {"mine": {"command": "m"}}})
        path = self.b.sb.write(CURSOR, mine)
        self.b.daemon.start()
        wait_for(lambda: len(self.b.store.snapshots(path)) == 1, 10,
                 "B's version")
        own = self.b.store.snapshots(path)[0]["id"]
        self.a.sb.write(CURSOR, config(7))  # A's newest, after B's
        wait_for(lambda: any(s["sha256"] == sha256(config(7)) for s in
                             self.a.store.snapshots(self.a.sb.path(CURSOR))),
                 10, "A's newer version")
        self.a.ctl("export", "-o", self.bundle)
        self.b.ctl("import", self.bundle, "--map-home")
        self.b.sb.write(CURSOR, '{"mcpServers": {"mine":')
        wait_for(lambda: len([s for s in self.b.store.snapshots(path)
                              if s["trigger"] != "import"]) == 2, 10,
                 "B's broken save")
        status = json.loads(self.b.ctl("status", "--json").stdout)
        entry = [w for w in status["watched"] if w["path"] == path][0]
        self.assertEqual(entry["last_good_id"], own, entry)
        self.b.sb.write(CURSOR, mine)
        wait_for(lambda: len([s for s in self.b.store.snapshots(path)
                              if s["trigger"] != "import"]) == 3, 10,
                 "B's mended save")
        listed = json.loads(self.b.ctl("list", "--path", CURSOR, "--limit",
                                       "1", "--json").stdout)["snapshots"]
        self.assertEqual(listed[0]["summary"],
                         f"parseable again: 1 server; the servers of #{own}")
        self.assertNotIn(listed[0]["risk"], ("high", "critical"))

    def test_paths_under_another_home_are_pointed_out(self):
        # B's home is not A's: without --map-home the snapshots keep A's
        # paths, which are not B's files; the import says so, and how to
        # place them under B's home.
        self.a.ctl("export", "-o", self.bundle)
        self.b.daemon.start()
        a_home = self.a.sb.home
        note = (f"note: 3 snapshots keep their paths under the bundle's "
                f"home, {a_home}, not yours; --map-home imports them as the "
                f"history of your own files")
        r = self.b.ctl("import", self.bundle, "--dry-run")
        self.assertIn(note + "\n", r.stdout.decode())
        r = self.b.ctl("import", self.bundle)
        self.assertIn(note + " (import again with it)\n", r.stdout.decode())
        self.assertEqual(
            [s["path"] for s in self.b.store.snapshots()],
            [self.a.sb.path(CURSOR)] * 3)
        # Restored as they are, they would go where A's home is; on another
        # machine that directory is not there, and the restore says how to
        # place the content instead of making it.
        a_dir = os.path.dirname(self.a.sb.path(CURSOR))
        os.rename(a_dir, a_dir + ".away")
        try:
            newest = self.b.store.snapshots()[-1]["id"]
            r = self.b.ctl("restore", str(newest), "--yes", code=1)
            self.assertIn(
                f"snapshot #{newest} was imported with its path on another "
                f"machine, {self.a.sb.path(CURSOR)}, whose directory does "
                f"not exist here: restore it with --to PATH (or import the "
                f"bundle again with --map-home)", r.stderr.decode())
            self.assertFalse(os.path.exists(a_dir))
            self.b.ctl("restore", str(newest), "--to",
                       self.b.sb.path(CURSOR), "--yes")
            with open(self.b.sb.path(CURSOR)) as f:
                self.assertEqual(f.read(), config(2))
        finally:
            os.rename(a_dir + ".away", a_dir)
        r = self.b.ctl("import", self.bundle, "--map-home", "--json")
        res = json.loads(r.stdout)
        self.assertEqual((res["created"], res["outside_home"]), (3, 0))
        r = self.b.ctl("import", self.bundle, "--map-home")
        self.assertNotIn(b"note:", r.stdout)
        # On its own machine, a bundle's paths are the machine's files: A,
        # its store lost, imports its history back.
        self.assertEqual(self.a.daemon.stop(), 0)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.a.sb.store_file + suffix):
                os.remove(self.a.sb.store_file + suffix)
        self.a.daemon.start()
        r = self.a.ctl("import", self.bundle)
        self.assertTrue(r.stdout.startswith(b"imported: 3 created"), r.stdout)
        self.assertNotIn(b"note:", r.stdout)

    def test_import_without_a_daemon(self):
        self.a.ctl("export", "-o", self.bundle)
        self.b.daemon.start()
        self.assertEqual(self.b.daemon.stop(), 0)
        r = self.b.ctl("import", self.bundle, "--json")
        self.assertIn(b"using the store directly", r.stderr)
        self.assertEqual(json.loads(r.stdout)["created"], 3)

    def test_redacted_bundle_holds_no_secret(self):
        self.a.ctl("export", "-o", self.bundle, "--redact")
        raw = subprocess.run(["zstd", "-dc", self.bundle], check=True,
                             capture_output=True).stdout
        self.assertTrue(raw.startswith(b'{"'))
        import base64
        decoded = b"".join(
            base64.b64decode(json.loads(line)["content"])
            for line in raw.splitlines() if b'"type":"snapshot"' in line)
        self.assertNotIn(SECRET.encode(), raw)
        self.assertNotIn(SECRET.encode(), decoded)
        self.assertIn(b"gh-mcp", decoded)
        self.b.daemon.start()
        self.b.ctl("import", self.bundle)
        snaps = self.b.store.snapshots()
        self.assertEqual(len(snaps), 3)
        # Restoring a redacted snapshot warns that secrets are placeholders.
        r = self.b.ctl("restore", str(snaps[0]["id"]), "--yes",
                       "--to", os.path.join(self.b.sb.root, "restored.json"))
        self.assertIn(b"redacted", r.stderr + r.stdout)
        # The restore's record holds the placeholders too, and says so;
        # show names them as such, unmasked.
        r = json.loads(self.b.ctl(
            "--json", "restore", str(snaps[1]["id"]), "--yes", "--to",
            os.path.join(self.b.sb.root, "restored2.json")).stdout)
        self.assertTrue(r["snapshot"]["redacted"])
        out = self.b.ctl("show", str(r["snapshot"]["id"])).stdout
        self.assertIn(b"redacted  yes: its secret values are placeholders",
                      out)
        self.assertIn(b'"GITHUB_TOKEN": "<redacted by mcpbk>"', out)

    def test_secrets_named_in_args_and_urls_are_redacted(self):
        # Values given by name on a command line or in a URL, in a file
        # that parses and in one cut short while it was written.
        full = json.dumps({"mcpServers": {"x": {
            "command": "npx",
            "args": ["--api-key", "argsecretvalue1", "--token=argsecret2"],
            "url": "https://h.example/mcp?api_key=urlsecretvalue3&v=1"}}},
            indent=2) + "\n"
        path = self.a.sb.path(CURSOR)
        for text in (full, full[:full.index("argsecret2") + 6]):
            self.a.sb.write(CURSOR, text)
            wait_for(lambda: any(s["sha256"] == sha256(text)
                                 for s in self.a.store.snapshots(path)),
                     10, "the version on machine A")
        self.a.ctl("export", "-o", self.bundle, "--redact")
        raw = subprocess.run(["zstd", "-dc", self.bundle], check=True,
                             capture_output=True).stdout
        import base64
        decoded = b"".join(
            base64.b64decode(json.loads(line)["content"])
            for line in raw.splitlines() if b'"type":"snapshot"' in line)
        for secret in (b"argsecretvalue1", b"argsecret", b"urlsecretvalue3"):
            self.assertNotIn(secret, decoded)
        self.assertIn(b'"--api-key"', decoded)
        self.assertIn(b"?api_key=<redacted by mcpbk>&v=1", decoded)

    def test_a_secret_on_the_line_after_its_key_is_redacted(self):
        # Valid JSON may put a value on the line after its key; the line
        # rules alone missed it in diff, and the redacted bundle kept it.
        hidden = "nextlinevalue-" + "8" * 12
        text = ('{\n  "mcpServers": {\n    "db": {\n      "command": "db",\n'
                '      "env": {\n        "DB_PASSWORD":\n          "'
                + hidden + '"\n      }\n    }\n  }\n}\n')
        self.a.sb.write(CURSOR, text)
        path = self.a.sb.path(CURSOR)
        wait_for(lambda: any(s["sha256"] == sha256(text)
                             for s in self.a.store.snapshots(path)),
                 10, "the new version on machine A")
        first = self.a.store.snapshots(path)[0]["id"]
        r = self.a.ctl("diff", str(first))
        self.assertIn(b"DB_PASSWORD", r.stdout)
        self.assertNotIn(hidden.encode(), r.stdout)
        self.a.ctl("export", "-o", self.bundle, "--redact", "--path", path)
        raw = subprocess.run(["zstd", "-dc", self.bundle], check=True,
                             capture_output=True).stdout
        import base64
        contents = [base64.b64decode(json.loads(line)["content"])
                    for line in raw.splitlines()
                    if b'"type":"snapshot"' in line]
        self.assertEqual(len(contents), 4)
        self.assertNotIn(hidden.encode(), raw)
        for content in contents:
            self.assertNotIn(hidden.encode(), content)
            self.assertNotIn(SECRET.encode(), content)
            json.loads(content)  # still a valid file

    def test_what_cannot_be_exported_is_left_out_and_named(self):
        # A damaged blob, or a path that JSON cannot hold (a directory named
        # in another encoding), used to fail the whole export.
        odd = os.path.join(self.a.sb.root.encode(), b"home", b"odd\xff")
        os.makedirs(odd)
        self.a.sb.write_config(DEFAULT_CONFIG.replace(
            "watch:\n", "watch:\n  paths:\n    - {path: \"~/odd*/mcp.json\", "
            "host: cursor}\n"))
        self.a.daemon.stop()
        with open(os.path.join(odd, b"mcp.json"), "w") as f:
            f.write(config(7))
        self.a.daemon.start()
        def paths():
            con = sqlite3.connect(self.a.sb.store_file)
            con.text_factory = bytes
            try:
                return [row[0] for row in
                        con.execute("SELECT path FROM snapshots")]
            finally:
                con.close()
        wait_for(lambda: any(p.startswith(odd) for p in paths()), 10,
                 "the file under a non-UTF-8 name")
        # It can be named on the command line, though JSON turns its bad
        # byte into U+FFFD on the way to the daemon.
        r = subprocess.run([MCPBKCTL, "--json", "list", "--path",
                            os.path.join(odd, b"mcp.json")],
                           env=self.a.sb.env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["snapshots"]), 1)
        path = self.a.sb.path(CURSOR)
        damaged = self.a.store.snapshots(path)[1]
        con = sqlite3.connect(self.a.sb.store_file)
        con.execute("UPDATE blobs SET compression = 'none', data = ?, "
                    "base = NULL WHERE sha256 = ?",
                    (b"not what was saved", damaged["sha256"]))
        con.commit()
        con.close()
        r = self.a.ctl("export", "-o", self.bundle)
        self.assertIn(b"exported 2 snapshots", r.stdout)
        err = r.stderr.decode(errors="replace")
        self.assertIn("mcpbkctl: warning: 2 snapshots could not be exported "
                      "and were left out (mcpbkctl verify checks the store):",
                      err)
        self.assertIn(f"  #{damaged['id']} ~/.cursor/mcp.json: ", err)
        self.assertIn("does not match its hash", err)
        self.assertIn("its path is not valid UTF-8", err)
        self.b.daemon.start()
        r = json.loads(self.b.ctl("import", self.bundle, "--json").stdout)
        self.assertEqual(r["created"], 2)
        self.assertEqual(
            sorted(s["sha256"] for s in self.b.store.snapshots(path)),
            sorted(sha256(config(n)) for n in (0, 2)))

    def test_last_good_of_a_host_is_this_machines_file(self):
        # Another machine's history (imported without --map-home) does not
        # make restore --last-good --host ask which file: only this
        # machine's watched files count while one of them has a good copy.
        self.a.ctl("export", "-o", self.bundle)
        self.b.sb.write(CURSOR, config(7))
        self.b.daemon.start()
        path = self.b.sb.path(CURSOR)
        wait_for(lambda: self.b.store.snapshots(path), 10, "B's own snapshot")
        own = self.b.store.snapshots(path)[-1]["id"]
        self.b.sb.write(CURSOR, "{broken")
        wait_for(lambda: self.b.store.snapshots(path)[-1]["sha256"] ==
                 sha256("{broken"), 10, "the broken save")
        self.b.ctl("import", self.bundle)
        r = json.loads(self.b.ctl("--json", "restore", "--last-good", "--host",
                                  "cursor", "--yes").stdout)
        self.assertEqual(r["restored_from"]["id"], own)
        with open(path) as f:
            self.assertEqual(f.read(), config(7))

    def test_import_before_the_daemon_ever_ran(self):
        # A new machine: the history goes in first, the daemon starts on it.
        self.a.ctl("export", "-o", self.bundle)
        self.assertFalse(os.path.exists(self.b.sb.store_file))
        # A dry run first: it makes nothing where the store will be, and
        # leaves nothing behind.
        tmp = os.path.join(self.b.sb.root, "tmp")
        os.makedirs(tmp)
        r = run_ctl(self.b.sb, "import", self.bundle, "--map-home",
                    "--dry-run", extra_env={"TMPDIR": tmp})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"would import: 3 created", r.stdout)
        self.assertIn(b"the dry run compares the bundle with an empty store",
                      r.stderr)
        self.assertFalse(os.path.exists(self.b.sb.store_file))
        self.assertFalse(os.path.exists(self.b.sb.state_dir))
        self.assertEqual(os.listdir(tmp), [])
        # Ended by a signal (its reader gone: SIGPIPE), the same.
        env = dict(self.b.sb.env, TMPDIR=tmp)
        subprocess.run(f"'{MCPBKCTL}' import '{self.bundle}' --map-home "
                       "--dry-run 2>&1 | head -c 1", shell=True, env=env,
                       capture_output=True, timeout=30)
        self.assertEqual(os.listdir(tmp), [])
        # A bundle that cannot be read makes no store either (a mistyped
        # name left an empty one).
        r = run_ctl(self.b.sb, "import", self.bundle + ".typo")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot open " + self.bundle.encode() + b".typo: No "
                      b"such file or directory", r.stderr)
        self.assertFalse(os.path.exists(self.b.sb.state_dir))
        # Nor does one that is not a bundle, or a directory: the store made
        # for them goes again with the import that failed.
        notes = os.path.join(self.b.sb.root, "notes.txt")
        with open(notes, "w") as f:
            f.write("x\n")
        for wrong in (notes, self.b.sb.root):
            r = run_ctl(self.b.sb, "import", wrong)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertFalse(os.path.exists(self.b.sb.state_dir), wrong)
        r = self.b.ctl("import", self.bundle, "--map-home", "--json")
        self.assertEqual(json.loads(r.stdout)["created"], 3)
        self.assertIn(b"creating the store", r.stderr)
        self.assertEqual(os.stat(self.b.sb.state_dir).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(self.b.sb.store_file).st_mode & 0o077, 0)
        self.b.daemon.start()
        self.assertEqual(len(self.b.store.snapshots(self.b.sb.path(CURSOR))),
                         3)

    def test_export_reads_the_store_the_daemon_serves(self):
        # A daemon started with --state-dir serves another store than the
        # config names: export follows the daemon (it said "no store", or
        # exported a stale store left where the config points).
        self.a.daemon.stop()
        elsewhere = os.path.join(self.a.sb.root, "elsewhere")
        shutil.move(self.a.sb.state_dir, elsewhere)
        proc = subprocess.Popen([MCPBKD, "--state-dir", elsewhere],
                                env=self.a.sb.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: os.path.exists(self.a.sb.socket), 10,
                     "the daemon's socket")
            wait_for(lambda: request(self.a.sb.socket, "status")["ok"], 10,
                     "a status")
            r = json.loads(self.a.ctl("--json", "export", "-o",
                                      self.bundle).stdout)
            self.assertEqual(r["snapshots"], 3)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    def test_damaged_bundles_import_nothing(self):
        self.a.ctl("export", "-o", self.bundle)
        data = open(self.bundle, "rb").read()
        self.b.daemon.start()
        cases = {
            "truncated": data[: len(data) // 2],
            "tampered": data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],
        }
        for name, content in cases.items():
            p = os.path.join(self.b.sb.root, name + ".mcpbk")
            with open(p, "wb") as f:
                f.write(content)
            r = self.b.ctl("import", p, code=1)
            self.assertTrue(r.stderr.startswith(b"mcpbkctl: "), r.stderr)
        # A bundle from a future format version.
        raw = subprocess.run(["zstd", "-dc", self.bundle], check=True,
                             capture_output=True).stdout
        future = raw.replace(b'"version":1', b'"version":9', 1)
        p = os.path.join(self.b.sb.root, "future.mcpbk")
        subprocess.run(["zstd", "-q", "-f", "-o", p], input=future, check=True)
        r = self.b.ctl("import", p, code=1)
        self.assertIn(b"version 9", r.stderr)
        self.assertEqual(self.b.store.snapshots(), [])

    def test_conflict_strategies(self):
        self.a.ctl("export", "-o", self.bundle)
        self.b.daemon.start()
        self.b.ctl("import", self.bundle)
        # Make a different snapshot sit at the same path and time: import a
        # bundle of B's history into A, whose own snapshots differ.
        a_file = self.a.sb.path(CURSOR)
        self.a.sb.write(CURSOR, config(99))
        wait_for(lambda: any(s["sha256"] == sha256(config(99))
                             for s in self.a.store.snapshots(a_file)),
                 10, "version 99 on machine A")
        other = os.path.join(self.a.sb.root, "second.mcpbk")
        self.a.ctl("export", "-o", other)
        # B already has the first three: equal content is always skipped.
        r = self.b.ctl("import", other, "--on-conflict", "fail", "--json")
        res = json.loads(r.stdout)
        self.assertEqual((res["created"], res["skipped"]), (1, 3))

    def test_conflicts_are_not_called_already_here(self):
        # A redacted export of the same history: the same paths and times,
        # other content. "0 created, 3 skipped" and "3 already here" said
        # they were here; their content was not imported.
        redacted = os.path.join(self.a.sb.root, "redacted.mcpbk")
        self.a.ctl("export", "-o", self.bundle)
        self.a.ctl("export", "--redact", "-o", redacted)
        self.b.daemon.start()
        self.b.ctl("import", self.bundle)
        r = self.b.ctl("import", redacted, "--json")
        res = json.loads(r.stdout)
        self.assertEqual((res["created"], res["skipped"], res["conflicts"]),
                         (0, 3, 3))
        r = self.b.ctl("import", redacted)
        self.assertIn(b"note: 3 skipped snapshots differ from the one already "
                      b"at its path and time, and were left out; "
                      b"--on-conflict rename keeps them beside it", r.stdout)

    def test_export_writes_nothing_it_should_not(self):
        self.a.ctl("export", "-o", self.bundle)
        with open(self.bundle, "rb") as f:
            kept = f.read()
        # A filter that matches nothing (a mistyped path) wrote an empty
        # bundle over the file, maybe the only backup.
        for filter_args in (["--path", "~/.cursr/mcp.json"],
                            ["--host", "zed"]):
            r = self.a.ctl("export", *filter_args, "-o", self.bundle,
                           code=1)
            self.assertIn(b"no snapshots match; nothing was written",
                          r.stderr)
        with open(self.bundle, "rb") as f:
            self.assertEqual(f.read(), kept)
        # Over a watched config, or through a link to one: the host's file
        # became zstd bytes.
        link = self.a.sb.path("~/cursor-link.json")
        os.symlink(self.a.sb.path(CURSOR), link)
        for target in (self.a.sb.path(CURSOR), link):
            r = self.a.ctl("export", "-o", target, code=1)
            self.assertIn(b"is a watched cursor config; the bundle would "
                          b"replace it", r.stderr)
        with open(self.a.sb.path(CURSOR)) as f:
            self.assertEqual(f.read(), config(2))

    def test_import_from_a_pipe_or_a_fifo(self):
        # The daemon opened /dev/stdin as its own, and blocked on a FIFO.
        self.a.ctl("export", "-o", self.bundle)
        self.b.daemon.start()
        r = subprocess.run(f"cat '{self.bundle}' | '{MCPBKCTL}' import "
                           "/dev/stdin --json", shell=True, env=self.b.sb.env,
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["created"], 3)
        # Named as the user named it, not /proc/PID/fd/N.
        self.assertEqual(json.loads(r.stdout)["file"], "/dev/stdin")
        # Standard input from a file is that file.
        with open(self.bundle, "rb") as f:
            r = subprocess.run([MCPBKCTL, "import", "/dev/stdin", "--json"],
                               stdin=f, env=self.b.sb.env,
                               capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["file"], self.bundle)
        imported = [e for e in json.loads(self.b.ctl(
            "events", "--json").stdout)["events"] if e["kind"] == "imported"]
        self.assertIn("from /dev/stdin (made on", imported[0]["message"])
        # What is not a bundle is not read to its end (/dev/zero filled
        # memory).
        r = subprocess.run(f"head -c 100000 /dev/zero | '{MCPBKCTL}' import "
                           "/dev/stdin", shell=True, env=self.b.sb.env,
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"/dev/stdin is not a bundle", r.stderr)
        fifo = os.path.join(self.b.sb.root, "bundle.fifo")
        os.mkfifo(fifo)
        feeder = subprocess.Popen(["sh", "-c", f"cat '{self.bundle}' > "
                                   f"'{fifo}'"])
        try:
            r = self.b.ctl("import", fifo, "--json")
            self.assertEqual(json.loads(r.stdout)["skipped"], 3)
        finally:
            feeder.wait(timeout=30)
        self.b.ctl("status")  # the daemon goes on

    def test_import_refuses_content_over_max_file_bytes(self):
        # The daemon records no file over store.max_file_bytes; a bundle of
        # a few KB holding 64 MiB took it to 600 MB.
        self.a.ctl("export", "-o", self.bundle)
        self.b.sb.write_config(DEFAULT_CONFIG + "store:\n"
                               "  max_file_bytes: 100\n")
        self.b.daemon.start()
        r = self.b.ctl("import", self.bundle, code=1)
        self.assertIn(b"store.max_file_bytes (100)", r.stderr)
        self.assertEqual(self.b.store.snapshots(), [])


if __name__ == "__main__":
    unittest.main()


class LargeExportTest(unittest.TestCase):
    """Export streams: its peak memory does not grow with the number of
    snapshots (10 000 vs 100 000)."""

    def setUp(self):
        self.m = Machine()

    def tearDown(self):
        self.m.daemon.kill()
        failed = any(t is self for t, _ in
                     self._outcome.result.failures + self._outcome.result.errors)
        if failed:
            print(f"\nkept {self.m.sb.root}")
        else:
            self.m.sb.cleanup()

    def fill(self, count):
        """Adds `count` snapshots of 50 small files straight into the store
        (uncompressed blobs: the store reads both kinds)."""
        import sqlite3
        con = sqlite3.connect(self.m.sb.store_file)
        contents = [config(i).encode() for i in range(50)]
        for c in contents:
            con.execute("INSERT OR IGNORE INTO blobs(sha256, size, compression,"
                        " data) VALUES (?, ?, 'none', ?)",
                        (sha256(c), len(c), c))
        rows = []
        for i in range(count):
            c = contents[i % 50]
            rows.append(("cursor", self.m.sb.path(f"~/p{i % 50}/.mcp.json"),
                         1_700_000_000_000_000 + i, sha256(c), len(c), 0o644,
                         "change", "low", 1, '["github","n"]', "d", "+n",
                         None, 0))
        con.executemany(
            "INSERT INTO snapshots(host, path, taken_at, sha256, size, mode, "
            "trigger, risk, parsed, servers, mcp_sha256, summary, note, "
            "pinned) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        con.commit()
        con.close()

    def export_peak_kib(self, out):
        """Runs mcpbkctl export in its own child and returns its peak RSS."""
        from harness import MCPBKCTL
        probe = ("import resource, subprocess, sys\n"
                 "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
                 "assert r.returncode == 0, r.stderr\n"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN)"
                 ".ru_maxrss)\n")
        r = subprocess.run([sys.executable, "-c", probe, MCPBKCTL, "export",
                            "-o", out, "--json"], env=self.m.sb.env,
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout.decode().split()[-1])

    def test_export_memory_does_not_grow_with_the_store(self):
        self.m.daemon.start()
        self.assertEqual(self.m.daemon.stop(), 0)  # schema created
        self.fill(10_000)
        small = self.export_peak_kib(os.path.join(self.m.sb.root, "a.mcpbk"))
        self.fill(90_000)
        out = os.path.join(self.m.sb.root, "b.mcpbk")
        large = self.export_peak_kib(out)
        self.assertGreater(os.path.getsize(out), 100_000)
        # 10x the snapshots: the peak may move by allocator noise, not 10x.
        self.assertLess(large, small * 1.5 + 4096,
                        f"10k: {small} KiB, 100k: {large} KiB")

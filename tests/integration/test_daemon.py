"""Integration tests of mcpbkd: the real daemon, real inotify, real files,
edited the way editors and installers edit them."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import (DEFAULT_CONFIG, DaemonTestCase, Daemon, MCPBKD, request,
                     run_ctl, sha256, status_kib, wait_for)

CURSOR = "~/.cursor/mcp.json"
WINDSURF = "~/.codeium/windsurf/mcp_config.json"
CLAUDE = "~/.claude.json"


def servers_json(*names, extra=None):
    doc = {"mcpServers": {n: {"command": "npx", "args": ["-y", f"@x/{n}"]}
                          for n in names}}
    if extra:
        doc.update(extra)
    return json.dumps(doc, indent=2) + "\n"


class WatchingTest(DaemonTestCase):

    def marker(self, n):
        """A real change to another watched file, used as a barrier: once its
        snapshot exists, every earlier change has been handled."""
        content = servers_json(f"marker{n}")
        self.sb.write(WINDSURF, content)
        self.wait_snapshot(WINDSURF, content)

    def test_initial_scan_snapshots_existing_files(self):
        content = servers_json("github", "fs")
        self.sb.write(CURSOR, content)
        self.daemon.start()
        snap = self.wait_snapshot(CURSOR, content)
        self.assertEqual(snap["trigger"], "initial")
        self.assertEqual(snap["host"], "cursor")
        self.assertEqual(sorted(snap["servers"]), ["fs", "github"])
        # A restart with nothing changed records nothing new.
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon.start()
        self.marker(1)
        self.assertEqual(len(self.snapshots(CURSOR)), 1)

    def test_changes_while_down_are_caught_at_start(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        self.assertEqual(self.daemon.stop(), 0)
        self.sb.write(CURSOR, servers_json("a", "b"))
        self.daemon.start()
        snap = self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.assertEqual(snap["trigger"], "initial")

    def test_write_in_place_in_several_writes(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        final = servers_json("a", "b", "c")
        with open(self.sb.path(CURSOR), "w") as f:
            for i in range(0, len(final), 7):
                f.write(final[i:i + 7])
                f.flush()
        snap = self.wait_snapshot(CURSOR, final)
        self.assertEqual(snap["trigger"], "change")
        self.marker(1)
        self.assertEqual(len(self.snapshots(CURSOR)), 2)

    def test_write_temp_then_rename(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        tmp = self.sb.path("~/.cursor/mcp.json.tmp")
        with open(tmp, "w") as f:
            f.write(servers_json("renamed"))
        os.rename(tmp, self.sb.path(CURSOR))
        self.wait_snapshot(CURSOR, servers_json("renamed"))
        self.marker(1)
        self.assertEqual(len(self.snapshots(CURSOR)), 2)

    def test_rename_away_then_write(self):
        # vim's backup dance: file -> file~, write a new file, delete file~.
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        p = self.sb.path(CURSOR)
        os.rename(p, p + "~")
        with open(p, "w") as f:
            f.write(servers_json("vim"))
        os.unlink(p + "~")
        self.wait_snapshot(CURSOR, servers_json("vim"))

    def test_delete_then_recreate(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        os.unlink(self.sb.path(CURSOR))
        wait_for(lambda: self.store.events("deleted"), 10, "a deleted event")
        # The snapshots stay.
        self.assertEqual(len(self.snapshots(CURSOR)), 1)
        self.sb.write(CURSOR, servers_json("back"))
        self.wait_snapshot(CURSOR, servers_json("back"))

    def test_a_file_deleted_while_the_daemon_was_down(self):
        # Deleted between two runs: said at start (once), and status shows
        # what a restore would put back, as for one deleted while it ran.
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        good = self.wait_snapshot(CURSOR, servers_json("a"))["id"]
        self.assertEqual(self.daemon.stop(), 0)
        os.unlink(self.sb.path(CURSOR))
        self.daemon.start()
        wait_for(lambda: self.store.events("deleted"), 10, "a deleted event")
        event = self.store.events("deleted")[0]
        self.assertEqual(event["message"], self.sb.path(CURSOR) + " was "
                         "deleted while mcpbkd was not watching it; its "
                         "snapshots are kept")
        r = run_ctl(self.sb, "status")
        out = r.stdout.decode()
        self.assertIn("watched files: 0 present, 1 deleted, ", out)
        self.assertRegex(out, r"cursor +~/.cursor/mcp.json +deleted; mcpbkctl "
                         f"restore {good} puts back its last good snapshot "
                         r"\(1 server\)")
        w = [w for w in json.loads(run_ctl(self.sb, "--json", "status").stdout)
             ["watched"] if w["path"] == self.sb.path(CURSOR)][0]
        self.assertEqual((w["exists"], w["deleted"], w["latest_id"],
                          w["last_good_id"], w["last_good_servers"]),
                         (False, True, good, good, 1))
        # Not said again at the next starts, even when the newest snapshot
        # is dated ahead of the clock (a clock set back since; it was said
        # at every start).
        self.assertEqual(self.daemon.stop(), 0)
        import sqlite3
        db = sqlite3.connect(self.sb.store_file)
        db.execute("UPDATE snapshots SET taken_at = taken_at + 43200000000 "
                   "WHERE id = ?", (good,))
        db.commit()
        db.close()
        for n in range(2):
            self.daemon.start()
            rel = WINDSURF if n == 0 else "~/.gemini/settings.json"
            self.sb.write(rel, servers_json("w"))
            self.wait_snapshot(rel, servers_json("w"))
            self.wait_quiet()
            self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(len(self.store.events("deleted")), 1)
        self.daemon.start()
        # Restored, it is no longer listed as deleted, even before the
        # daemon has read it back.
        r = run_ctl(self.sb, "restore", good, "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = run_ctl(self.sb, "status").stdout.decode()
        self.assertNotIn("deleted", out)
        # A file that never existed is no deletion, and is only counted.
        self.assertFalse([e for e in self.store.events("deleted")
                          if "windsurf" in e["path"]])

    def test_directory_created_later(self):
        self.daemon.start()
        self.assertFalse(os.path.exists(self.sb.path("~/.codeium")))
        os.makedirs(self.sb.path("~/.codeium/windsurf"))
        self.sb.write(WINDSURF, servers_json("late"))
        self.wait_snapshot(WINDSURF, servers_json("late"))

    def test_nested_directories_created_one_by_one(self):
        self.daemon.start()
        os.mkdir(self.sb.path("~/.codeium"))
        os.mkdir(self.sb.path("~/.codeium/windsurf"))
        self.sb.write(WINDSURF, servers_json("nested"))
        self.wait_snapshot(WINDSURF, servers_json("nested"))

    def test_directory_deleted_and_recreated(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        import shutil
        shutil.rmtree(self.sb.path("~/.cursor"))
        wait_for(lambda: self.store.events("deleted"), 10, "a deleted event")
        self.sb.write(CURSOR, servers_json("again"))
        self.wait_snapshot(CURSOR, servers_json("again"))

    def test_symlinked_dotfile(self):
        target = self.sb.write("~/dotfiles/cursor-mcp.json", servers_json("a"))
        os.makedirs(self.sb.path("~/.cursor"))
        os.symlink("../dotfiles/cursor-mcp.json", self.sb.path(CURSOR))
        self.daemon.start()
        snap = self.wait_snapshot(CURSOR, servers_json("a"))
        self.assertEqual(snap["path"], self.sb.path(CURSOR))
        # An edit made at the target, in place, is captured under the link.
        with open(target, "w") as f:
            f.write(servers_json("edited-at-target"))
        self.wait_snapshot(CURSOR, servers_json("edited-at-target"))
        # And so is a rename-based save at the target.
        with open(target + ".tmp", "w") as f:
            f.write(servers_json("renamed-at-target"))
        os.rename(target + ".tmp", target)
        self.wait_snapshot(CURSOR, servers_json("renamed-at-target"))
        # Re-pointing the link is a change too.
        other = self.sb.write("~/dotfiles/other.json", servers_json("other"))
        os.unlink(self.sb.path(CURSOR))
        os.symlink(other, self.sb.path(CURSOR))
        self.wait_snapshot(CURSOR, servers_json("other"))

    def test_symlinked_dotfile_directory_re_pointed(self):
        # GNU stow links a whole directory when it can: ~/.cursor is a link
        # to a package's directory. Switching packages re-points it; the
        # file it now holds, and its later saves, are captured.
        self.sb.write("~/dots/work/mcp.json", servers_json("work"))
        self.sb.write("~/dots/home/mcp.json", servers_json("home"))
        os.symlink(self.sb.path("~/dots/work"), self.sb.path("~/.cursor"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("work"))
        self.sb.write(CURSOR, servers_json("work-2"))
        self.wait_snapshot(CURSOR, servers_json("work-2"))
        # Re-pointed the way stow does it (unlink, symlink) ...
        os.unlink(self.sb.path("~/.cursor"))
        os.symlink(self.sb.path("~/dots/home"), self.sb.path("~/.cursor"))
        self.wait_snapshot(CURSOR, servers_json("home"))
        self.sb.write("~/dots/home/mcp.json", servers_json("home-2"))
        self.wait_snapshot(CURSOR, servers_json("home-2"))
        # ... or atomically (ln -sfn, a rename over the link).
        os.symlink(self.sb.path("~/dots/work"), self.sb.path("~/.cursor.new"))
        os.rename(self.sb.path("~/.cursor.new"), self.sb.path("~/.cursor"))
        self.wait_snapshot(CURSOR, servers_json("work-2"))
        self.sb.write("~/dots/work/mcp.json", servers_json("work-3"))
        self.wait_snapshot(CURSOR, servers_json("work-3"))
        # The old target's saves are no longer the watched file's.
        self.sb.write("~/dots/home/mcp.json", servers_json("home-3"))
        self.sb.write(CURSOR, servers_json("work-4"))
        self.wait_snapshot(CURSOR, servers_json("work-4"))
        self.assertFalse(any(s["sha256"] == sha256(servers_json("home-3"))
                             for s in self.snapshots(CURSOR)))

    def test_symlinked_dotfile_directory_created_later(self):
        # stow run after the daemon started: ~/.cursor appears as a link to
        # a package's directory.
        self.sb.write("~/dots/work/mcp.json", servers_json("work"))
        self.daemon.start()
        os.symlink(self.sb.path("~/dots/work"), self.sb.path("~/.cursor"))
        self.wait_snapshot(CURSOR, servers_json("work"))
        self.sb.write("~/dots/work/mcp.json", servers_json("work-2"))
        self.wait_snapshot(CURSOR, servers_json("work-2"))

    def test_symlinked_dotfile_directory_re_created(self):
        # ~/.cursor links to a dotfiles checkout's directory, which `git
        # checkout` (or `stow -R`, or rm -rf and a copy) deletes and makes
        # again: the link stays, what it leads to is a new directory.
        work = self.sb.path("~/dots/work")
        self.sb.write("~/dots/work/mcp.json", servers_json("v0"))
        os.symlink("dots/work", self.sb.path("~/.cursor"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("v0"))
        # Made again at once ...
        shutil.rmtree(work)
        os.makedirs(work)
        self.sb.write("~/dots/work/mcp.json", servers_json("v1"))
        self.wait_snapshot(CURSOR, servers_json("v1"))
        self.sb.write("~/dots/work/mcp.json", servers_json("v2"))
        self.wait_snapshot(CURSOR, servers_json("v2"))
        # ... after the daemon saw it gone ...
        deleted = len(self.store.events("deleted"))
        shutil.rmtree(work)
        wait_for(lambda: len(self.store.events("deleted")) > deleted, 10,
                 "a deleted event")
        os.makedirs(work)
        self.sb.write("~/dots/work/mcp.json", servers_json("v3"))
        self.wait_snapshot(CURSOR, servers_json("v3"))
        self.sb.write("~/dots/work/mcp.json", servers_json("v4"))
        self.wait_snapshot(CURSOR, servers_json("v4"))
        # ... or a new one renamed into its place.
        self.sb.write("~/dots/work.new/mcp.json", servers_json("v5"))
        shutil.rmtree(work)
        os.rename(self.sb.path("~/dots/work.new"), work)
        self.wait_snapshot(CURSOR, servers_json("v5"))
        self.sb.write("~/dots/work/mcp.json", servers_json("v6"))
        self.wait_snapshot(CURSOR, servers_json("v6"))

    def test_links_to_links_of_directories(self):
        # ~/.cursor -> ~/a/l2 -> ~/dots/c1: re-pointing the link in the
        # middle puts another file at the path.
        self.sb.write("~/dots/c1/mcp.json", servers_json("one"))
        self.sb.write("~/dots/c2/mcp.json", servers_json("two"))
        os.makedirs(self.sb.path("~/a"))
        os.symlink(self.sb.path("~/dots/c1"), self.sb.path("~/a/l2"))
        os.symlink(self.sb.path("~/a/l2"), self.sb.path("~/.cursor"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("one"))
        os.symlink(self.sb.path("~/dots/c2"), self.sb.path("~/a/l2.new"))
        os.rename(self.sb.path("~/a/l2.new"), self.sb.path("~/a/l2"))
        self.wait_snapshot(CURSOR, servers_json("two"))
        self.sb.write(CURSOR, servers_json("three"))
        self.wait_snapshot(CURSOR, servers_json("three"))

    def test_a_link_into_a_linked_directory_made_again(self):
        # ~/.cursor -> dots/cursor, and ~/dots -> src/dotfiles: a fresh
        # clone of src/dotfiles (deleted, then made again) is followed.
        self.sb.write("~/src/dotfiles/cursor/mcp.json", servers_json("one"))
        os.symlink("src/dotfiles", self.sb.path("~/dots"))
        os.symlink("dots/cursor", self.sb.path("~/.cursor"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("one"))
        deleted = len(self.store.events("deleted"))
        shutil.rmtree(self.sb.path("~/src/dotfiles"))
        wait_for(lambda: len(self.store.events("deleted")) > deleted, 10,
                 "a deleted event")
        os.makedirs(self.sb.path("~/src/dotfiles/cursor"))
        self.sb.write(CURSOR, servers_json("two"))
        self.wait_snapshot(CURSOR, servers_json("two"))
        self.sb.write(CURSOR, servers_json("three"))
        self.wait_snapshot(CURSOR, servers_json("three"))

    def test_one_directory_under_two_names(self):
        # ~/.cursor is a link to ~/dots/cursor, whose mcp.json is also
        # watched by its own name: both names see every save.
        os.makedirs(self.sb.path("~/dots/cursor"))
        os.symlink(self.sb.path("~/dots/cursor"), self.sb.path("~/.cursor"))
        real = "~/dots/cursor/mcp.json"
        self.sb.write_config(self.config.replace(
            "watch:\n", "watch:\n  paths:\n"
            "    - {path: \"~/dots/cursor/mcp.json\", host: cursor}\n"))
        self.sb.write(real, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        self.wait_snapshot(real, servers_json("a"))
        for i in range(3):
            self.sb.write(real, servers_json(f"b{i}"))
            self.wait_snapshot(CURSOR, servers_json(f"b{i}"))
            self.wait_snapshot(real, servers_json(f"b{i}"))
        # One name dropped (config reload): the other keeps the watch.
        self.sb.write_config(self.config)
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in self.daemon.log(), 10,
                 "the reload")
        self.sb.write(real, servers_json("c"))
        self.wait_snapshot(CURSOR, servers_json("c"))

    def test_identical_rewrite_and_touch_make_no_snapshot(self):
        content = servers_json("a")
        self.sb.write(CURSOR, content)
        self.daemon.start()
        self.wait_snapshot(CURSOR, content)
        self.sb.write(CURSOR, content)
        os.utime(self.sb.path(CURSOR))
        self.marker(1)
        self.assertEqual(len(self.snapshots(CURSOR)), 1)

    def test_burst_of_writes_keeps_final_bytes(self):
        self.sb.write(CURSOR, servers_json("start"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("start"))
        for i in range(300):
            self.sb.write(CURSOR, servers_json(f"s{i}"))
        final = servers_json("final")
        self.sb.write(CURSOR, final)
        self.wait_snapshot(CURSOR, final)
        # Debounced: far fewer snapshots than writes.
        self.assertLess(len(self.snapshots(CURSOR)), 30)

    def test_file_rewritten_forever_is_still_captured(self):
        # Writes every 20 ms for longer than max_delay_ms (400): the daemon
        # must capture before the writer stops.
        self.sb.write(CURSOR, servers_json("start"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("start"))
        deadline = time.monotonic() + 5
        captured = False
        i = 0
        while time.monotonic() < deadline:
            self.sb.write(CURSOR, servers_json(f"busy{i}"))
            i += 1
            if len(self.snapshots(CURSOR)) > 1:
                captured = True
                break
            time.sleep(0.02)
        self.assertTrue(captured, "no snapshot while the file kept changing")

    def test_trigger_mcp_ignores_other_churn(self):
        base = {"numStartups": 1, "tipsHistory": {}, "projects": {}}
        self.sb.write(CLAUDE, servers_json("github", extra=base))
        self.daemon.start()
        self.wait_snapshot(CLAUDE, servers_json("github", extra=base))
        for n in range(2, 6):
            base["numStartups"] = n
            self.sb.write(CLAUDE, servers_json("github", extra=base))
        self.marker(1)
        self.assertEqual(len(self.snapshots(CLAUDE)), 1)
        self.sb.write(CLAUDE, servers_json("github", "slack", extra=base))
        snap = self.wait_snapshot(CLAUDE, servers_json("github", "slack",
                                                       extra=base))
        self.assertEqual(sorted(snap["servers"]), ["github", "slack"])
        # While the file does not parse, its servers cannot be compared:
        # each broken version is kept, not only the first (a fragment),
        # since the next may be the nearly good one worth restoring.
        full = servers_json("github", "slack", "fs", extra=base)
        broken = [full[:60], full.replace(",", "", 1), full[:-3]]
        for text in broken:
            self.sb.write(CLAUDE, text)
            snap = self.wait_snapshot(CLAUDE, text)
            self.assertFalse(snap["parsed"])
        self.assertEqual(
            [s["sha256"] for s in self.snapshots(CLAUDE)][-3:],
            [sha256(t) for t in broken])

    def test_project_files_stay_watched_when_claude_json_forgets_them(self):
        # An installer resets ~/.claude.json: its projects are gone from it,
        # but their .mcp.json files are still protected (they were not
        # watched any more, and a change to one was lost).
        project = self.sb.path("~/pa")
        os.makedirs(project)
        doc = {"numStartups": 1, "projects": {project: {"history": []}},
               "mcpServers": {"github": {"command": "gh-mcp"}}}
        self.sb.write(CLAUDE, json.dumps(doc, indent=2))
        self.sb.write("~/pa/.mcp.json", servers_json("a"))
        self.daemon.start()
        self.wait_snapshot("~/pa/.mcp.json", servers_json("a"))
        for reset in ('{"numStartups": 0}\n', '{"numSta'):
            self.sb.write(CLAUDE, reset)
            self.wait_snapshot(CLAUDE, reset)
            text = servers_json("a", "b" if reset.endswith("\n") else "c")
            self.sb.write("~/pa/.mcp.json", text)
            self.wait_snapshot("~/pa/.mcp.json", text)
        # And after a restart, from the store's good snapshots.
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon.start()
        self.sb.write("~/pa/.mcp.json", servers_json("d"))
        self.wait_snapshot("~/pa/.mcp.json", servers_json("d"))

    def test_any_project_file_keeps_its_project_known_after_a_restart(self):
        # A project with only .cursor/mcp.json: once ~/.claude.json forgot
        # it, a restart knew it only by a .mcp.json, and its saves were lost.
        project = self.sb.path("~/pb")
        os.makedirs(project)
        self.sb.write(CLAUDE, json.dumps(
            {"projects": {project: {"history": []}}}))
        self.sb.write("~/pb/.cursor/mcp.json", servers_json("c"))
        self.daemon.start()
        self.wait_snapshot("~/pb/.cursor/mcp.json", servers_json("c"))
        self.sb.write(CLAUDE, '{"numStartups": 4}\n')  # no MCP change
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon.start()
        self.sb.write("~/pb/.cursor/mcp.json", '{"mcpServers": {}}')
        self.wait_snapshot("~/pb/.cursor/mcp.json", '{"mcpServers": {}}')
        # The user-level ~/.cursor/mcp.json has a project file's shape, but
        # the home directory is not made a project of by it.
        hosts = request(self.sb.socket, "hosts")["result"]["hosts"]
        paths = {f["path"] for h in hosts for f in h["files"]}
        self.assertNotIn(self.sb.path("~/.mcp.json"), paths)

    def test_projects_in_home_and_config_stay_known_after_a_restart(self):
        # The home directory itself, or one under ~/.config, is a project
        # when Claude Code ran there: they were left out after a restart.
        nvim = self.sb.path("~/.config/nvim")
        os.makedirs(nvim)
        self.sb.write(CLAUDE, json.dumps(
            {"projects": {nvim: {},
                          os.path.dirname(self.sb.path("~/.mcp.json")): {}}}))
        self.sb.write("~/.config/nvim/.mcp.json", servers_json("n"))
        self.sb.write("~/.mcp.json", servers_json("h"))
        self.daemon.start()
        self.wait_snapshot("~/.config/nvim/.mcp.json", servers_json("n"))
        self.wait_snapshot("~/.mcp.json", servers_json("h"))
        self.sb.write(CLAUDE, '{"numStartups": 4}\n')
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon.start()
        for rel in ("~/.config/nvim/.mcp.json", "~/.mcp.json"):
            self.sb.write(rel, '{"mcpServers": {}}')
            self.wait_snapshot(rel, '{"mcpServers": {}}')

    def test_a_listed_project_whose_directory_appears_later(self):
        # A project ~/.claude.json lists but that is not there (cloned again
        # after a restart, a file brought from another machine): its files
        # are protected from the moment it appears, not the next rescan.
        later = self.sb.path("~/work/later")
        self.sb.write(CLAUDE, json.dumps(
            {"projects": {later: {"mcpServers": {}}}}))
        self.daemon.start()
        self.wait_snapshot(CLAUDE, json.dumps(
            {"projects": {later: {"mcpServers": {}}}}))
        self.marker(1)  # the start's own second resolve is over
        os.makedirs(later)
        self.sb.write("~/work/later/.mcp.json", servers_json("l"))
        self.wait_snapshot("~/work/later/.mcp.json", servers_json("l"))
        self.sb.write("~/work/later/.cursor/mcp.json", servers_json("c"))
        self.wait_snapshot("~/work/later/.cursor/mcp.json",
                           servers_json("c"))

    def test_with_claude_config_dir_both_files_projects_are_protected(self):
        # Which .claude.json Claude Code uses with CLAUDE_CONFIG_DIR set
        # depends on its version: both are watched, so the projects of both
        # must be (those of ~/.claude.json were not).
        project = self.sb.path("~/proj")
        os.makedirs(project)
        os.makedirs(self.sb.path("~/.claude-profile"))
        self.sb.write(CLAUDE, json.dumps(
            {"projects": {project: {"mcpServers": {}}}}))
        self.sb.env["CLAUDE_CONFIG_DIR"] = self.sb.path("~/.claude-profile")
        self.daemon.start()
        self.sb.write("~/proj/.mcp.json", servers_json("team"))
        self.wait_snapshot("~/proj/.mcp.json", servers_json("team"))
        other = self.sb.path("~/proj2")
        os.makedirs(other)
        self.sb.write("~/.claude-profile/.claude.json", json.dumps(
            {"projects": {other: {"mcpServers": {}}}}))
        self.sb.write("~/proj2/.mcp.json", servers_json("two"))
        self.wait_snapshot("~/proj2/.mcp.json", servers_json("two"))

    def test_large_claude_json_churn_and_project_servers(self):
        # A multi-megabyte ~/.claude.json with hundreds of projects: churn
        # outside the MCP maps makes no snapshot; a new project-local server
        # does, and the project's own .mcp.json becomes protected too.
        projects = {}
        for i in range(400):
            projects[self.sb.path(f"~/src/p{i}")] = {
                "allowedTools": [], "history": [{"display": "x" * 4000}],
                "mcpServers": {}, "hasTrustDialogAccepted": True}
        doc = {"numStartups": 1, "projects": projects,
               "mcpServers": {"github": {"command": "gh-mcp"}}}
        self.sb.write(CLAUDE, json.dumps(doc, indent=2))
        self.assertGreater(os.path.getsize(self.sb.path(CLAUDE)), 1_500_000)
        os.makedirs(self.sb.path("~/src/p7"))
        self.sb.write("~/src/p7/.mcp.json", servers_json("project"))
        self.daemon.start()
        self.wait_snapshot(CLAUDE, json.dumps(doc, indent=2))
        self.wait_snapshot("~/src/p7/.mcp.json", servers_json("project"))
        for n in range(2, 5):
            doc["numStartups"] = n
            doc["projects"][self.sb.path("~/src/p3")]["history"].append(
                {"display": f"prompt {n}"})
            self.sb.write(CLAUDE, json.dumps(doc, indent=2))
        self.marker(1)
        self.assertEqual(len(self.snapshots(CLAUDE)), 1)
        doc["projects"][self.sb.path("~/src/p3")]["mcpServers"] = {
            "local": {"command": "local-mcp"}}
        self.sb.write(CLAUDE, json.dumps(doc, indent=2))
        snap = self.wait_snapshot(CLAUDE, json.dumps(doc, indent=2))
        self.assertIn("github", snap["servers"])
        self.assertTrue(any(s.startswith("local") for s in snap["servers"]),
                        snap["servers"])
        # A project Claude Code adds later, in a change outside the server
        # maps (no snapshot of ~/.claude.json): its .mcp.json is protected.
        self.sb.write("~/work/late/.mcp.json", servers_json("late"))
        doc["projects"][self.sb.path("~/work/late")] = {"history": []}
        self.sb.write(CLAUDE, json.dumps(doc, indent=2))
        self.wait_snapshot("~/work/late/.mcp.json", servers_json("late"))
        self.assertEqual(len(self.snapshots(CLAUDE)), 2)

    def test_unparseable_content_is_kept_and_critical(self):
        self.sb.write(CURSOR, servers_json("a", "b"))
        self.daemon.start()
        good = self.wait_snapshot(CURSOR, servers_json("a", "b"))["id"]
        self.sb.write(CURSOR, '{"mcpServers": {"a": ')
        snap = self.wait_snapshot(CURSOR, '{"mcpServers": {"a": ')
        self.assertEqual(snap["risk"], "critical")
        self.assertEqual(snap["parsed"], 0)
        wait_for(lambda: [e for e in self.store.events("risky_change")
                          if e["severity"] == "critical"], 10,
                 "a critical event")
        # Mended: rated against the last version that parsed, not against
        # the fragment (every line of which "changed"): the same servers
        # back is no risk, and no alarm.
        events = len(self.store.events("risky_change"))
        self.sb.write(CURSOR, servers_json("a", "b"))
        snap = self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.assertEqual(snap["risk"], "low")
        self.assertEqual(len(self.store.events("risky_change")), events)
        # Its summary says what it is against the last good version too.
        self.assertEqual(snap["summary"], "parseable again: 2 servers; the "
                         f"servers of #{good}")
        good = snap["id"]
        # Emptied, then mended the same way.
        self.sb.write(CURSOR, "")
        self.wait_snapshot(CURSOR, "")
        events = len(self.store.events("risky_change"))
        self.sb.write(CURSOR, servers_json("a", "b"))
        snap = self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.assertEqual(snap["risk"], "low")
        self.assertEqual(len(self.store.events("risky_change")), events)
        self.assertTrue(snap["summary"].endswith(f"; the servers of #{good}"),
                        snap["summary"])
        good = snap["id"]
        # Mended into something else: rated against that version too.
        self.sb.write(CURSOR, '{"mcpServers": {"a": ')
        self.wait_snapshot(CURSOR, '{"mcpServers": {"a": ')
        self.sb.write(CURSOR, servers_json("c"))
        snap = self.wait_snapshot(CURSOR, servers_json("c"))
        self.assertIn(snap["risk"], ("high", "critical"))
        self.assertEqual(snap["summary"], "parseable again: 1 server; against "
                         f"#{good}: +c \u2212a \u2212b")

    def test_a_file_padded_with_zeros_is_unparseable(self):
        # What a crash or a power cut leaves: the file's old length, or a
        # size set by truncate(), with NUL bytes where the new content did
        # not reach. Hosts cannot read it; it used to read as the JSON before
        # the first NUL, so ~/.claude.json (trigger `mcp`: same servers)
        # left no snapshot at all.
        base = {"numStartups": 3}
        self.sb.write(CLAUDE, servers_json("github", extra=base))
        self.daemon.start()
        good = self.wait_snapshot(CLAUDE, servers_json("github", extra=base))
        path = self.sb.path(CLAUDE)
        with open(path, "r+b") as f:
            f.truncate(4096)
        with open(path, "rb") as f:
            padded = f.read()
        snap = self.wait_snapshot(CLAUDE, padded)
        self.assertEqual(snap["parsed"], 0)
        self.assertEqual(snap["risk"], "critical")
        lines = servers_json("github", extra=base).count("\n")
        self.assertEqual(snap["summary"], f"unparseable: line {lines + 1}, "
                         "column 1: a NUL byte (a file cut short and padded "
                         "with zeros?)")
        # The last good version is the one before, not this one.
        r = run_ctl(self.sb, "--json", "restore", "--last-good", "--path",
                    path, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["restored_from"]["id"],
                         good["id"])

    def test_an_edit_of_a_one_line_file_is_rated_by_what_changed(self):
        # `echo '{...}' > ~/.cursor/mcp.json`: one line, which every edit
        # changes; a new argument is not a rewrite of the whole file.
        one = json.dumps({"mcpServers": {
            "a": {"command": "npx", "args": ["-y", "server-a"]},
            "b": {"command": "uvx", "args": ["server-b"]}}}) + "\n"
        self.sb.write(CURSOR, one)
        self.daemon.start()
        self.wait_snapshot(CURSOR, one)
        edited = one.replace('"server-b"]', '"server-b", "--verbose"]')
        self.sb.write(CURSOR, edited)
        self.assertEqual(self.wait_snapshot(CURSOR, edited)["risk"], "low")
        self.assertEqual(self.store.events("risky_change"), [])
        # Its newline taken away (JSON.stringify writes none) and put back
        # (`jq`, an editor), then CRLF: line ends are no change of content.
        for text in (edited.rstrip("\n"), edited,
                     edited.replace("\n", "\r\n"), edited + "\n\n",
                     edited.rstrip("\n") + " \n"):
            self.sb.write(CURSOR, text)
            snap = self.wait_snapshot(CURSOR, text)
            self.assertEqual(snap["risk"], "low")
            self.assertEqual(snap["summary"], "no MCP change")
        self.assertEqual(self.store.events("risky_change"), [])
        # Its servers replaced by another: both removed, so high, as in a
        # file of many lines.
        other = json.dumps({"mcpServers": {"z": {"url": "http://x"}}}) + "\n"
        self.sb.write(CURSOR, other)
        self.assertEqual(self.wait_snapshot(CURSOR, other)["risk"], "high")

    def test_emptied_file_is_critical(self):
        self.sb.write(CURSOR, servers_json("a", "b"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.sb.write(CURSOR, "")
        snap = self.wait_snapshot(CURSOR, "")
        self.assertEqual(snap["risk"], "critical")

    def test_oversized_file_is_skipped_with_a_warning(self):
        self.sb.write_config(self.config + "store:\n  max_file_bytes: 1000\n")
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        self.sb.write(CURSOR, servers_json(*[f"s{i}" for i in range(100)]))
        wait_for(lambda: self.store.events("too_large"), 10,
                 "a too_large event")
        self.assertEqual(len(self.snapshots(CURSOR)), 1)
        status = request(self.sb.socket, "status")["result"]
        state = [w["state"] for w in status["watched"]
                 if w["path"] == self.sb.path(CURSOR)]
        self.assertEqual(state, ["not snapshotted"])
        self.assertTrue(any("over the limit of 1000" in w
                            for w in status["warnings"]), status["warnings"])
        # An application saving it again and again: reported once while it
        # lasts, not once per save.
        for n in range(3):
            self.sb.write(CURSOR, servers_json(*[f"t{n}-{i}"
                                                 for i in range(100)]))
            wait_for(lambda: self.daemon.log().count(
                "still not snapshotted") > n, 10, "the save to be read")
        self.assertEqual(len(self.store.events("too_large")), 1)
        # A restore over it would lose it (it cannot be kept): refused, with
        # the way out.
        first = self.snapshots(CURSOR)[0]["id"]
        r = run_ctl(self.sb, "restore", first, "--yes")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"bytes is over the limit of 1000 (store.max_file_bytes)"
                      b"; move it aside (or raise store.max_file_bytes), then "
                      b"restore again [too_large]", r.stderr)
        # A reload that raises the limit reads it again at once.
        big = servers_json(*[f"t2-{i}" for i in range(100)])
        self.sb.write_config(self.config + "store:\n  max_file_bytes: 100000\n")
        self.daemon.send_signal(signal.SIGHUP)
        self.wait_snapshot(CURSOR, big)
        self.sb.write_config(self.config + "store:\n  max_file_bytes: 1000\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: self.daemon.log().count("config reloaded") >= 2,
                 10, "the second reload")
        # Small again: snapshotted, and the warning is gone.
        self.sb.write(CURSOR, servers_json("small"))
        self.wait_snapshot(CURSOR, servers_json("small"))
        status = request(self.sb.socket, "status")["result"]
        self.assertFalse(any("over the limit" in w
                             for w in status["warnings"]), status["warnings"])
        # Too large once more is a new spell, and a new event.
        self.sb.write(CURSOR, servers_json(*[f"u{i}" for i in range(100)]))
        wait_for(lambda: len(self.store.events("too_large")) == 2, 10,
                 "a second too_large event")

    def test_directory_in_place_of_a_file_is_a_warning(self):
        os.makedirs(self.sb.path(CURSOR))
        self.daemon.start()
        wait_for(lambda: self.store.events("not_a_file"), 10,
                 "a not_a_file event")
        self.assertEqual(self.snapshots(CURSOR), [])
        os.rmdir(self.sb.path(CURSOR))
        self.sb.write(CURSOR, servers_json("file-again"))
        self.wait_snapshot(CURSOR, servers_json("file-again"))

    def test_overflow_rescan_catches_changes(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        # Freeze the daemon, change files, then force the overflow path.
        self.daemon.send_signal(signal.SIGSTOP)
        for i in range(50):
            self.sb.write(CURSOR, servers_json(f"frozen{i}"))
        self.daemon.send_signal(signal.SIGCONT)
        self.daemon.send_signal(signal.SIGUSR1)
        self.wait_snapshot(CURSOR, servers_json("frozen49"))
        wait_for(lambda: self.store.events("rescan"), 10, "a rescan event")

    def test_rewrite_right_after_a_restore_is_a_warning(self):
        from harness import run_ctl
        self.sb.write(CURSOR, servers_json("a", "b"))
        self.daemon.start()
        first = self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.sb.write(CURSOR, servers_json("a"))
        self.wait_snapshot(CURSOR, servers_json("a"))
        r = run_ctl(self.sb, "restore", first["id"], "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The host application writes its own version back at once.
        self.sb.write(CURSOR, servers_json("host-wrote-this"))
        self.wait_snapshot(CURSOR, servers_json("host-wrote-this"))
        events = wait_for(lambda: self.store.events("rewritten_after_restore"),
                          10, "a rewritten_after_restore event")
        self.assertEqual(events[0]["severity"], "warning")
        self.assertIn("within 10 s of a restore", events[0]["message"])

    def test_notify_command_runs_without_a_shell(self):
        out = os.path.join(self.sb.root, "notified")
        self.sb.write_config(self.config +
                             f"notify:\n  command: [touch, \"{out}\"]\n")
        self.sb.write(CURSOR, servers_json("a", "b", "c"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a", "b", "c"))
        self.sb.write(CURSOR, json.dumps({"mcpServers": {}}))
        wait_for(lambda: os.path.exists(out), 10, "notify.command to run")

    def test_a_notify_command_that_cannot_start_is_a_warning(self):
        missing = os.path.join(self.sb.root, "no-such-notifier")
        self.sb.write_config(self.config +
                             f"notify:\n  command: [\"{missing}\", m]\n")
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        expected = (f"notify.command {missing} could not be started: "
                    f"No such file or directory")
        # Two risky changes: one event for the spell, a status warning.
        for content in ("", servers_json("b")):
            self.sb.write(CURSOR, content)
            self.wait_snapshot(CURSOR, content)
        wait_for(lambda: expected in self.status_warnings(), 10,
                 "the status warning")
        self.sb.write(CURSOR, "")
        self.wait_snapshot(CURSOR, "")
        events = self.store.events("notify_failed")
        self.assertEqual([e["message"] for e in events], [expected])
        # A command that runs ends the spell.
        out = os.path.join(self.sb.root, "notified")
        self.sb.write_config(self.config +
                             f"notify:\n  command: [touch, \"{out}\"]\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: expected not in self.status_warnings(), 10, "the reload")
        self.sb.write(CURSOR, servers_json("c"))
        wait_for(lambda: os.path.exists(out), 10, "notify.command to run")
        self.assertNotIn(expected, self.status_warnings())


DISCOVERY_CONFIG = DaemonTestCase.config.replace("watch:\n", """watch:
  rescan_interval_s: 3600
  paths:
    - {path: "~/code/*/.mcp.json", host: claude-code}
  project_roots: ["~/src/*"]
""")


class DiscoveryTest(DaemonTestCase):
    """Files that appear where a glob or a project root finds them are
    protected at once, not at the next periodic rescan (an hour here)."""

    config = DISCOVERY_CONFIG

    def save(self, rel, content):
        """Saves as an editor does: a temp file renamed over the path."""
        p = self.sb.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + ".tmp", "w") as f:
            f.write(content)
        os.rename(p + ".tmp", p)

    def started(self):
        self.daemon.start()
        # A barrier: the initial scan is done once this is recorded.
        self.sb.write(CURSOR, servers_json("barrier"))
        self.wait_snapshot(CURSOR, servers_json("barrier"))

    def test_new_match_of_a_watch_paths_glob(self):
        os.makedirs(self.sb.path("~/code/old"))
        self.started()
        # A project directory that did not exist, then its file at once.
        self.save("~/code/new/.mcp.json", servers_json("fresh"))
        snap = self.wait_snapshot("~/code/new/.mcp.json", servers_json("fresh"))
        self.assertEqual(snap["trigger"], "change")
        self.assertEqual(snap["host"], "claude-code")
        # An existing directory that gains the file, written in place.
        self.sb.write("~/code/old/.mcp.json", servers_json("later"))
        self.wait_snapshot("~/code/old/.mcp.json", servers_json("later"))
        # Once found, it is watched like any other file.
        self.save("~/code/new/.mcp.json", servers_json("fresh", "more"))
        self.wait_snapshot("~/code/new/.mcp.json",
                           servers_json("fresh", "more"))
        # A directory made first, its file once the daemon has looked.
        line = "resolving the watched files again"
        seen = self.daemon.log().count(line)
        os.mkdir(self.sb.path("~/code/empty"))
        wait_for(lambda: self.daemon.log().count(line) > seen, 10,
                 "the daemon to look at the new directory")
        self.save("~/code/empty/.mcp.json", servers_json("slow"))
        self.wait_snapshot("~/code/empty/.mcp.json", servers_json("slow"))

    def test_glob_whose_directory_is_created_later(self):
        self.started()
        self.assertFalse(os.path.exists(self.sb.path("~/code")))
        self.save("~/code/a/.mcp.json", servers_json("deep"))
        self.wait_snapshot("~/code/a/.mcp.json", servers_json("deep"))

    def test_new_files_of_host_glob_rules(self):
        self.started()
        # Continue: one file per server in ~/.continue/mcpServers/.
        yaml = "name: s\nmcpServers:\n  - name: s\n    command: npx\n"
        self.save("~/.continue/mcpServers/s.yaml", yaml)
        self.wait_snapshot("~/.continue/mcpServers/s.yaml", yaml)
        # A new VS Code profile: its directory, then its mcp.json.
        profile = "~/.config/Code/User/profiles/p1/mcp.json"
        doc = json.dumps({"servers": {"x": {"command": "x"}}})
        self.save(profile, doc)
        snap = self.wait_snapshot(profile, doc)
        self.assertEqual(snap["host"], "vscode")

    def test_a_project_renamed_is_a_deletion_and_a_new_file(self):
        os.makedirs(self.sb.path("~/src/app"))
        self.save("~/src/app/.mcp.json", servers_json("p"))
        self.started()
        self.wait_snapshot("~/src/app/.mcp.json", servers_json("p"))
        os.rename(self.sb.path("~/src/app"), self.sb.path("~/src/app2"))
        self.wait_snapshot("~/src/app2/.mcp.json", servers_json("p"))
        old = self.sb.path("~/src/app/.mcp.json")
        wait_for(lambda: [e for e in self.store.events("deleted")
                          if e["path"] == old], 10,
                 "a deleted event for the old path")

    def test_lm_studio_home_moved_by_its_pointer_file(self):
        # LM Studio keeps its home where ~/.lmstudio-home-pointer says; a
        # pointer written after the daemon started moves its mcp.json.
        self.sb.write("~/.lmstudio/mcp.json", servers_json("default"))
        self.started()
        self.wait_snapshot("~/.lmstudio/mcp.json", servers_json("default"))
        self.sb.write("~/models/lms/mcp.json", servers_json("moved"))
        self.save("~/.lmstudio-home-pointer", self.sb.path("~/models/lms"))
        snap = self.wait_snapshot("~/models/lms/mcp.json",
                                  servers_json("moved"))
        self.assertEqual(snap["host"], "lmstudio")

    def test_new_project_root_and_project_directory(self):
        os.makedirs(self.sb.path("~/src/old"))
        self.started()
        # A project cloned into a project root glob.
        self.save("~/src/app/.mcp.json", servers_json("cloned"))
        self.wait_snapshot("~/src/app/.mcp.json", servers_json("cloned"))
        # An existing project gains a host's directory and file.
        self.save("~/src/old/.cursor/mcp.json", servers_json("cur"))
        snap = self.wait_snapshot("~/src/old/.cursor/mcp.json",
                                  servers_json("cur"))
        self.assertEqual(snap["host"], "cursor")

    def test_unrelated_entries_do_not_resolve_again(self):
        os.makedirs(self.sb.path("~/src/old"))
        self.started()
        line = "resolving the watched files again"
        self.save("~/src/old/.vscode/mcp.json", servers_json("v"))
        self.wait_snapshot("~/src/old/.vscode/mcp.json", servers_json("v"))
        wait_for(lambda: line in self.daemon.log(), 10, "a discovery")
        before = self.daemon.log().count(line)
        # Files and directories no rule looks for, inside a project.
        for i in range(5):
            self.sb.write(f"~/src/old/build/out{i}.o", "x")
            self.sb.write(f"~/src/old/notes{i}.txt", "x")
        self.sb.write(CURSOR, servers_json("after"))
        self.wait_snapshot(CURSOR, servers_json("after"))
        self.assertEqual(self.daemon.log().count(line), before)


    def wakeups(self):
        """Context switches of every thread of the daemon so far."""
        total = 0
        task_dir = f"/proc/{self.daemon.proc.pid}/task"
        for task in os.listdir(task_dir):
            with open(f"{task_dir}/{task}/status") as f:
                for line in f:
                    if line.split(":")[0] in ("voluntary_ctxt_switches",
                                              "nonvoluntary_ctxt_switches"):
                        total += int(line.split()[1])
        return total

    def assert_writes_do_not_wake(self, path):
        """100 paced writes to path wake the daemon fewer than 10 times."""
        before = self.wakeups()
        for i in range(100):
            with open(path, "w") as f:
                f.write(str(i))
            time.sleep(0.005)  # paces the writes: one wakeup each if seen
        self.assertLess(self.wakeups() - before, 10)

    def test_writes_in_a_discovery_directory_do_not_wake_the_daemon(self):
        # ~/code/c has no .mcp.json: it is watched only for new entries.
        os.makedirs(self.sb.path("~/code/c"))
        notes = self.sb.write("~/code/c/notes.txt", "0")
        self.started()
        self.assert_writes_do_not_wake(notes)
        # The directory is still watched for the file it looks for.
        self.save("~/code/c/.mcp.json", servers_json("c"))
        self.wait_snapshot("~/code/c/.mcp.json", servers_json("c"))

    def test_writes_beside_a_missing_directory_do_not_wake_the_daemon(self):
        # ~/.config holds no watched file: it is watched only until the
        # directories of Zed, Goose, Claude Desktop... appear in it.
        notes = self.sb.write("~/.config/notes.txt", "0")
        self.started()
        self.assert_writes_do_not_wake(notes)
        doc = json.dumps({"context_servers": {"a": {"command": "x"}}})
        self.save("~/.config/zed/settings.json", doc)
        self.wait_snapshot("~/.config/zed/settings.json", doc)


class PollDiscoveryTest(DiscoveryTest):
    config = DISCOVERY_CONFIG.replace("watch:\n", "watch:\n  backend: poll\n")

    def test_unrelated_entries_do_not_resolve_again(self):
        self.skipTest("the poll backend sees that a directory changed, "
                      "not which entry")

    def test_writes_in_a_discovery_directory_do_not_wake_the_daemon(self):
        self.skipTest("the poll backend wakes on its timer")

    def test_writes_beside_a_missing_directory_do_not_wake_the_daemon(self):
        self.skipTest("the poll backend wakes on its timer")


class PollBackendTest(DaemonTestCase):
    config = DaemonTestCase.config.replace("watch:\n",
                                           "watch:\n  backend: poll\n")

    def test_poll_backend_captures_changes(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        status = request(self.sb.socket, "status")["result"]
        self.assertIn("poll", json.dumps(status))
        self.sb.write(CURSOR, servers_json("polled"))
        self.wait_snapshot(CURSOR, servers_json("polled"))


class IdleTest(DaemonTestCase):

    def rss_file_kib(self):
        return status_kib(self.daemon.proc.pid, "RssFile")

    def test_idle_daemon_unmaps_its_code_and_keeps_working(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        busy = self.rss_file_kib()
        # Five seconds after its last work the daemon trims its memory,
        # code pages included. Nothing here talks to it meanwhile.
        wait_for(lambda: self.rss_file_kib() < busy / 2, 30,
                 f"file-backed RSS to drop below half of {busy} KiB")
        # Its code, data and libraries come back in on the next change and
        # request: the relocated tables it must keep were not dropped.
        self.sb.write(CURSOR, servers_json("a", "b"))
        snap = self.wait_snapshot(CURSOR, servers_json("a", "b"))
        self.assertEqual(snap["trigger"], "change")
        self.assertEqual(sorted(snap["servers"]), ["a", "b"])
        self.assertEqual(self.daemon.stop(), 0)


class LifecycleTest(DaemonTestCase):

    def test_bad_config_exits_78_naming_the_field(self):
        self.sb.write_config("retention:\n  max_count: ten\nbogus: 1\n")
        proc = subprocess.run([MCPBKD], env=self.sb.env, capture_output=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 78)
        err = proc.stderr.decode()
        self.assertIn('retention.max_count: expected a non-negative integer, '
                      'got "ten"', err)
        self.assertIn("bogus: unknown key", err)

    def test_check_config(self):
        proc = subprocess.run([MCPBKD, "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.sb.write_config("watch: {backend: fsevents}\n")
        proc = subprocess.run([MCPBKD, "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 78)
        self.assertIn("watch.backend", proc.stderr.decode())
        # What stops a start stops the check (scripts/install relies on
        # it): an unknown --log-level, a socket path the system cannot take.
        self.sb.write_config(self.config)
        proc = subprocess.run([MCPBKD, "--log-level", "loud",
                               "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        long_socket = os.path.join(self.sb.root, "s" * 120 + ".sock")
        self.sb.write_config(self.config + f"ipc:\n  socket: {long_socket}\n")
        for args in (["--check-config"], []):
            proc = subprocess.run([MCPBKD] + args, env=self.sb.env,
                                  capture_output=True, timeout=30)
            self.assertEqual(proc.returncode, 78, proc.stderr)
            self.assertIn(b"is too long", proc.stderr)
        self.assertFalse(os.path.exists(self.sb.store_file))
        # A link to a config that is gone (a dotfiles checkout) is not "no
        # config": every setting went back to its default without a word.
        os.remove(self.sb.config_file)
        gone = self.sb.path("~/dotfiles/mcpbk.yaml")
        os.symlink(gone, self.sb.config_file)
        proc = subprocess.run([MCPBKD, "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 78)
        self.assertIn(f"is a link to {gone}, which does not exist",
                      proc.stderr.decode())

    def test_usage_errors_exit_2_and_paths_are_taken_from_the_cwd(self):
        for args in (["--bogus"], ["--config"], ["--state-dir", ""],
                     ["--socket", ""], ["--config", ""], ["--state-dir="],
                     ["--socket=", "x"]):
            proc = subprocess.run([MCPBKD, *args], env=self.sb.env,
                                  capture_output=True, timeout=30)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertTrue(proc.stderr.startswith(b"mcpbkd: "), proc.stderr)
        # A relative --state-dir is the working directory's, named in full.
        proc = subprocess.Popen([MCPBKD, "--state-dir", "state"],
                                env=self.sb.env, cwd=self.sb.root,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            def store_path():
                # The socket's file exists from bind(), a moment before
                # listen(): refused until then.
                try:
                    return request(self.sb.socket, "status")[
                        "result"]["store"]["path"]
                except (FileNotFoundError, ConnectionRefusedError):
                    return None
            store = wait_for(store_path, 10, "a status")
            self.assertEqual(store,
                             os.path.join(self.sb.root, "state", "store.db"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    def test_a_watch_path_naming_an_unset_variable_is_a_warning(self):
        # It resolves to nothing: said by --check-config and status, not
        # dropped unseen.
        self.sb.write_config(self.config.replace(
            "watch:\n", "watch:\n  paths:\n    - {path: \"${MCPBK_NOPE}/x.json"
            "\", host: cursor}\n"))
        proc = subprocess.run([MCPBKD, "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        expected = ('watch.paths[0].path: "${MCPBK_NOPE}/x.json" names an '
                    'environment variable that is not set (in the daemon\'s '
                    'environment); it is not watched')
        self.assertIn("warning: " + expected, proc.stdout.decode())
        self.daemon.start()
        self.assertIn(expected, self.status_warnings())

    def test_a_watch_path_that_expands_to_a_relative_one_is_a_warning(self):
        # MCPBK_REL=work made "work/x.json", dropped without a word.
        self.sb.write_config(self.config.replace(
            "watch:\n", "watch:\n  paths:\n    - {path: \"${MCPBK_REL}/x.json"
            "\", host: cursor}\n"))
        env = dict(self.sb.env, MCPBK_REL="work")
        proc = subprocess.run([MCPBKD, "--check-config"], env=env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('warning: watch.paths[0].path: "${MCPBK_REL}/x.json" is '
                      '"work/x.json" in the daemon\'s environment, not an '
                      'absolute path; it is not watched', proc.stdout.decode())
        # An entry of a disabled host watches nothing either.
        self.sb.write_config(self.config.replace(
            "watch:\n", "watch:\n  paths:\n    - {path: \"~/w/mcp.json\", "
            "host: cursor}\n") + "hosts:\n  cursor:\n    enabled: false\n")
        proc = subprocess.run([MCPBKD, "--check-config"], env=self.sb.env,
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("warning: watch.paths[0]: its host cursor is disabled "
                      "(hosts.cursor.enabled: false); it is not watched",
                      proc.stdout.decode())

    def test_second_instance_exits_75(self):
        self.daemon.start()
        proc = subprocess.run([MCPBKD], env=self.sb.env, capture_output=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 75)
        self.assertIn(f"pid {self.daemon.proc.pid}", proc.stderr.decode())

    def test_sigterm_exits_0_and_removes_the_socket(self):
        self.daemon.start()
        self.assertTrue(os.path.exists(self.sb.socket))
        start = time.monotonic()
        self.assertEqual(self.daemon.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertFalse(os.path.exists(self.sb.socket))

    def test_sigint_exits_0(self):
        self.daemon.start()
        self.assertEqual(self.daemon.stop(signal.SIGINT), 0)

    def test_state_dir_and_socket_are_private(self):
        self.daemon.start()
        self.assertEqual(os.stat(self.sb.state_dir).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(self.sb.store_file).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.sb.socket).st_mode & 0o777, 0o600)
        self.assertEqual(
            os.stat(os.path.dirname(self.sb.socket)).st_mode & 0o777, 0o700)

    def test_sighup_reload_keeps_old_config_when_invalid(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        self.sb.write_config("retention: {max_count: -3}\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: self.store.events("config_rejected"), 10,
                 "a config_rejected event")
        # The event's message lists the problems one per line; the client
        # shows it on one.
        rows = [line for line in run_ctl(self.sb, "events").stdout.decode()
                .splitlines() if "config_rejected" in line]
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("config reload refused; keeping the old config: "
                      "retention.max_count: ", rows[0])
        # Still protecting with the old config, and status says the file on
        # disk is not what runs until a reload takes it.
        self.sb.write(CURSOR, servers_json("after-hup"))
        self.wait_snapshot(CURSOR, servers_json("after-hup"))
        refused = "was refused at the last reload"
        self.assertTrue(any(refused in w for w in self.status_warnings()))
        self.sb.write_config(self.config)
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: not any(refused in w
                                 for w in self.status_warnings()),
                 10, "the warning to go with a good reload")
        self.assertEqual(self.daemon.stop(), 0)

    def test_a_reload_that_changes_a_trigger_looks_at_the_files(self):
        # With trigger mcp an edit outside the servers is not recorded; a
        # reload to trigger any left it unrecorded until the next save.
        self.sb.write_config(DEFAULT_CONFIG +
                             "hosts:\n  cursor:\n    trigger: mcp\n")
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        other = servers_json("a", extra={"theme": "dark"})
        self.sb.write(CURSOR, other)
        self.sb.write(WINDSURF, servers_json("barrier"))
        self.wait_snapshot(WINDSURF, servers_json("barrier"))
        self.assertEqual(len(self.snapshots(CURSOR)), 1)
        self.sb.write_config(DEFAULT_CONFIG +
                             "hosts:\n  cursor:\n    trigger: any\n")
        self.daemon.send_signal(signal.SIGHUP)
        self.wait_snapshot(CURSOR, other)
        # Disabled: its history stays, and the log says it is let go.
        self.sb.write_config(DEFAULT_CONFIG +
                             "hosts:\n  cursor:\n    enabled: false\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: f"no longer watched: {self.sb.path(CURSOR)} (cursor)"
                 in self.daemon.log(), 10, "the log line")
        self.assertEqual(len(self.snapshots(CURSOR)), 2)

    def test_reload_looks_for_the_config_file_again(self):
        # Started without a config file, the daemon reads one written later
        # when told to reload, and the defaults again once it is removed.
        os.remove(self.sb.config_file)
        self.daemon.start()

        def watched_hosts():
            reply = request(self.sb.socket, "status")
            return {w["host"] for w in reply["result"]["watched"]}

        self.assertIn("cursor", watched_hosts())
        self.sb.write_config(DEFAULT_CONFIG +
                             "hosts:\n  cursor:\n    enabled: false\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "cursor" not in watched_hosts(), 10,
                 "the written config to turn cursor off")
        reply = request(self.sb.socket, "status")
        self.assertEqual(reply["result"]["config_file"], self.sb.config_file)
        os.remove(self.sb.config_file)
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "cursor" in watched_hosts(), 10,
                 "the defaults to watch cursor again")
        self.assertEqual(self.daemon.stop(), 0)

    def test_a_reload_that_moves_the_store_says_a_restart_applies_it(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        elsewhere = os.path.join(self.sb.root, "elsewhere")
        self.sb.write_config(DEFAULT_CONFIG + f"store:\n  dir: {elsewhere}\n")
        self.daemon.send_signal(signal.SIGHUP)
        expected = (f"the config moves the state directory to {elsewhere} "
                    f"(in use: {self.sb.state_dir}); restart mcpbkd to apply "
                    f"it")
        wait_for(lambda: any(w.startswith(expected)
                             for w in self.status_warnings()), 10,
                 "the restart warning")
        self.assertEqual(len(self.store.events("restart_needed")), 1)
        # The store in use keeps recording; a second reload adds no event.
        self.sb.write(CURSOR, servers_json("b"))
        self.wait_snapshot(CURSOR, servers_json("b"))
        self.daemon.send_signal(signal.SIGHUP)
        self.sb.write(CURSOR, servers_json("c"))
        self.wait_snapshot(CURSOR, servers_json("c"))
        self.assertEqual(len(self.store.events("restart_needed")), 1)
        self.assertFalse(os.path.exists(elsewhere))
        # The socket moved as well: nothing answers where the config says.
        # The client said "not running ... run mcpbkd", and one started so
        # ran on an empty store; it reaches the daemon in use, and says so.
        other_socket = os.path.join(self.sb.root, "other.sock")
        self.sb.write_config(DEFAULT_CONFIG + f"store:\n  dir: {elsewhere}\n"
                             f"ipc:\n  socket: {other_socket}\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: any("and the socket to" in w
                             for w in self.status_warnings()), 10,
                 "the socket's warning")
        r = run_ctl(self.sb, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"runs with the state directory {self.sb.state_dir}",
                      r.stderr.decode())
        self.assertIn("uses the daemon running now", r.stderr.decode())
        self.assertIn(b"cursor", r.stdout)
        r = run_ctl(self.sb, "doctor")
        self.assertIn(b"which applies when it restarts", r.stdout)
        self.assertNotIn(b"not reachable", r.stdout)
        # Put back, the warning goes.
        self.sb.write_config(DEFAULT_CONFIG)
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: not any("restart mcpbkd" in w
                                 for w in self.status_warnings()),
                 10, "the warning to go")
        self.assertEqual(self.daemon.stop(), 0)

    def test_store_dir_naming_the_same_place_is_no_move(self):
        # A link to the state directory in use: "the config moves the state
        # directory ... restart mcpbkd" was said of the same place.
        self.daemon.start()
        link = os.path.join(self.sb.root, "state-link")
        os.symlink(self.sb.state_dir, link)
        self.sb.write_config(DEFAULT_CONFIG + f"store:\n  dir: {link}\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: self.daemon.log().count("config reloaded") >= 1, 10,
                 "the reload")
        self.assertFalse([w for w in self.status_warnings()
                          if "restart mcpbkd" in w])

    def test_kill_9_during_a_write_storm_then_restart(self):
        self.sb.write(CURSOR, servers_json("a"))
        self.daemon.start()
        self.wait_snapshot(CURSOR, servers_json("a"))
        for i in range(200):
            self.sb.write(CURSOR, servers_json(f"storm{i}"))
            if i == 100:
                self.daemon.kill()
        final = servers_json("storm199")
        self.daemon = Daemon(self.sb)
        self.daemon.start()
        self.wait_snapshot(CURSOR, final)
        reply = request(self.sb.socket, "verify")
        self.assertTrue(reply["ok"], reply)
        self.assertTrue(reply["result"]["ok"], reply)


if __name__ == "__main__":
    unittest.main()

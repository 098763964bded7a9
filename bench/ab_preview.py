#!/usr/bin/env python3
"""What a restore's preview of a large ~/.claude.json holds up, two builds.

    python3 bench/ab_preview.py BUILD_A BUILD_B [--projects N] [--rounds N]

For each build, a sandboxed daemon (tests/integration/harness.py) watches a
generated ~/.claude.json of N projects (each with its history and an empty
"mcpServers", as Claude Code writes them) and a Cursor config. Two versions
of the large file are recorded (the second adds a server). Then, each round,
with the builds alternated: `mcpbkctl restore <first> --only-mcp --dry-run`
starts, and once the daemon has its request, the Cursor config is saved;
the script times the preview as a whole process and the save's snapshot
from the write to its appearance in the store (the debounce included).
Prints each build's medians: a preview answered on the daemon's loop holds
the save's snapshot up for as long as it runs; one answered beside the loop
does not.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402

DEBOUNCE_MS = 20


def claude_json(projects, extra_server):
    doc = {"numStartups": 1, "projects": {},
           "mcpServers": {"github": {"command": "gh-mcp"}}}
    for i in range(projects):
        doc["projects"][f"/home/u/src/p{i}"] = {
            "allowedTools": [], "mcpServers": {},
            "history": [{"display": "x" * 200, "pastedContents": {}}] * 4,
            "hasTrustDialogAccepted": True}
    if extra_server:
        doc["mcpServers"]["new"] = {"command": "new-mcp"}
    return json.dumps(doc, indent=2) + "\n"


def replace(path, text):
    """Writes a temp file and renames it over `path`, as Claude Code does."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def setup(build, projects):
    sb = h.Sandbox(f"""watch:
  debounce_ms: {DEBOUNCE_MS}
log:
  level: info
""")
    h.MCPBKD = os.path.join(build, "daemon", "mcpbkd")
    claude = sb.path("~/.claude.json")
    replace(claude, claude_json(projects, False))
    cursor = sb.write("~/.cursor/mcp.json", '{"mcpServers": {}}\n')
    daemon = h.Daemon(sb)
    daemon.start()
    store = h.StoreReader(sb.store_file)
    h.wait_for(lambda: len(store.snapshots(claude)) == 1, timeout=30,
               what="the first version")
    replace(claude, claude_json(projects, True))
    h.wait_for(lambda: len(store.snapshots(claude)) == 2, timeout=30,
               what="the second version")
    first = store.snapshots(claude)[0]["id"]
    return {"build": build, "sb": sb, "daemon": daemon, "store": store,
            "ctl": os.path.join(build, "client", "mcpbkctl"),
            "cursor": cursor, "first": first, "preview": [], "held": []}


def one_round(s, n):
    before = len(s["store"].snapshots(s["cursor"]))
    start = time.monotonic()
    preview = subprocess.Popen(
        [s["ctl"], "restore", str(s["first"]), "--only-mcp", "--dry-run"],
        env=s["sb"].env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The request is on its way once the client has connected: give it
    # the time a client takes to start and send (a few ms), then save.
    time.sleep(0.05)
    written = time.monotonic()
    s["sb"].write("~/.cursor/mcp.json",
                  json.dumps({"mcpServers": {f"s{n}": {"command": "x"}}}))
    h.wait_for(lambda: len(s["store"].snapshots(s["cursor"])) > before,
               timeout=60, what="the save's snapshot", interval=0.002)
    held = time.monotonic() - written
    _, err = preview.communicate(timeout=120)
    if preview.returncode != 0:
        raise SystemExit(f"preview failed: {err.decode()}")
    s["preview"].append((time.monotonic() - start) * 1e3)
    s["held"].append(held * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2)
    ap.add_argument("--projects", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    sets = []
    try:
        for build in args.builds:
            sets.append(setup(os.path.abspath(build), args.projects))
        size = os.path.getsize(sets[0]["sb"].path("~/.claude.json"))
        for k in range(args.rounds):
            for s in (sets if k % 2 == 0 else sets[::-1]):
                one_round(s, k)
        print(f"~/.claude.json: {args.projects} projects, {size} bytes; "
              f"debounce {DEBOUNCE_MS} ms")
        for s in sets:
            print(f"{s['build']}: preview median "
                  f"{statistics.median(s['preview']):.0f} ms "
                  f"({min(s['preview']):.0f}–{max(s['preview']):.0f}); "
                  f"save to snapshot median "
                  f"{statistics.median(s['held']):.0f} ms "
                  f"({min(s['held']):.0f}–{max(s['held']):.0f})")
    finally:
        for s in sets:
            s["daemon"].kill()
            s["sb"].cleanup()


if __name__ == "__main__":
    main()

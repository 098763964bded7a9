#!/usr/bin/env python3
"""Whole-process `mcpbkctl diff` of two builds, alternated, beside GNU diff.

    python3 bench/ab_diff.py BUILD_A BUILD_B [--rounds N] [--runs N]

Starts one sandboxed daemon per build (tests/integration/harness.py) that
watches a generated 2 MB ~/.claude.json (bench_tool gen claude) and records
five versions of it: revision 1, revision 2 (a small edit), revision 2
written with 4-space indentation (every line changed), revision 2 with
its projects in reverse order (the same lines, moved), and revision 2 with
two fields changed in every fourth project (what a week of sessions
does). Then, in ROUNDS
rounds (the builds' order swapped each round), runs `hyperfine -N` on each
build's `mcpbkctl diff A B --json` for each pair, and once `diff -u` of the
same two files. Prints each build's median per pair, its spread, the size
of the unified diff it printed and whether it was a shortest one: used for
before/after comparisons of the diff path (bench/RESULTS.md).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402
from ab_restore import count  # noqa: E402  (snapshots listed, -1 on error)

PAIRS = [("small edit", 1, 2), ("scattered", 2, 5), ("re-indented", 2, 3),
         ("reordered", 2, 4)]


def versions(tool, work):
    """The five versions' files, written once and shared by both builds."""
    paths = [os.path.join(work, f"v{i}.json") for i in range(1, 6)]
    for rev, path in zip((1, 2), paths):
        subprocess.run([tool, "gen", "claude", path, str(rev)], check=True)
    with open(paths[1]) as f:
        doc = json.load(f)
    with open(paths[2], "w") as f:
        json.dump(doc, f, indent=4)
    projects = doc["projects"]
    doc["projects"] = dict(reversed(list(projects.items())))
    with open(paths[3], "w") as f:
        json.dump(doc, f, indent=2)
    doc["projects"] = projects
    for n, project in enumerate(projects.values()):
        if n % 4 == 0:
            project["lastCost"] = n
            project["lastSessionId"] = f"0000-{n}"
    with open(paths[4], "w") as f:
        json.dump(doc, f, indent=2)
    return paths


def setup(build, files):
    sb = h.Sandbox("""watch:
  debounce_ms: 20
  paths:
    - {path: "~/bench/.claude.json", host: claude-code}
log:
  level: info
""")
    path = sb.path("~/bench/.claude.json")
    os.makedirs(os.path.dirname(path))
    h.MCPBKD = os.path.join(build, "daemon", "mcpbkd")
    daemon = h.Daemon(sb)
    ctl = os.path.join(build, "client", "mcpbkctl")
    with open(files[0], "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    daemon.start()
    ids = [None] * len(files)
    try:
        h.wait_for(lambda: count(ctl, sb) == 1, timeout=20,
                   what="version 1 to be recorded")
        for n, src in enumerate(files):
            with open(src, "rb") as f:
                data = f.read()
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)
            # The daemon records a ~/.claude.json change only when its
            # servers change (a re-indented or reordered file has the same
            # ones): a manual snapshot is always recorded.
            r = subprocess.run([ctl, "snapshot", path, "--json"], env=sb.env,
                               capture_output=True, check=True)
            ids[n] = json.loads(r.stdout)["snapshots"][0]["id"]
    except BaseException:
        daemon.kill()
        sb.cleanup()
        raise
    return {"build": build, "sandbox": sb, "daemon": daemon, "ctl": ctl,
            "ids": ids, "times": {p[0]: [] for p in PAIRS}, "shape": {}}


def shape(s, a, b):
    r = subprocess.run([s["ctl"], "diff", str(s["ids"][a - 1]),
                        str(s["ids"][b - 1]), "--json"], env=s["sandbox"].env,
                       capture_output=True, check=True, timeout=600)
    result = json.loads(r.stdout)
    unified = result.get("unified", "")
    return {"bytes": len(unified),
            "lines": sum(1 for line in unified.split("\n")
                         if line[:1] in "+-" and line[:3] not in
                         ("+++", "---")),
            "shortest": not result.get("unified_whole", False)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tool = os.path.join(args.builds[1], "bench", "mcpbk_bench_tool")
    sets = []
    work = h.Sandbox("")
    try:
        files = versions(tool, work.root)
        for build in args.builds:
            sets.append(setup(os.path.abspath(build), files))
        out = os.path.join(work.root, "hyperfine.json")
        for k in range(args.rounds):
            for s in (sets if k % 2 == 0 else sets[::-1]):
                for name, a, b in PAIRS:
                    subprocess.run(
                        ["hyperfine", "-N", "--runs", str(args.runs),
                         "--warmup", "1", "--export-json", out,
                         f"{s['ctl']} diff {s['ids'][a - 1]} "
                         f"{s['ids'][b - 1]} --json"],
                        env=s["sandbox"].env, stdout=subprocess.DEVNULL,
                        check=True)
                    with open(out) as f:
                        s["times"][name] += json.load(f)["results"][0]["times"]
        peer = {}
        for name, a, b in PAIRS:
            subprocess.run(
                ["hyperfine", "-N", "-i", "--runs", str(args.runs * 2),
                 "--warmup", "1", "--export-json", out,
                 f"diff -u {files[a - 1]} {files[b - 1]}"],
                stdout=subprocess.DEVNULL, check=True)
            with open(out) as f:
                peer[name] = statistics.median(
                    json.load(f)["results"][0]["times"]) * 1e3
        for s in sets:
            for name, a, b in PAIRS:
                s["shape"][name] = shape(s, a, b)
        for name, _, _ in PAIRS:
            print(f"{name}: diff -u {peer[name]:.1f} ms")
            for s in sets:
                t = sorted(x * 1e3 for x in s["times"][name])
                sh = s["shape"][name]
                print(f"  {s['build']}: n={len(t)} median "
                      f"{statistics.median(t):.1f} ms (min {t[0]:.1f}, max "
                      f"{t[-1]:.1f}), {sh['lines']} lines +/-, "
                      f"{sh['bytes']} bytes, "
                      f"{'shortest' if sh['shortest'] else 'whole'}")
    finally:
        for s in sets:
            s["daemon"].kill()
            s["sandbox"].cleanup()
        work.cleanup()


if __name__ == "__main__":
    main()

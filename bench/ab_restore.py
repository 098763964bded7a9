#!/usr/bin/env python3
"""Whole-process `mcpbkctl restore` of two builds, alternated.

    python3 bench/ab_restore.py desktop|claude BUILD_A BUILD_B [--rounds N] [--runs N]

Starts one sandboxed daemon per build (tests/integration/harness.py), each
watching a generated config (bench_tool gen: the 5 KB desktop config or the
2 MB ~/.claude.json) with three recorded revisions, and pins revision 2.
Then, in ROUNDS rounds (the order of the builds swapped each round), runs
`hyperfine -N` on that build's `mcpbkctl restore <rev 2> --yes`, each run
prepared as bench/e2e.py's restore is: another revision copied over the
file and captured by the daemon first. Prints each build's median and
spread over all its runs: used for before/after comparisons of the restore
path (bench/RESULTS.md), where runs minutes apart differ by more than the
change being measured.
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


def setup(kind, build, tool):
    name = "claude_desktop_config.json" if kind == "desktop" else ".claude.json"
    host = "claude-desktop" if kind == "desktop" else "claude-code"
    sb = h.Sandbox(f"""watch:
  debounce_ms: 20
  paths:
    - {{path: "~/bench/{name}", host: {host}}}
log:
  level: info
""")
    path = sb.path("~/bench/" + name)
    os.makedirs(os.path.dirname(path))
    subprocess.run([tool, "gen", kind, path, "1"], check=True)
    h.MCPBKD = os.path.join(build, "daemon", "mcpbkd")
    daemon = h.Daemon(sb)
    daemon.start()
    ctl = os.path.join(build, "client", "mcpbkctl")
    for rev in (2, 3):
        subprocess.run([tool, "gen", kind, path + ".tmp", str(rev)],
                       check=True)
        os.rename(path + ".tmp", path)
        h.wait_for(lambda: count(ctl, sb) == rev, timeout=10,
                   what=f"revision {rev} to be recorded")
    subprocess.run([tool, "gen", kind, path + ".bad", "99999"], check=True)
    listed = json.loads(subprocess.run([ctl, "list", "--json"], env=sb.env,
                                       capture_output=True, check=True).stdout)
    snaps = listed["snapshots"] if isinstance(listed, dict) else listed
    sid = sorted(s["id"] for s in snaps)[1]
    subprocess.run([ctl, "pin", str(sid)], env=sb.env, check=True,
                   capture_output=True)
    return {"build": build, "sandbox": sb, "daemon": daemon, "ctl": ctl,
            "path": path, "id": sid, "times": []}


def count(ctl, sb):
    r = subprocess.run([ctl, "list", "--json"], env=sb.env,
                       capture_output=True)
    if r.returncode != 0:
        return -1
    listed = json.loads(r.stdout)
    return len(listed["snapshots"] if isinstance(listed, dict) else listed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["desktop", "claude"])
    ap.add_argument("builds", nargs=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    tool = os.path.join(args.builds[1], "bench", "mcpbk_bench_tool")
    settle = 0.15 if args.kind == "desktop" else 0.4
    sets = []
    try:
        for build in args.builds:
            sets.append(setup(args.kind, os.path.abspath(build), tool))
        out = os.path.join(sets[0]["sandbox"].root, "hyperfine.json")
        for k in range(args.rounds):
            for s in (sets if k % 2 == 0 else sets[::-1]):
                subprocess.run(
                    ["hyperfine", "-N", "--runs", str(args.runs),
                     "--warmup", "2", "--export-json", out, "--prepare",
                     f"sh -c 'cp {s['path']}.bad {s['path']}; "
                     f"sleep {settle}'",
                     f"{s['ctl']} restore {s['id']} --yes"],
                    env=s["sandbox"].env, stdout=subprocess.DEVNULL,
                    check=True)
                with open(out) as f:
                    s["times"] += json.load(f)["results"][0]["times"]
        for s in sets:
            t = sorted(x * 1e3 for x in s["times"])
            print(f"{s['build']}: n={len(t)} median "
                  f"{statistics.median(t):.2f} ms, p10 {t[len(t) // 10]:.2f}"
                  f", p90 {t[len(t) * 9 // 10]:.2f}")
    finally:
        for s in sets:
            s["daemon"].kill()
            s["sandbox"].cleanup()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Whole-process and end-to-end benchmarks of the real mcpbkd and mcpbkctl,
side by side with what a user would use instead, on the same files and the
same edits in the same run:

  cp      copy the file to a timestamped backup and fsync it (the naive lower
          bound; done in-process, so it pays no process start)
  git     one `git add && git commit` per change (etckeeper's way)

Sections (each in its own sandbox from tests/integration/harness.py: HOME and
XDG_* in a temp dir, the real daemon started from the build dir):

  edits       N small edits of a 5 KB Claude Desktop config and of a 2 MB
              ~/.claude.json, one at a time (write a temp file, rename it
              over the config, as editors do): end-to-end latency from the
              rename() to the subscribe stream's snapshot event, minus the
              debounce; daemon CPU per change; the peers' cost per change;
              storage after the N edits (git before and after `git gc`)
  restore     hyperfine: `mcpbkctl restore ID --yes` vs `git show` vs `cp`
  list        hyperfine: `mcpbkctl list --limit 20` among 100 000 snapshots
              vs `git log -n 20` among 100 000 commits
  idle        wakeups (voluntary context switches) and CPU over a quiet
              period, RSS, with 20 watched files and 100 000 snapshots
  throughput  100 files rewritten as fast as possible for 10 s: every final
              content captured? daemon CPU per recorded change

Writes <out>/e2e.json and <out>/e2e.md. Python standard library only.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

DEBOUNCE_MS = 20
MARKER = b'"BENCH_REV": "'


T0 = time.monotonic()


def log(*args):
    print(f"[e2e {time.monotonic() - T0:6.0f} s]", *args, file=sys.stderr,
          flush=True)


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values):
    return {"n": len(values), "p50": pct(values, 50), "p99": pct(values, 99),
            "min": min(values), "max": max(values),
            "mean": statistics.fmean(values)}


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def smaps_top(pid, n=8):
    """The mappings holding the most resident memory: [(KiB, name)]."""
    sizes = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                sizes[name] = sizes.get(name, 0) + int(parts[1])
    return sorted(((v, k) for k, v in sizes.items()), reverse=True)[:n]


def smaps_rollup(pid):
    """Rss/Pss totals from /proc/PID/smaps_rollup, in KiB."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def kib(status, key):
    return int(status[key].split()[0])


class Gen:
    """Generated configs (bench/gen.hpp through mcpbk_bench_tool) and their
    revisions: rev(i) rewrites the eight-digit marker in place."""

    def __init__(self, tool, kind, tmp):
        path = os.path.join(tmp, f"base-{kind}.json")
        subprocess.run([tool, "gen", kind, path], check=True)
        with open(path, "rb") as f:
            self.base = f.read()
        self.at = self.base.index(MARKER) + len(MARKER)

    def rev(self, i):
        return (self.base[:self.at] + b"%08d" % (i % 100000000) +
                self.base[self.at + 8:])


def atomic_write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def git(git_dir, work_tree, *args, **kw):
    return subprocess.run(["git", "--git-dir", git_dir, "--work-tree",
                           work_tree, *args], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def git_env():
    env = dict(os.environ)
    env.update({"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example",
                "GIT_COMMITTER_NAME": "bench",
                "GIT_COMMITTER_EMAIL": "b@example",
                "GIT_CONFIG_NOSYSTEM": "1", "HOME": tempfile.gettempdir()})
    return env


def sandbox_env(sb):
    """The environment every timed command runs in: the peers' git settings
    and the sandbox's HOME and XDG_* for mcpbkctl. hyperfine passes it on
    itself: an `env VAR=... mcpbkctl` wrapper would add the start of
    /usr/bin/env (about 1.5 ms here) to every mcpbkctl figure."""
    env = {k: v for k, v in git_env().items()
           if not k.startswith(("MCPBK_", "XDG_"))}
    env.update({k: v for k, v in sb.env.items()
                if k == "HOME" or k.startswith("XDG_")})
    return env


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def start_sandbox(h, config):
    sb = h.Sandbox(config)
    daemon = h.Daemon(sb)
    return sb, daemon


def subscribe(h, sb):
    s = h.connect(sb.socket, timeout=30)
    s.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
    buf = b""
    while b"\n" not in buf:
        buf += s.recv(65536)
    line, _, rest = buf.partition(b"\n")
    assert json.loads(line).get("ok"), line
    return s, rest


class Stream:
    """Reads the subscribe stream line by line."""

    def __init__(self, sock, rest):
        self.sock = sock
        self.buf = rest

    def next_snapshot(self):
        """Blocks until the next snapshot event; returns (data, receipt
        time in ns)."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("subscribe stream closed")
                self.buf += chunk
            t = time.perf_counter_ns()
            line, _, self.buf = self.buf.partition(b"\n")
            msg = json.loads(line)
            if msg.get("event") == "snapshot":
                return msg["data"], t


# --------------------------------------------------------------------------
# edits: latency, cost per change, storage, against cp+fsync and git.

EDIT_CONFIG = """\
watch:
  debounce_ms: {debounce}
  max_delay_ms: 2000
{paths}retention:
  max_count: 0
  max_age_days: 0
log:
  level: info
"""


def bench_edits(h, args, tool, tmp, kind, n):
    gen = Gen(tool, kind, tmp)
    if kind == "desktop":
        name = "claude_desktop_config.json"
        paths = ("  paths:\n"
                 f"    - {{path: \"~/bench/{name}\", host: claude-desktop}}\n")
    else:
        # The real ~/.claude.json, found by the claude-code host rule as on
        # a user's machine: the daemon also lists its projects after each
        # change (and watches where their project configs may appear).
        name, paths = ".claude.json", ""
    sb, daemon = start_sandbox(h, EDIT_CONFIG.format(debounce=DEBOUNCE_MS,
                                                     paths=paths))
    try:
        bench_dir = sb.path("bench") if kind == "desktop" else sb.home
        os.makedirs(bench_dir, exist_ok=True)
        target = os.path.join(bench_dir, name)
        atomic_write(target, gen.rev(0))
        daemon.start()
        h.wait_for(lambda: len(h.StoreReader(sb.store_file).snapshots(
            target)) == 1, 30, "the initial snapshot")
        sock, rest = subscribe(h, sb)
        stream = Stream(sock, rest)
        pid = daemon.proc.pid

        # The peers' own places, outside the watched directory.
        peer = os.path.join(sb.root, "peer")
        backups = os.path.join(peer, "cp")
        git_dir = os.path.join(peer, "git")
        os.makedirs(backups)
        env = git_env()
        subprocess.run(["git", "init", "-q", "--bare", git_dir], check=True,
                       env=env)
        git(git_dir, bench_dir, "add", name, env=env)
        git(git_dir, bench_dir, "commit", "-q", "-m", "rev 0", env=env)
        shutil.copyfile(target, os.path.join(backups, f"{name}.0"))

        lat_ms, cp_ms, git_ms, git_cpu_ms = [], [], [], []
        revs = {}
        cpu0 = proc_cpu_s(pid)
        for i in range(1, n + 1):
            data = gen.rev(i)
            sha = hashlib.sha256(data).hexdigest()
            atomic_write(target, data)
            t0 = time.perf_counter_ns()
            while True:
                snap, t1 = stream.next_snapshot()
                if snap["path"] == target and snap["sha256"] == sha:
                    break
            lat_ms.append((t1 - t0) / 1e6 - DEBOUNCE_MS)
            revs[i] = snap["id"]

            # cp + fsync, in-process (no process start): the lower bound.
            ts = time.time_ns()
            c0 = time.perf_counter_ns()
            dst = os.path.join(backups, f"{name}.{ts}")
            shutil.copyfile(target, dst)
            fd = os.open(dst, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            cp_ms.append((time.perf_counter_ns() - c0) / 1e6)

            # git add && git commit, as two processes (etckeeper).
            u0 = children_cpu_s()
            c0 = time.perf_counter_ns()
            git(git_dir, bench_dir, "add", name, env=env)
            git(git_dir, bench_dir, "commit", "-q", "-m", f"rev {i}", env=env)
            git_ms.append((time.perf_counter_ns() - c0) / 1e6)
            git_cpu_ms.append((children_cpu_s() - u0) * 1e3)
        cpu_ms_per_change = (proc_cpu_s(pid) - cpu0) * 1e3 / n
        churn = (churn_outside_servers(h, sb, pid, target, gen.rev(n))
                 if kind == "claude" else None)
        sock.close()

        # Storage: the daemon stops cleanly (SQLite checkpoints the WAL).
        daemon.stop()
        reader = h.StoreReader(sb.store_file)
        snaps = len(reader.snapshots(target))
        stored = reader._query("SELECT coalesce(sum(length(data)), 0) FROM "
                               "blobs")[0][0]
        store_bytes = sum(os.path.getsize(sb.store_file + ext)
                          for ext in ("", "-wal")
                          if os.path.exists(sb.store_file + ext))
        git_before = du(git_dir)
        g0 = time.perf_counter()
        git(git_dir, bench_dir, "gc", "-q", env=env)
        gc_s = time.perf_counter() - g0
        git_after = du(git_dir)
        cp_bytes = du(backups)
        raw = len(gen.base) * snaps
        return {
            "kind": kind, "file_bytes": len(gen.base), "edits": n,
            "latency_ms": summary(lat_ms),
            "daemon_cpu_ms_per_change": cpu_ms_per_change,
            "churn": churn,
            "cp_fsync_ms": summary(cp_ms),
            "git_commit_ms": summary(git_ms),
            "git_commit_cpu_ms": summary(git_cpu_ms),
            "storage": {
                "snapshots": snaps, "raw_sum": raw,
                "store_file": store_bytes, "blob_bytes": stored,
                "store_per_snapshot": store_bytes / snaps,
                "cp_bytes": cp_bytes, "git_before_gc": git_before,
                "git_after_gc": git_after, "git_gc_s": gc_s,
            },
            "sandbox": sb, "daemon": daemon, "gen": gen, "revs": revs,
            "git_dir": git_dir, "backups": backups, "target": target,
            "name": name, "bench_dir": bench_dir,
        }
    except BaseException:
        daemon.kill()
        log("kept sandbox", sb.root)
        raise


def wait_idle(pid, quiet_s=0.3, timeout_s=10):
    """Waits until the process's CPU time stays still for quiet_s."""
    deadline = time.monotonic() + timeout_s
    last, since = proc_cpu_s(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = proc_cpu_s(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
    raise RuntimeError(f"mcpbkd (pid {pid}) did not settle")


CHURN_WRITES = 60
CHURN_FIELD = b'"numStartups": 412'


def churn_outside_servers(h, sb, pid, target, latest):
    """Claude Code's most frequent write of ~/.claude.json: a field outside
    the server maps changes (no snapshot; the daemon still reads the file,
    compares its servers and lists its projects). Two kinds: the file keeps
    the latest snapshot's size (a counter of as many digits), or does not
    (a prompt appended). mcpbkd's CPU per write, the writes paced 60 ms
    apart (the debounce is 20 ms)."""
    if CHURN_FIELD not in latest:
        raise RuntimeError("the generated ~/.claude.json lost numStartups")
    before = len(h.StoreReader(sb.store_file).snapshots(target))
    out = {}
    for name, value in (("same size", lambda i: b"%d" % (100 + i % 900)),
                        ("other size", lambda i: b"%d" % (10000 + i))):
        wait_idle(pid)
        c0 = proc_cpu_s(pid)
        for i in range(CHURN_WRITES):
            data = latest.replace(CHURN_FIELD, b'"numStartups": ' + value(i))
            if name == "same size" and len(data) != len(latest):
                raise RuntimeError("the same-size churn changed the size")
            atomic_write(target, data)
            time.sleep(0.06)
        wait_idle(pid)
        out[name] = (proc_cpu_s(pid) - c0) * 1e3 / CHURN_WRITES
    # The daemon's last capture of the file, and no snapshot of the churn.
    atomic_write(target, latest)
    wait_idle(pid)
    after = len(h.StoreReader(sb.store_file).snapshots(target))
    if after != before:
        raise RuntimeError(f"the churn made {after - before} snapshots")
    return out


def hyperfine(commands, out_json, prepare=None, runs=None, warmup=3,
              env=None):
    cmd = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup),
           "--export-json", out_json]
    if runs:
        cmd += ["--runs", str(runs)]
    if prepare:
        cmd += ["--prepare", prepare]
    for name, c in commands:
        cmd += ["-n", name, c]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        results = json.load(f)["results"]
    out = {}
    for r in results:
        times = [t * 1e3 for t in r["times"]]
        out[r["command"]] = summary(times)
    return out


def bench_restore(h, args, e, out_dir):
    """Restores a snapshot of the middle of the edit history over a file
    holding another revision: mcpbkctl (the whole process, through the
    running daemon), git show, cp."""
    sb, gen = e["sandbox"], e["gen"]
    daemon = h.Daemon(sb)
    daemon.start()
    try:
        mid = e["edits"] // 2
        snap_id = e["revs"][mid]
        target, name = e["target"], e["name"]
        bad = os.path.join(sb.root, "bad-" + name)
        with open(bad, "wb") as f:
            f.write(gen.rev(99999999))
        env = git_env()
        rev = git(e["git_dir"], e["bench_dir"], "rev-list", "-n", "1",
                  "--grep", f"^rev {mid}$", "HEAD", env=env
                  ).stdout.decode().strip()
        backup = sorted(os.listdir(e["backups"]),
                        key=lambda s: int(s.rsplit(".", 1)[1]))[mid]
        backup = os.path.join(e["backups"], backup)
        settle = 0.15 if e["kind"] == "desktop" else 0.25
        # Every run starts from the "bad" revision, and the daemon has taken
        # its snapshot of it before the timed command starts.
        prepare = f"sh -c 'cp {bad} {target} && sleep {settle}'"
        ctl = h.MCPBKCTL
        commands = [
            ("mcpbkctl restore", f"{ctl} restore {snap_id} --yes"),
            ("git show",
             f"sh -c 'git --git-dir={e['git_dir']} show {rev}:{name} > "
             f"{target}'"),
            ("cp", f"cp {backup} {target}"),
        ]
        res = hyperfine(commands, os.path.join(out_dir,
                        f"hyperfine-restore-{e['kind']}.json"),
                        prepare=prepare, runs=args.runs, env=sandbox_env(sb))
        with open(target, "rb") as f:
            assert f.read() == gen.rev(mid), "restore did not restore"
        # What starting any process costs here (a dynamic coreutils program;
        # mcpbkctl is static): it touches no file, so it needs no prepare.
        res.update(hyperfine([("true", shutil.which("true"))],
                             os.path.join(out_dir, "hyperfine-true-"
                                          f"{e['kind']}.json"),
                             runs=args.runs, env=sandbox_env(sb)))
        res["durable replace"] = durable_replace_floor(
            target, bad, gen.rev(mid), settle, args.runs)
        return res
    finally:
        daemon.kill()


def durable_replace_floor(target, bad, data, settle, runs):
    """The floor of a restore's write on this disk, in-process (no process
    start, no store): from the same starting point as each timed restore
    (the "bad" revision written over the file and captured), write a temp
    file, fsync it, rename it over the file, fsync the directory, as SPEC §9
    asks. A restore also records itself in the store (one more fdatasync)."""
    directory = os.path.dirname(target)
    times = []
    for _ in range(runs or 20):
        shutil.copyfile(bad, target)
        time.sleep(settle)
        t0 = time.perf_counter_ns()
        tmp = target + ".floor-tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, target)
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return summary(times)


LIST_CONFIG = """\
watch:
  debounce_ms: {debounce}
  paths:
    - {{path: "~/bench/idle/*.json", host: cursor}}
retention:
  max_count: 0
  max_age_days: 0
log:
  level: info
"""


def build_git_history(git_dir, n, files, env):
    """A repository with n commits round-robin over files, made with
    git fast-import (small blobs: git log reads commits only)."""
    subprocess.run(["git", "init", "-q", "--bare", git_dir], check=True,
                   env=env)
    p = subprocess.Popen(["git", "--git-dir", git_dir, "fast-import",
                          "--quiet"], stdin=subprocess.PIPE, env=env)
    w = p.stdin
    t = int(time.time()) - n
    for i in range(1, n + 1):
        blob = b'{"mcpServers":{"x":{"env":{"BENCH_REV":"%08d"}}}}\n' % i
        msg = b"rev %d\n" % i
        w.write(b"commit refs/heads/main\n")
        w.write(b"committer bench <b@example> %d +0000\n" % (t + i))
        w.write(b"data %d\n%s" % (len(msg), msg))
        w.write(b"M 100644 inline %s\n" % files[i % len(files)].encode())
        w.write(b"data %d\n%s\n" % (len(blob), blob))
    w.close()
    p.wait()
    subprocess.run(["git", "--git-dir", git_dir, "symbolic-ref", "HEAD",
                    "refs/heads/main"], check=True, env=env)


def bench_list_idle(h, args, tool, tmp, out_dir):
    sb, daemon = start_sandbox(h, LIST_CONFIG.format(debounce=DEBOUNCE_MS))
    try:
        idle_dir = sb.path("bench/idle")
        os.makedirs(idle_dir)
        files = []
        for i in range(20):
            p = os.path.join(idle_dir, f"f{i:02d}.json")
            subprocess.run([tool, "gen", "desktop", p, str(10**7 + i)],
                           check=True)
            files.append(p)
        os.makedirs(sb.state_dir, mode=0o700)
        # The git peer's history is made while the store fills (two
        # processes, two CPUs): neither is measured.
        env = git_env()
        git_dir = os.path.join(sb.root, "peer-git")
        git_fill = {}

        def fill_git():
            t = time.perf_counter()
            build_git_history(git_dir, args.snapshots,
                              [os.path.basename(f) for f in files], env)
            git_fill["s"] = time.perf_counter() - t

        git_thread = threading.Thread(target=fill_git)
        git_thread.start()
        t0 = time.perf_counter()
        subprocess.run([tool, "fill", sb.store_file, str(args.snapshots),
                        "cursor", *files], check=True)
        fill_s = time.perf_counter() - t0
        git_thread.join()
        if "s" not in git_fill:
            raise RuntimeError("building the git history failed")
        log(f"git history of {args.snapshots} commits in "
            f"{git_fill['s']:.1f} s, beside the fill")
        store_bytes = os.path.getsize(sb.store_file)
        log(f"filled {args.snapshots} snapshots in {fill_s:.1f} s "
            f"({store_bytes / 1e6:.0f} MB)")
        t0 = time.perf_counter()
        daemon.start()
        ready_s = time.perf_counter() - t0
        pid = daemon.proc.pid
        time.sleep(2)  # the initial snapshots of the 20 files settle
        st0 = proc_status(pid)

        lst = hyperfine([
            ("mcpbkctl list --limit 20", f"{h.MCPBKCTL} list --limit 20"),
            ("mcpbkctl list --limit 20 --json",
             f"{h.MCPBKCTL} list --limit 20 --json"),
            ("git log -n 20", f"git --git-dir={git_dir} log -n 20"),
        ], os.path.join(out_dir, "hyperfine-list.json"), runs=args.runs,
            env=sandbox_env(sb))

        # Idle: nothing touches the files or the socket. The same window
        # is counted twice: /proc's context switches, and `perf stat`
        # attached to the daemon (which prints `<not counted>` when the
        # process did not run once while attached).
        time.sleep(1)
        perf_proc = None
        if shutil.which("perf"):
            perf_proc = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-e", "context-switches,task-clock",
                 "-p", str(pid), "sleep", str(args.idle_s)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)  # perf has attached
        st1 = proc_status(pid)
        c0 = proc_cpu_s(pid)
        time.sleep(args.idle_s)
        st2 = proc_status(pid)
        c1 = proc_cpu_s(pid)
        vol = int(st2["voluntary_ctxt_switches"]) - int(
            st1["voluntary_ctxt_switches"])
        invol = int(st2["nonvoluntary_ctxt_switches"]) - int(
            st1["nonvoluntary_ctxt_switches"])
        perf = perf_proc.communicate()[1].strip() if perf_proc else None
        return {
            "snapshots": args.snapshots, "fill_s": fill_s,
            "store_bytes": store_bytes, "start_to_ready_s": ready_s,
            "list": lst,
            "idle": {
                "seconds": args.idle_s,
                "voluntary_switches": vol, "involuntary_switches": invol,
                "wakeups_per_min": (vol + invol) * 60.0 / args.idle_s,
                "cpu_ms": (c1 - c0) * 1e3,
                "rss_kib_after_start": kib(st0, "VmRSS"),
                # 1 s after the last list request: before the idle trim.
                "rss_kib_busy": kib(st1, "VmRSS"),
                "rss_file_kib_busy": kib(st1, "RssFile"),
                "rss_kib": kib(st2, "VmRSS"), "hwm_kib": kib(st2, "VmHWM"),
                "rss_anon_kib": kib(st2, "RssAnon"),
                "rss_file_kib": kib(st2, "RssFile"),
                "smaps": smaps_top(pid),
                "rollup": smaps_rollup(pid),
                "perf_stat": perf,
            },
        }
    finally:
        daemon.kill()
        sb.cleanup()


THROUGHPUT_CONFIG = """\
watch:
  debounce_ms: {debounce}
  max_delay_ms: 2000
  paths:
    - {{path: "~/bench/t/*.json", host: cursor}}
log:
  level: info
"""


def bench_throughput(h, args, tool, tmp):
    sb, daemon = start_sandbox(h, THROUGHPUT_CONFIG.format(
        debounce=DEBOUNCE_MS))
    try:
        d = sb.path("bench/t")
        os.makedirs(d)
        gen = Gen(tool, "desktop", tmp)
        files = [os.path.join(d, f"f{i:03d}.json") for i in range(100)]
        for i, p in enumerate(files):
            atomic_write(p, gen.rev(i))
        daemon.start()
        reader = h.StoreReader(sb.store_file)
        h.wait_for(lambda: len(reader.snapshots()) >= 100, 60,
                   "the initial snapshots")
        time.sleep(0.5)
        before = reader._query("SELECT max(id) FROM snapshots")[0][0]
        pid = daemon.proc.pid
        c0 = proc_cpu_s(pid)
        writes = 0
        last = {}
        end = time.monotonic() + args.throughput_s
        rev = 1000
        while time.monotonic() < end:
            for p in files:
                rev += 1
                data = gen.rev(rev)
                atomic_write(p, data)
                last[p] = data
                writes += 1
        t_end = time.monotonic()

        def settled():
            snaps = reader.snapshots()
            latest = {}
            for s in snaps:
                latest[s["path"]] = s["sha256"]
            return all(latest.get(p) == hashlib.sha256(last[p]).hexdigest()
                       for p in files)
        h.wait_for(settled, 60, "every final content to be captured")
        settle_s = time.monotonic() - t_end
        recorded = reader._query(
            "SELECT max(id) FROM snapshots")[0][0] - before
        cpu_s = proc_cpu_s(pid) - c0
        return {"files": len(files), "seconds": args.throughput_s,
                "writes": writes, "snapshots": recorded,
                "all_final_captured": True,
                "final_captured_after_s": settle_s,
                "daemon_cpu_s": cpu_s,
                "daemon_cpu_ms_per_snapshot": cpu_s * 1e3 / max(recorded, 1),
                "daemon_cpu_us_per_write": cpu_s * 1e6 / writes}
    finally:
        daemon.kill()
        sb.cleanup()


def fmt_ms(s):
    return f"{s['p50']:.2f} (p99 {s['p99']:.2f})"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"


def render(res):
    out = []
    out.append("### Edits: end-to-end latency, cost per change, storage\n")
    out.append("| file | edits | mcpbk latency − debounce, ms p50 (p99) | "
               "mcpbkd CPU/change ms | cp+fsync ms p50 (p99) | "
               "git add+commit ms p50 (p99) | git CPU/change ms p50 | "
               "mcpbk/git wall | mcpbk/cp wall |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for e in res["edits"]:
        lat = e["latency_ms"]
        # mcpbk's wall cost per change is its latency past the debounce.
        out.append(
            f"| {e['kind']} ({e['file_bytes'] // 1024} KiB) | {e['edits']} | "
            f"{fmt_ms(lat)} | {e['daemon_cpu_ms_per_change']:.2f} | "
            f"{fmt_ms(e['cp_fsync_ms'])} | {fmt_ms(e['git_commit_ms'])} | "
            f"{e['git_commit_cpu_ms']['p50']:.1f} | "
            f"{ratio(lat['p50'], e['git_commit_ms']['p50'])} | "
            f"{ratio(lat['p50'], e['cp_fsync_ms']['p50'])} |")
    for e in res["edits"]:
        if e.get("churn"):
            out.append(
                f"\n{e['kind']}: a change outside the server maps (no "
                f"snapshot), mcpbkd CPU per write: "
                + ", ".join(f"{k} {v:.2f} ms" for k, v in e["churn"].items())
                + f" ({CHURN_WRITES} writes each)")
    out.append("\n### Storage after the edits\n")
    out.append("| file | snapshots | raw sum | mcpbk store.db | per snapshot "
               "| mcpbk/raw | cp backups | git before gc | git after gc | "
               "mcpbk/git(gc) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for e in res["edits"]:
        s = e["storage"]
        out.append(
            f"| {e['kind']} | {s['snapshots']} | {s['raw_sum']:,} | "
            f"{s['store_file']:,} | {s['store_per_snapshot']:,.0f} | "
            f"{s['store_file'] / s['raw_sum']:.4f} | {s['cp_bytes']:,} | "
            f"{s['git_before_gc']:,} | {s['git_after_gc']:,} | "
            f"{ratio(s['store_file'], s['git_after_gc'])} |")
    if res.get("restore"):
        out.append("\n### Restore (whole process, hyperfine), ms\n")
        out.append("| file | mcpbkctl restore p50 (p99) | git show p50 (p99) "
                   "| cp p50 (p99) | mcpbk/git | mcpbk/cp | floors: `true` "
                   "p50 (p99) | durable replace in-process p50 (p99) |")
        out.append("|---|---|---|---|---|---|---|---|")
        for kind, r in res["restore"].items():
            m, g, c = (r["mcpbkctl restore"], r["git show"], r["cp"])
            t, d = r.get("true"), r.get("durable replace")
            out.append(f"| {kind} | {fmt_ms(m)} | {fmt_ms(g)} | {fmt_ms(c)} | "
                       f"{ratio(m['p50'], g['p50'])} | "
                       f"{ratio(m['p50'], c['p50'])} | "
                       f"{fmt_ms(t) if t else 'n/a'} | "
                       f"{fmt_ms(d) if d else 'n/a'} |")
    if res.get("list_idle"):
        li = res["list_idle"]
        lst = li["list"]
        m, mj, g = (lst["mcpbkctl list --limit 20"],
                    lst["mcpbkctl list --limit 20 --json"],
                    lst["git log -n 20"])
        out.append(f"\n### List among {li['snapshots']:,} snapshots "
                   "(whole process, hyperfine), ms\n")
        out.append("| mcpbkctl list --limit 20 | … --json | git log -n 20 | "
                   "mcpbk/git |")
        out.append("|---|---|---|---|")
        out.append(f"| {fmt_ms(m)} | {fmt_ms(mj)} | {fmt_ms(g)} | "
                   f"{ratio(m['p50'], g['p50'])} |")
        i = li["idle"]
        out.append(f"\n### Idle, 20 watched files, {li['snapshots']:,} "
                   "snapshots\n")
        out.append("| quiet period | context switches (vol+invol) | "
                   "wakeups/min | CPU ms | VmRSS KiB (anon + file) | "
                   "VmHWM KiB | start→ready s | store MB |")
        out.append("|---|---|---|---|---|---|---|---|")
        out.append(f"| {i['seconds']} s | {i['voluntary_switches']}+"
                   f"{i['involuntary_switches']} | {i['wakeups_per_min']:.1f} "
                   f"| {i['cpu_ms']:.1f} | {i['rss_kib']} ({i['rss_anon_kib']}"
                   f" + {i['rss_file_kib']}) | {i['hwm_kib']} | "
                   f"{li['start_to_ready_s']:.2f} | "
                   f"{li['store_bytes'] / 1e6:.0f} |")
        if "rss_kib_busy" in i:
            out.append(f"\nVmRSS 1 s after the last request, before the idle "
                       f"trim: {i['rss_kib_busy']} KiB (file "
                       f"{i['rss_file_kib_busy']}).")
        r = i.get("rollup", {})
        if r:
            out.append(f"\nPSS (resident pages divided among the processes "
                       f"sharing them): {r.get('Pss', 0)} KiB = "
                       f"{r.get('Pss_Anon', 0)} anon + {r.get('Pss_File', 0)}"
                       f" file; shared clean {r.get('Shared_Clean', 0)} KiB, "
                       f"private clean {r.get('Private_Clean', 0)} KiB, "
                       f"private dirty {r.get('Private_Dirty', 0)} KiB.")
        out.append("\nLargest resident mappings (KiB): " + ", ".join(
            f"{os.path.basename(name)} {kb}" for kb, name in i["smaps"]))
        if i.get("perf_stat"):
            ran = "<not counted>" not in i["perf_stat"]
            out.append(f"\nThe same window, `perf stat -e context-switches,"
                       f"task-clock -p PID sleep {i['seconds']}`: "
                       f"`{i['perf_stat'].replace(chr(10), '; ')}`" +
                       ("" if ran else " (`<not counted>`: the daemon did not "
                        "run once while perf was attached)"))
    if res.get("throughput"):
        t = res["throughput"]
        out.append("\n### Throughput: 100 files rewritten as fast as "
                   "possible\n")
        out.append("| seconds | writes | snapshots | every final content "
                   "captured | captured within | mcpbkd CPU s | CPU ms per "
                   "snapshot | CPU µs per write |")
        out.append("|---|---|---|---|---|---|---|---|")
        out.append(f"| {t['seconds']} | {t['writes']:,} | {t['snapshots']:,} "
                   f"| {'yes' if t['all_final_captured'] else 'NO'} | "
                   f"{t['final_captured_after_s']:.2f} s | "
                   f"{t['daemon_cpu_s']:.2f} | "
                   f"{t['daemon_cpu_ms_per_snapshot']:.2f} | "
                   f"{t['daemon_cpu_us_per_write']:.1f} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--edits", type=int, default=1000)
    ap.add_argument("--snapshots", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--idle-s", type=int, default=30)
    ap.add_argument("--throughput-s", type=int, default=10)
    ap.add_argument("--only", default="edits,restore,list,throughput")
    args = ap.parse_args()
    os.environ["MCPBK_BUILD_DIR"] = os.path.abspath(args.build)
    import harness as h
    tool = os.path.join(args.build, "bench", "mcpbk_bench_tool")
    os.makedirs(args.out, exist_ok=True)
    only = set(args.only.split(","))
    res = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "uname": os.uname().release, "cpus": os.cpu_count(),
           "loadavg_start": os.getloadavg(), "edits": [], "restore": {}}
    with tempfile.TemporaryDirectory(prefix="mcpbk-e2e-") as tmp:
        if "edits" in only:
            for kind in ("desktop", "claude"):
                log(f"edits: {kind} x {args.edits}")
                e = bench_edits(h, args, tool, tmp, kind, args.edits)
                try:
                    if "restore" in only:
                        log(f"restore: {kind}")
                        res["restore"][kind] = bench_restore(h, args, e,
                                                             args.out)
                finally:
                    e["sandbox"].cleanup()
                res["edits"].append({k: v for k, v in e.items() if k not in (
                    "sandbox", "daemon", "gen", "revs", "git_dir", "backups",
                    "target", "name", "bench_dir")})
        if "list" in only:
            log("list + idle")
            res["list_idle"] = bench_list_idle(h, args, tool, tmp, args.out)
        if "throughput" in only:
            log("throughput")
            res["throughput"] = bench_throughput(h, args, tool, tmp)
    res["loadavg_end"] = os.getloadavg()
    with open(os.path.join(args.out, "e2e.json"), "w") as f:
        json.dump(res, f, indent=2)
    md = render(res)
    with open(os.path.join(args.out, "e2e.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()

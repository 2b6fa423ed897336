#!/usr/bin/env python3
"""ckpt benchmark suite (issue 6): times `ckpt` against numpy, h5py/h5diff, safetensors,
`unzip -l` and `cp` on the same synthetic checkpoints and prints one table.

    python3 Tests/Benchmarks/run.py                       # sizes 64,512 MiB, 5 runs, data in /tmp/ckpt-bench
    python3 Tests/Benchmarks/run.py --sizes 64,512,2048   # the full table
    python3 Tests/Benchmarks/run.py --scale               # + 10k tensors, a >2 GiB tensor, a >4 GiB ZIP64 file
    python3 Tests/Benchmarks/run.py --quick               # ~1-minute smoke run (16 MiB, 2 runs)

See Tests/Benchmarks/README.md for what each row measures and how to read the table.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ inside the repository
sys.path.insert(0, HERE)

MiB = 1 << 20
GiB = 1 << 30
PY = sys.executable
PEERS = os.path.join(HERE, "peers.py")


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Setup: ckpt, peers

def build_ckpt(repo):
    cmd = ["swift", "build", "-c", "release", "--static-swift-stdlib"]
    log(f"== building ckpt: {' '.join(cmd)}  (in {repo})")
    r = subprocess.run(cmd, cwd=repo)
    if r.returncode != 0:
        sys.exit(f"run.py: the release build failed (exit {r.returncode}); fix it or pass --ckpt PATH")
    bindir = subprocess.run(cmd + ["--show-bin-path"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(bindir, "ckpt")


def have_module(name):
    r = subprocess.run([PY, "-c", f"import {name}"], capture_output=True)
    return r.returncode == 0


def ensure_peers(notes, install=True):
    """Installs what is missing (pip; apt-get when root). Returns what is usable."""
    mods = {"numpy": "numpy", "h5py": "h5py", "safetensors": "safetensors"}
    missing = [pkg for mod, pkg in mods.items() if not have_module(mod)]
    if missing and install:
        log(f"== installing Python packages: {' '.join(missing)}")
        subprocess.run([PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + missing)
    missing = [pkg for mod, pkg in mods.items() if not have_module(mod)]
    if missing:
        notes.append(f"Python packages missing ({', '.join(missing)}): install with `{PY} -m pip install {' '.join(missing)}`")
    tools = {"h5diff": "hdf5-tools", "unzip": "unzip", "/usr/bin/time": "time"}
    absent = [pkg for tool, pkg in tools.items() if shutil.which(tool) is None]
    if absent and install:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log(f"== installing Debian packages: {' '.join(absent)}")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + absent, env=env)
        else:
            log(f"!! missing {', '.join(absent)}: run `sudo apt-get install -y {' '.join(absent)}` (their rows are skipped)")
    absent = [pkg for tool, pkg in tools.items() if shutil.which(tool) is None]
    if absent:
        notes.append(f"Debian packages missing ({', '.join(absent)}): `sudo apt-get install -y {' '.join(absent)}`; their rows are skipped")
    return {
        "numpy": have_module("numpy"), "h5py": have_module("h5py"), "safetensors": have_module("safetensors"),
        "ml_dtypes": have_module("ml_dtypes"), "h5diff": shutil.which("h5diff") is not None,
        "unzip": shutil.which("unzip") is not None,
    }


def ckpt_capabilities(ckpt):
    """Which subcommands this ckpt has. `ckpt NAME --help` of an unknown NAME prints the root help
    and exits 0, so the test is the subcommand's own usage line."""
    caps = {}
    root = subprocess.run([ckpt, "--help"], capture_output=True, text=True).stdout
    for sub in ("inspect", "strip", "convert", "rebuild", "diff"):
        r = subprocess.run([ckpt, sub, "--help"], capture_output=True, text=True)
        caps[sub] = r.returncode == 0 and f"USAGE: ckpt {sub}" in r.stdout and re.search(rf"^\s+{sub}\b", root, re.M) is not None
    return caps


def peer_env():
    """numpy peers run without the OPENBLAS_* overrides this machine may set (they slow numpy)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def versions(ckpt, deps):
    v = {"python": platform.python_version()}
    try:
        v["ckpt"] = subprocess.run([ckpt, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        v["ckpt"] = "?"
    for m in ("numpy", "h5py", "safetensors", "ml_dtypes"):
        if deps.get(m):
            r = subprocess.run([PY, "-c", f"import {m}; print({m}.__version__)"], capture_output=True, text=True)
            v[m] = r.stdout.strip()
    if deps.get("h5diff"):
        r = subprocess.run(["h5diff", "--version"], capture_output=True, text=True)
        v["h5diff"] = (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr) else "?"
    if deps.get("unzip"):
        r = subprocess.run(["unzip", "-v"], capture_output=True, text=True)
        v["unzip"] = r.stdout.splitlines()[0] if r.stdout else "?"
    return v


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem / GiB, 1), "kernel": platform.release()}


# ---------------------------------------------------------------------------------------------
# Timing

class Cmd:
    """One tool's command in a job."""

    def __init__(self, tool, argv, ok=(0,), env=None, prep=None, shell=False, is_ckpt=False, target=None,
                 available=True, why=None, outputs=(), work=None):
        self.tool = tool
        self.argv = argv
        self.ok = ok
        self.env = env
        self.prep = prep
        self.shell = shell
        self.is_ckpt = is_ckpt
        self.target = target          # (kind, k, text)
        self.available = available
        self.why = why
        self.outputs = outputs        # files it writes (removed before each run)
        # What the row does compared with ckpt's row: "same", "less: …" or "more: …" (shown in the table).
        self.work = work if work is not None else ("(reference)" if is_ckpt else "")

    def display(self):
        return self.argv if isinstance(self.argv, str) else " ".join(self.argv)


TIME_BIN = "/usr/bin/time"


def run_once(cmd, stdout, stderr, rss_file=None):
    """One run: wall time from just before the fork to the exit (perf_counter), exit status.
    With rss_file, the command runs under `/usr/bin/time -f '%M %U %S'`, which writes its peak RSS
    (KiB) and CPU time (user + system s), counting the process and the children it waited for:
    a process forked from this (large) Python driver would count the driver's pages in its own
    peak, a small launcher does not. Returns (wall s, (peak RSS MiB, CPU s) or None, exit)."""
    for o in cmd.outputs:
        if os.path.exists(o):
            os.unlink(o)
    if cmd.prep:
        cmd.prep()
    argv = ["sh", "-c", cmd.argv] if cmd.shell else list(cmd.argv)
    if rss_file:
        argv = [TIME_BIN, "-f", "%M %U %S", "-o", rss_file] + argv
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=cmd.env)
    _, status, _ = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = None
    if rss_file:
        try:
            with open(rss_file) as f:
                kib, user, sys_ = f.read().strip().splitlines()[-1].split()[-3:]
            rss = (int(kib) / 1024.0, float(user) + float(sys_))
        except (OSError, ValueError, IndexError):
            rss = None
    return t, rss, p.returncode


def time_cmd(cmd, runs, logdir, tag, slow_after):
    """A warm-up run under /usr/bin/time (not timed: its output goes to logs/, its peak RSS is
    the table's), then `runs` timed runs launched directly (no wrapper in the times)."""
    res = {"tool": cmd.tool, "command": cmd.display(), "times": [], "status": "ok"}
    if not cmd.available:
        res["status"] = "n/a"
        res["note"] = cmd.why
        return res
    os.makedirs(logdir, exist_ok=True)
    out_log = os.path.join(logdir, tag + ".out")
    err_log = os.path.join(logdir, tag + ".err")
    rss_file = os.path.join(logdir, tag + ".rss") if os.access(TIME_BIN, os.X_OK) else None
    with open(out_log, "wb") as o, open(err_log, "wb") as e:
        t, rss, rc = run_once(cmd, o, e, rss_file)
    res["warmup_s"] = t
    if rc not in cmd.ok:
        res["status"] = f"failed (exit {rc})"
        res["note"] = _tail(err_log) or _tail(out_log)
        return res
    if rss is not None:
        res["peak_rss_mib"], res["cpu_s"] = rss
    n = runs if t < slow_after else min(runs, 3)
    if n < runs:
        res["note"] = f"warm-up took {t:.0f} s: {n} runs instead of {runs}"
    with open(os.devnull, "wb") as devnull:
        for _ in range(n):
            with open(err_log + ".run", "wb") as e:
                t, _, rc = run_once(cmd, devnull, e)
            if rc not in cmd.ok:
                res["status"] = f"failed (exit {rc})"
                res["note"] = _tail(err_log + ".run")
                return res
            res["times"].append(t)
    if os.path.exists(err_log + ".run"):
        os.unlink(err_log + ".run")
    res["median_s"] = statistics.median(res["times"]) if res["times"] else None
    return res


def _tail(path, n=300):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    lines = [x for x in data.splitlines() if x.strip()]
    return (lines[-1] if lines else "")[:n]


# ---------------------------------------------------------------------------------------------
# Jobs

def rm(*paths):
    def f():
        for p in paths:
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.exists(p):
                os.unlink(p)
    return f


def jobs_for(label, d, plan, ckpt, caps, deps):
    """The jobs for one data set in directory d. Each job: (name, [Cmd]); the first is_ckpt Cmd
    is the reference for the ratios."""
    P = lambda f: os.path.join(d, f)  # noqa: E731
    W = lambda f: os.path.join(d, "work", f)  # noqa: E731
    penv = peer_env()
    na_np = None if deps["numpy"] else "numpy is not installed"
    na_unzip = None if deps["unzip"] else "unzip is not installed (apt-get install unzip)"
    na_h5 = None if deps["h5diff"] else "h5diff is not installed (apt-get install hdf5-tools)"
    jobs = []

    # inspect: index only
    inspect_np = f"import numpy; print(numpy.load({P('e1.ckpt')!r}).files)"
    jobs.append(("inspect", [
        Cmd("ckpt inspect", [ckpt, "inspect", P("e1.ckpt")], is_ckpt=True),
        Cmd("ckpt inspect --json", [ckpt, "inspect", "--json", P("e1.ckpt")], work="same (JSON)"),
        Cmd("unzip -l", ["unzip", "-l", P("e1.ckpt")], target=("ckpt_le", 2, "ckpt ≤ 2× unzip -l"),
            available=na_unzip is None, why=na_unzip, work="less: member names and sizes, no dtype/shape/roles"),
        Cmd("python np.load(F).files", [PY, "-c", inspect_np], env=penv, available=na_np is None, why=na_np,
            work="less: member names only"),
    ]))
    # the same on the full checkpoint: 3x the tensors, plus the architecture and optimizer JSON
    inspect_np_full = f"import numpy; print(numpy.load({P('full.ckpt')!r}).files)"
    jobs.append(("inspect full (Adam)", [
        Cmd("ckpt inspect", [ckpt, "inspect", P("full.ckpt")], is_ckpt=True),
        Cmd("unzip -l", ["unzip", "-l", P("full.ckpt")], target=("ckpt_le", 2, "ckpt ≤ 2× unzip -l"),
            available=na_unzip is None, why=na_unzip, work="less: member names and sizes, no dtype/shape/roles"),
        Cmd("python np.load(F).files", [PY, "-c", inspect_np_full], env=penv, available=na_np is None, why=na_np,
            work="less: member names only"),
    ]))

    # convert safetensors -> ckpt, float32 / float16 / bfloat16; then npz -> ckpt
    for tag, src, label_ in (("f32", "e1.safetensors", "float32"), ("f16", "e1.f16.safetensors", "float16"),
                             ("bf16", "e1.bf16.safetensors", "bfloat16")):
        jobs.append((f"convert st→ckpt {label_}", [
            Cmd("ckpt convert", [ckpt, "convert", P(src), W(f"conv.{tag}.ckpt")], is_ckpt=True,
                outputs=[W(f"conv.{tag}.ckpt")]),
            Cmd("numpy load + savez_compressed", [PY, PEERS, "convert", P(src), W(f"conv.{tag}.npz")], env=penv,
                outputs=[W(f"conv.{tag}.npz")], target=("ckpt_faster", 15, "ckpt ≥ 15× faster") if tag == "f32" else None,
                available=na_np is None, why=na_np, work="same: reads every tensor, writes a deflated ZIP of .npy"),
        ]))
    jobs.append(("convert npz→ckpt float32", [
        Cmd("ckpt convert", [ckpt, "convert", P("e1.npz"), W("conv.npz.ckpt")], is_ckpt=True, outputs=[W("conv.npz.ckpt")]),
        Cmd("numpy load + savez_compressed", [PY, PEERS, "convert", P("e1.npz"), W("conv.npz.npz")], env=penv,
            outputs=[W("conv.npz.npz")], available=na_np is None, why=na_np, work="same: reads every tensor, writes a deflated ZIP of .npy"),
    ]))

    # inspect of the float16 / bfloat16 files (ckpt's own convert output when it could write one)
    for tag, label_ in (("f16", "float16"), ("bf16", "bfloat16")):
        jobs.append((f"inspect {label_}", [
            Cmd("ckpt inspect", [ckpt, "inspect", ("@conv", tag)], is_ckpt=True),
            Cmd("unzip -l", ["unzip", "-l", ("@conv", tag)], available=na_unzip is None, why=na_unzip,
                work="less: member names and sizes"),
        ]))

    # strip full (Adam) -> weights; all three followed by sync (bytes on disk)
    jobs.append(("strip full→weights", [
        Cmd("ckpt strip + sync", f"{_q(ckpt)} strip {_q(P('full.ckpt'))} -o {_q(W('strip.ckpt'))} && sync", shell=True,
            is_ckpt=True, outputs=[W("strip.ckpt")]),
        Cmd("cp + sync", f"cp {_q(P('full.ckpt'))} {_q(W('cp.ckpt'))} && sync", shell=True, outputs=[W("cp.ckpt")],
            target=("ckpt_le", 2, "ckpt ≤ 2× cp + sync"), work="less: copies every byte, selects nothing"),
        Cmd("numpy strip + sync", f"{_q(PY)} {_q(PEERS)} strip {_q(P('full.npz'))} {_q(W('strip.npz'))} && sync", shell=True,
            env=penv, outputs=[W("strip.npz")], available=na_np is None, why=na_np,
            work="more: inflates and re-deflates the weights (ckpt copies members compressed)"),
    ]))

    # rebuild weights -> full (Adam)
    na_rebuild = None if caps.get("rebuild") else "ckpt has no rebuild command yet (ckpt rebuild --help)"
    jobs.append(("rebuild weights→full", [
        Cmd("ckpt rebuild", [ckpt, "rebuild", P("e1.ckpt"), "--architecture", P("model.json"), "--optimizer", "adam",
                             "-o", W("rebuilt.ckpt")], is_ckpt=True, outputs=[W("rebuilt.ckpt")],
            available=na_rebuild is None, why=na_rebuild),
        Cmd("numpy zeros + savez_compressed", [PY, PEERS, "rebuild", P("e1c.npz"), W("rebuilt.npz"), "--trainable",
                                               P("trainable.json")], env=penv, outputs=[W("rebuilt.npz")],
            target=("ckpt_faster", 20, "ckpt ≥ 20× faster"), available=na_np is None, why=na_np,
            work="less: zero slots + savez_compressed, no architecture or optimizer config checked"),
    ]))

    # diff two epochs
    na_diff = None if caps.get("diff") else "ckpt has no diff command yet (ckpt diff --help)"
    jobs.append(("diff two epochs", [
        Cmd("ckpt diff", [ckpt, "diff", P("e1.ckpt"), P("e2.ckpt")], ok=(0, 1), is_ckpt=True,
            target=("rss_le", 256, "peak RSS ≤ 256 MiB"), available=na_diff is None, why=na_diff,
            work="(reference) tensors whose CRC-32s are equal are not inflated"),
        Cmd("ckpt diff -q", [ckpt, "diff", P("e1.ckpt"), P("e2.ckpt"), "-q"], ok=(0, 1),
            available=na_diff is None, why=na_diff, work="less: stops at the first difference"),
        Cmd("numpy max/mean |Δ|", [PY, PEERS, "diff", P("e1c.npz"), P("e2c.npz")], ok=(0, 1), env=penv,
            target=("ckpt_faster", 5, "ckpt ≥ 5× faster"), available=na_np is None, why=na_np,
            work="more: compares every tensor (ckpt skips tensors whose CRC-32s are equal)"),
        Cmd("h5diff -d 1e-6", ["h5diff", "-d", "1e-6", P("e1.h5"), P("e2.h5")], ok=(0, 1),
            target=("ckpt_faster", 5, "ckpt ≥ 5× faster"), available=na_h5 is None, why=na_h5,
            work="more: compares every value (ckpt skips tensors whose CRC-32s are equal)"),
    ]))
    return jobs


def _q(s):
    return "'" + s.replace("'", "'\\''") + "'"


def resolve_conv(cmd, d):
    """inspect rows of f16/bf16: ckpt's own convert output if it exists, else ckptwrite's file."""
    def sub(x):
        if isinstance(x, tuple) and x[0] == "@conv":
            own = os.path.join(d, "work", f"conv.{x[1]}.ckpt")
            if os.path.exists(own):
                return own, None
            return os.path.join(d, f"e1.{x[1]}.ckpt"), "file written by ckptwrite.py (no ckpt convert output of the safetensors in this run)"
        return x, None
    if isinstance(cmd.argv, list):
        note = None
        argv = []
        for x in cmd.argv:
            y, n = sub(x)
            argv.append(y)
            note = note or n
        cmd.argv = argv
        return note
    return None


# ---------------------------------------------------------------------------------------------
# Checks (untimed): outputs are what they should be

def ckpt_json(ckpt, path, verify=False):
    r = subprocess.run([ckpt, "inspect", "--json"] + (["--verify"] if verify else []) + [path], capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr or r.stdout).strip()[:300]
    return json.loads(r.stdout), None


def check_outputs(job, d, plan, ckpt, results):
    """Returns a list of (check, ok, detail)."""
    W = lambda f: os.path.join(d, "work", f)  # noqa: E731
    n = len(plan["tensors"])
    n_trainable = sum(1 for t in plan["tensors"] if t["trainable"])
    checks = []
    ran = {r["tool"]: r for r in results if r["status"] == "ok"}
    if job == "inspect" and "ckpt inspect --json" in ran:
        j, err = ckpt_json(ckpt, os.path.join(d, "e1.ckpt"))
        checks.append(("inspect --json lists every tensor", j is not None and len(j["tensors"]) == n,
                       err or f"{len(j['tensors'])} of {n}"))
    if job.startswith("convert st→ckpt") or job.startswith("convert npz"):
        tag = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}[job.split()[-1]]
        out = W("conv.npz.ckpt") if job.startswith("convert npz") else W(f"conv.{tag}.ckpt")
        if "ckpt convert" in ran and os.path.exists(out):
            j, err = ckpt_json(ckpt, out, verify=True)
            ok = j is not None and len(j["tensors"]) == n
            want = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[tag]
            if ok:
                ok = all(t["dtype"] == want for t in j["tensors"])
            checks.append((f"{job}: output verifies, {n} {want} tensors", ok, err or ""))
    if job.startswith("strip") and "ckpt strip + sync" in ran:
        j, err = ckpt_json(ckpt, W("strip.ckpt"), verify=True)
        ok = j is not None and j["kind"] == "weights" and len(j["tensors"]) == n
        checks.append(("strip: output verifies, weights only, every weight kept", ok,
                       err or (f"kind {j['kind']}, {len(j['tensors'])} tensors" if j else "")))
    if job.startswith("rebuild") and "ckpt rebuild" in ran:
        j, err = ckpt_json(ckpt, W("rebuilt.ckpt"), verify=True)
        want = n + 2 + 2 * n_trainable
        ok = j is not None and j["kind"] == "full" and len(j["tensors"]) == want
        checks.append(("rebuild: output verifies, full, weights + 2 + 2 slots per trainable weight", ok,
                       err or (f"kind {j['kind']}, {len(j['tensors'])} of {want} tensors" if j else "")))
    if job.startswith("diff") and "ckpt diff" in ran:
        r = subprocess.run([ckpt, "diff", os.path.join(d, "e1.ckpt"), os.path.join(d, "e2.ckpt")], capture_output=True, text=True)
        checks.append(("diff: exit 1 (the epochs differ)", r.returncode == 1, f"exit {r.returncode}"))
    return checks


# ---------------------------------------------------------------------------------------------
# Running one data set

def prepare_ckpt_files(d, ckpt):
    """e1.ckpt / e2.ckpt are ckpt's own output (convert of the .npz files): made afresh by the
    ckpt under test every time, never reused from another build."""
    for src, dst in (("e1.npz", "e1.ckpt"), ("e2c.npz", "e2.ckpt")):
        s, t = os.path.join(d, src), os.path.join(d, dst)
        r = subprocess.run([ckpt, "convert", s, t, "--force"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"run.py: `ckpt convert {s} {t}` failed: {r.stderr.strip()}")


def run_dataset(label, size_mib, d, plan, ckpt, caps, deps, args, rows, checks, notes):
    os.makedirs(os.path.join(d, "work"), exist_ok=True)
    logdir = os.path.join(args.out, "logs")
    words = [w.strip() for w in (args.only or "").split(",") if w.strip()]
    for job, cmds in jobs_for(label, d, plan, ckpt, caps, deps):
        if words and not any(w in job for w in words):
            continue
        results = []
        for c in cmds:
            note = resolve_conv(c, d)
            tag = re.sub(r"[^A-Za-z0-9.]+", "_", f"{label}-{job}-{c.tool}").strip("_")
            r = time_cmd(c, args.runs, logdir, tag, args.slow_after)
            if note and r["status"] == "ok" and c.is_ckpt:
                r["note"] = note
            r.update({"job": job, "size": label, "size_mib": size_mib, "is_ckpt": c.is_ckpt, "target": c.target, "work": c.work})
            results.append(r)
            if r.get("median_s") is not None:
                shown = f"{r['median_s']:.4f} s" + (f", {r['peak_rss_mib']:.0f} MiB" if r.get("peak_rss_mib") is not None else "")
            else:
                shown = r["status"] + (f": {r.get('note')}" if r.get("note") else "")
            log(f"   {job:28s} {c.tool:34s} {shown}")
        ref = next((r for r in results if r["is_ckpt"]), None)
        for r in results:
            if ref is not None and "median_s" in ref and "median_s" in r:
                r["ratio"] = r["median_s"] / ref["median_s"] if ref["median_s"] > 0 else None
            t = r["target"]
            if t:
                r["target_text"] = t[2]
                r["met"] = evaluate(t, r, ref)
        if job.startswith("convert st→ckpt float32"):
            results.append(size_row(d, label, size_mib, results))
        checks += [(label, *c) for c in check_outputs(job, d, plan, ckpt, results)]
        rows += results
        # a job's outputs are not needed after it, except ckpt's float16/bfloat16 convert outputs,
        # which the "inspect float16/bfloat16" jobs read
        for f in os.listdir(os.path.join(d, "work")):
            if f not in ("conv.f16.ckpt", "conv.bf16.ckpt"):
                os.unlink(os.path.join(d, "work", f))
    shutil.rmtree(os.path.join(d, "work"), ignore_errors=True)


def size_row(d, label, size_mib, results):
    ck = os.path.join(d, "work", "conv.f32.ckpt")
    npz = os.path.join(d, "work", "conv.f32.npz")
    ok = {r["tool"]: r["status"] == "ok" for r in results}
    row = {"job": "convert st→ckpt float32", "size": label, "size_mib": size_mib, "tool": "file size: ckpt vs numpy .npz",
           "status": "ok", "is_ckpt": False, "target_text": "ckpt file ≤ numpy's"}
    if ok.get("ckpt convert") and ok.get("numpy load + savez_compressed") and os.path.exists(ck) and os.path.exists(npz):
        a, b = os.path.getsize(ck), os.path.getsize(npz)
        row.update({"ckpt_bytes": a, "numpy_bytes": b, "ratio": b / a, "met": a <= b,
                    "note": f"ckpt {a / MiB:.2f} MiB, numpy {b / MiB:.2f} MiB"})
    else:
        row.update({"status": "n/a", "note": "needs both convert outputs"})
    return row


def evaluate(target, r, ref):
    kind, k, _ = target
    if kind == "rss_le":
        return None if r.get("peak_rss_mib") is None else r["peak_rss_mib"] <= k
    if ref is None or "median_s" not in ref or "median_s" not in r:
        return None
    if kind == "ckpt_le":      # ckpt's time at most k times this tool's
        return ref["median_s"] <= k * r["median_s"]
    if kind == "ckpt_faster":  # this tool at least k times slower than ckpt
        return r["median_s"] >= k * ref["median_s"]
    return None


# ---------------------------------------------------------------------------------------------
# Scale checks (--scale)

def scale_checks(args, ckpt, caps, deps, rows, checks, notes):
    import datagen
    base = os.path.join(args.out, "scale")
    os.makedirs(base, exist_ok=True)

    # 1. 10,000+ tensors: the whole job set on a 40 MiB model of 10,239 tensors.
    d = os.path.join(base, "10k")
    log("== scale: 10,000+ tensors")
    plan = datagen.generate(d, 40 * MiB, seed=args.seed, n_tensors=10240, log=log)
    prepare_ckpt_files(d, ckpt)
    run_dataset(f"{len(plan['tensors'])} tensors", 40, d, plan, ckpt, caps, deps, args, rows, checks, notes)

    # 2. A tensor over 2 GiB in a container over 4 GiB (ZIP64).
    log("== scale: a 2.25 GiB tensor in a 5 GiB file (ZIP64)")
    d = os.path.join(base, "big")
    os.makedirs(d, exist_ok=True)
    arrays = [("big/kernel", (24576, 24576))] + [(f"fill_{k}/kernel", (4096, 4096)) for k in range(44)]
    npz = os.path.join(d, "big.npz")
    ck = os.path.join(d, "big.ckpt")
    free = shutil.disk_usage(base).free
    if free < 11 * GiB and not os.path.exists(npz):
        notes.append(f"scale: skipped the >4 GiB check: {free / GiB:.1f} GiB free in {base}, it needs 11 GiB")
        return
    if not os.path.exists(npz):
        t0 = time.time()
        datagen.write_npz_streamed(npz, arrays, args.seed)
        log(f"   wrote {npz} ({os.path.getsize(npz) / GiB:.2f} GiB) in {time.time() - t0:.0f} s")
    label = "5 GiB, 1 tensor 2.25 GiB"
    logdir = os.path.join(args.out, "logs")
    runs = min(args.runs, 2)
    c = Cmd("ckpt convert npz→ckpt", [ckpt, "convert", npz, ck], is_ckpt=True, outputs=[ck])
    r = time_cmd(c, runs, logdir, "scale-big-convert", args.slow_after)
    r.update({"job": "scale: convert 5 GiB", "size": label, "size_mib": os.path.getsize(npz) / MiB, "is_ckpt": True,
              "target": None})
    rows.append(r)
    log(f"   convert: {r.get('median_s', 0):.1f} s ({r['status']})")
    if r["status"] != "ok":
        # time_cmd removed the output before each run; one more plain run to have a file to check
        subprocess.run([ckpt, "convert", npz, ck, "--force"], capture_output=True)
    if not os.path.exists(ck):
        checks.append((label, "convert wrote the file", False, r.get("note", "")))
        return
    size = os.path.getsize(ck)
    checks.append((label, "container is over 4 GiB", size > 4 * GiB, f"{size / GiB:.2f} GiB"))
    with open(ck, "rb") as f:
        f.seek(max(0, size - 200))
        tail = f.read()
    checks.append((label, "ZIP64 end records present", b"PK\x06\x06" in tail and b"PK\x06\x07" in tail, ""))
    # inspect is index only: time it here too (flat with size)
    for cmd in (Cmd("ckpt inspect", [ckpt, "inspect", ck], is_ckpt=True),
                Cmd("unzip -l", ["unzip", "-l", ck], available=deps["unzip"], why="unzip is not installed")):
        rr = time_cmd(cmd, args.runs, logdir, "scale-big-" + cmd.tool.replace(" ", "_"), args.slow_after)
        rr.update({"job": "scale: inspect 5 GiB", "size": label, "size_mib": size / MiB, "is_ckpt": cmd.is_ckpt, "target": None})
        rows.append(rr)
    j, err = ckpt_json(ckpt, ck)
    if j:
        big = next((t for t in j["tensors"] if t["name"] == "big/kernel"), None)
        checks.append((label, "ckpt inspect --json: 45 tensors, big/kernel (24576, 24576)",
                       len(j["tensors"]) == 45 and big is not None and list(big["shape"]) == [24576, 24576], ""))
    else:
        checks.append((label, "ckpt inspect --json", False, err))
    if deps["unzip"]:
        u = subprocess.run(["unzip", "-l", ck], capture_output=True, text=True)
        line = next((x for x in u.stdout.splitlines() if x.strip().endswith("big/kernel.npy")), "")
        checks.append((label, "unzip -l lists big/kernel.npy with its 2.25 GiB size", u.returncode == 0 and
                       line.split()[0:1] == [str(24576 * 24576 * 4 + 128)], line.strip()))
    vr = time_cmd(Cmd("ckpt inspect --verify", [ckpt, "inspect", "--verify", ck], is_ckpt=True), 1, logdir,
                  "scale-big-verify", args.slow_after)
    vr.update({"job": "scale: verify 5 GiB (reads all)", "size": label, "size_mib": size / MiB, "is_ckpt": True, "target": None})
    rows.append(vr)
    checks.append((label, "ckpt inspect --verify (every CRC)", vr["status"] == "ok", vr.get("note", "")))
    # an independent reader: Python's zipfile inflates big/kernel; its sha256 matches the generator's
    import zipfile
    want = json.load(open(npz + ".sha256.json"))["big/kernel"]
    h = hashlib.sha256()
    with zipfile.ZipFile(ck) as z, z.open("big/kernel.npy") as f:
        import numpy as np
        if np.lib.format.read_magic(f) == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        while True:
            b = f.read(16 * MiB)
            if not b:
                break
            h.update(b)
    checks.append((label, "Python zipfile reads big/kernel back bit-identical (sha256)", h.hexdigest() == want, ""))
    r = subprocess.run([PY, "-c", f"import numpy; f = numpy.load({ck!r}).files; print(len(f), 'big/kernel' in f)"],
                       capture_output=True, text=True, env=peer_env())
    checks.append((label, "numpy.load(F).files opens the ZIP64 file", r.returncode == 0 and r.stdout.split()[-1:] == ["True"],
                   (r.stdout or r.stderr).strip()[-200:]))
    if caps.get("diff"):
        # a second 5 GiB file, every value x (1 + normal(0, 1e-3)): diff reads both in full
        npz2, ck2 = os.path.join(d, "big2.npz"), os.path.join(d, "big2.ckpt")
        if not args.keep_scale and os.path.exists(npz):
            os.unlink(npz)   # its checks are done: room for the second file
        if shutil.disk_usage(base).free < 11 * GiB and not os.path.exists(ck2):
            notes.append("scale: skipped the diff of two 5 GiB files: not enough disk")
        else:
            if not os.path.exists(ck2):
                datagen.write_npz_streamed(npz2, arrays, args.seed, epoch2=True)
                r2 = subprocess.run([ckpt, "convert", npz2, ck2, "--force"], capture_output=True, text=True)
                os.unlink(npz2)
                if os.path.exists(npz2 + ".sha256.json"):
                    os.unlink(npz2 + ".sha256.json")
                if r2.returncode != 0:
                    checks.append((label, "convert of the second 5 GiB file", False, r2.stderr.strip()[-200:]))
            if os.path.exists(ck2):
                dr = time_cmd(Cmd("ckpt diff (two 5 GiB files)", [ckpt, "diff", ck, ck2], ok=(1,), is_ckpt=True), 1, logdir,
                              "scale-big-diff", args.slow_after)
                dr.update({"job": "scale: diff 5 GiB", "size": label, "size_mib": size / MiB, "is_ckpt": True,
                           "target_text": "peak RSS ≤ 256 MiB"})
                dr["met"] = evaluate(("rss_le", 256, ""), dr, dr)
                rows.append(dr)
                checks.append((label, "ckpt diff of two 5 GiB files: exit 1 (they differ)", dr["status"] == "ok",
                               dr.get("note", "")))
            if not args.keep_scale and os.path.exists(ck2):
                os.unlink(ck2)
    if not args.keep_scale:
        for p in (ck, npz, npz + ".sha256.json"):
            if os.path.exists(p):
                os.unlink(p)


# ---------------------------------------------------------------------------------------------
# Report

def fmt_s(x):
    if x is None:
        return "—"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    if x >= 0.1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def table_rows(rows):
    out = []
    for r in rows:
        ratio = r.get("ratio")
        met = r.get("met")
        status = r.get("status", "ok")
        out.append([
            r["job"], str(r["size"]), r["tool"], r.get("work", ""),
            fmt_s(r.get("median_s")) if status == "ok" else status,
            str(len(r.get("times", []))) if r.get("times") else "—",
            f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") is not None else "—",
            f"{r['cpu_s']:.2f}" if r.get("cpu_s") is not None else "—",
            (f"{ratio:.3f}×" if "file size" in r["tool"] else f"{ratio:.2f}×") if ratio is not None else "—",
            r.get("target_text") or "",
            "" if not r.get("target_text") else ("yes" if met else ("NO" if met is False else "n/a")),
        ])
    return out


HEAD = ["job", "size", "tool", "work vs ckpt's row", "median s", "runs", "peak RSS MiB", "CPU s", "ratio vs ckpt", "target", "met?"]


def render_text(rows):
    data = [HEAD] + table_rows(rows)
    w = [max(len(r[i]) for r in data) for i in range(len(HEAD))]
    lines = []
    for k, r in enumerate(data):
        lines.append("  ".join(c.ljust(w[i]) if i in (0, 1, 2, 3, 9) else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def render_md(rows):
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
    for r in table_rows(rows):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)


def summaries(rows, sizes_order):
    """Flat inspect and linear convert, from the ckpt rows."""
    out = []
    for job in ("inspect", "inspect full (Adam)"):
        ins = [r for r in rows if r["job"] == job and r["tool"] == "ckpt inspect" and r.get("median_s")
               and r["size"] in sizes_order]
        if len(ins) >= 2:
            ins.sort(key=lambda r: r["size_mib"])
            a, b = ins[0], ins[-1]
            ratio = b["median_s"] / a["median_s"]
            flat = ratio <= 1.5 or b["median_s"] - a["median_s"] < 0.002
            out.append((f"{job}: flat with size",
                        f"ckpt inspect {fmt_s(a['median_s'])} s at {a['size']} → {fmt_s(b['median_s'])} s at {b['size']} ({ratio:.2f}×)",
                        flat))
    for job, tool in (("convert st→ckpt float32", "ckpt convert"), ("convert npz→ckpt float32", "ckpt convert"),
                      ("strip full→weights", "ckpt strip + sync"), ("rebuild weights→full", "ckpt rebuild"),
                      ("diff two epochs", "ckpt diff")):
        rs = sorted((r for r in rows if r["job"] == job and r["tool"] == tool and r.get("median_s") and r["size"] in sizes_order),
                    key=lambda r: r["size_mib"])
        if job == "convert npz→ckpt float32":
            rs += [r for r in rows if r["job"] == "scale: convert 5 GiB" and r.get("median_s")]
        if rs:
            per = ", ".join(f"{r['size']}: {r['median_s'] / (r['size_mib'] / 1024):.2f}" for r in rs)
            out.append((f"{job}: seconds per GiB of weights", f"{tool}: {per}", None))
    return out


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="Benchmark ckpt against numpy, h5py/h5diff, safetensors, unzip -l and cp.")
    ap.add_argument("--sizes", default="64,512", help="float32 weight bytes per data set, MiB, comma-separated (default 64,512; "
                                                      "the full table: 64,512,2048)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per command, after one warm-up run (default 5)")
    ap.add_argument("--out", default="/tmp/ckpt-bench", help="data, logs and results (never inside the repo; default /tmp/ckpt-bench)")
    ap.add_argument("--ckpt", help="use this ckpt binary instead of building the repo in release mode")
    ap.add_argument("--tensors", type=int, default=1205, help="tensors per data set (default 1205)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", action="store_true", help="also: 10,000+ tensors, a >2 GiB tensor, a >4 GiB ZIP64 container (~15 GiB of disk)")
    ap.add_argument("--keep-scale", action="store_true", help="keep the 5 GiB scale files")
    ap.add_argument("--quick", action="store_true", help="smoke run: --sizes 16 --runs 2 (about a minute once built)")
    ap.add_argument("--only", help="run only jobs whose name contains one of these comma-separated words (e.g. inspect,diff)")
    ap.add_argument("--clean", action="store_true", help="delete each size's data after benchmarking it")
    ap.add_argument("--no-install", action="store_true", help="do not pip/apt-get install missing peers")
    ap.add_argument("--slow-after", type=float, default=60.0, help="a command whose warm-up takes longer gets at most 3 runs (default 60 s)")
    args = ap.parse_args()
    if args.quick:
        args.sizes = "16"
        args.runs = min(args.runs, 2)
    args.out = os.path.abspath(args.out)
    if os.path.commonpath([args.out, REPO]) == REPO:
        sys.exit(f"run.py: --out {args.out} is inside the repository; generated data never goes there")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.makedirs(args.out, exist_ok=True)

    notes = []
    load0 = os.getloadavg()
    ckpt = os.path.abspath(args.ckpt) if args.ckpt else build_ckpt(REPO)
    if not os.access(ckpt, os.X_OK):
        sys.exit(f"run.py: {ckpt} is not an executable")
    deps = ensure_peers(notes, install=not args.no_install)
    if not (deps["numpy"] and deps["h5py"]):
        sys.exit("run.py: numpy and h5py are needed to generate the data: " + PY + " -m pip install numpy h5py")
    caps = ckpt_capabilities(ckpt)
    for sub in ("rebuild", "diff"):
        if not caps[sub]:
            notes.append(f"`ckpt {sub}` is not available in this build: its rows say n/a")
    import datagen

    log(f"== ckpt: {ckpt}")
    log(f"   timing: median of {args.runs} runs after 1 warm-up run; the page cache is warm (files were just written "
        f"or read); wall clock from fork to exit; peak RSS and CPU time by /usr/bin/time on the warm-up run")
    if load0[0] > 0.5:
        log(f"!! load average {load0[0]:.2f}: other work is running, timings will be noisy")

    rows, checks = [], []
    labels = []
    try:
        for s in sizes:
            d = os.path.join(args.out, f"{s}MiB")
            free = shutil.disk_usage(args.out).free
            need = 18 * s * MiB
            if free < need and not os.path.exists(os.path.join(d, "plan.json")):
                notes.append(f"size {s} MiB skipped: {free / GiB:.1f} GiB free in {args.out}, it needs about {need / GiB:.1f} GiB")
                log("!! " + notes[-1])
                continue
            log(f"== data set {s} MiB")
            t0 = time.time()
            plan = datagen.generate(d, s * MiB, seed=args.seed, n_tensors=args.tensors, log=log)
            prepare_ckpt_files(d, ckpt)
            log(f"   ready in {time.time() - t0:.0f} s")
            label = f"{s} MiB"
            labels.append(label)
            run_dataset(label, s, d, plan, ckpt, caps, deps, args, rows, checks, notes)
            if args.clean:
                shutil.rmtree(d, ignore_errors=True)
        if args.scale:
            scale_checks(args, ckpt, caps, deps, rows, checks, notes)
    except KeyboardInterrupt:
        notes.append("interrupted: the table is partial")
    finally:
        report(args, ckpt, deps, caps, rows, checks, notes, labels, load0)
    # Exit 1 when a command failed or an output check failed; a target not met never fails the run
    # (timings depend on the machine), and n/a rows (a command this ckpt lacks) do not either.
    failed = [r for r in rows if str(r.get("status", "")).startswith("failed")] + [c for c in checks if not c[2]]
    sys.exit(1 if failed else 0)


def report(args, ckpt, deps, caps, rows, checks, notes, labels, load0):
    load1 = os.getloadavg()
    summ = summaries(rows, labels)
    text = [render_text(rows), ""]
    if summ:
        text.append("Scaling:")
        for name, detail, ok in summ:
            text.append(f"  {name}: {detail}" + ("" if ok is None else ("  — met" if ok else "  — NOT met")))
        text.append("")
    if checks:
        text.append("Checks (untimed):")
        for size, name, ok, detail in checks:
            text.append(f"  [{'ok' if ok else 'FAIL'}] {size}: {name}" + (f" ({detail})" if detail else ""))
        text.append("")
    notes = list(notes)
    for r in rows:
        if r.get("status") not in (None, "ok") and r.get("note"):
            notes.append(f"{r['job']} / {r['size']} / {r['tool']}: {r['status']}: {r['note']}")
        elif r.get("note") and r.get("status") == "ok" and "file size" not in r["tool"]:
            notes.append(f"{r['job']} / {r['size']} / {r['tool']}: {r['note']}")
    notes.append(f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end"
                 + (" (busy machine: timings are noisy, and with another session busy Linux's autogroup scheduling gives "
                    "ckpt's two worker threads one core between them, so its parallel jobs look up to 2x slower next to "
                    "single-threaded peers: compare the CPU s column)" if max(load0[0], load1[0]) > 0.5 else ""))
    seen = set()
    notes = [n for n in notes if not (n in seen or seen.add(n))]
    text.append("Notes:")
    text += [f"  - {n}" for n in notes]
    out_text = "\n".join(text)
    log("")
    log(out_text)

    info = {"machine": machine(), "versions": versions(ckpt, deps), "ckpt": ckpt, "capabilities": caps,
            "args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average": [load0[0], load1[0]]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"info": info, "rows": [{k: v for k, v in r.items() if k != "target"} for r in rows],
                   "scaling": [{"name": n, "detail": d, "met": ok} for n, d, ok in summ],
                   "checks": [{"size": s, "check": n, "ok": ok, "detail": d} for s, n, ok, d in checks],
                   "notes": notes}, f, indent=1)
    md = ["# ckpt benchmark", "",
          f"{info['date']} · {info['machine']['cores']} cores, {info['machine']['cpu']}, {info['machine']['memory_gib']} GiB · "
          + ", ".join(f"{k} {v}" for k, v in info["versions"].items()), "",
          f"Median of {args.runs} runs after a warm-up run, page cache warm. Peak RSS and CPU s (user + system) of the "
          "warm-up run. Ratio = the tool's median / ckpt's median in the same job (above 1: ckpt is faster).", "",
          render_md(rows), ""]
    if summ:
        md += ["## Scaling", ""] + [f"- {n}: {d}" + ("" if ok is None else (" — met" if ok else " — **not met**")) for n, d, ok in summ] + [""]
    if checks:
        md += ["## Checks", ""] + [f"- [{'ok' if ok else 'FAIL'}] {s}: {n}" + (f" ({d})" if d else "") for s, n, ok, d in checks] + [""]
    md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    md += ["## Commands", ""] + sorted({f"- `{r['command']}`" for r in rows if r.get("command")})
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    log(f"\nwritten: {os.path.join(args.out, 'results.md')}, {os.path.join(args.out, 'results.json')}")


if __name__ == "__main__":
    main()

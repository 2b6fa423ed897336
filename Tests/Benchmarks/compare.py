#!/usr/bin/env python3
"""Two ckpt binaries side by side on the same data, runs interleaved (A, B, A, B, ...), so both
see the same machine load. For "stays within 5 % of today's binary" checks.

    python3 Tests/Benchmarks/run.py --sizes 512 --only none   # makes the data once (/tmp/ckpt-bench)
    python3 Tests/Benchmarks/compare.py --baseline OLD/ckpt --candidate .build/release/ckpt

Prints, per job, the median wall time of each binary, the ratio candidate/baseline and whether it
is within --tolerance (default 5 %). Exits 1 when a job is slower than the tolerance allows.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def jobs(d, w):
    P = lambda f: os.path.join(d, f)  # noqa: E731
    W = lambda f: os.path.join(w, f)  # noqa: E731
    return [
        ("inspect", lambda b: [b, "inspect", P("e1.ckpt")], None),
        ("inspect full (Adam)", lambda b: [b, "inspect", P("full.ckpt")], None),
        ("inspect --json", lambda b: [b, "inspect", "--json", P("e1.ckpt")], None),
        ("convert st→ckpt float32", lambda b: [b, "convert", P("e1.safetensors"), W("conv.ckpt"), "--force"], W("conv.ckpt")),
        ("convert npz→ckpt float32", lambda b: [b, "convert", P("e1.npz"), W("conv2.ckpt"), "--force"], W("conv2.ckpt")),
        ("strip full→weights", lambda b: [b, "strip", P("full.ckpt"), "-o", W("strip.ckpt"), "--force"], W("strip.ckpt")),
        ("rebuild weights→full", lambda b: [b, "rebuild", P("e1.ckpt"), "--architecture", P("model.json"), "--optimizer", "adam",
                                            "-o", W("rebuilt.ckpt"), "--force"], W("rebuilt.ckpt")),
        ("diff two epochs", lambda b: [b, "diff", P("e1.ckpt"), P("e2.ckpt")], None),
    ]


def run(cmd, out):
    if out and os.path.exists(out):
        os.unlink(out)
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode not in (0, 1):
        sys.exit(f"compare.py: {' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--data", default="/tmp/ckpt-bench/512MiB", help="a data set made by run.py (default /tmp/ckpt-bench/512MiB)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--only", help="comma-separated words; run only jobs whose name contains one")
    a = ap.parse_args()
    work = os.path.join(a.data, "compare-work")
    os.makedirs(work, exist_ok=True)
    bins = {"baseline": os.path.abspath(a.baseline), "candidate": os.path.abspath(a.candidate)}
    print(f"baseline  {bins['baseline']}\ncandidate {bins['candidate']}\ndata      {a.data}, {a.runs} interleaved runs after one warm-up each\n")
    print(f"{'job':28} {'baseline':>10} {'candidate':>10} {'ratio':>7}  verdict")
    worse = 0
    for name, make, out in jobs(a.data, work):
        if a.only and not any(w in name for w in a.only.split(",")):
            continue
        times = {k: [] for k in bins}
        for k, b in bins.items():
            run(make(b), out)  # warm-up (page cache)
        for _ in range(a.runs):
            for k, b in bins.items():
                times[k].append(run(make(b), out))
        mb, mc = statistics.median(times["baseline"]), statistics.median(times["candidate"])
        ratio = mc / mb if mb > 0 else float("inf")
        ok = ratio <= 1 + a.tolerance
        worse += 0 if ok else 1
        fmt = lambda s: f"{s * 1000:.1f} ms" if s < 1 else f"{s:.3f} s"  # noqa: E731
        print(f"{name:28} {fmt(mb):>10} {fmt(mc):>10} {ratio:7.3f}  {'ok' if ok else 'SLOWER than ' + format(a.tolerance, '.0%')}",
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if worse else 0)


if __name__ == "__main__":
    main()

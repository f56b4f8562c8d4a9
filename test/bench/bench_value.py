#!/usr/bin/env python3
"""Python peer of bench_value.c: multiprocessing.Value and Manager().dict().

Prints "key value" lines on stdout, read by bench_value.c:
  python_version     the interpreter's version
  value_locked_ops   2 processes x --value-n `with v.get_lock(): v.value += 1`
                     on one Value('q'), total increments / wall time, best
                     of --runs
  dict_setget_ops    2 processes x --dict-n (set, get) pairs on one
                     Manager().dict(), alternating own and shared keys
                     (16-byte keys, 32-byte values, as bench_value.c),
                     total ops (a set and a get are one op each) / wall
                     time, best of --runs
Exits 3 (after a message on stderr) if a count or a value comes out wrong.

The fork start method is used explicitly, as in the C benchmark (Python
3.14's default on Linux is forkserver). The two worker processes are pinned
to --cpus; the Manager's server process is not.
"""

import argparse
import multiprocessing as mp
import os
import platform
import struct
import sys
import time

CHECK_FAILED = 3  # exit status bench_value.c fails loudly on
NKEYS = 32
MAGIC = 0x9E3779B97F4A7C15
VAL = struct.Struct("<8sQQQ")  # tag, writer, seq, check: 32 bytes


def keys():
    """keys[0], keys[1]: each process's own; keys[2]: shared."""
    return [[("%s:k%010d" % (prefix, j)).encode() for j in range(NKEYS)]
            for prefix in ("own0", "own1", "shr_")]


def make_val(key, writer, seq):
    return VAL.pack(key[8:], writer, seq, seq ^ (writer << 56) ^ MAGIC)


def val_ok(v, key):
    if len(v) != VAL.size:
        return None
    tag, writer, seq, check = VAL.unpack(v)
    if tag != key[8:] or writer > 1 or check != seq ^ (writer << 56) ^ MAGIC:
        return None
    return writer, seq


def check_failed(msg):
    print("bench_value.py: FAIL: " + msg, file=sys.stderr, flush=True)
    os._exit(CHECK_FAILED)


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def run_pair(ctx, target, args_of, cpus):
    """Start two workers, release them together, return the wall time."""
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=target, args=args_of(p) + (barrier, cpus[p]))
             for p in range(2)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    for p in procs:
        if p.exitcode == CHECK_FAILED:
            sys.exit(CHECK_FAILED)
        if p.exitcode != 0:
            sys.exit("bench_value.py: a worker failed")
    return elapsed


# ---- locked Value ------------------------------------------------------------

def value_worker(v, n, barrier, cpu):
    pin(cpu)
    get_lock = v.get_lock
    barrier.wait()
    for _ in range(n):
        with get_lock():
            v.value += 1


def value_locked_ops(ctx, n, runs, cpus):
    best = None
    for _ in range(runs):
        v = ctx.Value("q", 0)  # lock=True: an RLock
        elapsed = run_pair(ctx, value_worker, lambda p: (v, n), cpus)
        if v.value != 2 * n:
            check_failed("Value is %d, expected %d" % (v.value, 2 * n))
        best = elapsed if best is None else min(best, elapsed)
    return 2 * n / best


# ---- Manager dict ------------------------------------------------------------

def dict_worker(d, p, n, last, barrier, cpu):
    pin(cpu)
    ks = keys()
    own, shared = ks[p], ks[2]
    mine = {}
    barrier.wait()
    for i in range(n):
        sh = i & 1
        j = (i >> 1) % NKEYS
        key = shared[j] if sh else own[j]
        d[key] = make_val(key, p, i + 1)
        mine[(sh, j)] = i + 1
        got = val_ok(d[key], key)
        if got is None or (not sh and got != (p, i + 1)):
            check_failed("get of %r returned a wrong value" % key)
    for (sh, j), seq in mine.items():
        last[(p * 2 + sh) * NKEYS + j] = seq


def dict_setget_ops(ctx, n, runs, cpus):
    best = None
    ks = keys()
    with ctx.Manager() as manager:
        for _ in range(runs):
            d = manager.dict()
            for g in range(3):
                for key in ks[g]:
                    d[key] = make_val(key, 1 if g == 1 else 0, 0)
            last = ctx.RawArray("Q", 2 * 2 * NKEYS)
            elapsed = run_pair(ctx, dict_worker,
                               lambda p: (d, p, n, last), cpus)
            final = d.copy()
            if len(final) != 3 * NKEYS:
                check_failed("the dict has %d items, expected %d"
                             % (len(final), 3 * NKEYS))
            for g in range(3):
                for j, key in enumerate(ks[g]):
                    got = val_ok(final[key], key)
                    if got is None:
                        check_failed("final value of %r is malformed" % key)
                    w, seq = got
                    sh = 1 if g == 2 else 0
                    want_w = w if sh else g
                    if w != want_w or seq != last[(w * 2 + sh) * NKEYS + j]:
                        check_failed("final value of %r is not the last write"
                                     % key)
            best = elapsed if best is None else min(best, elapsed)
    return 4 * n / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--value-n", type=int, default=300_000,
                    help="locked increments per process")
    ap.add_argument("--dict-n", type=int, default=8_000,
                    help="dict (set, get) pairs per process")
    ap.add_argument("--runs", type=int, default=3, help="runs, best kept")
    ap.add_argument("--cpus", default="-1,-1",
                    help="CPUs to pin the two processes to (-1: not pinned)")
    args = ap.parse_args()
    cpus = [int(c) for c in args.cpus.split(",")]
    runs = min(3, args.runs)

    ctx = mp.get_context("fork")
    print("python_version", platform.python_version(), flush=True)
    print("value_locked_ops %.1f"
          % value_locked_ops(ctx, args.value_n, runs, cpus), flush=True)
    print("dict_setget_ops %.1f"
          % dict_setget_ops(ctx, args.dict_n, runs, cpus), flush=True)


if __name__ == "__main__":
    main()

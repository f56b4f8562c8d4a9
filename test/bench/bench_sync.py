#!/usr/bin/env python3
"""Python peer of bench_sync.c: multiprocessing.Event and Barrier.

Prints "key value" lines on stdout, read by bench_sync.c:
  python_version        the interpreter's version
  event_pingpong_ops    Event ping-pong between two processes, round trips/s:
                        A does e1.set(), e2.wait(), e2.clear(); B does
                        e1.wait(), e1.clear(), e2.set(); best of --runs
  barrier_ops           two processes each passing one Barrier(2), cycles/s,
                        best of --runs
The number of round trips (cycles) per run is calibrated so that a run takes
about --seconds. Exits 3 (after a message on stderr) if a token arrives with
the wrong sequence number or a barrier lets a party through early.

The fork start method is used explicitly, as in the C benchmark (it is the
default on Linux before Python 3.14); with fork, the semaphores behind these
objects are unlinked from /dev/shm as soon as they are created.
"""

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time

CHECK_FAILED = 3  # exit status bench_sync.c fails loudly on


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def pingpong(role, e1, e2, seq1, seq2, start, n, cpu, elapsed):
    pin(cpu)
    start.wait()
    t0 = time.perf_counter()
    if role == 0:
        for i in range(1, n + 1):
            seq1.value = i
            e1.set()
            e2.wait()
            if seq2.value != i:
                sys.exit(CHECK_FAILED)
            e2.clear()
        elapsed.value = time.perf_counter() - t0
    else:
        for i in range(1, n + 1):
            e1.wait()
            if seq1.value != i:
                sys.exit(CHECK_FAILED)
            e1.clear()
            seq2.value = i
            e2.set()


def cycles(role, barrier, arrived, start, n, cpu, elapsed):
    pin(cpu)
    start.wait()
    t0 = time.perf_counter()
    other = 1 - role
    for i in range(1, n + 1):
        arrived[role] = i
        barrier.wait()
        if arrived[other] < i:
            sys.exit(CHECK_FAILED)
    if role == 0:
        elapsed.value = time.perf_counter() - t0


def run_event(ctx, n, cpus):
    e1, e2 = ctx.Event(), ctx.Event()
    seq1, seq2 = ctx.RawValue("q", 0), ctx.RawValue("q", 0)
    return run(ctx, pingpong, (e1, e2, seq1, seq2), n, cpus)


def run_barrier(ctx, n, cpus):
    return run(ctx, cycles, (ctx.Barrier(2), ctx.RawArray("q", 2)), n, cpus)


def run(ctx, target, objs, n, cpus):
    """Run target in two processes; the time side A measured (seconds)."""
    start = ctx.Barrier(2)
    elapsed = ctx.RawValue("d", 0.0)
    procs = [ctx.Process(target=target,
                         args=(role,) + objs + (start, n, cpus[role], elapsed))
             for role in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    if CHECK_FAILED in codes:
        print("bench_sync.py: FAIL: %s: a wait returned too early"
              % target.__name__, file=sys.stderr)
        sys.exit(CHECK_FAILED)
    if any(c != 0 for c in codes):
        sys.exit("bench_sync.py: a worker failed")
    return elapsed.value


def best_rate(ctx, fn, seconds, runs, cpus):
    """Calibrate n to about `seconds` per run, then the best of `runs`."""
    n = 16
    while True:
        t = fn(ctx, n, cpus)
        if t >= seconds / 8:
            break
        n *= 4
    n = max(16, int(n * seconds / t))
    return max(n / fn(ctx, n, cpus) for _ in range(runs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5,
                    help="length of one timed run")
    ap.add_argument("--runs", type=int, default=3, help="runs, best kept")
    ap.add_argument("--cpus", default="-1,-1",
                    help="CPUs to pin the two processes to (-1: not "
                         "pinned), as bench_sync.c does")
    args = ap.parse_args()
    cpus = [int(c) for c in args.cpus.split(",")]

    ctx = mp.get_context("fork")
    print("python_version", platform.python_version(), flush=True)
    print("event_pingpong_ops %.1f"
          % best_rate(ctx, run_event, args.seconds, args.runs, cpus),
          flush=True)
    print("barrier_ops %.1f"
          % best_rate(ctx, run_barrier, args.seconds, args.runs, cpus),
          flush=True)


if __name__ == "__main__":
    main()

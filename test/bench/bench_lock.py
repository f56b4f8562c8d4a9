#!/usr/bin/env python3
"""Python peer of bench_lock.c: multiprocessing.Lock / RLock.

Prints "key value" lines on stdout, read by bench_lock.c:
  python_version           the interpreter's version
  lock_uncontended_ns      Lock acquire()+release(), best of --runs, ns/op
  rlock_uncontended_ns     RLock acquire()+release(), same
  lock_contended_ops       2 processes x --contended-n acquire/+1/release on
                           one Lock, total ops / wall time, best of --runs
Exits 3 (after a message on stderr) if the shared counter comes out wrong.

The fork start method is used explicitly, as in the C benchmark (it is the
default on Linux before Python 3.14); with fork, the semaphores behind a
Lock are unlinked from /dev/shm as soon as they are created.
"""

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
import timeit

COUNTER_WRONG = 3  # exit status bench_lock.c fails loudly on


def uncontended_ns(lock, iters, runs):
    timer = timeit.Timer("a(); r()", setup="a = lock.acquire; r = lock.release",
                         globals={"lock": lock})
    return min(timer.repeat(repeat=runs, number=iters)) / iters * 1e9


def worker(lock, counter, barrier, n, cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    acquire, release = lock.acquire, lock.release
    barrier.wait()
    for _ in range(n):
        acquire()
        counter.value += 1
        release()


def contended_ops(ctx, n, runs, cpus):
    best = None
    for _ in range(runs):
        lock = ctx.Lock()
        counter = ctx.RawValue("q", 0)
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=worker,
                             args=(lock, counter, barrier, n, cpus[i]))
                 for i in range(2)]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t0
        if any(p.exitcode != 0 for p in procs):
            sys.exit("bench_lock.py: a worker failed")
        if counter.value != 2 * n:
            print("bench_lock.py: FAIL: counter is %d, expected %d"
                  % (counter.value, 2 * n), file=sys.stderr)
            sys.exit(COUNTER_WRONG)
        best = elapsed if best is None else min(best, elapsed)
    return 2 * n / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=1_000_000,
                    help="uncontended iterations per run")
    ap.add_argument("--contended-n", type=int, default=500_000,
                    help="acquire/release per process, contended")
    ap.add_argument("--runs", type=int, default=5, help="runs, best kept")
    ap.add_argument("--cpus", default="-1,-1",
                    help="CPUs to pin the two contending processes to "
                         "(-1: not pinned), as bench_lock.c does")
    args = ap.parse_args()

    ctx = mp.get_context("fork")
    print("python_version", platform.python_version(), flush=True)
    print("lock_uncontended_ns %.3f"
          % uncontended_ns(ctx.Lock(), args.iters, args.runs), flush=True)
    print("rlock_uncontended_ns %.3f"
          % uncontended_ns(ctx.RLock(), args.iters, args.runs), flush=True)
    print("lock_contended_ops %.1f"
          % contended_ops(ctx, args.contended_n, min(3, args.runs),
                          [int(c) for c in args.cpus.split(",")]),
          flush=True)


if __name__ == "__main__":
    main()

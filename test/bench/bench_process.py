#!/usr/bin/env python3
"""Python peer of bench_process.c: multiprocessing.Process start+join.

Prints "key value" lines on stdout, read by bench_process.c:
  python_version   the interpreter's version
  fork_us          Process(target=empty).start() + join() with the 'fork'
                   start method, us per start+join, best of --runs runs of
                   --fork-n
  spawn_us         the same with 'spawn' (--spawn-n per run: each start
                   runs a new interpreter, tens of ms)
  forkserver_us    the same with 'forkserver'; its server is started (and
                   one child run) before timing
Exits 3 (after a message on stderr) if a child's exit code is not 0.

A spawned child imports this file again (as __mp_main__), so the top level
imports only what the children need.
"""

import multiprocessing as mp
import sys
import time

CHECK_FAILED = 3  # exit status bench_process.c fails loudly on


def empty():
    pass


def start_join_us(ctx, n, runs):
    def once():
        p = ctx.Process(target=empty)
        p.start()
        p.join()
        if p.exitcode != 0:
            print("bench_process.py: FAIL: a %s child exited with %s"
                  % (ctx.get_start_method(), p.exitcode), file=sys.stderr)
            sys.exit(CHECK_FAILED)

    once()  # warm-up (starts the forkserver)
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(n):
            once()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best / n * 1e6


def main():
    import argparse
    import platform

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fork-n", type=int, default=200,
                    help="fork start+join per run")
    ap.add_argument("--spawn-n", type=int, default=10,
                    help="spawn start+join per run")
    ap.add_argument("--forkserver-n", type=int, default=100,
                    help="forkserver start+join per run")
    ap.add_argument("--runs", type=int, default=3, help="runs, best kept")
    args = ap.parse_args()

    print("python_version", platform.python_version(), flush=True)
    for method, n in (("fork", args.fork_n), ("spawn", args.spawn_n),
                      ("forkserver", args.forkserver_n)):
        print("%s_us %.3f"
              % (method, start_join_us(mp.get_context(method), n, args.runs)),
              flush=True)


if __name__ == "__main__":
    main()

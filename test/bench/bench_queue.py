#!/usr/bin/env python3
"""Python peer of bench_queue.c: multiprocessing.Queue and Pipe throughput.

Prints "key value" lines on stdout, read by bench_queue.c:
  python_version          the interpreter's version
  queue_64B_1p1c_msgs     Queue, 64-byte bytes objects, 1 producer process ->
                          1 consumer process, messages/s
  queue_64B_2p2c_msgs     the same with 2 producers and 2 consumers
  queue_1MiB_1p1c_Bps     Queue, 1 MiB bytes objects, 1 -> 1, bytes/s
  pipe_64B_msgs           Pipe(duplex=False), send_bytes / recv_bytes of 64
                          bytes, 1 -> 1, messages/s
  pipe_1MiB_Bps           the same with 1 MiB, bytes/s
Every figure is the best of --runs runs; the message count of a run is
calibrated so that it takes about --seconds. A run is timed from a common
start until the last consumer has its last message.

Each message carries its producer and sequence number in its first 8 bytes
and again in its last 8; consumers check them (order per producer, no
message lost or duplicated, sums) and compare the first message whole. Exits
3 (after a message on stderr) when a check fails.

The fork start method is used explicitly, as in the C benchmark (it is the
default on Linux before Python 3.14).
"""

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time

CHECK_FAILED = 3  # exit status bench_queue.c fails loudly on
STOP = (1 << 48) - 1  # the sequence number of a producer's last message
SMALL = 64
BIG = 1 << 20


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def fail(what):
    print("bench_queue.py: FAIL: " + what, file=sys.stderr, flush=True)
    os._exit(CHECK_FAILED)


def body(p, size):
    """The bytes between the two stamps of producer p's messages."""
    pattern = bytes((i * 7 + p * 13 + 0x5A) & 0xFF for i in range(256))
    return (pattern * (size // 256 + 1))[8:size - 8]


def stamp(p, seq):
    return ((p << 48) | seq).to_bytes(8, "little")


# ---- the two ends, for Queue and Pipe alike -----------------------------------


def producer(send, p, n, size, start, cpu):
    pin(cpu)
    mid = body(p, size)
    start.wait()
    for seq in range(n):
        s = stamp(p, seq)
        send(s + mid + s)
    s = stamp(p, STOP)
    send(s + mid + s)


def consumer(recv, c, nprod, size, start, cpu, ends, results):
    pin(cpu)
    mids = [body(p, size) for p in range(nprod)]
    nxt = [0] * nprod
    cnt = [0] * nprod
    tot = [0] * nprod
    first = True
    start.wait()
    while True:
        m = recv()
        if len(m) != size:
            fail("a message of %d bytes, expected %d" % (len(m), size))
        w = int.from_bytes(m[:8], "little")
        if m[-8:] != m[:8]:
            fail("a torn message")
        p, seq = w >> 48, w & STOP
        if p >= nprod:
            fail("a message from producer %d" % p)
        if seq == STOP:
            break
        if seq < nxt[p] or (nprod == 1 and seq != nxt[p]):
            fail("producer %d's message %d came after %d" % (p, seq, nxt[p]))
        if first:
            first = False
            if m[8:-8] != mids[p]:
                fail("the contents of a message are wrong")
        nxt[p] = seq + 1
        cnt[p] += 1
        tot[p] += seq
    ends[c] = time.perf_counter()
    for p in range(nprod):
        results[2 * (c * nprod + p)] = cnt[p]
        results[2 * (c * nprod + p) + 1] = tot[p]


def run(ctx, kind, nprod, size, n, cpus):
    """One run: nprod producers and as many consumers; seconds taken."""
    if kind == "queue":
        q = ctx.Queue()
        sends = [q.put] * nprod
        recvs = [q.get] * nprod
    else:
        r, w = ctx.Pipe(duplex=False)
        sends, recvs = [w.send_bytes], [r.recv_bytes]
    start = ctx.Barrier(2 * nprod + 1)
    ends = ctx.RawArray("d", nprod)
    results = ctx.RawArray("q", 2 * nprod * nprod)
    procs = []
    for i in range(nprod):
        procs.append(ctx.Process(
            target=producer, args=(sends[i], i, n, size, start, cpus[0])))
        procs.append(ctx.Process(
            target=consumer,
            args=(recvs[i], i, nprod, size, start, cpus[1], ends, results)))
    for pr in procs:
        pr.start()
    start.wait()
    t0 = time.perf_counter()
    for pr in procs:
        pr.join()
    codes = [pr.exitcode for pr in procs]
    if CHECK_FAILED in codes:
        sys.exit(CHECK_FAILED)
    if any(c != 0 for c in codes):
        sys.exit("bench_queue.py: a worker failed (exit codes %s)" % codes)
    for p in range(nprod):
        cnt = sum(results[2 * (c * nprod + p)] for c in range(nprod))
        tot = sum(results[2 * (c * nprod + p) + 1] for c in range(nprod))
        if cnt != n or tot != n * (n - 1) // 2:
            fail("producer %d: %d messages arrived (sum %d), expected %d"
                 % (p, cnt, tot, n))
    if kind == "queue":
        q.close()
        q.join_thread()
    else:
        r.close()
        w.close()
    return max(ends) - t0


def best_rate(ctx, kind, nprod, size, seconds, runs, cpus):
    """Calibrate n to about `seconds` per run; the best messages/s."""
    n = 16
    while True:
        t = run(ctx, kind, nprod, size, n, cpus)
        if t >= seconds / 8 or n >= 1 << 24:
            break
        n *= 4
    n = max(16, int(n * seconds / t))
    return max(nprod * n / run(ctx, kind, nprod, size, n, cpus)
               for _ in range(runs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.3,
                    help="length of one timed run")
    ap.add_argument("--runs", type=int, default=3, help="runs, best kept")
    ap.add_argument("--cpus", default="-1,-1",
                    help="CPUs of the producer and the consumer of the 1 -> 1 "
                         "workloads (-1: not pinned), as bench_queue.c does")
    args = ap.parse_args()
    cpus = [int(c) for c in args.cpus.split(",")]
    free = [-1, -1]

    ctx = mp.get_context("fork")
    s, r = args.seconds, args.runs
    print("python_version", platform.python_version(), flush=True)
    print("queue_64B_1p1c_msgs %.1f"
          % best_rate(ctx, "queue", 1, SMALL, s, r, cpus), flush=True)
    print("queue_64B_2p2c_msgs %.1f"
          % best_rate(ctx, "queue", 2, SMALL, s, r, free), flush=True)
    print("queue_1MiB_1p1c_Bps %.1f"
          % (BIG * best_rate(ctx, "queue", 1, BIG, s, r, cpus)), flush=True)
    print("pipe_64B_msgs %.1f"
          % best_rate(ctx, "pipe", 1, SMALL, s, r, cpus), flush=True)
    print("pipe_1MiB_Bps %.1f"
          % (BIG * best_rate(ctx, "pipe", 1, BIG, s, r, cpus)), flush=True)


if __name__ == "__main__":
    main()

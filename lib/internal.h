/*
 * lib/internal.h - declarations shared inside libmproc; never installed.
 * Non-static helpers are named mp__* so `nm` tells them from the API.
 */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

/* Every library source includes this file first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mproc.h"

#define MP__HIDDEN __attribute__((visibility("hidden")))

/* ---- deadlines (deadline.c): the one timeout convention ---------------- */

typedef struct mp__deadline {
  bool forever;       /* no limit */
  struct timespec at; /* CLOCK_MONOTONIC instant, when !forever */
} mp__deadline;

/* Turn a timeout in seconds (mproc/common.h) into a deadline from now.
 * Returns 0 or -EINVAL for NaN. */
MP__HIDDEN int mp__deadline_init(mp__deadline *d, double timeout);

/* Time left until d, in ns (0 when passed); INT64_MAX when forever. */
MP__HIDDEN int64_t mp__deadline_left_ns(const mp__deadline *d);

/* Nanoseconds on CLOCK_MONOTONIC. */
MP__HIDDEN int64_t mp__now_ns(void);

/* ---- segments (segment.c): header, create/open/close, registry -------- */

enum mp__kind {
  MP__KIND_SHM = 1,
  MP__KIND_LOCK = 2,
  MP__KIND_RLOCK = 3,
  MP__KIND_COUNT_ /* one past the last kind */
};

#define MP__SEG_HDR_SIZE 512u /* object bytes start here, 64-aligned */

/* Initialises a new object in place before it is published; 0 or -errno. */
typedef int (*mp__seg_init_fn)(void *obj, size_t size, void *arg);

/*
 * Create and publish a segment of `kind` whose object has `size` bytes,
 * run init(obj, size, arg) on the zeroed object before any other process can
 * see it, and register the name for unlinking at this process's exit.
 * *obj receives the object (header + MP__SEG_HDR_SIZE).
 */
MP__HIDDEN int mp__seg_create(const char *name, enum mp__kind kind,
                              size_t size, mp__seg_init_fn init, void *arg,
                              void **obj);

/* Map segment `name`; kind 0 accepts any kind. *obj as above. */
MP__HIDDEN int mp__seg_open(const char *name, enum mp__kind kind,
                            void **obj);

/* True when obj is the object of a segment this process has mapped; reads
 * no shared memory. */
MP__HIDDEN bool mp__seg_mapped(const void *obj);

/* Unmap the segment whose object is obj; -EINVAL if obj is not one. */
MP__HIDDEN int mp__seg_close(void *obj);

/* Remove the name of the segment holding obj (mapped here). */
MP__HIDDEN int mp__seg_unlink(void *obj);

/* Name and object size of the segment holding obj, mapped here. */
MP__HIDDEN const char *mp__seg_name(const void *obj);
MP__HIDDEN size_t mp__seg_size(const void *obj);

/* 0 when name is a valid segment name, else -EINVAL. */
MP__HIDDEN int mp__name_check(const char *name);

/* ---- threads (thread.c) -------------------------------------------------- */

/* A non-zero 64-bit token unique to the calling thread among all live
 * threads of all processes; a forked child's thread gets a new one. */
MP__HIDDEN uint64_t mp__thread_token_slow(void);
extern __thread uint64_t mp__thread_token_
    __attribute__((tls_model("initial-exec"))) MP__HIDDEN;

static inline uint64_t mp__thread_token(void) {
  uint64_t t = mp__thread_token_;
  return t ? t : mp__thread_token_slow();
}

/* ---- fault injection (fault.c) ----------------------------------------- */

/* True when this fallible step must fail (MPROC_FAULT=N, tests only). */
MP__HIDDEN bool mp__fault(void);

/* ---- processes (procinfo.c) -------------------------------------------- */

/* Start time of process pid (clock ticks after boot, /proc/PID/stat field
 * 22), or 0 when it does not exist or cannot be read. */
MP__HIDDEN uint64_t mp__proc_start_time(pid_t pid);

/* 1 when the process pid that started at start_time still runs (a zombie
 * does not count); without /proc, when pid exists. */
MP__HIDDEN int mp__proc_alive(pid_t pid, uint64_t start_time);

#endif /* MPROC_INTERNAL_H */

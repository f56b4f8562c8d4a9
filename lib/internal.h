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

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mproc.h"

#define MP__HIDDEN __attribute__((visibility("hidden")))

/* The library's own constructors (fork handlers, exit hooks): first of all,
 * before the program's MP_REGISTER registrations (priority 102) and before
 * any constructor without a priority - where a spawned child's entry may
 * run and never return, when mproc is linked statically. */
#define MP__SETUP __attribute__((constructor(101)))

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
  MP__KIND_EVENT = 4,
  MP__KIND_SEMAPHORE = 5,
  MP__KIND_CONDITION = 6,
  MP__KIND_BARRIER = 7,
  MP__KIND_QUEUE = 8,
  MP__KIND_ARRAY = 9,
  MP__KIND_DICT = 10,
  MP__KIND_LIST = 11,
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

/* True when a and b lie in the same mapping of this process (so their
 * distance is the same in every process that maps it). Reads
 * /proc/self/maps; false when it cannot. */
MP__HIDDEN bool mp__same_mapping(const void *a, const void *b);

/* Name and object size of the segment holding obj, mapped here. */
MP__HIDDEN const char *mp__seg_name(const void *obj);
MP__HIDDEN size_t mp__seg_size(const void *obj);

/* 0 when name is a valid segment name, else -EINVAL. */
MP__HIDDEN int mp__name_check(const char *name);

/* Order plain stores to shared memory as written, for the compiler and
 * the CPU: a process may be killed between any two of them, and the next
 * lock holder must find them in program order (e.g. an undo record before
 * the change it undoes). */
#if defined(__SANITIZE_THREAD__)
#define MP__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP__TSAN 1
#endif
#endif
#ifdef MP__TSAN /* gcc refuses thread fences under TSan, which cannot model
                   a killed process anyway: keep the compiler's order */
#define MP__STORE_ORDER() atomic_signal_fence(memory_order_seq_cst)
#else
#define MP__STORE_ORDER() atomic_thread_fence(memory_order_release)
#endif

/* Make `update` under an undo record: `flag` (an lvalue) = `value` says
 * the record applies, once the record is complete; clearing it is the
 * commit, once the update is. A holder killed in between is rolled back
 * from the record by the next one. */
#define MP__RECOVERABLY(flag, value, update)                                   \
  do {                                                                         \
    MP__STORE_ORDER();                                                         \
    (flag) = (value);                                                          \
    MP__STORE_ORDER();                                                         \
    mp__crash_point();                                                         \
    update;                                                                    \
    MP__STORE_ORDER();                                                         \
    mp__crash_point();                                                         \
    (flag) = 0; /* the commit */                                               \
    MP__STORE_ORDER();                                                         \
    mp__crash_point();                                                         \
  } while (0)

/* ---- objects (object.c): the lifecycle shared by every kind ------------ */

/* Every object that can be standalone or embedded starts with this head. */
struct mp__obj {
  uint32_t magic;      /* MP__MAGIC(kind) while initialised, else 0 */
  uint32_t standalone; /* 1 in a segment of its own */
};
#define MP__MAGIC(kind) (0x6d700000u | (uint32_t)(kind))

/* The object at p if it is an initialised object of `kind`, else NULL. */
static inline struct mp__obj *mp__obj_check(const void *p, enum mp__kind kind) {
  struct mp__obj *o = (struct mp__obj *)p;
  return o && o->magic == MP__MAGIC(kind) ? o : NULL;
}

/* Set the head of an embedded object being initialised. */
static inline void mp__obj_init(void *p, enum mp__kind kind) {
  struct mp__obj *o = p;
  o->standalone = 0;
  o->magic = MP__MAGIC(kind);
}

/* Create a standalone object: a segment whose object (size bytes) is set
 * up by init(obj, arg), which must mp__obj_init() it; standalone is set. */
MP__HIDDEN int mp__obj_create(const char *name, enum mp__kind kind,
                              size_t size, int (*init)(void *obj, void *arg),
                              void *arg, void **out);
/* Close a standalone object mapped here (NULL: 0; else -EINVAL). */
MP__HIDDEN int mp__obj_close(void *obj, enum mp__kind kind);
/* Standalone: unlink and close. Embedded: fini(obj) (may refuse with a
 * negative code), then the head is cleared. NULL: 0. */
MP__HIDDEN int mp__obj_destroy(void *obj, enum mp__kind kind,
                               int (*fini)(void *obj));
/* Name of a standalone object; NULL for embedded, NULL or another kind. */
MP__HIDDEN const char *mp__obj_name(const void *obj, enum mp__kind kind);

/* The open/close/destroy/name functions of a kind's public API. */
#define MP__OBJ_LIFECYCLE(type, prefix, kind, fini)                            \
  int prefix##_open(const char *name, type **out) {                            \
    return mp__seg_open(name, kind, (void **)out);                             \
  }                                                                            \
  int prefix##_close(type *obj) { return mp__obj_close(obj, kind); }           \
  int prefix##_destroy(type *obj) { return mp__obj_destroy(obj, kind, fini); } \
  const char *prefix##_name(const type *obj) { return mp__obj_name(obj, kind); }

/* ---- sinks (sink.c): where a variable-length read copies to ------------ */

/* A destination for len bytes (non-NULL even for 0), or NULL with *err set:
 * -EMSGSIZE (caller buffer too small), -ENOMEM. */
typedef void *(*mp__sink_fn)(void *ctx, uint64_t len, int *err);
/* ctx: struct mp__sink_buf, the caller's buffer. */
struct mp__sink_buf {
  void *buf;
  size_t cap;
};
MP__HIDDEN void *mp__sink_buf(void *ctx, uint64_t len, int *err);
/* ctx: void **, receives a malloc'd buffer the caller frees. */
MP__HIDDEN void *mp__sink_alloc(void *ctx, uint64_t len, int *err);

/* ---- arena (arena.c): blocks in shared memory, under the owner's lock -- */

struct mp__arena {
  uint64_t size; /* bytes of blocks after this header */
  uint64_t free; /* offset of the first free block, or UINT64_MAX */
};
#define MP__ARENA_NONE UINT64_MAX
/* Overhead of one block; its payload offsets are 16-aligned. */
#define MP__ARENA_BLOCK_OVERHEAD 32u

MP__HIDDEN void mp__arena_init(struct mp__arena *a, uint64_t size);
/* Payload offset (from a + 1) of a new block of len bytes, or NONE. */
MP__HIDDEN uint64_t mp__arena_alloc(struct mp__arena *a, uint64_t len);
MP__HIDDEN void mp__arena_free(struct mp__arena *a, uint64_t payload);
/* The length given when the block was allocated: kept in its header, which
 * nothing else writes while it is in use, so it is the authority even when
 * an entry pointing at the block was torn by a killed process. */
MP__HIDDEN uint64_t mp__arena_len(struct mp__arena *a, uint64_t payload);
/* Recreate headers and the free list from the n live blocks, which
 * item(ctx, i, &payload, &len) gives in increasing payload order: the
 * repair after a holder died mid-update. Allocates nothing. */
/* The same from the payload offsets of the live blocks, in any order,
 * perhaps with duplicates (lengths from the blocks' headers): sorts them
 * and drops duplicates in place, and returns how many remain. */
MP__HIDDEN size_t mp__arena_keep(struct mp__arena *a, uint64_t *off, size_t n);
MP__HIDDEN void mp__arena_rebuild(struct mp__arena *a, size_t n,
                                  void (*item)(void *ctx, size_t i,
                                               uint64_t *payload,
                                               uint64_t *len),
                                  void *ctx);
static inline void *mp__arena_ptr(struct mp__arena *a, uint64_t payload) {
  return (char *)(a + 1) + payload;
}

/* ---- futexes (futex.c): process-shared sleep and wake on a 32-bit word -- */

/* Sleep while *word == expected, until woken or the deadline (NULL: none).
 * Returns 0 (woken, value changed, or a signal: the caller re-checks) or
 * -ETIMEDOUT. */
MP__HIDDEN int mp__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                              const mp__deadline *d);
/* Wake up to n sleepers (INT_MAX: all). */
MP__HIDDEN void mp__futex_wake(_Atomic uint32_t *word, int n);

/* Spin briefly while *word == value, so that a wake-up arriving within a
 * few microseconds costs no system call. Returns the last value seen. */
MP__HIDDEN uint32_t mp__spin_while(_Atomic uint32_t *word, uint32_t value);
/* The same for a 64-bit word. */
MP__HIDDEN uint64_t mp__spin_while64(_Atomic uint64_t *word, uint64_t value);

/* ---- asymmetric fences (fence.c) ---------------------------------------- */

/* Register this process for heavy fences; true when it is, and so may pair
 * a plain store with a later load against a sleeper that calls
 * mp__fence_heavy() between its own store and load. */
MP__HIDDEN bool mp__fence_register(void);
/* This process: 0 not tried yet, 1 registered, -1 unavailable. */
extern _Atomic int mp__fence_registered MP__HIDDEN;
static inline bool mp__fence_light_ok(void) {
  int r = atomic_load_explicit(&mp__fence_registered, memory_order_relaxed);
  return r > 0 || (r == 0 && mp__fence_register());
}
/* Make every running thread of every registered process pass a full
 * barrier. false when unavailable: the caller must not sleep for long. */
MP__HIDDEN bool mp__fence_heavy(void);

/* ---- robust mutexes (mutex.c) ------------------------------------------- */

/* A robust, process-shared, error-checking pthread mutex. */
MP__HIDDEN int mp__mutex_init(pthread_mutex_t *m);
/* Lock within timeout (mproc/common.h): 0, MP_EOWNERDEAD (locked and made
 * consistent; the caller repairs what it protects), -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EDEADLK, -EINVAL (NaN). */
MP__HIDDEN int mp__mutex_lock(pthread_mutex_t *m, double timeout);
/* The same with an absolute deadline. */
MP__HIDDEN int mp__mutex_lock_until(pthread_mutex_t *m, const mp__deadline *d);
MP__HIDDEN int mp__mutex_unlock(pthread_mutex_t *m);
/* Destroy unless held: 0 or -EBUSY. */
MP__HIDDEN int mp__mutex_destroy(pthread_mutex_t *m);

/* ---- locks (lock.c): what Condition needs from Lock and RLock ---------- */

/* Does the calling thread hold the (initialised) Lock or RLock at p? */
MP__HIDDEN bool mp__lock_held(const void *p);
/* Kind of the lock at p: MP__KIND_LOCK, MP__KIND_RLOCK, or 0. */
MP__HIDDEN enum mp__kind mp__lock_kind(const void *p);
/* Release a lock held by the caller completely; *depth receives the RLock
 * depth (1 for a Lock). -EPERM when the caller does not hold it. */
MP__HIDDEN int mp__lock_release_save(void *p, uint32_t *depth);
/* Take the lock back (no timeout) and restore depth: 0 or MP_EOWNERDEAD. */
MP__HIDDEN int mp__lock_acquire_restore(void *p, uint32_t depth);

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
/* Die here with SIGKILL when this is the N-th crash point of the process
 * and MPROC_CRASH=N (tests only). One load and branch when unset. */
extern _Atomic long mp__crash_countdown MP__HIDDEN;
MP__HIDDEN void mp__crash_point_slow(void);
static inline void mp__crash_point(void) {
  if (atomic_load_explicit(&mp__crash_countdown, memory_order_relaxed) != 0)
    mp__crash_point_slow();
}

/* ---- child processes (process.c, spawn.c, forkserver.c) --------------- */

/* What a spawned or forkserver child needs to know, sent in a memfd. */
struct mp__child_spec {
  const char *entry;    /* registered entry name */
  const char *name;     /* process name */
  const char *identity; /* "1:2": for the names of its own children */
  int daemon;
  pid_t parent;         /* the process that started it */
  const void *arg;      /* arg_len bytes for the entry */
  size_t arg_len;
};

/* Write spec into a new memfd positioned at 0; the fd, or -errno. */
MP__HIDDEN int mp__spec_write(const struct mp__child_spec *spec);
/* In a new child: read the spec in fd (closed), set up the process and
 * dispatch its entry as soon as it is registered. real_parent is the pid
 * getppid() must show: the server for forkserver children, 0 for the
 * spawning parent named in the spec. */
MP__HIDDEN void mp__child_adopt(int fd, pid_t real_parent);
/* The registered name of fn (copied into buf), or -ENOENT. */
MP__HIDDEN int mp__entry_name(mp_target fn, char *buf, size_t len);
/* posix_spawn this program's executable with its argv, env + `extra`, fd
 * inherited, signals unblocked and at their defaults. */
MP__HIDDEN int mp__spawn_self(const char *extra_env, int fd, pid_t *pid);
/* Start a child by spawn / by the forkserver; *pid receives its pid (and
 * *pidfd a pidfd the server opened, or -1). */
MP__HIDDEN int mp__spawn_start(const struct mp__child_spec *spec, pid_t *pid);
MP__HIDDEN int mp__forkserver_start(const struct mp__child_spec *spec,
                                    pid_t *pid, int *pidfd);
/* Exit code (Python style) of forkserver child pid, once the server
 * reported it (waiting until d; a passed deadline only looks): 0,
 * -ETIMEDOUT, -ECHILD (the server is gone). pidfd (the child's, or -1)
 * wakes a wait when the child ends, whoever takes the report. */
MP__HIDDEN int mp__forkserver_status(pid_t pid, int pidfd,
                                     const mp__deadline *d, int *code);
/* Drop the exit code kept for forkserver child pid (its handle closes). */
MP__HIDDEN void mp__forkserver_forget(pid_t pid);
/* The fd a spawned program finds its spec or socket on. */
#define MP__SPAWN_FD 3
/* Set up the library state of a new child process. */
MP__HIDDEN void mp__child_setup(const char *name, const char *identity,
                                int daemon, pid_t parent, pid_t real_parent);
/* Leave a child process with code: its own cleanup, then _exit (forked)
 * or exit (spawned: a fresh program whose atexit handlers are its own). */
MP__HIDDEN _Noreturn void mp__child_exit(int code, bool forked);
/* Unlink the names this process created (segment.c; also at exit). */
MP__HIDDEN void mp__seg_exit_cleanup(void);
/* The one normal-exit handler, installed once by whichever module is used
 * first (a static program links only what it uses): it ends this process's
 * children (mp__exit_children, set by process.c when linked in), then
 * removes the names the process created. */
MP__HIDDEN void mp__exit_hook_install(void);
extern void (*mp__exit_children)(void) MP__HIDDEN;

/* ---- processes (procinfo.c) -------------------------------------------- */

/* Start time of process pid (clock ticks after boot, /proc/PID/stat field
 * 22), or 0 when it does not exist or cannot be read. */
MP__HIDDEN uint64_t mp__proc_start_time(pid_t pid);

/* 1 when the process pid that started at start_time still runs (a zombie
 * does not count); without /proc, when pid exists. */
MP__HIDDEN int mp__proc_alive(pid_t pid, uint64_t start_time);

#endif /* MPROC_INTERNAL_H */

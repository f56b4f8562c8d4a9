/*
 * mproc/process.h - Python's multiprocessing.Process for C: start a function
 * in a child process with the fork, spawn or forkserver start method; join
 * with a timeout, exit codes, terminate/kill, daemons, pollable sentinels.
 *
 * Start methods:
 *  - MP_START_FORK (the default): fork(); the child runs fn(arg) with the
 *    parent's memory, so arg may point anywhere and every mproc object the
 *    parent holds is usable through the same pointers. Unsafe in a parent
 *    with other threads (only the forking thread exists in the child).
 *  - MP_START_SPAWN: posix_spawn() of this program's own executable (see
 *    mp_set_executable), which runs the entry fn registered under a name;
 *    arg travels as options.arg_size bytes (the child gets a copy, 16-byte
 *    aligned; NULL when arg_size is 0); shared objects travel by name
 *    (mp_lock_open, ...). The child inherits stdin, stdout and stderr and no
 *    other descriptor. Safe in multithreaded parents.
 *  - MP_START_FORKSERVER: a small single-threaded server, started by spawn
 *    on first use, forks each child on request: spawn's safety, nearly fork's
 *    speed. Same rules as spawn for entries and arguments.
 *
 * What a program must do for spawn and forkserver: register every function
 * it starts that way, with MP_REGISTER(fn) at file scope (before main runs)
 * or mp_register("name", fn) early in main. A spawned child runs the program
 * again with the parent's argv; once its entry is registered the entry runs
 * and the child exits - with MP_REGISTER that is before main (once every
 * MP_REGISTER of the program has registered, so an entry can start any of
 * them), so main needs nothing. With mp_register() in main, the child runs
 * main up to that call, as Python's spawn re-imports the main module:
 * register first. If the child's main ends without its entry being
 * registered, it prints an error and exits with status 127.
 *
 * Exit codes follow Python: the value fn returns (& 0xff), or -signum when
 * a signal ended the child. After fn returns, a child does its own cleanup
 * (its non-daemon children joined, daemon ones terminated, the names it
 * created removed) and leaves: a forked child with _exit(), never running
 * the parent's atexit handlers; a spawned or forkserver child, a program of
 * its own, with exit(). A forked child starts with default signal handlers
 * (ignored signals stay ignored, except SIGCHLD), as after an exec.
 *
 * Daemons: a daemon child is killed (SIGKILL) when its parent ends, even
 * when the parent is killed; a process that ends normally terminates its
 * daemon children and joins the others, as in Python. The kernel ties the
 * death signal to the thread that started the child: start daemons from a
 * thread that lives as long as the process (e.g. the main thread).
 *
 * Ownership: mp_process_create() allocates the handle; mp_process_close()
 * frees it (refused while the child runs). Handles are used by the process
 * that created them; any thread of it may call any function.
 */
#ifndef MPROC_PROCESS_H
#define MPROC_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_process mp_process;

/* A child's entry point: its return value is the exit status. */
typedef int (*mp_target)(void *arg);

typedef enum mp_start_method {
  MP_START_DEFAULT = 0, /* the library-wide default, see below */
  MP_START_FORK = 1,
  MP_START_SPAWN = 2,
  MP_START_FORKSERVER = 3
} mp_start_method;

/* Options of mp_process_create(); a zeroed struct means Python's defaults. */
typedef struct mp_process_options {
  const char *name;       /* NULL: "Process-N" ("Process-1:N" in a child) */
  int daemon;             /* non-zero: a daemon child */
  mp_start_method method; /* MP_START_DEFAULT: mp_get_start_method() */
  size_t arg_size;        /* spawn/forkserver: bytes of *arg to send */
} mp_process_options;

/* Largest arg_size: 1 GiB. */
#define MP_PROCESS_ARG_MAX ((size_t)1 << 30)

/*
 * Register fn as a spawn/forkserver entry under `name` (1..64 characters).
 * Registering the same pair again is harmless; another fn under a taken
 * name is -EEXIST. -EINVAL for a bad name or NULL fn, -ENOMEM. In a spawned
 * child whose entry this is, the call does not return (see above).
 */
MP_EXTERN int mp_register(const char *name, mp_target fn);

/*
 * MP_REGISTER(fn) at file scope registers fn under its own name before main
 * runs. It expands to two constructors: one that registers (priority 102:
 * before every constructor without a priority) and one that, in a spawned
 * or forkserver child, runs the child's entry once all of the program's
 * MP_REGISTER registrations are done - so an entry can start any other.
 * mp_register_early() and mp_register_complete() are those two steps, for
 * this macro only: a program calls mp_register().
 */
#define MP_REGISTER(fn)                                                        \
  __attribute__((constructor(102))) static void mp_register_ctor_##fn(void) {  \
    mp_register_early(#fn, fn);                                                \
  }                                                                            \
  __attribute__((constructor)) static void mp_register_done_##fn(void) {       \
    mp_register_complete();                                                    \
  }
MP_EXTERN int mp_register_early(const char *name, mp_target fn);
MP_EXTERN void mp_register_complete(void);

/* Library-wide default start method (initially MP_START_FORK). -EINVAL for
 * MP_START_DEFAULT or an unknown method. */
MP_EXTERN int mp_set_start_method(mp_start_method method);
MP_EXTERN mp_start_method mp_get_start_method(void);

/* Executable that spawn and forkserver start (default: this program, the
 * path /proc/self/exe names); NULL restores the default. The path is
 * copied. -EINVAL (empty), -ENOMEM. */
MP_EXTERN int mp_set_executable(const char *path);

/*
 * A process that will run fn(arg) once started. opts may be NULL.
 * -EINVAL (NULL fn or out, bad method, arg_size over MP_PROCESS_ARG_MAX or
 * with a NULL arg), -ENOENT (spawn/forkserver: fn is not registered),
 * -ENOMEM.
 */
MP_EXTERN int mp_process_create(mp_target fn, void *arg,
                                const mp_process_options *opts,
                                mp_process **out);

/*
 * Start the child. -EALREADY (started before), -ENOENT/-EACCES/... (the
 * executable cannot be run: spawn and forkserver report exec failures here,
 * in the parent), -ETIMEDOUT / -ECHILD / -EPIPE (forkserver: the server did
 * not answer within 10 s or died; it is replaced on the next start),
 * -EAGAIN (process limit), -EMFILE, -ENFILE, -ENOMEM, -EPERM (a handle of
 * another process), -EINVAL.
 */
MP_EXTERN int mp_process_start(mp_process *p);

/*
 * Wait until the child ends, at most timeout seconds (mproc/common.h); it
 * is then reaped (no zombie). 0 (ended), -ETIMEDOUT, -EAGAIN (timeout 0,
 * still running), -EINVAL (not started, NULL, NaN).
 */
MP_EXTERN int mp_process_join(mp_process *p, double timeout);

/* 1 while the child runs, 0 before start and after it ended (reaping it),
 * -EINVAL for NULL. Never blocks. */
MP_EXTERN int mp_process_is_alive(mp_process *p);

/* The child's exit code (see above) in *code once it ended: 0; -EBUSY while
 * it runs, -EINVAL (not started, NULL). Never blocks. */
MP_EXTERN int mp_process_exitcode(mp_process *p, int *code);

/* Send SIGTERM / SIGKILL. 0 (also when it already ended), -EINVAL (not
 * started, NULL). */
MP_EXTERN int mp_process_terminate(mp_process *p);
MP_EXTERN int mp_process_kill(mp_process *p);

/* pid (0 before start), name, daemon flag (-EINVAL for NULL). Every other
 * call on a handle created by another process (e.g. inherited by fork) is
 * -EPERM. */
MP_EXTERN pid_t mp_process_pid(const mp_process *p);
MP_EXTERN const char *mp_process_name(const mp_process *p);
MP_EXTERN int mp_process_daemon(const mp_process *p);

/* A file descriptor (a pidfd) that polls readable once the child ended;
 * valid until close. -EINVAL before start, -ENOSYS without pidfd support. */
MP_EXTERN int mp_process_sentinel(const mp_process *p);

/* Free the handle. -EBUSY (and nothing changes) while the child runs.
 * NULL is harmless. A started, ended child is reaped first. */
MP_EXTERN int mp_process_close(mp_process *p);

/*
 * Wait until at least one of fds[0..n) (sentinels, or any pollable fd such
 * as a Connection's) is readable or closed. ready[i] (if ready is not NULL)
 * is set to 1 or 0. Returns how many are ready (>= 1), -ETIMEDOUT,
 * -EAGAIN (timeout 0, none ready), -EINVAL (NULL fds, n 0 or over 2^20, a
 * negative fd, NaN), -ENOMEM.
 */
MP_EXTERN int mp_wait(const int *fds, size_t n, double timeout,
                      unsigned char *ready);

/* Name of the calling process: "MainProcess", or the name it was started
 * with. Static storage of this process. */
MP_EXTERN const char *mp_current_process_name(void);
/* pid of the process that started this one with mproc, 0 in a process not
 * started by mproc (Python's parent_process() being None). */
MP_EXTERN pid_t mp_parent_pid(void);

/*
 * Live children started by this process (reaping those that ended, so no
 * zombie is left). Up to cap handles go to out (may be NULL when cap is 0).
 * Returns how many children are alive (may exceed cap), or -EINVAL.
 */
MP_EXTERN int mp_active_children(mp_process **out, size_t cap);

/* CPUs this process may run on (its affinity mask), >= 1. */
MP_EXTERN int mp_cpu_count(void);

MP_END_DECLS

#endif /* MPROC_PROCESS_H */

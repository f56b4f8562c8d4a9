/*
 * lib/process.c - mp_process: start (fork here; spawn.c and forkserver.c
 * for the others), join, exit codes, signals, sentinels (pidfds), the
 * children of this process, and what a process does when it ends.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void reset_signals(void);

/* A bounded copy without stdio: a new child touches fewer cold pages. */
static void copy_str(char *dst, size_t size, const char *src) {
  size_t n = strnlen(src, size - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

enum state { NEW, STARTING, RUNNING, DONE };

struct mp_process {
  mp_target fn;
  void *arg;
  size_t arg_size;
  char *name;
  char identity[64]; /* e.g. "3" or "1:3" */
  int daemon;
  mp_start_method method;
  pid_t owner; /* the process that created the handle */
  pthread_mutex_t mu;
  enum state state;
  pid_t pid;
  int pidfd; /* -1 without pidfd support */
  int exitcode;
};

/* This process, as mproc sees it. */
static struct {
  pthread_mutex_t mu;
  mp_process **kids; /* started, not closed */
  size_t nkids, capkids;
  unsigned counter; /* for default names */
  char name[256];
  char identity[64];
  pid_t parent;
  _Atomic int method;
} self = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .name = "MainProcess",
    .method = MP_START_FORK,
};

static void fork_prepare(void) { pthread_mutex_lock(&self.mu); }
static void fork_parent(void) { pthread_mutex_unlock(&self.mu); }
static void fork_child(void) { pthread_mutex_unlock(&self.mu); }

static void at_exit(void);

MP__SETUP static void process_setup(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  mp__exit_children = at_exit; /* run by segment.c's exit hook, first */
  mp__exit_hook_install();
}

/* ---- this process ---------------------------------------------------------- */

const char *mp_current_process_name(void) { return self.name; }

pid_t mp_parent_pid(void) { return self.parent; }

int mp_set_start_method(mp_start_method m) {
  if (m < MP_START_FORK || m > MP_START_FORKSERVER)
    return -EINVAL;
  atomic_store(&self.method, m);
  return 0;
}

mp_start_method mp_get_start_method(void) {
  return (mp_start_method)atomic_load(&self.method);
}

int mp_cpu_count(void) {
  for (int n = 1024; n <= 1 << 16; n *= 2) {
    cpu_set_t *set = CPU_ALLOC(n);
    if (!set)
      break;
    size_t size = CPU_ALLOC_SIZE(n);
    int rc = sched_getaffinity(0, size, set);
    int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0)
      return count > 0 ? count : 1;
    if (errno != EINVAL)
      break;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- reaping --------------------------------------------------------------- */

static int exit_code_of(const siginfo_t *si) {
  return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

/* Has the child ended? (pidfd readable, or waitid says so.) */
static bool pidfd_ready(int pidfd, const struct timespec *wait) {
  struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
  int n;
  do
    n = ppoll(&pfd, 1, wait, NULL);
  while (n < 0 && errno == EINTR && !wait);
  return n == 1;
}

/* With p->mu held: reap p if it ended (waiting up to d when given). */
static void reap_locked(mp_process *p, const mp__deadline *d) {
  if (p->state != RUNNING)
    return;
  if (p->method == MP_START_FORKSERVER) {
    /* Not our child: its server reaps it and reports the exit code. */
    mp__deadline now;
    mp__deadline_init(&now, 0);
    int rc =
        mp__forkserver_status(p->pid, p->pidfd, d ? d : &now, &p->exitcode);
    if (rc == 0 || rc == -ECHILD) /* -ECHILD: the server vanished */
      p->state = DONE;
    return;
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
  if (rc == 0 && si.si_pid == p->pid) {
    p->exitcode = exit_code_of(&si);
    p->state = DONE;
  } else if (rc < 0 && errno == ECHILD) {
    /* Reaped behind our back (SIGCHLD ignored, or waitpid(-1) elsewhere):
     * it has ended; its exit code is lost. */
    p->exitcode = 0;
    p->state = DONE;
  }
}

static bool reap(mp_process *p) {
  pthread_mutex_lock(&p->mu);
  reap_locked(p, NULL);
  bool done = p->state == DONE;
  pthread_mutex_unlock(&p->mu);
  return done;
}

/* ---- handles --------------------------------------------------------------- */

static int check(const mp_process *p) {
  if (!p)
    return -EINVAL;
  return p->owner == getpid() ? 0 : -EPERM;
}

int mp_process_create(mp_target fn, void *arg, const mp_process_options *opts,
                      mp_process **out) {
  static const mp_process_options defaults;
  char entry[80];
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!opts)
    opts = &defaults;
  mp_start_method method = opts->method ? opts->method : mp_get_start_method();
  if (!fn || method < MP_START_FORK || method > MP_START_FORKSERVER ||
      opts->arg_size > MP_PROCESS_ARG_MAX || (opts->arg_size && !arg))
    return -EINVAL;
  if (method != MP_START_FORK && mp__entry_name(fn, entry, sizeof entry) < 0)
    return -ENOENT;
  mp_process *p = calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  pthread_mutex_lock(&self.mu);
  unsigned n = ++self.counter;
  pthread_mutex_unlock(&self.mu);
  if (snprintf(p->identity, sizeof p->identity, "%s%s%u", self.identity,
               self.identity[0] ? ":" : "", n) >= (int)sizeof p->identity)
    snprintf(p->identity, sizeof p->identity, "%u", n); /* nested too deep */
  if (opts->name) {
    p->name = strdup(opts->name);
  } else if ((p->name = malloc(strlen(p->identity) + 9)) != NULL) {
    sprintf(p->name, "Process-%s", p->identity);
  }
  if (!p->name) {
    free(p);
    return -ENOMEM;
  }
  p->fn = fn;
  p->arg = arg;
  p->arg_size = opts->arg_size;
  p->daemon = opts->daemon != 0;
  p->method = method;
  p->owner = getpid();
  p->pidfd = -1;
  pthread_mutex_init(&p->mu, NULL);
  *out = p;
  return 0;
}

/* At normal exit: terminate the daemon children, join the others. */
static void at_exit(void) {
  pthread_mutex_lock(&self.mu);
  size_t n = self.nkids;
  mp_process **kids = n ? malloc(n * sizeof *kids) : NULL;
  if (kids)
    memcpy(kids, self.kids, n * sizeof *kids);
  pthread_mutex_unlock(&self.mu);
  for (size_t i = 0; kids && i < n; i++) {
    if (kids[i]->daemon && mp_process_terminate(kids[i]) == 0 &&
        mp_process_join(kids[i], 1.0) == -ETIMEDOUT)
      mp_process_kill(kids[i]);
  }
  for (size_t i = 0; kids && i < n; i++)
    mp_process_join(kids[i], MP_FOREVER);
  free(kids);
}

/* Lock order: self.mu before a handle's mu, never the other way. */
static int remember(mp_process *p) {
  pthread_mutex_lock(&self.mu);
  int rc = 0;
  for (size_t i = 0; i < self.nkids; i++) {
    if (self.kids[i] == p) {
      pthread_mutex_unlock(&self.mu);
      return 0; /* started before */
    }
  }
  if (self.nkids == self.capkids) {
    size_t cap = self.capkids ? self.capkids * 2 : 16;
    mp_process **v = realloc(self.kids, cap * sizeof *v);
    if (v) {
      self.kids = v;
      self.capkids = cap;
    } else {
      rc = -ENOMEM;
    }
  }
  if (rc == 0)
    self.kids[self.nkids++] = p;
  pthread_mutex_unlock(&self.mu);
  return rc;
}

static void forget(mp_process *p) {
  pthread_mutex_lock(&self.mu);
  for (size_t i = 0; i < self.nkids; i++) {
    if (self.kids[i] == p) {
      self.kids[i] = self.kids[--self.nkids];
      break;
    }
  }
  pthread_mutex_unlock(&self.mu);
}

static int start_fork(mp_process *p) {
  sigset_t all, old;
  sigfillset(&all);
  fflush(NULL); /* or the child would write the parent's buffers again */
  pid_t parent = getpid();
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    reset_signals(); /* spawned and forkserver children start from exec */
    mp__child_setup(p->name, p->identity, p->daemon, parent, parent);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    mp__child_exit(p->fn(p->arg), true);
  }
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0)
    return -err;
  p->pid = pid;
  return 0;
}

static int start_other(mp_process *p) {
  char entry[80];
  int rc = mp__entry_name(p->fn, entry, sizeof entry);
  if (rc < 0)
    return rc;
  struct mp__child_spec spec = {
      .entry = entry,
      .name = p->name,
      .identity = p->identity,
      .daemon = p->daemon,
      .parent = getpid(),
      .arg = p->arg,
      .arg_len = p->arg_size,
  };
  fflush(NULL);
  return p->method == MP_START_SPAWN
             ? mp__spawn_start(&spec, &p->pid)
             : mp__forkserver_start(&spec, &p->pid, &p->pidfd);
}

int mp_process_start(mp_process *p) {
  int rc = check(p);
  if (rc < 0)
    return rc;
  if ((rc = remember(p)) < 0) /* before p->mu: see remember() */
    return rc;
  pthread_mutex_lock(&p->mu);
  bool fresh = p->state == NEW;
  if (fresh)
    p->state = STARTING; /* fork without p->mu held: atfork takes self.mu */
  pthread_mutex_unlock(&p->mu);
  if (!fresh)
    return -EALREADY;
  rc = p->method == MP_START_FORK ? start_fork(p) : start_other(p);
  pthread_mutex_lock(&p->mu);
  p->state = rc == 0 ? RUNNING : NEW;
  if (rc == 0 && p->method != MP_START_FORKSERVER) /* ours: not reaped yet */
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0); /* O_CLOEXEC */
  pthread_mutex_unlock(&p->mu);
  if (rc < 0)
    forget(p);
  return rc;
}

int mp_process_join(mp_process *p, double timeout) {
  int rc = check(p);
  if (rc < 0 || timeout != timeout)
    return rc < 0 ? rc : -EINVAL;
  mp__deadline d;
  mp__deadline_init(&d, timeout);
  pthread_mutex_lock(&p->mu);
  enum state st = p->state;
  pthread_mutex_unlock(&p->mu);
  if (st == NEW || st == STARTING)
    return -EINVAL;
  for (long backoff_us = 100;; backoff_us = backoff_us < 10000 ? backoff_us * 2
                                                                : 10000) {
    if (p->method == MP_START_FORKSERVER) { /* the server's word is final */
      int code, src = mp__forkserver_status(p->pid, p->pidfd, &d, &code);
      pthread_mutex_lock(&p->mu); /* not held while waiting above */
      if (p->state == RUNNING && (src == 0 || src == -ECHILD)) {
        p->exitcode = src == 0 ? code : 0;
        p->state = DONE;
      }
      st = p->state;
      pthread_mutex_unlock(&p->mu);
      if (st == DONE)
        return 0;
    } else if (reap(p)) {
      return 0;
    }
    int64_t left = mp__deadline_left_ns(&d);
    if (left == 0)
      return timeout == 0 ? -EAGAIN : -ETIMEDOUT;
    if (p->method == MP_START_FORKSERVER) {
      continue;
    } else if (p->pidfd >= 0) {
      struct timespec ts = {(time_t)(left / 1000000000),
                            (long)(left % 1000000000)};
      pidfd_ready(p->pidfd, d.forever ? NULL : &ts);
    } else {
      /* No pidfd (old kernel): poll with a growing pause. */
      usleep((useconds_t)(left / 1000 < backoff_us ? left / 1000 : backoff_us));
    }
  }
}

int mp_process_is_alive(mp_process *p) {
  int rc = check(p);
  if (rc < 0)
    return rc;
  if (!reap(p)) {
    pthread_mutex_lock(&p->mu);
    rc = p->state == RUNNING;
    pthread_mutex_unlock(&p->mu);
  }
  return rc;
}

int mp_process_exitcode(mp_process *p, int *code) {
  int rc = check(p);
  if (rc < 0 || !code)
    return rc < 0 ? rc : -EINVAL;
  reap(p);
  pthread_mutex_lock(&p->mu);
  rc = p->state == DONE ? 0 : p->state == RUNNING ? -EBUSY : -EINVAL;
  if (rc == 0)
    *code = p->exitcode;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

static int send_signal(mp_process *p, int sig) {
  int rc = check(p);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&p->mu);
  if (p->state == NEW || p->state == STARTING) {
    rc = -EINVAL;
  } else if (p->state == RUNNING) { /* a zombie's pid cannot be reused yet */
    rc = p->pidfd >= 0 ? (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig,
                                      NULL, 0)
                       : kill(p->pid, sig);
    if (rc < 0)
      rc = errno == ESRCH ? 0 : -errno;
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int mp_process_terminate(mp_process *p) { return send_signal(p, SIGTERM); }

int mp_process_kill(mp_process *p) { return send_signal(p, SIGKILL); }

pid_t mp_process_pid(const mp_process *p) { return p ? p->pid : 0; }

const char *mp_process_name(const mp_process *p) { return p ? p->name : NULL; }

int mp_process_daemon(const mp_process *p) { return p ? p->daemon : -EINVAL; }

int mp_process_sentinel(const mp_process *p) {
  if (!p || p->state == NEW || p->state == STARTING)
    return -EINVAL;
  return p->pidfd >= 0 ? p->pidfd : -ENOSYS;
}

int mp_process_close(mp_process *p) {
  if (!p)
    return 0;
  int rc = check(p);
  if (rc < 0)
    return rc;
  reap(p);
  pthread_mutex_lock(&p->mu);
  bool busy = p->state == RUNNING || p->state == STARTING;
  pthread_mutex_unlock(&p->mu);
  if (busy)
    return -EBUSY;
  forget(p);
  if (p->method == MP_START_FORKSERVER && p->pid > 0)
    mp__forkserver_forget(p->pid);
  if (p->pidfd >= 0)
    close(p->pidfd);
  pthread_mutex_destroy(&p->mu);
  free(p->name);
  free(p);
  return 0;
}

int mp_active_children(mp_process **out, size_t cap) {
  if (cap && !out)
    return -EINVAL;
  pthread_mutex_lock(&self.mu);
  int alive = 0;
  for (size_t i = 0; i < self.nkids; i++) {
    mp_process *p = self.kids[i];
    pthread_mutex_lock(&p->mu);
    reap_locked(p, NULL);
    bool running = p->state == RUNNING && p->owner == getpid();
    pthread_mutex_unlock(&p->mu);
    if (running && (size_t)alive < cap)
      out[alive] = p;
    alive += running;
  }
  pthread_mutex_unlock(&self.mu);
  return alive;
}

int mp_wait(const int *fds, size_t n, double timeout, unsigned char *ready) {
  mp__deadline d;
  if (!fds || n == 0 || n > 1 << 20 || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  struct pollfd *pfd = calloc(n, sizeof *pfd);
  if (!pfd)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (fds[i] < 0) { /* poll would ignore it: maybe wait for ever */
      free(pfd);
      return -EINVAL;
    }
    pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
  }
  int rc;
  for (;;) {
    int64_t left = mp__deadline_left_ns(&d);
    struct timespec ts = {(time_t)(left / 1000000000),
                          (long)(left % 1000000000)};
    rc = ppoll(pfd, (nfds_t)n, d.forever ? NULL : &ts, NULL);
    if (rc >= 0 || errno != EINTR)
      break;
  }
  if (rc < 0)
    rc = -errno;
  else if (rc == 0)
    rc = timeout == 0 ? -EAGAIN : -ETIMEDOUT;
  for (size_t i = 0; ready && i < n; i++)
    ready[i] = rc > 0 && pfd[i].revents != 0;
  free(pfd);
  return rc;
}

/* ---- the child side -------------------------------------------------------- */

/* A child starts with the dispositions an exec would give it: handlers
 * back to the default (or e.g. an inherited SIGTERM handler would keep
 * terminate() from ending it), ignored signals still ignored - except
 * SIGCHLD, whose being ignored would take its own children's exit codes. */
static void reset_signals(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
      continue;
    bool handled = (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL &&
                                                  sa.sa_handler != SIG_IGN);
    if (handled || (sig == SIGCHLD && sa.sa_handler == SIG_IGN)) {
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, NULL);
    }
  }
}

void mp__child_setup(const char *name, const char *identity, int daemon,
                     pid_t parent, pid_t real_parent) {
  /* The parent's children are not ours: forget them (the handles are the
   * parent's memory). */
  self.nkids = 0;
  self.counter = 0;
  copy_str(self.name, sizeof self.name, name);
  copy_str(self.identity, sizeof self.identity, identity);
  self.parent = parent;
  if (daemon) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The parent may have died before the signal was armed. */
    if (getppid() != real_parent)
      _exit(128 + SIGKILL);
  }
}

void mp__child_exit(int code, bool forked) {
  at_exit();
  mp__seg_exit_cleanup();
  if (!forked)
    exit(code & 0xff);
  fflush(NULL);
  _exit(code & 0xff);
}

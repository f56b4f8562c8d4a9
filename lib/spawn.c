/*
 * lib/spawn.c - the spawn start method. The parent writes a child spec
 * (entry name, process name, daemon flag, argument bytes) into a memfd and
 * posix_spawn()s this program's executable with the same argv, the memfd
 * inherited and named by MPROC_SPAWN_FD. In the child, a constructor reads
 * the spec before main; the entry runs once it is registered - after all
 * of the program's MP_REGISTER registrations (constructor priorities: the
 * library's setup 101, registrations 102, then the rest), or when main
 * calls mp_register() for it - and the child exits with its return value.
 * The forkserver (forkserver.c) hands its children the same spec.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAX 64
#define SPEC_MAGIC 0x4350534du /* "MSPC" */
#define ENV_SPAWN "MPROC_SPAWN_FD"

extern char **environ;

/* ---- the entry registry --------------------------------------------------- */

struct entry {
  char name[ENTRY_MAX + 1];
  mp_target fn;
};

static struct {
  pthread_mutex_t mu;
  struct entry *v;
  size_t n, cap;
  char *exe; /* mp_set_executable, or NULL */
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The child's pending entry, when this process was spawned. */
static struct {
  bool pending;
  char entry[ENTRY_MAX + 1];
  void *buf; /* the spec: strings and argument */
  void *arg;
} child;

static _Noreturn void dispatch(mp_target fn) {
  child.pending = false;
  mp__child_exit(fn(child.arg), false);
}

/* Add name -> fn to the registry: 0, 1 (the same pair again), -EINVAL,
 * -EEXIST, -ENOMEM. */
static int add_entry(const char *name, mp_target fn) {
  if (!name || !fn || !name[0] || strlen(name) > ENTRY_MAX)
    return -EINVAL;
  int rc = 0;
  pthread_mutex_lock(&reg.mu);
  for (size_t i = 0; i < reg.n; i++) {
    if (strcmp(reg.v[i].name, name) == 0) {
      rc = reg.v[i].fn == fn ? 1 : -EEXIST;
      break;
    }
  }
  if (rc == 0 && reg.n == reg.cap) {
    size_t cap = reg.cap ? reg.cap * 2 : 16;
    struct entry *v = realloc(reg.v, cap * sizeof *v);
    if (v) {
      reg.v = v;
      reg.cap = cap;
    } else {
      rc = -ENOMEM;
    }
  }
  if (rc == 0) {
    snprintf(reg.v[reg.n].name, sizeof reg.v[reg.n].name, "%s", name);
    reg.v[reg.n++].fn = fn;
  }
  pthread_mutex_unlock(&reg.mu);
  return rc;
}

int mp_register(const char *name, mp_target fn) {
  int rc = add_entry(name, fn);
  if (rc >= 0 && child.pending && strcmp(name, child.entry) == 0)
    dispatch(fn);
  return rc < 0 ? rc : 0;
}

int mp_register_early(const char *name, mp_target fn) {
  int rc = add_entry(name, fn);
  return rc < 0 ? rc : 0;
}


int mp__entry_name(mp_target fn, char *buf, size_t len) {
  int rc = -ENOENT;
  pthread_mutex_lock(&reg.mu);
  for (size_t i = 0; i < reg.n && rc; i++)
    if (reg.v[i].fn == fn && snprintf(buf, len, "%s", reg.v[i].name) > 0)
      rc = 0;
  pthread_mutex_unlock(&reg.mu);
  return rc;
}

static mp_target entry_fn(const char *name) {
  mp_target fn = NULL;
  pthread_mutex_lock(&reg.mu);
  for (size_t i = 0; i < reg.n && !fn; i++)
    if (strcmp(reg.v[i].name, name) == 0)
      fn = reg.v[i].fn;
  pthread_mutex_unlock(&reg.mu);
  return fn;
}

void mp_register_complete(void) {
  mp_target fn = child.pending ? entry_fn(child.entry) : NULL;
  if (fn)
    dispatch(fn);
}

int mp_set_executable(const char *path) {
  char *copy = NULL;
  if (path && !(copy = strdup(path)))
    return -ENOMEM;
  if (path && !path[0]) {
    free(copy);
    return -EINVAL;
  }
  pthread_mutex_lock(&reg.mu);
  free(reg.exe);
  reg.exe = copy;
  pthread_mutex_unlock(&reg.mu);
  return 0;
}

/* ---- the child spec ------------------------------------------------------- */

struct spec_wire {
  uint32_t magic;
  int32_t parent;
  int32_t daemon;
  uint32_t entry_len, name_len, identity_len; /* each with its NUL */
  uint64_t arg_len;
};

/* The argument starts 16-aligned (malloc'd buffer + aligned offset), so the
 * child may read it as any type. */
static uint64_t arg_offset(const struct spec_wire *w) {
  uint64_t off = sizeof *w + (uint64_t)w->entry_len + w->name_len +
                 w->identity_len;
  return (off + 15) & ~(uint64_t)15;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? -errno : -EIO;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int mp__spec_write(const struct mp__child_spec *s) {
  struct spec_wire w = {
      .magic = SPEC_MAGIC,
      .parent = (int32_t)s->parent,
      .daemon = s->daemon,
      .entry_len = (uint32_t)strlen(s->entry) + 1,
      .name_len = (uint32_t)strlen(s->name) + 1,
      .identity_len = (uint32_t)strlen(s->identity) + 1,
      .arg_len = s->arg_len,
  };
  int fd = memfd_create("mproc-child", MFD_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc;
  if ((rc = write_all(fd, &w, sizeof w)) < 0 ||
      (rc = write_all(fd, s->entry, w.entry_len)) < 0 ||
      (rc = write_all(fd, s->name, w.name_len)) < 0 ||
      (rc = write_all(fd, s->identity, w.identity_len)) < 0 ||
      (rc = write_all(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                      arg_offset(&w) - (sizeof w + w.entry_len + w.name_len +
                                        w.identity_len))) < 0 ||
      (s->arg_len && (rc = write_all(fd, s->arg, s->arg_len)) < 0) ||
      lseek(fd, 0, SEEK_SET) < 0) {
    if (rc == 0)
      rc = -errno;
    close(fd);
    return rc;
  }
  return fd;
}

static _Noreturn void child_fail(const char *what) {
  fprintf(stderr, "mproc: spawned child: %s\n", what);
  _exit(127);
}

/* A spawned child whose main ended without registering its entry. */
static void entry_never_registered(void) {
  if (child.pending) {
    fprintf(stderr,
            "mproc: spawned child: entry '%s' is not registered in this "
            "program (register it with MP_REGISTER or mp_register)\n",
            child.entry);
    _exit(127);
  }
}

void mp__child_adopt(int fd, pid_t real_parent) {
  struct stat st;
  struct spec_wire w;
  if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof w)
    child_fail("no child spec");
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
    child_fail("cannot read the child spec");
  close(fd);
  memcpy(&w, buf, sizeof w);
  uint64_t need = arg_offset(&w) + w.arg_len;
  if (w.magic != SPEC_MAGIC || need != (uint64_t)st.st_size ||
      w.entry_len > ENTRY_MAX + 1 || !w.entry_len || !w.name_len ||
      !w.identity_len)
    child_fail("bad child spec");
  char *entry = buf + sizeof w, *name = entry + w.entry_len;
  char *identity = name + w.name_len, *arg = buf + arg_offset(&w);
  if (entry[w.entry_len - 1] || name[w.name_len - 1] ||
      identity[w.identity_len - 1])
    child_fail("bad child spec");
  /* A spawned child's real parent is the one that spawned it, read from the
   * spec - not getppid(), which is already 1 if that parent has died. */
  mp__child_setup(name, identity, w.daemon, (pid_t)w.parent,
                  real_parent ? real_parent : (pid_t)w.parent);
  snprintf(child.entry, sizeof child.entry, "%s", entry);
  child.buf = buf;
  child.arg = w.arg_len ? arg : NULL;
  child.pending = true;
  atexit(entry_never_registered);
  mp_target fn = entry_fn(child.entry);
  if (fn) /* registered already (e.g. static linking ran it first) */
    dispatch(fn);
}

__attribute__((constructor)) static void spawn_child_init(void) {
  const char *v = getenv(ENV_SPAWN);
  if (!v)
    return;
  int fd = atoi(v);
  unsetenv(ENV_SPAWN);
  mp__child_adopt(fd, 0);
}

/* ---- spawning ------------------------------------------------------------- */

/* This program's argv, from /proc/self/cmdline (read once). */
static struct {
  pthread_once_t once;
  char **argv;
} cmd = {.once = PTHREAD_ONCE_INIT};

static void read_cmdline(void) {
  static char data[65536];
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, data, sizeof data - 1);
  if (fd >= 0)
    close(fd);
  if (n <= 0)
    return;
  data[n] = '\0';
  size_t count = 0;
  for (ssize_t i = 0; i < n; i++)
    count += data[i] == '\0';
  char **argv = calloc(count + 1, sizeof *argv);
  if (!argv)
    return;
  size_t k = 0;
  for (char *a = data; a < data + n && k < count; a += strlen(a) + 1)
    argv[k++] = a;
  cmd.argv = argv;
}

/* The executable to spawn: mp_set_executable's, else this program's path
 * (what readlink reports - under valgrind the program, not the tool - when
 * it is still there to run, else /proc/self/exe itself). */
static void executable(char *exe, size_t len) {
  pthread_mutex_lock(&reg.mu);
  int set = reg.exe != NULL;
  if (set)
    snprintf(exe, len, "%s", reg.exe);
  pthread_mutex_unlock(&reg.mu);
  if (set)
    return;
  ssize_t n = readlink("/proc/self/exe", exe, len - 1);
  if (n > 0) {
    exe[n] = '\0';
    if (access(exe, X_OK) == 0)
      return;
  }
  snprintf(exe, len, "/proc/self/exe");
}

int mp__spawn_self(const char *extra_env, int fd, pid_t *pid) {
  char exe[4096];
  executable(exe, sizeof exe);
  pthread_once(&cmd.once, read_cmdline);
  char *fallback[] = {exe, NULL};
  char **argv = cmd.argv ? cmd.argv : fallback;

  /* The environment, without stale mproc variables, plus extra_env. */
  size_t n = 0;
  while (environ && environ[n])
    n++;
  char **envp = malloc((n + 2) * sizeof *envp);
  if (!envp)
    return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "MPROC_SPAWN_FD=", 15) != 0 &&
        strncmp(environ[i], "MPROC_FORKSERVER_FD=", 20) != 0)
      envp[k++] = environ[i];
  envp[k++] = (char *)extra_env;
  envp[k] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  sigemptyset(&none);
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  /* The child gets stdio and fd on MP__SPAWN_FD; nothing else leaks in. */
  posix_spawn_file_actions_adddup2(&fa, fd, MP__SPAWN_FD);
  posix_spawn_file_actions_addclosefrom_np(&fa, MP__SPAWN_FD + 1);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  /* exec resets handlers itself; an ignored SIGCHLD must not survive it. */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  posix_spawnattr_setsigdefault(&attr, &chld);
  int rc = posix_spawn(pid, exe, &fa, &attr, argv, envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  return -rc;
}

int mp__spawn_start(const struct mp__child_spec *spec, pid_t *pid) {
  int fd = mp__spec_write(spec);
  if (fd < 0)
    return fd;
  char env[32];
  snprintf(env, sizeof env, ENV_SPAWN "=%d", MP__SPAWN_FD);
  int rc = mp__spawn_self(env, fd, pid);
  close(fd);
  return rc;
}

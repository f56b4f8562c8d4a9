/*
 * lib/forkserver.c - the forkserver start method. On first use a process
 * spawns its own executable as a server (MPROC_FORKSERVER_FD names its end
 * of a SOCK_SEQPACKET socketpair). The server never reaches main: it serves
 * from a constructor, single-threaded. For each request (a child spec memfd
 * passed with SCM_RIGHTS) it forks; the child leaves the constructor and
 * starts the program the rest of the way, running its entry when that is
 * registered, exactly as a spawned child does - without the exec.
 *
 * The children are the server's, so it reaps them and reports each exit
 * code over the socket. It also sends a pidfd for each child, opened before
 * it could reap it (a pid the requester opened itself could already be
 * reaped, even reused): that is the child's sentinel.
 * The server exits when the requester's end of the socket closes (the
 * requester ended, however it ended) - not on a death signal, which the
 * kernel would tie to whichever thread first used the forkserver. Daemon
 * children die with the server.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_SERVER "MPROC_FORKSERVER_FD"

/* Seconds a server has to answer a start request. */
#define SERVER_ANSWER_TIMEOUT 10.0

enum { MSG_REQUEST = 'R', MSG_STARTED = 'P', MSG_ERROR = 'E', MSG_EXIT = 'X' };

struct msg {
  int32_t type;
  int32_t pid;
  int32_t value; /* -errno for MSG_ERROR, exit code for MSG_EXIT */
};

struct status {
  pid_t pid;
  int code;
};

/* The requester's side. */
static struct {
  pthread_mutex_t mu;
  pid_t server;
  int sock;
  struct status *done; /* exit codes reported, not yet asked for */
  size_t n, cap;
} fs = {.mu = PTHREAD_MUTEX_INITIALIZER, .sock = -1};

static void fork_prepare(void) { pthread_mutex_lock(&fs.mu); }
static void fork_parent(void) { pthread_mutex_unlock(&fs.mu); }
static void fork_child(void) {
  /* The server and its children belong to the parent. */
  if (fs.sock >= 0)
    close(fs.sock);
  fs.sock = -1;
  fs.server = 0;
  fs.n = 0;
  pthread_mutex_unlock(&fs.mu);
}

static int send_msg(int sock, int type, pid_t pid, int value, int fd) {
  struct msg m = {type, (int32_t)pid, value};
  struct iovec iov = {&m, sizeof m};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    h.msg_control = u.buf;
    h.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do
    n = sendmsg(sock, &h, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof m ? 0 : n < 0 ? -errno : -EIO;
}

/* Receive one message; a passed fd goes to *fd (-1 if none), or is closed
 * when fd is NULL. 0, -ECHILD (peer gone), -ETIMEDOUT, -errno. */
static int recv_msg(int sock, struct msg *m, int *fd, const mp__deadline *d) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  for (;;) {
    if (d) {
      int64_t left = mp__deadline_left_ns(d);
      struct timespec ts = {(time_t)(left / 1000000000),
                            (long)(left % 1000000000)};
      struct pollfd p = {.fd = sock, .events = POLLIN};
      int r = ppoll(&p, 1, d->forever ? NULL : &ts, NULL);
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        return -ETIMEDOUT;
    }
    struct iovec iov = {m, sizeof *m};
    struct msghdr h = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      return -ECHILD;
    if (n < 0)
      return -errno;
    int got = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(&got, CMSG_DATA(c), sizeof got);
    if (fd)
      *fd = got;
    else if (got >= 0)
      close(got);
    return n == (ssize_t)sizeof *m ? 0 : -EIO;
  }
}

/* ---- requester --------------------------------------------------------------- */

static int ensure_server_locked(void) {
  if (fs.server > 0) {
    if (waitpid(fs.server, NULL, WNOHANG) == 0)
      return 0; /* still serving */
    close(fs.sock);
    fs.sock = -1;
    fs.server = 0;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -errno;
  char env[64];
  snprintf(env, sizeof env, ENV_SERVER "=%d:%d", MP__SPAWN_FD, (int)getpid());
  int rc = mp__spawn_self(env, sv[1], &fs.server);
  close(sv[1]);
  if (rc < 0) {
    close(sv[0]);
    fs.server = 0;
    return rc;
  }
  fs.sock = sv[0];
  return 0;
}

static int keep_status_locked(const struct msg *m) {
  if (fs.n == fs.cap) {
    size_t cap = fs.cap ? fs.cap * 2 : 16;
    struct status *v = realloc(fs.done, cap * sizeof *v);
    if (!v)
      return -ENOMEM;
    fs.done = v;
    fs.cap = cap;
  }
  fs.done[fs.n++] = (struct status){m->pid, m->value};
  return 0;
}

int mp__forkserver_start(const struct mp__child_spec *spec, pid_t *pid,
                         int *pidfd) {
  int fd = mp__spec_write(spec);
  if (fd < 0)
    return fd;
  pthread_mutex_lock(&fs.mu);
  int rc = ensure_server_locked();
  if (rc == 0 && (rc = send_msg(fs.sock, MSG_REQUEST, 0, 0, fd)) == -EPIPE) {
    fs.server = (waitpid(fs.server, NULL, 0), 0); /* it died: once more */
    close(fs.sock);
    fs.sock = -1;
    if ((rc = ensure_server_locked()) == 0)
      rc = send_msg(fs.sock, MSG_REQUEST, 0, 0, fd);
  }
  close(fd);
  /* A server answers at once; one that does not (e.g. mp_set_executable
   * names a program that is not an mproc program) is killed. */
  mp__deadline d;
  mp__deadline_init(&d, SERVER_ANSWER_TIMEOUT);
  struct msg m;
  int got;
  while (rc == 0 && (rc = recv_msg(fs.sock, &m, &got, &d)) == 0) {
    if (m.type == MSG_STARTED) {
      *pid = m.pid;
      *pidfd = got;
      break;
    }
    if (got >= 0)
      close(got);
    if (m.type == MSG_ERROR) {
      rc = m.value < 0 ? m.value : -EIO;
      break;
    }
    if (m.type == MSG_EXIT)
      rc = keep_status_locked(&m);
  }
  if (rc == -ETIMEDOUT || rc == -ECHILD || rc == -EPIPE) {
    kill(fs.server, SIGKILL);
    waitpid(fs.server, NULL, 0);
    close(fs.sock);
    fs.sock = -1;
    fs.server = 0;
  }
  pthread_mutex_unlock(&fs.mu);
  return rc;
}

int mp__forkserver_status(pid_t pid, int pidfd, const mp__deadline *d,
                          int *code) {
  mp__deadline now;
  mp__deadline_init(&now, 0);
  for (int64_t nap = 100000;; nap = nap < 10000000 ? nap * 2 : 10000000) {
    /* Under the lock: take what has arrived, look for pid. */
    pthread_mutex_lock(&fs.mu);
    int rc = fs.sock < 0 ? -ECHILD : 0;
    struct msg m;
    while (rc == 0 && (rc = recv_msg(fs.sock, &m, NULL, &now)) == 0)
      if (m.type == MSG_EXIT)
        rc = keep_status_locked(&m);
    size_t i;
    for (i = 0; i < fs.n && fs.done[i].pid != pid; i++)
      ;
    if (i < fs.n) { /* kept until mp__forkserver_forget: many may ask */
      *code = fs.done[i].code;
      rc = 0;
    } else if (rc == -ETIMEDOUT) {
      rc = 1; /* nothing yet */
    }
    int sock = fs.sock;
    pthread_mutex_unlock(&fs.mu);
    if (rc <= 0)
      return rc;
    /* Without it: sleep until something arrives. Another thread may take
     * pid's report between the look above and this sleep, so wake too when
     * the child ends (its pidfd): the report follows its end. Once it has
     * ended (or without a pidfd), look again after a short nap. */
    int64_t left = mp__deadline_left_ns(d);
    if (left == 0)
      return -ETIMEDOUT;
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                          {.fd = pidfd, .events = POLLIN}};
    bool running = pidfd >= 0 && poll(&p[1], 1, 0) == 0;
    bool forever = d->forever && running;
    if (!running && left > nap)
      left = nap;
    struct timespec ts = {(time_t)(left / 1000000000),
                          (long)(left % 1000000000)};
    ppoll(p, running ? 2 : 1, forever ? NULL : &ts, NULL);
  }
}

void mp__forkserver_forget(pid_t pid) {
  pthread_mutex_lock(&fs.mu);
  for (size_t i = 0; i < fs.n; i++) {
    if (fs.done[i].pid == pid) {
      fs.done[i] = fs.done[--fs.n];
      break;
    }
  }
  pthread_mutex_unlock(&fs.mu);
}

/* ---- server ------------------------------------------------------------------ */

/* Serve until the requester goes (then _exit). Returns only in a child it
 * forked, which then carries on starting the program. */
static void serve(int sock, pid_t requester) {
  if (getppid() != requester)
    _exit(0); /* it is gone already */
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    _exit(1);
  pid_t me = getpid();
  for (;;) {
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                          {.fd = sfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      _exit(1);
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0)
        ;
      int st;
      pid_t pid;
      while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        send_msg(sock, MSG_EXIT, pid,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st), -1);
    }
    if (!p[0].revents)
      continue;
    struct msg m;
    int fd = -1;
    int rc = recv_msg(sock, &m, &fd, NULL);
    if (rc == -ECHILD || (rc < 0 && rc != -EIO))
      _exit(0); /* the requester is gone */
    if (rc < 0 || m.type != MSG_REQUEST || fd < 0) {
      if (fd >= 0)
        close(fd);
      send_msg(sock, MSG_ERROR, 0, -EINVAL, -1);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(sock);
      close(sfd);
      sigprocmask(SIG_SETMASK, &old, NULL);
      mp__child_adopt(fd, me);
      return;
    }
    int err = errno;
    close(fd);
    /* Opened before this loop can reap the child: it is the right one. */
    int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    send_msg(sock, pid > 0 ? MSG_STARTED : MSG_ERROR, pid, -err, pidfd);
    if (pidfd >= 0)
      close(pidfd);
  }
}

MP__SETUP static void forkserver_setup(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* After the setup and the program's MP_REGISTER registrations when mproc is
 * linked statically (constructor priorities); first of all when it is a
 * shared library - the children then register theirs themselves. */
__attribute__((constructor)) static void forkserver_init(void) {
  const char *v = getenv(ENV_SERVER);
  int sock, requester;
  if (!v || sscanf(v, "%d:%d", &sock, &requester) != 2)
    return;
  unsetenv(ENV_SERVER);
  serve(sock, (pid_t)requester);
}

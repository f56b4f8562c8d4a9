/* test/util.c - helpers shared by the suites. */
#include "tests.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

pid_t t_fork(int (*fn)(void *), void *arg) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0)
    _exit(fn(arg) & 0xff);
  return pid;
}

int t_wait(pid_t pid) {
  int st;
  pid_t r;
  do
    r = waitpid(pid, &st, 0);
  while (r < 0 && errno == EINTR);
  ck_assert_int_eq(r, pid);
  return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

void t_kill(pid_t pid) {
  kill(pid, SIGKILL);
  ck_assert_int_eq(t_wait(pid), -SIGKILL);
}

void t_pipe(int fds[2]) { ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0); }

void t_send(int fd) {
  ssize_t n;
  do
    n = write(fd, "x", 1);
  while (n < 0 && errno == EINTR);
}

bool t_recv(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n;
  do
    n = poll(&p, 1, 10000);
  while (n < 0 && errno == EINTR);
  char c;
  return n == 1 && read(fd, &c, 1) == 1;
}

bool t_wait_sleeping(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (double t0 = t_now(); t_now() - t0 < 10.0; sched_yield()) {
    FILE *f = fopen(path, "r");
    if (!f)
      return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && p[2] == 'S')
      return true;
    if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
      return false;
  }
  return false;
}

bool t_recv_bytes(int fd, void *buf, size_t len) {
  char *c = buf;
  while (len > 0) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1)
      return false;
    ssize_t n = read(fd, c, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    c += n;
    len -= (size_t)n;
  }
  return true;
}

double t_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t t_spawn_helper(const char *name, const char *const args[],
                     int stdout_fd) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ck_assert_int_gt(n, 0);
  self[n] = '\0';
  const char *argv[16] = {self, "--helper", name};
  int argc = 3;
  for (int i = 0; args && args[i] && argc < 15; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (stdout_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, stdout_fd, STDOUT_FILENO);
  pid_t pid;
  int rc = posix_spawn(&pid, self, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ck_assert_int_eq(rc, 0);
  return pid;
}

bool t_shm_exists(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  return access(path, F_OK) == 0;
}

bool t_instrumented(void) {
  return getenv("TEST_UNDER_VALGRIND") != NULL;
}

uint64_t t_rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

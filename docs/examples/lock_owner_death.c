/*
 * lock_owner_death.c - a process dies holding a lock; the lock survives.
 *
 * A standalone mp_lock protects a pair of counters in a shared segment
 * whose invariant is a == b. A child takes the lock, breaks the invariant
 * halfway through an update, tells the parent (through a pipe) and waits.
 * The parent kills it with SIGKILL. The parent's next acquire returns
 * MP_EOWNERDEAD: the parent holds the lock, and is told that the data may be
 * half-updated. It repairs the data, releases, and the lock goes on working.
 *
 * (Python's multiprocessing.Lock, a semaphore, stays taken forever when its
 * holder is killed; mproc's lock reports the death instead.)
 *
 * Build: cc -std=c11 lock_owner_death.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct pair {
  long a, b; /* invariant: a == b, whenever the lock is free */
};

/* The child: take the lock, start an update, report, wait to be killed. */
static void child(mp_lock *lock, struct pair *p, int ready_fd) {
  int rc = mp_lock_acquire(lock, MP_FOREVER); /* the inherited pointer */
  if (rc != 0) {
    fprintf(stderr, "lock_owner_death: child: acquire: %s\n", mp_strerror(rc));
    _exit(1);
  }
  p->a++; /* ... and killed before p->b++ */
  char c = 'L';
  if (write(ready_fd, &c, 1) != 1)
    _exit(1);
  for (;;)
    pause();
}

/* Fail with a message; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "lock_owner_death: %s: %s (%s)\n", what, mp_err_name(rc),
          mp_strerror(rc));
  return 1;
}

/* The parent's part, once the child holds the lock; 0 on success. */
static int survive(mp_lock *lock, struct pair *p, pid_t pid) {
  int rc = mp_lock_try_acquire(lock); /* the child holds it: -EAGAIN */

  kill(pid, SIGKILL);
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFSIGNALED(status)) {
    fprintf(stderr, "lock_owner_death: the child was not killed\n");
    return 1;
  }
  if (rc != MP_EAGAIN)
    return fail("try_acquire while the child held it", rc);

  rc = mp_lock_acquire(lock, 5.0);
  if (rc != MP_EOWNERDEAD)
    return fail("acquire after the owner died", rc);
  /* MP_ACQUIRED(rc) is true: we hold the lock. Repair, then release. */
  printf("acquired with %s: a=%ld b=%ld\n", mp_err_name(rc), p->a, p->b);
  if (p->a != p->b)
    p->b = p->a;
  if ((rc = mp_lock_release(lock)) < 0)
    return fail("release", rc);

  /* The lock is an ordinary lock again. */
  rc = mp_lock_try_acquire(lock);
  if (rc != 0)
    return fail("try_acquire after repair", rc);
  p->a++;
  p->b++;
  if ((rc = mp_lock_release(lock)) < 0)
    return fail("release", rc);
  printf("lock works again: a=%ld b=%ld\n", p->a, p->b);
  return p->a == p->b ? 0 : 1;
}

int main(void) {
  mp_lock *lock = NULL;
  mp_shm *shm = NULL;
  int fds[2] = {-1, -1}, failed = 1, rc;

  if ((rc = mp_lock_create(NULL, &lock)) < 0)
    return fail("mp_lock_create", rc);
  if ((rc = mp_shm_create(NULL, sizeof(struct pair), &shm)) < 0) {
    fail("mp_shm_create", rc);
    goto out;
  }
  struct pair *p = mp_shm_buf(shm);
  if (pipe(fds) < 0) {
    perror("lock_owner_death: pipe");
    goto out;
  }

  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("lock_owner_death: fork");
    goto out;
  }
  if (pid == 0) {
    close(fds[0]);
    child(lock, p, fds[1]);
  }
  close(fds[1]);
  fds[1] = -1;

  /* Wait until the child holds the lock: a byte, or EOF if it failed. */
  char c;
  if (read(fds[0], &c, 1) != 1) {
    fprintf(stderr, "lock_owner_death: the child did not take the lock\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto out;
  }
  failed = survive(lock, p, pid);

out:
  if (fds[0] >= 0)
    close(fds[0]);
  if (fds[1] >= 0)
    close(fds[1]);
  if ((rc = mp_shm_destroy(shm)) < 0)
    failed = fail("mp_shm_destroy", rc);
  if ((rc = mp_lock_destroy(lock)) < 0)
    failed = fail("mp_lock_destroy", rc);
  return failed;
}

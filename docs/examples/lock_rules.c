/*
 * lock_rules.c - the rules of mp_lock and mp_rlock, each shown once:
 * timeouts (0 does not block, > 0 waits at most that long, NaN is invalid),
 * -EDEADLK instead of a self-deadlock, release only by the holder,
 * RLock recursion, and opening a standalone lock by name.
 *
 * Build: cc -std=c11 lock_rules.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <math.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

/* Check that a call returned what the rules say it must. */
static void expect(const char *what, int rc, int want) {
  if (rc != want) {
    fprintf(stderr, "lock_rules: %s: got %s (%s), want %s\n", what,
            mp_err_name(rc), mp_strerror(rc), mp_err_name(want));
    failures++;
  }
}

/* Another process, while the parent holds the lock; returns failures. */
static int child(const char *name) {
  mp_lock *lock;
  mp_rlock *wrong;
  /* A standalone lock opens by name in any process. */
  int rc = mp_lock_open(name, &lock);
  if (rc < 0) {
    fprintf(stderr, "lock_rules: mp_lock_open: %s\n", mp_strerror(rc));
    return 1;
  }
  expect("open a Lock as an RLock", mp_rlock_open(name, &wrong), MP_EKIND);
  expect("try_acquire a held lock", mp_lock_try_acquire(lock), MP_EAGAIN);
  expect("acquire, 10 ms", mp_lock_acquire(lock, 0.01), MP_ETIMEDOUT);
  expect("acquire, NaN timeout", mp_lock_acquire(lock, NAN), MP_EINVAL);
  expect("release another's lock", mp_lock_release(lock), MP_EPERM);
  expect("is_owned", mp_lock_is_owned(lock), 0);
  expect("close", mp_lock_close(lock), 0);
  return failures;
}

int main(void) {
  mp_lock *lock;
  int rc = mp_lock_create(NULL, &lock);
  if (rc < 0) {
    fprintf(stderr, "lock_rules: mp_lock_create: %s\n", mp_strerror(rc));
    return 1;
  }

  /* Lock: a second acquire by the holder is an error, not a hang. */
  expect("acquire", mp_lock_acquire(lock, MP_FOREVER), 0);
  expect("acquire again", mp_lock_acquire(lock, MP_FOREVER), MP_EDEADLK);
  expect("is_owned", mp_lock_is_owned(lock), 1);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(child(mp_lock_name(lock)) ? 1 : 0);
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "lock_rules: the child failed\n");
    failures++;
  }
  expect("release", mp_lock_release(lock), 0);
  expect("release again", mp_lock_release(lock), MP_EPERM);
  expect("destroy", mp_lock_destroy(lock), 0);

  /* RLock, embedded in ordinary memory here (it works in shared memory the
   * same way): free once released as many times as acquired. */
  mp_rlock rlock;
  expect("rlock init", mp_rlock_init(&rlock), 0);
  for (int i = 0; i < 3; i++)
    expect("rlock acquire", mp_rlock_acquire(&rlock, 0), 0);
  for (int i = 0; i < 3; i++)
    expect("rlock release", mp_rlock_release(&rlock), 0);
  expect("rlock release, not held", mp_rlock_release(&rlock), MP_EPERM);
  expect("rlock name (embedded)", mp_rlock_name(&rlock) == NULL, 1);
  expect("rlock destroy", mp_rlock_destroy(&rlock), 0);

  printf("lock_rules: %s\n", failures ? "FAILED" : "all as documented");
  return failures ? 1 : 0;
}

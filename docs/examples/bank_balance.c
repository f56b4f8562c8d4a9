/*
 * bank_balance.c - the race-condition demo of Python's multiprocessing
 * tutorials, in C.
 *
 * A balance of 100 lives in a shared-memory segment next to an embedded
 * mp_lock. Two forked processes make 10000 withdrawals and 10000 deposits of
 * 1 each, every one under the lock, so the final balance is 100 every time.
 * (Without the lock the two read-modify-write loops interleave and the
 * result is anything; in C that would also be a data race, so it is not
 * shown here.)
 *
 * Python:
 *     balance = multiprocessing.Value('i', 100)
 *     lock = multiprocessing.Lock()
 *     p1 = multiprocessing.Process(target=withdraw, args=(balance, lock))
 *
 * Processes are started with fork() and waited for with waitpid(); mproc's
 * Process API will replace both.
 *
 * Build: cc -std=c11 bank_balance.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUNS 10
#define TRANSACTIONS 10000

/* The shared account: the lock and the data it protects, side by side. */
struct account {
  mp_lock lock;
  int balance;
};

/* Add delta to the balance TRANSACTIONS times, each under the lock. */
static int transact(struct account *acct, int delta) {
  for (int i = 0; i < TRANSACTIONS; i++) {
    int rc = mp_lock_acquire(&acct->lock, MP_FOREVER);
    if (rc == MP_EOWNERDEAD) {
      /* Nobody should die here; if someone did, the balance is suspect. */
      mp_lock_release(&acct->lock);
      return rc;
    }
    if (rc < 0)
      return rc;
    acct->balance += delta;
    if ((rc = mp_lock_release(&acct->lock)) < 0)
      return rc;
  }
  return 0;
}

/* Fork a process that runs transact(acct, delta) and exits; its pid or -1. */
static pid_t start(struct account *acct, int delta) {
  fflush(stdout); /* the child must not print the parent's buffered lines */
  pid_t pid = fork();
  if (pid == 0) {
    int rc = transact(acct, delta);
    if (rc < 0)
      fprintf(stderr, "bank_balance: child: %s\n", mp_strerror(rc));
    _exit(rc < 0 ? 1 : 0); /* _exit: a child never runs the parent's atexit */
  }
  if (pid < 0)
    perror("bank_balance: fork");
  return pid;
}

/* 1 when the process pid exited with status 0. */
static int joined_ok(pid_t pid) {
  int status;
  if (pid < 0)
    return 0;
  while (waitpid(pid, &status, 0) < 0)
    ; /* EINTR: retry */
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* One run of the demo: 0 and the final balance in *final, or -1. */
static int perform_transactions(int *final) {
  mp_shm *shm = NULL;
  int result = -1;

  int rc = mp_shm_create(NULL, sizeof(struct account), &shm);
  if (rc < 0) {
    fprintf(stderr, "bank_balance: mp_shm_create: %s\n", mp_strerror(rc));
    return -1;
  }
  struct account *acct = mp_shm_buf(shm); /* zero-filled, 64-byte aligned */
  if ((rc = mp_lock_init(&acct->lock)) < 0) {
    fprintf(stderr, "bank_balance: mp_lock_init: %s\n", mp_strerror(rc));
    mp_shm_destroy(shm);
    return -1;
  }
  acct->balance = 100;

  pid_t p1 = start(acct, -1); /* withdraw */
  pid_t p2 = start(acct, +1); /* deposit */
  int ok1 = joined_ok(p1);
  int ok2 = joined_ok(p2);
  if (ok1 && ok2) {
    *final = acct->balance; /* both children are gone: no lock needed */
    result = 0;
  } else
    fprintf(stderr, "bank_balance: a transaction process failed\n");

  if ((rc = mp_lock_destroy(&acct->lock)) < 0)
    fprintf(stderr, "bank_balance: mp_lock_destroy: %s\n", mp_strerror(rc));
  if ((rc = mp_shm_destroy(shm)) < 0)
    fprintf(stderr, "bank_balance: mp_shm_destroy: %s\n", mp_strerror(rc));
  return result;
}

int main(void) {
  int failures = 0;
  for (int run = 0; run < RUNS; run++) {
    int balance;
    if (perform_transactions(&balance) < 0) {
      failures++;
      continue;
    }
    printf("Final balance = %d\n", balance);
    if (balance != 100)
      failures++;
  }
  return failures ? 1 : 0;
}

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
 * The two processes are mp_process children started with the fork start
 * method (the default), so they use the parent's pointer to the account as
 * it is. With spawn or forkserver they would open the segment by name
 * instead (see process_spawn.c).
 *
 * Build: cc -std=c11 bank_balance.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>

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

/* The two targets; a target's return value is its process's exit code. */
static int report(int rc) {
  if (rc < 0)
    fprintf(stderr, "bank_balance: %s: %s\n", mp_current_process_name(),
            mp_strerror(rc));
  return rc < 0 ? 1 : 0;
}
static int withdraw(void *acct) { return report(transact(acct, -1)); }
static int deposit(void *acct) { return report(transact(acct, +1)); }

/* Start fn(acct) in a new process; the handle, or NULL. */
static mp_process *start(mp_target fn, struct account *acct) {
  mp_process *p;
  int rc = mp_process_create(fn, acct, NULL, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fprintf(stderr, "bank_balance: start: %s\n", mp_strerror(rc));
    return NULL;
  }
  return p;
}

/* Wait for p and free it; 1 when it exited with code 0. */
static int joined_ok(mp_process *p) {
  int code = -1;
  if (!p)
    return 0;
  if (mp_process_join(p, MP_FOREVER) == 0)
    mp_process_exitcode(p, &code);
  mp_process_close(p);
  return code == 0;
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

  mp_process *p1 = start(withdraw, acct);
  mp_process *p2 = start(deposit, acct);
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

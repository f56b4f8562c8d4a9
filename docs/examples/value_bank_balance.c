/*
 * value_bank_balance.c - the race-condition demo of Python's tutorials with
 * a shared Value: two processes make 10000 withdrawals and 10000 deposits
 * on a balance of 100, ten times; the final balance is 100 every time.
 *
 * Python:
 *     def withdraw(balance):
 *         for _ in range(10000):
 *             with balance.get_lock():
 *                 balance.value = balance.value - 1
 *
 *     balance = multiprocessing.Value('i', 100)
 *     p1 = multiprocessing.Process(target=withdraw, args=(balance,))
 *     p2 = multiprocessing.Process(target=deposit, args=(balance,))
 *
 * "balance.value = balance.value - 1" is a read and a write: each holds
 * the Value's lock, but another process may write in between, and updates
 * are lost (the tutorial's balances of -273, 1571, ...). The whole update
 * must hold the lock: mp_value_get_lock() returns the Value's RLock, and
 * the get and set inside take it again (it is re-entrant), as in Python.
 *
 * The second part does the same with mp_value_add(), an atomic
 * fetch-and-add on the integer itself: no lock at all. (Do not mix the two
 * ways on one Value: an atomic add does not wait for the lock.)
 *
 * bank_balance.c is the same demo with a struct and an embedded mp_lock in
 * an mp_shm segment. The processes here are mp_process children started
 * with fork (the default), and use the parent's mp_value pointer as it is.
 *
 * Build: cc -std=c11 value_bank_balance.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>

#define RUNS 10
#define TRANSACTIONS 10000

/* Each update as Python's `with balance.get_lock(): balance.value += d`. */
static int transact_locked(mp_value *balance, int32_t delta) {
  mp_rlock *lock = mp_value_get_lock(balance); /* NULL only if raw */
  for (int i = 0; i < TRANSACTIONS; i++) {
    int32_t value;
    int rc = mp_rlock_acquire(lock, MP_FOREVER);
    if (rc == MP_EOWNERDEAD) {
      /* Nobody should die here; if someone did, the balance is suspect. */
      mp_rlock_release(lock);
      return rc;
    }
    if (rc < 0)
      return rc;
    if ((rc = mp_value_get(balance, &value)) == 0) {
      value += delta;
      rc = mp_value_set(balance, &value);
    }
    mp_rlock_release(lock);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Each update one atomic add: no lock. */
static int transact_atomic(mp_value *balance, int32_t delta) {
  for (int i = 0; i < TRANSACTIONS; i++) {
    int rc = mp_value_add(balance, delta, NULL);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* The targets; a target's return value is its process's exit code. */
static int report(int rc) {
  if (rc < 0)
    fprintf(stderr, "value_bank_balance: %s: %s\n",
            mp_current_process_name(), mp_strerror(rc));
  return rc < 0 ? 1 : 0;
}
static int withdraw(void *v) { return report(transact_locked(v, -1)); }
static int deposit(void *v) { return report(transact_locked(v, +1)); }
static int withdraw_atomic(void *v) { return report(transact_atomic(v, -1)); }
static int deposit_atomic(void *v) { return report(transact_atomic(v, +1)); }

/* Start fn(balance) in a new process; the handle, or NULL. */
static mp_process *start(mp_target fn, mp_value *balance) {
  mp_process *p;
  int rc = mp_process_create(fn, balance, NULL, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fprintf(stderr, "value_bank_balance: start: %s\n", mp_strerror(rc));
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

/* One run: a fresh Value('i', 100), a withdrawer and a depositor. 0 and
 * the final balance in *final, or -1. */
static int perform_transactions(mp_target out, mp_target in, int32_t *final) {
  const int32_t initial = 100;
  mp_value *balance;
  int rc = mp_value_create(NULL, 'i', &initial, 0, &balance);
  if (rc < 0) {
    fprintf(stderr, "value_bank_balance: mp_value_create: %s\n",
            mp_strerror(rc));
    return -1;
  }
  mp_process *p1 = start(out, balance);
  mp_process *p2 = start(in, balance);
  int ok1 = joined_ok(p1);
  int ok2 = joined_ok(p2);
  rc = ok1 && ok2 ? mp_value_get(balance, final) : -1;
  mp_value_destroy(balance);
  return rc == 0 ? 0 : -1;
}

int main(void) {
  int failures = 0;
  int32_t balance;
  for (int run = 0; run < RUNS; run++) {
    if (perform_transactions(withdraw, deposit, &balance) < 0 ||
        balance != 100)
      failures++;
    else
      printf("Final balance = %d\n", (int)balance);
  }
  int atomic_ok = 0;
  for (int run = 0; run < RUNS; run++)
    if (perform_transactions(withdraw_atomic, deposit_atomic, &balance) == 0 &&
        balance == 100)
      atomic_ok++;
  printf("With mp_value_add: %d runs of %d ended at 100\n", atomic_ok, RUNS);
  return failures || atomic_ok != RUNS;
}

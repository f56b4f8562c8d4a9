/*
 * value_array_squares.c - the notebook's square_list: a child process
 * fills a shared Array with the squares of a list and a shared Value with
 * their sum; the parent reads both back after joining it.
 *
 * Python (multiprocessing.Array and Value):
 *     def square_list(mylist, result, square_sum):
 *         for idx, num in enumerate(mylist):
 *             result[idx] = num * num
 *         square_sum.value = sum(result)
 *
 *     result = multiprocessing.Array('i', 4)
 *     square_sum = multiprocessing.Value('i')
 *     p1 = multiprocessing.Process(target=square_list,
 *                                  args=(mylist, result, square_sum))
 *     p1.start(); p1.join()
 *     print(result[:], square_sum.value)
 *
 * Typecode 'i' is int32_t. Each mp_array_set() and mp_value_set() holds
 * the object's lock for its own copy, as each result[idx] = ... does in
 * Python; result[:] is one mp_array_read() (one acquire for the whole
 * slice).
 *
 * The child is an mp_process started with the fork start method (the
 * default), so it uses the parent's mp_array and mp_value pointers as they
 * are. A spawned child, or another program, would mp_array_open() and
 * mp_value_open() them by name (mp_array_name(), mp_value_name()).
 *
 * Build: cc -std=c11 value_array_squares.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>

#define N 4

struct shared {
  const int32_t *mylist; /* the input: copied into the child by fork */
  mp_array *result;      /* Array('i', 4) */
  mp_value *square_sum;  /* Value('i') */
};

/* Print an array of n int32_t as Python prints a list. */
static void print_list(const char *label, const int32_t *v, size_t n) {
  printf("%s[", label);
  for (size_t i = 0; i < n; i++)
    printf(i ? ", %d" : "%d", (int)v[i]);
  printf("]\n");
}

/* The target: its return value is the child's exit code. */
static int square_list(void *arg) {
  struct shared *sh = arg;
  int32_t result[N];
  int rc;
  for (size_t idx = 0; idx < N; idx++) {
    int32_t square = sh->mylist[idx] * sh->mylist[idx];
    if ((rc = mp_array_set(sh->result, idx, &square)) < 0)
      goto fail;
  }
  /* sum(result): read the whole array back, under one acquire. */
  if ((rc = mp_array_read(sh->result, 0, N, result)) < 0)
    goto fail;
  int32_t sum = 0;
  for (size_t i = 0; i < N; i++)
    sum += result[i];
  if ((rc = mp_value_set(sh->square_sum, &sum)) < 0)
    goto fail;
  print_list("Result(in process p1): ", result, N);
  printf("Sum of squares(in process p1): %d\n", (int)sum);
  return 0;
fail:
  fprintf(stderr, "value_array_squares: child: %s\n", mp_strerror(rc));
  return 1;
}

int main(void) {
  static const int32_t mylist[N] = {1, 2, 3, 4};
  mp_array *result = NULL;
  mp_value *square_sum = NULL;
  mp_process *p1 = NULL;
  int failed = 1, code = -1, rc;

  /* Array('i', 4): four zeros, with a lock (flags 0). */
  if ((rc = mp_array_create(NULL, 'i', N, NULL, 0, &result)) < 0 ||
      (rc = mp_value_create(NULL, 'i', NULL, 0, &square_sum)) < 0) {
    fprintf(stderr, "value_array_squares: create: %s\n", mp_strerror(rc));
    goto out;
  }

  struct shared sh = {mylist, result, square_sum};
  if ((rc = mp_process_create(square_list, &sh, NULL, &p1)) < 0 ||
      (rc = mp_process_start(p1)) < 0 ||
      (rc = mp_process_join(p1, MP_FOREVER)) < 0 ||
      (rc = mp_process_exitcode(p1, &code)) < 0) {
    fprintf(stderr, "value_array_squares: p1: %s\n", mp_strerror(rc));
    goto out;
  }
  if (code != 0)
    goto out;

  /* result[:] and square_sum.value, in the parent. */
  int32_t squares[N], sum;
  if ((rc = mp_array_read(result, 0, N, squares)) < 0 ||
      (rc = mp_value_get(square_sum, &sum)) < 0) {
    fprintf(stderr, "value_array_squares: read: %s\n", mp_strerror(rc));
    goto out;
  }
  print_list("Result(in main program): ", squares, N);
  printf("Sum of squares(in main program): %d\n", (int)sum);
  failed = sum != 30 || squares[N - 1] != 16;

out:
  mp_process_close(p1); /* NULL is harmless */
  mp_value_destroy(square_sum);
  mp_array_destroy(result);
  return failed;
}

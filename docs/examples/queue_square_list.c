/*
 * queue_square_list.c - the notebook's square_list and print_queue: one
 * process puts the squares of a list on a Queue, another prints them.
 *
 * Python (multiprocessing.Queue):
 *     def square_list(mylist, q):
 *         for num in mylist:
 *             print("putting ", num, "To q")
 *             q.put(num * num)
 *
 *     def print_queue(q):
 *         print("Queue elements:")
 *         while not q.empty():
 *             print("reading from q")
 *             print(q.get())
 *         print("Queue is now empty!")
 *
 *     q = multiprocessing.Queue()
 *     p1 = multiprocessing.Process(target=square_list, args=(mylist, q))
 *     p2 = multiprocessing.Process(target=print_queue, args=(q,))
 *     p1.start(); p2.start(); p1.join(); p2.join()
 *
 * The notebook starts both processes at once, so print_queue's
 * `while not q.empty()` races with the producer: it may find the queue
 * empty before the first put and print nothing at all. Here the consumer
 * waits in mp_queue_get() instead, and knows that nothing more will come
 * from Python 3.13's shutdown: the parent shuts the queue down once the
 * producer has been joined, and a get on a queue that is shut down and
 * drained returns MP_ESHUTDOWN.
 *
 * A message is a byte string: here one long, copied in and out.
 *
 * The processes are mp_process children started with fork (the default),
 * and use the parent's mp_queue pointer as it is. Another program, or a
 * spawned child, would mp_queue_open() it by name.
 *
 * Build: cc -std=c11 queue_square_list.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>

static const long mylist[] = {1, 2, 3, 4};
#define NLIST (sizeof mylist / sizeof *mylist)

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "queue_square_list: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* Producer: put the square of every number. Exit code 0 on success. */
static int square_list(void *arg) {
  mp_queue *q = arg;
  for (size_t i = 0; i < NLIST; i++) {
    long square = mylist[i] * mylist[i];
    printf("putting %ld\n", mylist[i]);
    int rc = mp_queue_put(q, &square, sizeof square, MP_FOREVER);
    if (rc < 0)
      return fail("mp_queue_put", rc);
  }
  return 0;
}

/* Consumer: print every message until the queue is shut down and drained.
 * Exit code 0 if it got exactly the squares, in order. */
static int print_queue(void *arg) {
  mp_queue *q = arg;
  size_t n = 0;
  int rc, failed = 0;
  long square;
  size_t len;
  printf("Queue elements:\n");
  while ((rc = mp_queue_get(q, &square, sizeof square, &len, MP_FOREVER)) ==
         0) {
    printf("%ld\n", square);
    if (len != sizeof square || n >= NLIST || square != mylist[n] * mylist[n])
      failed = 1;
    n++;
  }
  if (rc != MP_ESHUTDOWN) /* the only way this loop should end */
    return fail("mp_queue_get", rc);
  printf("Queue is now empty!\n");
  return failed || n != NLIST;
}

/* Start fn(q) in a new process; the handle, or NULL. */
static mp_process *start(mp_target fn, mp_queue *q) {
  mp_process *p;
  int rc = mp_process_create(fn, q, NULL, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fail("start", rc);
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

int main(void) {
  mp_queue *q;
  int failed = 0, rc;

  /* A FIFO queue with the default capacity (1 MiB messages) and no maxsize:
   * a zeroed mp_queue_options, or NULL. */
  if ((rc = mp_queue_create(NULL, NULL, &q)) < 0)
    return fail("mp_queue_create", rc);

  mp_process *p1 = start(square_list, q);
  mp_process *p2 = start(print_queue, q);

  if (!joined_ok(p1)) /* every square is in the queue once p1 is joined */
    failed = 1;
  if ((rc = mp_queue_shutdown(q, 0)) < 0) /* "no more": p2 drains, stops */
    failed = fail("mp_queue_shutdown", rc);
  if (!joined_ok(p2))
    failed = 1;

  if (mp_queue_qsize(q) != 0)
    failed = 1;
  if ((rc = mp_queue_destroy(q)) < 0) /* the creator removes the name */
    failed = fail("mp_queue_destroy", rc);
  return failed;
}

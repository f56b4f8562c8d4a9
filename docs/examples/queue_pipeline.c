/*
 * queue_pipeline.c - a three-stage pipeline on one-producer / one-consumer
 * queues: a reader process puts the numbers 1..N, a squarer process turns
 * each into its square, and the parent sums the squares.
 *
 * Python has no such queue; the closest is
 *     q1, q2 = multiprocessing.Queue(), multiprocessing.Queue()
 *     def reader(q1):   for i in range(1, N + 1): q1.put(i); q1.put(None)
 *     def squarer(q1, q2):
 *         while (i := q1.get()) is not None: q2.put(i * i)
 *         q2.put(None)
 *
 * Each queue has exactly one producer and one consumer, so it is created
 * with MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER: the first put of a
 * process takes the producer side and keeps it (likewise for gets), and its
 * puts and gets then make no atomic read-modify-write at all. A stage ends
 * by shutting its output queue down: the next stage drains it and gets
 * MP_ESHUTDOWN.
 *
 * Build: cc -std=c11 queue_pipeline.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>

#define N 100000

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "queue_pipeline: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

struct stage {
  mp_queue *in, *out;
};

/* Stage 1: the numbers 1..N, then "no more". */
static int reader(void *arg) {
  struct stage *s = arg;
  for (int64_t i = 1; i <= N; i++) {
    int rc = mp_queue_put(s->out, &i, sizeof i, MP_FOREVER);
    if (rc < 0)
      return fail("reader: mp_queue_put", rc);
  }
  return mp_queue_shutdown(s->out, 0) == 0 ? 0 : 1;
}

/* Stage 2: square every number until the input is shut down and drained. */
static int squarer(void *arg) {
  struct stage *s = arg;
  int64_t i;
  size_t len;
  int rc;
  while ((rc = mp_queue_get(s->in, &i, sizeof i, &len, MP_FOREVER)) == 0) {
    int64_t sq = i * i;
    if ((rc = mp_queue_put(s->out, &sq, sizeof sq, MP_FOREVER)) < 0)
      return fail("squarer: mp_queue_put", rc);
  }
  if (rc != MP_ESHUTDOWN)
    return fail("squarer: mp_queue_get", rc);
  return mp_queue_shutdown(s->out, 0) == 0 ? 0 : 1;
}

static mp_process *start(mp_target fn, struct stage *s) {
  mp_process *p;
  int rc = mp_process_create(fn, s, NULL, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fail("start", rc);
    return NULL;
  }
  return p;
}

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
  mp_queue_options o = {.capacity = 64,
                        .flags = MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER};
  mp_queue *q1, *q2;
  int rc, failed = 0;
  if ((rc = mp_queue_create(NULL, &o, &q1)) < 0)
    return fail("mp_queue_create", rc);
  if ((rc = mp_queue_create(NULL, &o, &q2)) < 0) {
    mp_queue_destroy(q1);
    return fail("mp_queue_create", rc);
  }

  struct stage s1 = {NULL, q1}, s2 = {q1, q2};
  mp_process *p1 = start(reader, &s1), *p2 = start(squarer, &s2);

  /* Stage 3, here: sum the squares. */
  int64_t sum = 0, sq;
  size_t len, n = 0;
  while ((rc = mp_queue_get(q2, &sq, sizeof sq, &len, MP_FOREVER)) == 0) {
    sum += sq;
    n++;
  }
  if (rc != MP_ESHUTDOWN)
    failed = fail("mp_queue_get", rc);
  if (!joined_ok(p1)) /* both are joined, whatever the first gives */
    failed = 1;
  if (!joined_ok(p2))
    failed = 1;

  int64_t want = (int64_t)N * (N + 1) * (2 * N + 1) / 6;
  printf("%zu squares, sum %lld (expected %lld)\n", n, (long long)sum,
         (long long)want);
  failed |= n != N || sum != want;

  /* The parent keeps q2's consumer side: destroying gives it up. */
  if ((rc = mp_queue_destroy(q1)) < 0 || (rc = mp_queue_destroy(q2)) < 0)
    failed = fail("mp_queue_destroy", rc);
  return failed;
}

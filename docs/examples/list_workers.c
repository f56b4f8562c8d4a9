/*
 * list_workers.c - worker processes share a list: each appends its
 * results, and the parent prints them all, sorted.
 *
 * Python (a Manager's list):
 *     def worker(l, first):
 *         for n in range(first, first + 5):
 *             l.append(n * n)
 *
 *     with multiprocessing.Manager() as manager:
 *         l = manager.list()
 *         procs = [Process(target=worker, args=(l, 5 * i)) for i in range(4)]
 *         for p in procs: p.start()
 *         for p in procs: p.join()
 *         print(sorted(l))
 *         print(l.pop(), len(l))
 *
 * An mp_list has no manager process: it is one shared-memory segment, and
 * every process works on it directly. Items are byte strings: here each is
 * a long, its bytes copied in and out. The workers' appends interleave, so
 * the list holds each worker's squares in the order that worker appended
 * them, mixed with the others'; the parent sorts a copy. mp_list_items()
 * calls a function for every item of a consistent snapshot, in order, with
 * pointers that are not aligned: the callback memcpy()s the item out.
 *
 * The workers are mp_process children started with fork (the default),
 * and use the parent's mp_list pointer as it is; a spawned child, or
 * another program, would mp_list_open() it by name (mp_list_name()).
 *
 * Build: cc -std=c11 list_workers.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 4
#define PER_WORKER 5
#define ITEMS (WORKERS * PER_WORKER)

struct job {
  mp_list *l;
  long first;
};

/* The target: l.append(n * n) for its five numbers. Exit code 0 or 1. */
static int worker(void *arg) {
  const struct job *job = arg;
  for (long n = job->first; n < job->first + PER_WORKER; n++) {
    long square = n * n;
    int rc = mp_list_append(job->l, &square, sizeof square);
    if (rc < 0) { /* MP_ENOSPC when the list is full: nothing changed */
      fprintf(stderr, "list_workers: %s: append %ld: %s\n",
              mp_current_process_name(), square, mp_strerror(rc));
      return 1;
    }
  }
  return 0;
}

struct copy {
  long v[ITEMS];
  size_t n;
};

/* mp_list_items() callback: copy each item out. */
static int collect(size_t index, const void *item, size_t len, void *ctx) {
  struct copy *c = ctx;
  if (len != sizeof(long) || index >= ITEMS)
    return 1; /* not one of ours: stops the walk, returned by items */
  memcpy(&c->v[index], item, sizeof(long));
  c->n = index + 1;
  return 0;
}

static int by_value(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  mp_list *l;
  mp_process *p[WORKERS] = {0};
  struct job jobs[WORKERS];
  int failed = 0, rc;

  /* 4 KiB of items, up to 64 of them: plenty for 20. */
  mp_list_options opts = {.capacity = 4096, .max_items = 64};
  if ((rc = mp_list_create(NULL, &opts, &l)) < 0) {
    fprintf(stderr, "list_workers: mp_list_create: %s\n", mp_strerror(rc));
    return 1;
  }

  for (int i = 0; i < WORKERS; i++) {
    jobs[i] = (struct job){l, (long)i * PER_WORKER};
    if ((rc = mp_process_create(worker, &jobs[i], NULL, &p[i])) < 0 ||
        (rc = mp_process_start(p[i])) < 0) {
      fprintf(stderr, "list_workers: start: %s\n", mp_strerror(rc));
      failed = 1;
    }
  }
  for (int i = 0; i < WORKERS; i++) {
    int code = -1;
    if (p[i] && mp_process_join(p[i], MP_FOREVER) == 0)
      mp_process_exitcode(p[i], &code);
    if (code != 0)
      failed = 1;
    mp_process_close(p[i]);
  }

  /* sorted(l): copy the snapshot, sort the copy, print it. */
  struct copy c = {.n = 0};
  if ((rc = mp_list_items(l, collect, &c)) != 0) {
    fprintf(stderr, "list_workers: items: %d\n", rc);
    failed = 1;
  }
  qsort(c.v, c.n, sizeof c.v[0], by_value);
  printf("%zu items:", c.n);
  for (size_t n = 0; n < c.n; n++) {
    printf(" %ld", c.v[n]);
    if (c.v[n] != (long)(n * n))
      failed = 1;
  }
  printf("\n");
  if (c.n != ITEMS)
    failed = 1;

  /* l.pop(): the last item appended, by whichever worker came last. */
  long last;
  size_t len;
  if ((rc = mp_list_pop(l, -1, &last, sizeof last, &len)) != 0) {
    fprintf(stderr, "list_workers: pop: %s\n", mp_strerror(rc));
    failed = 1;
  } else {
    printf("pop() -> %ld, %ld left\n", last, mp_list_len(l));
  }
  if (mp_list_len(l) != ITEMS - 1)
    failed = 1;

  /* l[99] is Python's IndexError: MP_ERANGE. */
  if (mp_list_get(l, 99, &last, sizeof last, &len) != MP_ERANGE)
    failed = 1;

  mp_list_destroy(l);
  return failed;
}

/*
 * dict_workers.c - worker processes share a dict: each stores its results
 * under keys of its own, and the parent reads them all back.
 *
 * Python (a Manager's dict):
 *     def worker(d, first):
 *         for n in range(first, first + 5):
 *             d[str(n)] = n * n
 *
 *     with multiprocessing.Manager() as manager:
 *         d = manager.dict()
 *         procs = [Process(target=worker, args=(d, 5 * i)) for i in range(4)]
 *         for p in procs: p.start()
 *         for p in procs: p.join()
 *         print(sorted(d.items()))
 *
 * An mp_dict has no manager process: it is one shared-memory segment, and
 * every process works on it directly. Keys and values are byte strings:
 * here the key is a number in decimal text, and the value is a long, its
 * bytes copied in and out. mp_dict_items() calls a function for every item
 * of a consistent snapshot, in no particular order, with pointers that are
 * not aligned: the callback memcpy()s the value out.
 *
 * The workers are mp_process children started with fork (the default),
 * and use the parent's mp_dict pointer as it is; a spawned child, or
 * another program, would mp_dict_open() it by name (mp_dict_name()).
 *
 * Build: cc -std=c11 dict_workers.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 4
#define PER_WORKER 5
#define ITEMS (WORKERS * PER_WORKER)

struct job {
  mp_dict *d;
  long first;
};

/* The target: d[str(n)] = n * n for its five numbers. Exit code 0 or 1. */
static int worker(void *arg) {
  const struct job *job = arg;
  for (long n = job->first; n < job->first + PER_WORKER; n++) {
    char key[24];
    int klen = snprintf(key, sizeof key, "%ld", n);
    long square = n * n;
    int rc = mp_dict_set(job->d, key, (size_t)klen, &square, sizeof square);
    if (rc < 0) { /* MP_ENOSPC when the dict is full: nothing changed */
      fprintf(stderr, "dict_workers: %s: set %s: %s\n",
              mp_current_process_name(), key, mp_strerror(rc));
      return 1;
    }
  }
  return 0;
}

/* mp_dict_items() callback: file each item under its number. */
static int collect(const void *key, size_t klen, const void *value,
                   size_t vlen, void *ctx) {
  long *squares = ctx;
  char text[24];
  if (klen >= sizeof text || vlen != sizeof(long))
    return 1; /* not one of ours: stops the walk, returned by items */
  memcpy(text, key, klen);
  text[klen] = '\0';
  long n = strtol(text, NULL, 10);
  if (n < 0 || n >= ITEMS)
    return 1;
  memcpy(&squares[n], value, sizeof(long));
  return 0;
}

int main(void) {
  mp_dict *d;
  mp_process *p[WORKERS] = {0};
  struct job jobs[WORKERS];
  int failed = 0, rc;

  /* 4 KiB of keys and values, up to 64 items: plenty for 20. */
  mp_dict_options opts = {.capacity = 4096, .max_items = 64};
  if ((rc = mp_dict_create(NULL, &opts, &d)) < 0) {
    fprintf(stderr, "dict_workers: mp_dict_create: %s\n", mp_strerror(rc));
    return 1;
  }

  for (int i = 0; i < WORKERS; i++) {
    jobs[i] = (struct job){d, (long)i * PER_WORKER};
    if ((rc = mp_process_create(worker, &jobs[i], NULL, &p[i])) < 0 ||
        (rc = mp_process_start(p[i])) < 0) {
      fprintf(stderr, "dict_workers: start: %s\n", mp_strerror(rc));
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

  /* sorted(d.items()): collect the snapshot, print it in key order. */
  long squares[ITEMS];
  for (int n = 0; n < ITEMS; n++)
    squares[n] = -1;
  long len = mp_dict_len(d);
  if ((rc = mp_dict_items(d, collect, squares)) != 0) {
    fprintf(stderr, "dict_workers: items: %d\n", rc);
    failed = 1;
  }
  printf("%ld items:", len);
  for (int n = 0; n < ITEMS; n++) {
    printf(" %d: %ld", n, squares[n]);
    if (squares[n] != (long)n * n)
      failed = 1;
  }
  printf("\n");

  /* One key by itself: d["7"]; a missing one is MP_ENOENT (KeyError). */
  long v;
  size_t vlen;
  if (mp_dict_get(d, "7", 1, &v, sizeof v, &vlen) != 0 || v != 49 ||
      mp_dict_get(d, "99", 2, &v, sizeof v, &vlen) != MP_ENOENT)
    failed = 1;

  if (len != ITEMS)
    failed = 1;
  mp_dict_destroy(d);
  return failed;
}

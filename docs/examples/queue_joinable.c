/*
 * queue_joinable.c - a JoinableQueue of tasks: the producer waits in
 * mp_queue_join() until the workers have called mp_queue_task_done() for
 * every task it put, then shuts the queue down to let them go.
 *
 * Python (the notebook's website checker, queue.Queue and threads; the same
 * code works with multiprocessing.JoinableQueue and processes):
 *     task_queue = Queue()
 *
 *     def worker():
 *         while True:
 *             address = task_queue.get()
 *             check_website(address)
 *             task_queue.task_done()
 *
 *     threads = [Thread(target=worker) for _ in range(NUM_WORKERS)]
 *     [task_queue.put(item) for item in WEBSITE_LIST]
 *     [thread.start() for thread in threads]
 *     task_queue.join()
 *
 * Python's workers loop for ever (in a script they would have to be daemon
 * threads, or the program would never end); here, once join has returned,
 * the producer calls mp_queue_shutdown() (Python 3.13's Queue.shutdown()),
 * and every worker blocked in mp_queue_get() wakes up with MP_ESHUTDOWN
 * and exits.
 *
 * What join promises: a worker puts its result on a second queue *before*
 * it calls task_done, so when join returns, every result is there.
 * task_done once more than there were tasks is MP_ERANGE (Python's
 * ValueError). No site is contacted: "checking" one just measures its name.
 *
 * Build: cc -std=c11 queue_joinable.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>

#define NUM_WORKERS 2

static const char *const website_list[] = {
    "http://envato.com",     "http://amazon.co.uk", "http://amazon.com",
    "http://facebook.com",   "http://google.com",   "http://google.fr",
    "http://google.es",      "http://internet.org", "http://gmail.com",
    "http://stackoverflow.com"};
#define NSITES (sizeof website_list / sizeof *website_list)

struct queues {
  mp_queue *tasks;   /* joinable: addresses to check */
  mp_queue *results; /* plain: one size_t per address checked */
};

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "queue_joinable: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* A worker process: get an address, check it, report, task_done; until the
 * queue is shut down. Exit code 0 when it ended that way. */
static int worker(void *arg) {
  struct queues *qs = arg;
  char address[256];
  size_t len;
  int rc;
  while ((rc = mp_queue_get(qs->tasks, address, sizeof address, &len,
                            MP_FOREVER)) == 0) {
    size_t result = len; /* check_website(address) */
    rc = mp_queue_put(qs->results, &result, sizeof result, MP_FOREVER);
    int done = mp_queue_task_done(qs->tasks); /* after the result is out */
    if (rc < 0 || done < 0)
      return fail("worker", rc < 0 ? rc : done);
  }
  return rc == MP_ESHUTDOWN ? 0 : fail("worker: mp_queue_get", rc);
}

int main(void) {
  struct queues qs;
  mp_process *workers[NUM_WORKERS] = {NULL};
  int failed = 0, rc;

  mp_queue_options o = {.capacity = 256, .joinable = 1};
  if ((rc = mp_queue_create(NULL, &o, &qs.tasks)) < 0)
    return fail("mp_queue_create", rc);
  if ((rc = mp_queue_create(NULL, NULL, &qs.results)) < 0) {
    mp_queue_destroy(qs.tasks);
    return fail("mp_queue_create", rc);
  }

  for (size_t i = 0; i < NSITES; i++) /* strings travel with their NUL */
    if ((rc = mp_queue_put(qs.tasks, website_list[i],
                           strlen(website_list[i]) + 1, MP_FOREVER)) < 0)
      failed = fail("mp_queue_put", rc);

  for (int i = 0; i < NUM_WORKERS; i++)
    if ((rc = mp_process_create(worker, &qs, NULL, &workers[i])) < 0 ||
        (rc = mp_process_start(workers[i])) < 0)
      failed = fail("start", rc);

  /* Wait until every task was task_done'd; a timeout in case a worker
   * died between its get and its task_done (join would wait for ever). */
  if ((rc = mp_queue_join(qs.tasks, 10.0)) < 0)
    failed = fail("mp_queue_join", rc);
  printf("all %zu tasks done; results waiting: %ld\n", NSITES,
         mp_queue_qsize(qs.results));
  if (mp_queue_qsize(qs.results) != (long)NSITES)
    failed = 1;
  if (mp_queue_task_done(qs.tasks) != MP_ERANGE) /* one too many */
    failed = 1;

  mp_queue_shutdown(qs.tasks, 0); /* the workers leave their loops */
  for (int i = 0; i < NUM_WORKERS; i++) {
    int code = -1;
    if (workers[i] && mp_process_join(workers[i], MP_FOREVER) == 0)
      mp_process_exitcode(workers[i], &code);
    if (code != 0)
      failed = 1;
    mp_process_close(workers[i]);
  }

  size_t total = 0, expected = 0, result, len;
  while (mp_queue_get(qs.results, &result, sizeof result, &len, 0) == 0)
    total += result;
  for (size_t i = 0; i < NSITES; i++)
    expected += strlen(website_list[i]) + 1;
  printf("checked %zu bytes of addresses\n", total);
  if (total != expected)
    failed = 1;

  mp_queue_destroy(qs.results);
  mp_queue_destroy(qs.tasks);
  return failed;
}

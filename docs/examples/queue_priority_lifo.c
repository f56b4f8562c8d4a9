/*
 * queue_priority_lifo.c - the order in which a PriorityQueue and a
 * LifoQueue give their messages back.
 *
 * Python (queue.PriorityQueue, queue.LifoQueue):
 *     pq = PriorityQueue()
 *     pq.put(20); pq.put(78); pq.put(12); pq.put(45)
 *     pq.get()                     # 12, then 20, 45, 78
 *
 *     lq = LifoQueue()
 *     for word in ("first", "second", "third"): lq.put(word)
 *     lq.get()                     # "third", then "second", "first"
 *
 * Python compares the items themselves; an mproc message is bytes, so its
 * priority is given apart, with mp_queue_put_priority() (lowest first), and
 * mp_queue_get_priority() gives it back. Messages of equal priority come
 * out in the order they were put (Python would compare the items, e.g. the
 * second member of a (priority, data) tuple).
 *
 * Unlike queue.PriorityQueue and queue.LifoQueue, which only work between
 * threads, these queues are shared by processes: a child made with fork()
 * puts everything, the parent gets it after the child has exited.
 *
 * Build: cc -std=c11 queue_priority_lifo.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "queue_priority_lifo: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* The child: fill both queues. Returns its exit status. */
static int producer(mp_queue *pq, mp_queue *lq) {
  static const int64_t numbers[] = {20, 78, 12, 45};
  static const char *const words[] = {"first", "second", "third"};
  int rc;
  for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
    char text[16];
    int len = snprintf(text, sizeof text, "%lld", (long long)numbers[i]);
    if ((rc = mp_queue_put_priority(pq, numbers[i], text, (size_t)len,
                                    MP_FOREVER)) < 0)
      return fail("mp_queue_put_priority", rc);
  }
  /* Two of equal priority: they come out in put order, after 45. */
  if ((rc = mp_queue_put_priority(pq, 50, "tie-a", 5, MP_FOREVER)) < 0 ||
      (rc = mp_queue_put_priority(pq, 50, "tie-b", 5, MP_FOREVER)) < 0)
    return fail("mp_queue_put_priority", rc);
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if ((rc = mp_queue_put(lq, words[i], strlen(words[i]), MP_FOREVER)) < 0)
      return fail("mp_queue_put", rc);
  return 0;
}

/* Get every message of q (without waiting) and compare with want[]. */
static int drain(const char *title, mp_queue *q, const char *const *want,
                 size_t n) {
  char text[32];
  size_t len, i = 0;
  int64_t prio;
  int rc, failed = 0;
  printf("%s:", title);
  while ((rc = mp_queue_get_priority(q, text, sizeof text - 1, &len, &prio,
                                     0)) == 0) {
    text[len] = '\0';
    printf(" %s", text);
    if (i >= n || strcmp(text, want[i]) != 0)
      failed = 1;
    i++;
  }
  printf("\n");
  if (rc != MP_EAGAIN) /* timeout 0 on an empty queue: Python's Empty */
    failed = fail("mp_queue_get_priority", rc);
  return failed || i != n;
}

int main(void) {
  static const char *const by_priority[] = {"12", "20", "45",
                                            "tie-a", "tie-b", "78"};
  static const char *const last_first[] = {"third", "second", "first"};
  mp_queue *pq, *lq;
  int failed = 0, rc, status;

  mp_queue_options po = {.capacity = 256, .kind = MP_QUEUE_PRIORITY};
  mp_queue_options lo = {.capacity = 256, .kind = MP_QUEUE_LIFO};
  if ((rc = mp_queue_create(NULL, &po, &pq)) < 0)
    return fail("mp_queue_create", rc);
  if ((rc = mp_queue_create(NULL, &lo, &lq)) < 0) {
    mp_queue_destroy(pq);
    return fail("mp_queue_create", rc);
  }

  fflush(stdout); /* so the child does not print our buffer again */
  pid_t pid = fork();
  if (pid == 0)
    _exit(producer(pq, lq)); /* a forked child uses the parent's handles */
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    failed = 1;

  printf("%ld and %ld messages waiting\n", mp_queue_qsize(pq),
         mp_queue_qsize(lq));
  failed |= drain("PriorityQueue", pq, by_priority, 6);
  failed |= drain("LifoQueue", lq, last_first, 3);

  mp_queue_destroy(lq);
  mp_queue_destroy(pq);
  return failed;
}

/*
 * semaphore_hello.c - a writer and a reader take turns over "Hello world"
 * with two semaphores.
 *
 * Python (threading.Semaphore):
 *     def writer(ws, rs):
 *         for word in "Hello world".split():
 *             ws.acquire()
 *             print('Writer thread prints', word)
 *             shared_list.append(word)
 *             rs.release()
 *         rs.release()              # one more: "no more words"
 *
 *     def reader(ws, rs):
 *         while 1:
 *             rs.acquire()
 *             if not shared_list:
 *                 break
 *             print('Reader read', shared_list.pop())
 *             ws.release()
 *
 *     write_sem = threading.Semaphore(1)
 *     read_sem = threading.Semaphore(0)
 *
 * write_sem counts free slots for a word (one), read_sem counts words ready
 * to read. Unlike a Lock, a semaphore has no owner: the reader releases what
 * the writer acquired. write_sem is a BoundedSemaphore here, since it must
 * never hold more than its one slot: one release too many is MP_ERANGE.
 *
 * The two semaphores are embedded in static memory because the writer and
 * reader are threads, as in the notebook. Between processes they would sit
 * in an mp_shm segment, or be made with mp_semaphore_create().
 *
 * Build: cc -std=c11 semaphore_hello.c $(pkg-config --cflags --libs mproc)
 */
#define _POSIX_C_SOURCE 200809L

#include <mproc.h>

#include <pthread.h>
#include <stdio.h>

static mp_semaphore write_sem, read_sem;
static const char *shared_list[2]; /* a stack of at most one word */
static int shared_len;

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "semaphore_hello: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

static char failure; /* a thread returns &failure when something failed */

static void *writer(void *arg) {
  static const char *const phrase[] = {"Hello", "world"};
  int failed = 0, rc;
  (void)arg;
  for (size_t i = 0; i < sizeof phrase / sizeof *phrase && !failed; i++) {
    if ((rc = mp_semaphore_acquire(&write_sem, MP_FOREVER)) < 0) {
      failed = fail("writer: acquire", rc);
      break;
    }
    printf("Writer thread prints %s\n", phrase[i]);
    shared_list[shared_len++] = phrase[i];
    if ((rc = mp_semaphore_release(&read_sem, 1)) < 0)
      failed = fail("writer: release", rc);
  }
  /* One more release, the reader's "no more words" (after a failure too). */
  if ((rc = mp_semaphore_release(&read_sem, 1)) < 0)
    failed = fail("writer: release", rc);
  return failed ? &failure : NULL;
}

static void *reader(void *arg) {
  int words = 0, rc;
  (void)arg;
  for (;;) {
    /* A bounded wait, so that a failed writer cannot hang the reader. */
    if ((rc = mp_semaphore_acquire(&read_sem, 5.0)) < 0) {
      fail("reader: acquire", rc);
      return &failure;
    }
    if (shared_len == 0)
      break;
    printf("Reader read %s\n", shared_list[--shared_len]);
    words++;
    if ((rc = mp_semaphore_release(&write_sem, 1)) < 0) {
      fail("reader: release", rc);
      return &failure;
    }
  }
  return words == 2 ? NULL : &failure;
}

int main(void) {
  pthread_t wr, rd;
  void *wres = &failure, *rres = &failure;
  int failed = 0, rc;

  /* write_sem = BoundedSemaphore(1); read_sem = Semaphore(0) */
  if ((rc = mp_semaphore_init(&write_sem, 1, MP_SEMAPHORE_BOUNDED)) < 0 ||
      (rc = mp_semaphore_init(&read_sem, 0, 0)) < 0)
    return fail("mp_semaphore_init", rc);

  if (pthread_create(&wr, NULL, writer, NULL) != 0) {
    fprintf(stderr, "semaphore_hello: pthread_create failed\n");
    return 1;
  }
  if (pthread_create(&rd, NULL, reader, NULL) != 0) {
    fprintf(stderr, "semaphore_hello: pthread_create failed\n");
    failed = 1;
  } else
    pthread_join(rd, &rres);
  pthread_join(wr, &wres);
  if (wres || rres)
    failed = 1;

  /* Both slots are back: write_sem is at its bound, read_sem at 0. */
  if (mp_semaphore_value(&write_sem) != 1 || mp_semaphore_value(&read_sem))
    failed = 1;
  rc = mp_semaphore_release(&write_sem, 1);
  printf("one release too many: %s\n", mp_strerror(rc));
  if (rc != MP_ERANGE)
    failed = 1;

  if ((rc = mp_semaphore_destroy(&write_sem)) < 0 ||
      (rc = mp_semaphore_destroy(&read_sem)) < 0)
    failed = fail("mp_semaphore_destroy", rc);
  return failed;
}

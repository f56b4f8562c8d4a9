/*
 * mproc/queue.h - Queue, JoinableQueue, LifoQueue and PriorityQueue
 * (Python's multiprocessing.Queue / JoinableQueue, queue.LifoQueue /
 * PriorityQueue, with Python 3.13's shutdown) in one shared-memory segment.
 *
 * Messages are byte strings of 0..capacity bytes. There is no feeder
 * thread: when put returns, the message is in shared memory. A FIFO queue
 * is a ring with separate producer and consumer sides, so one producer and
 * one consumer never contend; put into a non-full queue and get from a
 * non-empty one make no system call, and a sleeper is woken only when one
 * sleeps.
 *
 * Robustness: a message is committed only once completely written. A
 * producer killed in the middle of a put - even holding the queue's lock -
 * loses only its own message; a consumer killed in the middle of a get
 * leaves the message in the queue for the others. Nobody hangs on a dead
 * process's behalf.
 *
 * Timeouts follow mproc/common.h: MP_FOREVER, 0 (never block: -EAGAIN =
 * Python's Full / Empty), or seconds (-ETIMEDOUT).
 *
 * Ownership: mp_queue_create() makes a segment whose name any process can
 * mp_queue_open() (forked children may also use the parent's pointer); the
 * creator destroys it (the name also goes at its normal exit), every other
 * process that opened it closes it. Every function is safe from any thread
 * of any process.
 */
#ifndef MPROC_QUEUE_H
#define MPROC_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_queue mp_queue;

typedef enum mp_queue_kind {
  MP_QUEUE_FIFO = 0,    /* Queue */
  MP_QUEUE_LIFO = 1,    /* LifoQueue: last in, first out */
  MP_QUEUE_PRIORITY = 2 /* PriorityQueue: lowest priority first, FIFO ties */
} mp_queue_kind;

/* Options of mp_queue_create(); a zeroed struct means the defaults. */
typedef struct mp_queue_options {
  size_t capacity;    /* the largest message; an empty queue always has room
                         for one this big. Roughly the bytes it holds: each
                         message also costs 8 to 32 bytes of bookkeeping.
                         0: MP_QUEUE_DEFAULT_CAPACITY */
  size_t maxsize;     /* most messages at once (Python's maxsize); 0: no
                         limit but the bytes */
  mp_queue_kind kind; /* MP_QUEUE_FIFO, _LIFO or _PRIORITY */
  int joinable;       /* non-zero: task_done and join (JoinableQueue) */
  unsigned flags;     /* FIFO only: MP_QUEUE_ONE_PRODUCER and/or
                         MP_QUEUE_ONE_CONSUMER (below) */
} mp_queue_options;

/*
 * One producer / one consumer at a time (FIFO queues; either or both).
 * The first put (get) of a thread takes the producer (consumer) side and
 * keeps it between calls, so its puts (gets) make no atomic
 * read-modify-write: about twice as fast for a pipeline stage. A put (get)
 * from any other thread waits for the side as for a lock (its timeout
 * applies; 0: -EAGAIN). The holder gives the side up when it closes or
 * destroys the queue, or when it exits or dies. Closing the queue from
 * another thread of the holder's process fails with -EBUSY.
 */
#define MP_QUEUE_ONE_PRODUCER 1u
#define MP_QUEUE_ONE_CONSUMER 2u

#define MP_QUEUE_DEFAULT_CAPACITY ((size_t)1 << 20)
/* Largest capacity: 1 GiB. */
#define MP_QUEUE_CAPACITY_MAX ((size_t)1 << 30)

/*
 * Create a queue in a new segment named `name` (NULL: generated). opts may
 * be NULL. -EINVAL (NULL out, bad kind, capacity over MP_QUEUE_CAPACITY_MAX,
 * unknown flags or flags on a LIFO or priority queue, bad name), -EEXIST,
 * -ENOSPC, -ENOMEM, -EMFILE.
 */
MP_EXTERN int mp_queue_create(const char *name, const mp_queue_options *opts,
                              mp_queue **out);
/* Map the queue `name`. Errors as mp_lock_open (MP_EKIND for another kind). */
MP_EXTERN int mp_queue_open(const char *name, mp_queue **out);

/*
 * Put a message of len bytes (0 allowed; buf may then be NULL). Waits while
 * the queue is full. On a priority queue it has priority 0.
 * Returns 0, -EAGAIN (timeout 0 and full), -ETIMEDOUT, -ESHUTDOWN (shut
 * down: at once, even while waiting), -EMSGSIZE (len > capacity: at once,
 * the queue untouched), MP_EOWNERDEAD is never returned (the queue repairs
 * itself), -EINVAL (NULL q, NULL buf with len > 0, NaN).
 */
MP_EXTERN int mp_queue_put(mp_queue *q, const void *buf, size_t len,
                           double timeout);
/* Put with a priority (lower comes out first; ties in put order). On a
 * FIFO or LIFO queue the priority is ignored. Errors as mp_queue_put. */
MP_EXTERN int mp_queue_put_priority(mp_queue *q, int64_t priority,
                                    const void *buf, size_t len,
                                    double timeout);

/*
 * Get the next message into buf (cap bytes); *len receives its length.
 * Waits while the queue is empty. A message longer than cap stays in the
 * queue: -EMSGSIZE with *len set to the size needed.
 * Returns 0, -EAGAIN (timeout 0 and empty), -ETIMEDOUT, -ESHUTDOWN (shut
 * down and empty - or shut down immediately), -EMSGSIZE, -EINVAL (NULL q or
 * len, NULL buf with cap > 0, NaN).
 */
MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len,
                           double timeout);
/* mp_queue_get, also giving the message's priority (on a PRIORITY queue;
 * 0 on the other kinds); priority may be NULL. */
MP_EXTERN int mp_queue_get_priority(mp_queue *q, void *buf, size_t cap,
                                    size_t *len, int64_t *priority,
                                    double timeout);
/* Get into a buffer allocated with malloc (the caller frees it; a 0-byte
 * message gives a non-NULL buffer). Errors as mp_queue_get, plus -ENOMEM
 * (the message stays). */
MP_EXTERN int mp_queue_get_alloc(mp_queue *q, void **buf, size_t *len,
                                 double timeout);

/* Number of messages (a snapshot), or -EINVAL. */
MP_EXTERN long mp_queue_qsize(const mp_queue *q);
/* 1 / 0 (a snapshot), or -EINVAL. full: maxsize reached, or not even an
 * empty message would fit. */
MP_EXTERN int mp_queue_empty(const mp_queue *q);
MP_EXTERN int mp_queue_full(const mp_queue *q);
/* Capacity in bytes and maxsize (0: none), or 0 for NULL. */
MP_EXTERN size_t mp_queue_capacity(const mp_queue *q);
MP_EXTERN size_t mp_queue_maxsize(const mp_queue *q);

/*
 * JoinableQueue: tell that a message got from the queue has been processed.
 * -ERANGE (called more times than messages were put; nothing changes),
 * -EINVAL (NULL, or not joinable). A consumer that dies between its get and
 * its task_done leaves join waiting, as in Python.
 */
MP_EXTERN int mp_queue_task_done(mp_queue *q);
/* Wait until every message put has been task_done'd: 0, -ETIMEDOUT,
 * -EAGAIN (timeout 0), -EINVAL (NULL, not joinable, NaN). */
MP_EXTERN int mp_queue_join(mp_queue *q, double timeout);

/*
 * Shut the queue down (Python 3.13): puts fail with -ESHUTDOWN at once;
 * gets take what is left, then fail with -ESHUTDOWN; every blocked caller
 * wakes. immediate: the messages left are dropped (counted as done for
 * join) and gets fail at once. Calling it again is harmless (immediate may
 * follow a plain shutdown). 0 or -EINVAL.
 */
MP_EXTERN int mp_queue_shutdown(mp_queue *q, int immediate);
/* 1 once shut down, 0 before, -EINVAL. */
MP_EXTERN int mp_queue_is_shutdown(const mp_queue *q);

MP_EXTERN const char *mp_queue_name(const mp_queue *q);
/* Close / destroy (ownership above). A side kept by the calling thread is
 * given up first; -EBUSY (nothing done) when another thread of this
 * process keeps one. */
MP_EXTERN int mp_queue_close(mp_queue *q);
MP_EXTERN int mp_queue_destroy(mp_queue *q);

MP_END_DECLS

#endif /* MPROC_QUEUE_H */

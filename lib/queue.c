/*
 * lib/queue.c - the Queue family in one segment.
 *
 * FIFO: a byte ring of R = 2^k bytes (at least twice the largest record, so
 * a record that must wrap always fits once the ring drains). A record is an
 * 8-byte header {length, type} and the payload padded to 8; a WRAP record
 * fills the end of the ring when a message does not fit there. The producer
 * side and the consumer side each have a lock and publish ONE 64-bit word
 * packing their byte position (low 36 bits) and message count (high 28
 * bits): a single store commits a put or a get, so a process killed in the
 * middle - lock held or not - has committed nothing, and the next holder
 * (told MP_EOWNERDEAD by the mutex) has nothing to repair. Producers and
 * consumers only touch their own cache lines plus one load of the other
 * side's word; a put or get with room or data makes no system call.
 *
 * LIFO and PRIORITY: a binary heap of arena block offsets (arena.c), all
 * under one lock. A block holds {priority, sequence, message}, written once
 * by the put; its length is in the arena's own header. The heap moves only
 * 8-byte offsets - single stores, never torn - and only through a spare
 * slot (spare = a; a = b; b = spare; spare cleared), so at every instant
 * each block is in the heap or the spare, perhaps twice but never nowhere.
 * After a holder's death the repair keeps one copy of each offset, rebuilds
 * the arena around the live blocks and re-heapifies - in place, allocating
 * nothing.
 *
 * Sleeping: consumers wait on the futex word `prod.wake`, producers on
 * `cons.wake`; bit 0 says someone sleeps, and only then does the other side
 * bump the word and wake (Dekker-ordered with seq_cst). A FIFO waiter spins
 * briefly on the other side's word first.
 *
 * One producer / one consumer (FIFO flags): the side's lock is kept by the
 * thread that took it, between calls, until it closes the queue or dies -
 * the robust mutex then passes it on. Its puts (gets) so make no atomic
 * read-modify-write at all: the commit is a plain release store, and the
 * StoreLoad fence it would need against a sleeper on the other side is
 * paid by that sleeper instead, with an asymmetric fence (fence.c).
 *
 * Immediate shutdown of a FIFO queue drops nothing physically: from then
 * on the counts say that everything put was got (it was dropped), so a put
 * that commits late is dropped too.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POS_BITS 36
#define CNT_MASK ((1ull << (64 - POS_BITS)) - 1)
#define POS_MASK ((1ull << POS_BITS) - 1)
#define REC_HDR 8u
#define REC_MSG 1u
#define REC_WRAP 2u
#define SLEEPERS 1u
#define STEP 2u
#define SHUT 1u
#define SHUT_NOW 2u

/* One side, in two cache lines: what only this side's callers touch, then
 * what the other side reads (word) and writes (wake's sleeper bit). */
struct side {
  pthread_mutex_t lock;
  /* A side kept between calls (one producer / one consumer): the holding
   * thread's token and process, 0 when none. */
  _Atomic uint64_t holder;
  _Atomic int32_t holder_pid;
  uint64_t seen; /* FIFO, under lock: the other side's word as last read -
                    reloaded only when it says full/empty, so the other
                    side's cache line is rarely read */
  alignas(64) _Atomic uint64_t word; /* FIFO: position | count << POS_BITS */
  _Atomic uint32_t wake;             /* futex: the other side sleeps on it */
};

/* The start of a heap-kind block; the message follows. */
struct hblock {
  int64_t prio;
  uint64_t seq;
};
#define HPREFIX sizeof(struct hblock)

struct queue_state {
  struct mp__obj head;
  uint32_t kind;
  uint32_t joinable;
  uint32_t flags;    /* MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER */
  uint32_t reserved_;
  uint64_t capacity; /* largest message */
  uint64_t maxsize;  /* 0: none */
  uint64_t ring;     /* FIFO: ring bytes (2^k); heap kinds: arena bytes */
  uint64_t slots;    /* heap kinds: heap entries */
  _Atomic uint32_t shut;
  _Atomic uint32_t joined; /* futex: bumped when all tasks are done */
  _Atomic uint64_t done;   /* task_done calls */
  /* heap kinds, under prod.lock (atomic: snapshots read them without) */
  _Atomic uint64_t n;          /* entries in the heap */
  uint64_t seq;                /* next sequence number */
  _Atomic uint64_t puts, gets; /* messages in and out, for join and qsize */
  uint64_t spare;              /* the offset being moved, or NONE */
  alignas(64) struct side prod;
  alignas(64) struct side cons;
  alignas(64) unsigned char data[];
};


static struct queue_state *queue(const mp_queue *q) {
  return (struct queue_state *)mp__obj_check(q, MP__KIND_QUEUE);
}

static bool is_fifo(const struct queue_state *q) {
  return q->kind == MP_QUEUE_FIFO;
}

static uint64_t pack(uint64_t pos, uint64_t cnt) {
  return (pos & POS_MASK) | ((cnt & CNT_MASK) << POS_BITS);
}
static uint64_t pos_of(uint64_t w) { return w & POS_MASK; }
static uint64_t cnt_of(uint64_t w) { return w >> POS_BITS; }
static uint64_t record(uint64_t len) { return REC_HDR + ((len + 7) & ~7ull); }

static uint64_t *heap(struct queue_state *q) { return (uint64_t *)q->data; }
static struct mp__arena *arena(struct queue_state *q) {
  return (struct mp__arena *)(q->data + q->slots * sizeof(uint64_t));
}
static struct hblock *hblock(struct queue_state *q, uint64_t off) {
  return mp__arena_ptr(arena(q), off);
}

/* Messages put and got so far (counts modulo 2^28 for FIFO). After an
 * immediate shutdown, what a FIFO queue still holds counts as got: it was
 * dropped. */
static void counts(const struct queue_state *q, uint64_t *in, uint64_t *out) {
  if (is_fifo(q)) {
    *in = cnt_of(atomic_load(&((struct queue_state *)q)->prod.word));
    *out = cnt_of(atomic_load(&((struct queue_state *)q)->cons.word));
    if (atomic_load(&((struct queue_state *)q)->shut) == SHUT_NOW)
      *in = *out;
  } else {
    *in = atomic_load_explicit(&q->puts, memory_order_relaxed);
    *out = atomic_load_explicit(&q->gets, memory_order_relaxed);
  }
}

static uint64_t in_queue(const struct queue_state *q) {
  uint64_t in, out;
  counts(q, &in, &out);
  return (in - out) & (is_fifo(q) ? CNT_MASK : UINT64_MAX);
}

/* ---- creation ---------------------------------------------------------------- */

struct layout {
  uint64_t ring, slots, bytes;
};

static int plan(const mp_queue_options *o, struct layout *l) {
  uint64_t cap = o->capacity ? o->capacity : MP_QUEUE_DEFAULT_CAPACITY;
  if (cap > MP_QUEUE_CAPACITY_MAX || (unsigned)o->kind > MP_QUEUE_PRIORITY ||
      (o->flags & ~(MP_QUEUE_ONE_PRODUCER | MP_QUEUE_ONE_CONSUMER)) ||
      (o->flags && o->kind != MP_QUEUE_FIFO))
    return -EINVAL;
  /* Room for a capacity-sized message even at the worst wrap point, and
   * for maxsize empty messages besides. */
  uint64_t want = 2 * record(cap);
  if (o->maxsize && o->maxsize <= (1u << 26) &&
      want < o->maxsize * record(0) + record(cap))
    want = o->maxsize * record(0) + record(cap);
  if (o->kind == MP_QUEUE_FIFO) {
    l->ring = 64;
    while (l->ring < want)
      l->ring *= 2;
    l->slots = 0;
    l->bytes = sizeof(struct queue_state) + l->ring;
  } else {
    const uint64_t each = MP__ARENA_BLOCK_OVERHEAD + HPREFIX;
    l->ring = 2 * (cap + each);
    if (o->maxsize && o->maxsize <= (1u << 26) &&
        l->ring < o->maxsize * each + cap + each)
      l->ring = o->maxsize * each + cap + each;
    l->slots = l->ring / each;
    if (o->maxsize && o->maxsize < l->slots)
      l->slots = o->maxsize;
    l->bytes = sizeof(struct queue_state) + l->slots * sizeof(uint64_t) +
               sizeof(struct mp__arena) + l->ring;
  }
  return 0;
}

struct init_arg {
  const mp_queue_options *o;
  struct layout l;
};

static int init(void *obj, void *arg) {
  struct queue_state *q = obj;
  struct init_arg *a = arg;
  int rc;
  if ((rc = mp__mutex_init(&q->prod.lock)) < 0 ||
      (rc = mp__mutex_init(&q->cons.lock)) < 0)
    return rc;
  q->kind = a->o->kind;
  q->joinable = a->o->joinable != 0;
  q->flags = a->o->flags;
  q->capacity = a->o->capacity ? a->o->capacity : MP_QUEUE_DEFAULT_CAPACITY;
  q->maxsize = a->o->maxsize;
  q->ring = a->l.ring;
  q->slots = a->l.slots;
  if (!is_fifo(q)) {
    mp__arena_init(arena(q), q->ring);
    q->spare = MP__ARENA_NONE;
  }
  mp__obj_init(q, MP__KIND_QUEUE);
  return 0;
}

int mp_queue_create(const char *name, const mp_queue_options *opts,
                    mp_queue **out) {
  static const mp_queue_options defaults;
  struct init_arg a = {opts ? opts : &defaults, {0, 0, 0}};
  if (out)
    *out = NULL;
  int rc = plan(a.o, &a.l);
  if (rc < 0)
    return rc;
  return mp__obj_create(name, MP__KIND_QUEUE, a.l.bytes, init, &a,
                        (void **)out);
}

/* ---- waiting ------------------------------------------------------------------- */

/* Wake whoever sleeps on word (the other side), if its value w, read
 * after our publishing store, says anyone does. */
static void wake_if(_Atomic uint32_t *word, uint32_t w) {
  if (w & SLEEPERS) {
    atomic_store(word, (w + STEP) & ~SLEEPERS);
    mp__futex_wake(word, INT_MAX);
  }
}

/* The same after a seq_cst publishing store. */
static void wake(_Atomic uint32_t *word) { wake_if(word, atomic_load(word)); }

static void wake_always(_Atomic uint32_t *word) {
  atomic_fetch_add(word, STEP);
  mp__futex_wake(word, INT_MAX);
}

/* Announce a sleeper on word; returns the value to sleep on. The caller
 * re-checks its condition before sleeping (the Dekker half). */
static uint32_t announce(_Atomic uint32_t *word) {
  uint32_t w = atomic_load(word);
  while (!(w & SLEEPERS) && !atomic_compare_exchange_weak(word, &w, w | SLEEPERS))
    ;
  return w | SLEEPERS;
}

/* Lock a side: timeout 0 only tries. A dead holder left nothing to repair
 * on a FIFO side (commits are single stores); heap kinds are repaired. */
static void repair_heap(struct queue_state *q);

static int lock(struct queue_state *q, struct side *s, const mp__deadline *d,
                bool nonblock) {
  int rc = nonblock ? mp__mutex_lock(&s->lock, 0)
                    : mp__mutex_lock_until(&s->lock, d);
  if (rc == MP_EOWNERDEAD) {
    if (!is_fifo(q))
      repair_heap(q);
    rc = 0;
  }
  return rc;
}

/* ---- FIFO ---------------------------------------------------------------------- */

/* Is side s kept by one thread between calls? */
static bool kept(const struct queue_state *q, const struct side *s) {
  return q->flags & (s == &q->prod ? MP_QUEUE_ONE_PRODUCER
                                   : MP_QUEUE_ONE_CONSUMER);
}

/* Take side s for one call. A kept side already held by the caller needs
 * nothing; taking it otherwise makes the caller its holder. */
static inline __attribute__((always_inline)) int side_enter(
    struct queue_state *q, struct side *s,
                      const mp__deadline *d, bool nonblock) {
  bool keep = kept(q, s);
  if (keep && atomic_load_explicit(&s->holder, memory_order_relaxed) ==
                  mp__thread_token())
    return 0;
  int rc = lock(q, s, d, nonblock);
  if (rc == 0 && keep) {
    atomic_store_explicit(&s->holder_pid, (int32_t)getpid(),
                          memory_order_relaxed);
    atomic_store_explicit(&s->holder, mp__thread_token(),
                          memory_order_relaxed);
  }
  return rc;
}

static void side_leave(struct queue_state *q, struct side *s) {
  if (!kept(q, s))
    mp__mutex_unlock(&s->lock);
}

/* Publish side s's new word w, then wake the other side if it sleeps on
 * s->wake. A kept side in a process registered for asymmetric fences
 * stores plainly: the sleeper fences for it (fifo_wait). */
static inline __attribute__((always_inline)) void
commit(struct queue_state *q, struct side *s, uint64_t w) {
  if (kept(q, s) && mp__fence_light_ok()) {
    atomic_store_explicit(&s->word, w, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst); /* keep the load after */
    wake_if(&s->wake, atomic_load_explicit(&s->wake, memory_order_relaxed));
    return;
  }
  atomic_store(&s->word, w); /* seq_cst: ordered before wake()'s load */
  wake(&s->wake);
}

/* Give up the kept sides the calling process holds, before it unmaps the
 * queue: a held robust mutex must stay mapped. -EBUSY when another thread
 * of this process holds one. */
static int side_release(struct queue_state *q, struct side *s) {
  if (!kept(q, s) || !atomic_load(&s->holder))
    return 0;
  if (atomic_load(&s->holder) == mp__thread_token()) {
    atomic_store(&s->holder, 0);
    mp__mutex_unlock(&s->lock);
    return 0;
  }
  if (atomic_load(&s->holder_pid) != (int32_t)getpid())
    return 0; /* another process's: its mapping is not ours */
  int rc = mp__mutex_lock(&s->lock, 0); /* the holder thread may be gone */
  if (!MP_ACQUIRED(rc))
    return -EBUSY;
  atomic_store(&s->holder, 0);
  mp__mutex_unlock(&s->lock);
  return 0;
}

/* Wait, holding our side's lock, until the other side's word moves from
 * `seen`: spin briefly, announce a sleeper on wake_word, re-check, sleep.
 * 0: look again; -ETIMEDOUT. */
static int fifo_wait(struct queue_state *q, struct side *other_side,
                     uint64_t seen, const mp__deadline *d) {
  _Atomic uint64_t *other = &other_side->word;
  _Atomic uint32_t *wake_word = &other_side->wake;
  if (mp__spin_while64(other, seen) != seen)
    return 0;
  uint32_t w = announce(wake_word);
  /* The other side may commit with a plain store: fence for it. Without
   * fences, sleep in short slices instead (a wake-up may be missed). */
  mp__deadline capped;
  const mp__deadline *dd = d;
  if (kept(q, other_side) && !mp__fence_heavy()) {
    int rc = mp__deadline_init(&capped, 0.001);
    if (rc == 0 && mp__deadline_left_ns(d) > mp__deadline_left_ns(&capped))
      dd = &capped;
  }
  if (atomic_load(other) != seen || atomic_load(&q->shut))
    return 0;
  if (mp__futex_wait(wake_word, w, dd) == -ETIMEDOUT && dd == d &&
      atomic_load(other) == seen)
    return -ETIMEDOUT;
  return 0;
}

/* Is there room for `need` more bytes and one more message? */
static bool fifo_room(const struct queue_state *q, uint64_t pw, uint64_t cw,
                      uint64_t need) {
  return ((pos_of(pw) - pos_of(cw)) & POS_MASK) + need <= q->ring &&
         (!q->maxsize || ((cnt_of(pw) - cnt_of(cw)) & CNT_MASK) < q->maxsize);
}

/* One attempt at a put, holding the producer side: 0, -ESHUTDOWN, or
 * -EAGAIN (no room) with *cw_seen the consumer word it saw. */
static inline __attribute__((always_inline)) int
fifo_try_put(struct queue_state *q, const void *buf, uint64_t len,
             uint64_t *cw_seen) {
  const uint64_t rec = record(len), R = q->ring;
  if (atomic_load_explicit(&q->shut, memory_order_relaxed))
    return -ESHUTDOWN;
  uint64_t pw = atomic_load_explicit(&q->prod.word, memory_order_relaxed);
  uint64_t cw = q->prod.seen, t = pos_of(pw), off = t & (R - 1);
  uint64_t to_end = R - off, need = rec <= to_end ? rec : to_end + rec;
  if (!fifo_room(q, pw, cw, need)) /* the cached view says full: look */
    cw = q->prod.seen = atomic_load_explicit(&q->cons.word, memory_order_acquire);
  if (!fifo_room(q, pw, cw, need)) {
    *cw_seen = cw;
    return -EAGAIN;
  }
  if (rec > to_end) { /* the end is too short: fill it, start over at 0 */
    uint32_t wrap[2] = {0, REC_WRAP};
    memcpy(q->data + off, wrap, sizeof wrap);
    t += to_end;
    off = 0;
  }
  uint32_t hdr[2] = {(uint32_t)len, REC_MSG};
  memcpy(q->data + off, hdr, sizeof hdr);
  if (len)
    memcpy(q->data + off + REC_HDR, buf, len);
  commit(q, &q->prod, pack(t + rec, cnt_of(pw) + 1)); /* one store */
  return 0;
}

static int fifo_put(struct queue_state *q, const void *buf, uint64_t len,
                    const mp__deadline *d, bool nonblock) {
  int rc = side_enter(q, &q->prod, d, nonblock);
  if (rc < 0)
    return rc;
  uint64_t cw = 0;
  while ((rc = fifo_try_put(q, buf, len, &cw)) == -EAGAIN && !nonblock &&
         (rc = fifo_wait(q, &q->cons, cw, d)) == 0)
    ;
  side_leave(q, &q->prod);
  return rc;
}

/* One attempt at a get, holding the consumer side: 0, -ESHUTDOWN,
 * -EMSGSIZE or -ENOMEM from the sink (the message stays), or -EAGAIN
 * (empty) with *pw_seen the producer word it saw. */
static inline __attribute__((always_inline)) int
fifo_try_get(struct queue_state *q, mp__sink_fn sink, void *ctx,
             uint64_t *len, uint64_t *pw_seen) {
  const uint64_t R = q->ring;
  for (;;) {
    uint64_t cw = atomic_load_explicit(&q->cons.word, memory_order_relaxed);
    uint64_t pw = q->cons.seen, h = pos_of(cw);
    uint32_t shut = atomic_load_explicit(&q->shut, memory_order_relaxed);
    if (shut == SHUT_NOW)
      return -ESHUTDOWN;
    if (h == pos_of(pw)) /* the cached view says empty: look again */
      pw = q->cons.seen =
          atomic_load_explicit(&q->prod.word, memory_order_acquire);
    if (h == pos_of(pw)) {
      *pw_seen = pw;
      return shut ? -ESHUTDOWN : -EAGAIN;
    }
    uint64_t off = h & (R - 1);
    uint32_t hdr[2];
    memcpy(hdr, q->data + off, sizeof hdr);
    if (hdr[1] == REC_WRAP) { /* skip to the start; not a message */
      atomic_store(&q->cons.word, pack(h + (R - off), cnt_of(cw)));
      continue;
    }
    *len = hdr[0];
    int rc;
    void *dst = sink(ctx, hdr[0], &rc);
    if (!dst)
      return rc; /* -EMSGSIZE / -ENOMEM: the message stays */
    if (hdr[0])
      memcpy(dst, q->data + off + REC_HDR, hdr[0]);
    commit(q, &q->cons, pack(h + record(hdr[0]), cnt_of(cw) + 1));
    return 0;
  }
}

static int fifo_get(struct queue_state *q, mp__sink_fn sink, void *ctx,
                    uint64_t *len, const mp__deadline *d, bool nonblock) {
  int rc = side_enter(q, &q->cons, d, nonblock);
  if (rc < 0)
    return rc;
  uint64_t pw = 0;
  while ((rc = fifo_try_get(q, sink, ctx, len, &pw)) == -EAGAIN &&
         !nonblock && (rc = fifo_wait(q, &q->prod, pw, d)) == 0)
    ;
  side_leave(q, &q->cons);
  return rc;
}

/* Does the calling thread keep side s (one producer / one consumer)? Then
 * a call that finds room or data needs no deadline and no lock. */
static inline bool keeps(const struct queue_state *q, const struct side *s) {
  return kept(q, s) &&
         atomic_load_explicit(&s->holder, memory_order_relaxed) ==
             mp__thread_token();
}

/* ---- LIFO and PRIORITY ------------------------------------------------------------ */

/* Does block a come out before block b? */
static bool before(struct queue_state *q, uint64_t a, uint64_t b) {
  const struct hblock *x = hblock(q, a), *y = hblock(q, b);
  if (q->kind == MP_QUEUE_LIFO)
    return x->seq > y->seq;
  return x->prio != y->prio ? x->prio < y->prio : x->seq < y->seq;
}

/* Swap two heap offsets through the spare slot (see the top of the file). */
static void swap(struct queue_state *q, uint64_t a, uint64_t b) {
  uint64_t *h = heap(q), t = h[a];
  q->spare = t;
  MP__STORE_ORDER();
  mp__crash_point();
  h[a] = h[b];
  MP__STORE_ORDER();
  mp__crash_point();
  h[b] = t;
  MP__STORE_ORDER();
  mp__crash_point();
  q->spare = MP__ARENA_NONE;
}

static void sift_up(struct queue_state *q, uint64_t i) {
  uint64_t *h = heap(q);
  for (; i > 0 && before(q, h[i], h[(i - 1) / 2]); i = (i - 1) / 2)
    swap(q, i, (i - 1) / 2);
}

static void sift_down(struct queue_state *q, uint64_t i) {
  uint64_t *h = heap(q);
  uint64_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
  for (;;) {
    uint64_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(q, h[l], h[m]))
      m = l;
    if (r < n && before(q, h[r], h[m]))
      m = r;
    if (m == i)
      return;
    swap(q, i, m);
    i = m;
  }
}

/* A holder died half-way: the live blocks are the offsets in [0, n) and
 * the spare, perhaps some twice (never lost: see swap). Keep one of each,
 * rebuild the arena around them, re-heapify. In place. */
static void repair_heap(struct queue_state *q) {
  uint64_t *h = heap(q), n = atomic_load(&q->n);
  if (n > q->slots)
    n = q->slots;
  if (q->spare != MP__ARENA_NONE && n < q->slots)
    h[n++] = q->spare;
  q->spare = MP__ARENA_NONE;
  uint64_t k = mp__arena_keep(arena(q), h, n);
  atomic_store(&q->n, k);
  for (uint64_t i = k / 2; i-- > 0;)
    sift_down(q, i);
  atomic_store(&q->puts, atomic_load(&q->gets) + k);
}

/* Sleep on word with the lock released, then take it back (without a
 * limit: it is only ever held briefly). 0 or -ETIMEDOUT; the lock is held
 * either way. */
static int heap_sleep(struct queue_state *q, _Atomic uint32_t *word,
                      const mp__deadline *d) {
  static const mp__deadline forever = {.forever = true};
  uint32_t w = announce(word);
  mp__mutex_unlock(&q->prod.lock);
  int rc = mp__futex_wait(word, w, d);
  lock(q, &q->prod, &forever, false);
  return rc;
}

/* One attempt at a put, holding the lock: 0, -ESHUTDOWN or -EAGAIN (no
 * room). */
static int heap_try_put(struct queue_state *q, int64_t prio, const void *buf,
                        uint64_t len) {
  if (atomic_load(&q->shut))
    return -ESHUTDOWN;
  uint64_t off = MP__ARENA_NONE, n = atomic_load(&q->n);
  if (n < q->slots && (!q->maxsize || n < q->maxsize))
    off = mp__arena_alloc(arena(q), HPREFIX + len);
  if (off == MP__ARENA_NONE)
    return -EAGAIN;
  struct hblock *b = hblock(q, off);
  b->prio = q->kind == MP_QUEUE_LIFO ? 0 : prio; /* only PRIORITY keeps
                                                     priorities */
  b->seq = q->seq++;
  if (len)
    memcpy(b + 1, buf, len);
  heap(q)[n] = off;
  mp__crash_point();
  atomic_store(&q->n, n + 1); /* the commit (seq_cst: ordered) */
  mp__crash_point();
  atomic_fetch_add(&q->puts, 1);
  sift_up(q, n);
  wake(&q->prod.wake);
  return 0;
}

/* One attempt at a get, holding the lock: 0, -ESHUTDOWN, -EMSGSIZE or
 * -ENOMEM from the sink (the message stays), or -EAGAIN (empty). */
static int heap_try_get(struct queue_state *q, mp__sink_fn sink, void *ctx,
                        uint64_t *len, int64_t *prio) {
  uint32_t shut = atomic_load(&q->shut);
  if (shut == SHUT_NOW)
    return -ESHUTDOWN;
  uint64_t n = atomic_load(&q->n);
  if (n == 0)
    return shut ? -ESHUTDOWN : -EAGAIN;
  uint64_t top = heap(q)[0];
  const struct hblock *b = hblock(q, top);
  uint64_t mlen = mp__arena_len(arena(q), top) - HPREFIX;
  int rc;
  *len = mlen;
  void *dst = sink(ctx, mlen, &rc);
  if (!dst)
    return rc;
  if (mlen)
    memcpy(dst, b + 1, mlen);
  if (prio)
    *prio = b->prio;
  heap(q)[0] = heap(q)[n - 1]; /* the commit: top is gone; the last
                                  offset is in two places until n moves */
  mp__crash_point();
  atomic_store(&q->n, n - 1);
  mp__crash_point();
  atomic_fetch_add(&q->gets, 1);
  sift_down(q, 0);
  mp__arena_free(arena(q), top);
  wake(&q->cons.wake);
  return 0;
}

/* A put (sink NULL) or a get on a heap kind: attempts under the lock,
 * sleeping between them, as fifo_put and fifo_get do. */
struct heap_call {
  const void *buf; /* put */
  mp__sink_fn sink; /* get */
  void *ctx;
  uint64_t *len;
  int64_t prio, *prio_out;
};

static int heap_op(struct queue_state *q, const struct heap_call *c,
                   const mp__deadline *d, bool nonblock) {
  int rc = lock(q, &q->prod, d, nonblock);
  if (rc < 0)
    return rc;
  while ((rc = c->sink ? heap_try_get(q, c->sink, c->ctx, c->len, c->prio_out)
                       : heap_try_put(q, c->prio, c->buf, *c->len)) ==
             -EAGAIN &&
         !nonblock &&
         (rc = heap_sleep(q, c->sink ? &q->prod.wake : &q->cons.wake, d)) ==
             0)
    ;
  mp__mutex_unlock(&q->prod.lock);
  return rc;
}

/* ---- public API ---------------------------------------------------------------------- */

static int put(mp_queue *qp, int64_t prio, const void *buf, size_t len,
               double timeout) {
  struct queue_state *q = queue(qp);
  if (q && (buf || !len) && len <= q->capacity && timeout == timeout &&
      is_fifo(q) && keeps(q, &q->prod)) { /* the fast path: one attempt */
    uint64_t cw;
    int rc = fifo_try_put(q, buf, len, &cw);
    if (rc != -EAGAIN || timeout == 0)
      return rc;
  }
  mp__deadline d;
  if (!q || (len && !buf) || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  if (len > q->capacity)
    return -EMSGSIZE;
  if (atomic_load(&q->shut))
    return -ESHUTDOWN;
  if (is_fifo(q))
    return fifo_put(q, buf, len, &d, timeout == 0);
  uint64_t n = len;
  struct heap_call c = {.buf = buf, .len = &n, .prio = prio};
  return heap_op(q, &c, &d, timeout == 0);
}

int mp_queue_put(mp_queue *q, const void *buf, size_t len, double timeout) {
  return put(q, 0, buf, len, timeout);
}

int mp_queue_put_priority(mp_queue *q, int64_t priority, const void *buf,
                          size_t len, double timeout) {
  return put(q, priority, buf, len, timeout);
}

static int get(mp_queue *qp, mp__sink_fn sink, void *ctx, size_t *len,
               int64_t *prio, double timeout) {
  struct queue_state *q = queue(qp);
  uint64_t n = 0, pw;
  if (prio)
    *prio = 0;
  if (q && len && timeout == timeout && is_fifo(q) &&
      keeps(q, &q->cons)) { /* the fast path: one attempt */
    int rc = fifo_try_get(q, sink, ctx, &n, &pw);
    if (rc == 0 || rc == -EMSGSIZE)
      *len = (size_t)n;
    if (rc != -EAGAIN || timeout == 0)
      return rc;
  }
  mp__deadline d;
  if (!q || !len || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  int rc;
  if (is_fifo(q)) {
    rc = fifo_get(q, sink, ctx, &n, &d, timeout == 0);
  } else {
    struct heap_call c = {.sink = sink, .ctx = ctx, .len = &n, .prio_out = prio};
    rc = heap_op(q, &c, &d, timeout == 0);
  }
  if (rc == 0 || rc == -EMSGSIZE)
    *len = (size_t)n;
  return rc;
}

int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len,
                 double timeout) {
  struct mp__sink_buf b = {buf, cap};
  if (cap && !buf)
    return -EINVAL;
  return get(q, mp__sink_buf, &b, len, NULL, timeout);
}

int mp_queue_get_priority(mp_queue *q, void *buf, size_t cap, size_t *len,
                          int64_t *priority, double timeout) {
  struct mp__sink_buf b = {buf, cap};
  if (cap && !buf)
    return -EINVAL;
  return get(q, mp__sink_buf, &b, len, priority, timeout);
}

int mp_queue_get_alloc(mp_queue *q, void **buf, size_t *len, double timeout) {
  if (!buf)
    return -EINVAL;
  *buf = NULL;
  return get(q, mp__sink_alloc, buf, len, NULL, timeout);
}

long mp_queue_qsize(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  return q ? (long)in_queue(q) : -EINVAL;
}

int mp_queue_empty(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  return q ? in_queue(q) == 0 : -EINVAL;
}

int mp_queue_full(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  if (!q)
    return -EINVAL;
  uint64_t n = in_queue(q);
  if (q->maxsize && n >= q->maxsize)
    return 1;
  if (!is_fifo(q)) { /* would an empty message find a block? */
    if (n >= q->slots)
      return 1;
    static const mp__deadline forever = {.forever = true};
    lock(q, &q->prod, &forever, false);
    uint64_t off = mp__arena_alloc(arena(q), HPREFIX);
    if (off != MP__ARENA_NONE)
      mp__arena_free(arena(q), off);
    mp__mutex_unlock(&q->prod.lock);
    return off == MP__ARENA_NONE;
  }
  if (n == 0)
    return 0;
  uint64_t used = (pos_of(atomic_load(&q->prod.word)) -
                   pos_of(atomic_load(&q->cons.word))) &
                  POS_MASK;
  return used + REC_HDR > q->ring;
}

size_t mp_queue_capacity(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  return q ? (size_t)q->capacity : 0;
}

size_t mp_queue_maxsize(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  return q ? (size_t)q->maxsize : 0;
}

/* ---- joinable ---------------------------------------------------------------------- */

/* Messages put and not yet done (the dropped ones count as done). */
static uint64_t unfinished(struct queue_state *q) {
  uint64_t in, out;
  counts(q, &in, &out);
  uint64_t mask = is_fifo(q) ? CNT_MASK : UINT64_MAX;
  return (in - atomic_load(&q->done)) & mask;
}

int mp_queue_task_done(mp_queue *qp) {
  struct queue_state *q = queue(qp);
  if (!q || !q->joinable)
    return -EINVAL;
  uint64_t mask = is_fifo(q) ? CNT_MASK : UINT64_MAX;
  uint64_t done = atomic_load(&q->done);
  do {
    uint64_t in, out;
    counts(q, &in, &out);
    if (((in - done) & mask) == 0) /* every message put is done already */
      return -ERANGE;
  } while (!atomic_compare_exchange_weak(&q->done, &done, done + 1));
  if (unfinished(q) == 0)
    wake(&q->joined);
  return 0;
}

int mp_queue_join(mp_queue *qp, double timeout) {
  struct queue_state *q = queue(qp);
  mp__deadline d;
  if (!q || !q->joinable || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  for (;;) {
    if (unfinished(q) == 0)
      return 0;
    if (timeout == 0)
      return -EAGAIN;
    uint32_t w = announce(&q->joined);
    if (unfinished(q) == 0)
      return 0;
    if (mp__futex_wait(&q->joined, w, &d) == -ETIMEDOUT)
      return unfinished(q) == 0 ? 0 : -ETIMEDOUT;
  }
}

/* ---- shutdown ---------------------------------------------------------------------- */

int mp_queue_shutdown(mp_queue *qp, int immediate) {
  struct queue_state *q = queue(qp);
  if (!q)
    return -EINVAL;
  uint32_t want = immediate ? SHUT_NOW : SHUT, s = atomic_load(&q->shut);
  while (s < want && !atomic_compare_exchange_weak(&q->shut, &s, want))
    ;
  /* Wake every sleeper: they see the flag and leave, releasing the locks
   * that sleeping FIFO callers hold. */
  wake_always(&q->prod.wake);
  wake_always(&q->cons.wake);
  /* Drop what is left, counted as done for join. A FIFO queue's counts
   * already say so (see counts()); a heap is emptied under its lock. */
  if (immediate && !is_fifo(q)) {
    static const mp__deadline forever = {.forever = true};
    lock(q, &q->prod, &forever, false);
    uint64_t dropped = atomic_exchange(&q->n, 0);
    atomic_fetch_add(&q->gets, dropped);
    mp__arena_init(arena(q), q->ring);
    if (q->joinable)
      atomic_fetch_add(&q->done, dropped);
    mp__mutex_unlock(&q->prod.lock);
    wake_always(&q->cons.wake);
  }
  wake_always(&q->joined);
  return 0;
}

int mp_queue_is_shutdown(const mp_queue *qp) {
  struct queue_state *q = queue(qp);
  return q ? atomic_load(&q->shut) != 0 : -EINVAL;
}

/* ---- lifecycle -------------------------------------------------------------------- */

int mp_queue_open(const char *name, mp_queue **out) {
  return mp__seg_open(name, MP__KIND_QUEUE, (void **)out);
}

/* Give up the sides this process keeps, then unmap (close) or also
 * unlink (destroy). */
static int leave(mp_queue *qp, bool destroy) {
  if (!qp)
    return 0;
  struct queue_state *q = mp__seg_mapped(qp) ? queue(qp) : NULL;
  if (!q)
    return -EINVAL;
  int rc = side_release(q, &q->prod);
  if (rc == 0)
    rc = side_release(q, &q->cons);
  if (rc < 0)
    return rc;
  return destroy ? mp__obj_destroy(qp, MP__KIND_QUEUE, NULL)
                 : mp__obj_close(qp, MP__KIND_QUEUE);
}

int mp_queue_close(mp_queue *q) { return leave(q, false); }
int mp_queue_destroy(mp_queue *q) { return leave(q, true); }
const char *mp_queue_name(const mp_queue *q) {
  return mp__obj_name(q, MP__KIND_QUEUE);
}

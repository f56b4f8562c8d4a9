/*
 * lib/dict.c - a hash table in one segment: open addressing with linear
 * probing over slots {hash, block, key length, value length}; the key and
 * value bytes live together in an arena block. Hash 0 marks an empty slot,
 * 1 a deleted one (a tombstone, reused by later inserts).
 *
 * Two slot tables: rehashing (too many tombstones) and clear build the idle
 * one and switch with a single store of `active`, so they are never seen
 * half-done. An update first records what it overwrites in `intent`: the
 * slot's old contents, or, for a value of up to UNDO_MAX bytes replaced by
 * one of the same length in place, the old value bytes. A holder killed
 * before clearing the intent is rolled back by the next locker
 * (MP_EOWNERDEAD from the robust mutex), who then rebuilds the counts and
 * the arena from the live slots. Every update is therefore applied whole or
 * not at all.
 */
#include "internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY 0
#define TOMB 1

struct slot {
  uint64_t hash; /* >= 2 when in use */
  uint64_t off;  /* arena payload: key then value */
  uint32_t klen, vlen;
};

#define UNDO_MAX 64 /* longest value overwritten in place */

enum intent { NONE_UNDER_WAY, SLOT_UNDER_WAY, BYTES_UNDER_WAY };

/* Laid out by cache line, so an operation moves few lines between CPUs:
 * the mutex with what every update writes, then the undo record, then what
 * changes only at create, rehash and clear. */
struct dict_state {
  struct mp__obj head;
  pthread_mutex_t mutex;
  uint64_t count, tombs;
  alignas(64) uint32_t intent; /* enum intent */
  uint32_t undo_len;           /* BYTES: bytes in undo */
  uint64_t intent_at;          /* SLOT: slot index; BYTES: arena offset */
  struct slot intent_old;      /* SLOT: the slot's old contents */
  unsigned char undo[UNDO_MAX]; /* BYTES: the old bytes */
  alignas(64) uint64_t capacity; /* bytes of keys and values */
  uint64_t max_items;
  double timeout; /* of every lock wait: MP_FOREVER or seconds */
  uint64_t nslots; /* per table, 2^k */
  uint32_t active; /* table in use: 0 or 1 */
  alignas(64) unsigned char data[]; /* table 0, table 1, arena */
};

static struct dict_state *dict(const mp_dict *d) {
  return (struct dict_state *)mp__obj_check(d, MP__KIND_DICT);
}

static struct slot *table(struct dict_state *d, uint32_t which) {
  return (struct slot *)d->data + (uint64_t)which * d->nslots;
}

static struct mp__arena *arena(struct dict_state *d) {
  return (struct mp__arena *)(d->data + 2 * d->nslots * sizeof(struct slot));
}

static uint64_t hash(const void *key, size_t len) {
  const unsigned char *p = key;
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h < 2 ? h + 2 : h;
}

/* ---- creation ------------------------------------------------------------- */

struct layout {
  uint64_t capacity, max_items, nslots, arena, bytes;
  double timeout;
};

static int plan(const mp_dict_options *o, struct layout *l) {
  l->capacity = o->capacity ? o->capacity : MP_DICT_DEFAULT_CAPACITY;
  if (l->capacity > MP_DICT_CAPACITY_MAX || o->max_items > (1u << 30) ||
      o->timeout != o->timeout)
    return -EINVAL;
  l->timeout = o->timeout == 0 ? MP_FOREVER : o->timeout;
  l->max_items = o->max_items;
  if (!l->max_items) /* the default; an explicit number is kept exactly */
    l->max_items = l->capacity / 32 < 16 ? 16 : l->capacity / 32;
  l->nslots = 16;
  while (l->nslots * 3 < l->max_items * 4) /* load factor <= 3/4 */
    l->nslots *= 2;
  l->arena = l->capacity + l->max_items * MP__ARENA_BLOCK_OVERHEAD;
  l->bytes = sizeof(struct dict_state) + 2 * l->nslots * sizeof(struct slot) +
             sizeof(struct mp__arena) + l->arena;
  return 0;
}

static int init(void *obj, void *arg) {
  struct dict_state *d = obj;
  struct layout *l = arg;
  int rc = mp__mutex_init(&d->mutex);
  if (rc < 0)
    return rc;
  d->capacity = l->capacity;
  d->max_items = l->max_items;
  d->nslots = l->nslots;
  d->timeout = l->timeout;
  mp__arena_init(arena(d), l->arena);
  mp__obj_init(d, MP__KIND_DICT);
  return 0;
}

int mp_dict_create(const char *name, const mp_dict_options *opts,
                   mp_dict **out) {
  static const mp_dict_options defaults;
  struct layout l;
  if (out)
    *out = NULL;
  int rc = plan(opts ? opts : &defaults, &l);
  if (rc < 0)
    return rc;
  return mp__obj_create(name, MP__KIND_DICT, l.bytes, init, &l, (void **)out);
}

/* ---- locking and repair --------------------------------------------------- */

/* A holder died mid-update: undo its slot change, recount, rebuild the
 * arena from what the live slots reference - sorted in the idle table,
 * which is scratch space until the next rehash or clear writes it whole. */
static void repair(struct dict_state *d) {
  d->active &= 1;
  struct slot *t = table(d, d->active), *scratch = table(d, !d->active);
  if (d->intent == SLOT_UNDER_WAY && d->intent_at < d->nslots)
    t[d->intent_at] = d->intent_old;
  else if (d->intent == BYTES_UNDER_WAY && d->undo_len <= UNDO_MAX &&
           d->intent_at <= arena(d)->size - d->undo_len)
    memcpy(mp__arena_ptr(arena(d), d->intent_at), d->undo, d->undo_len);
  d->intent = NONE_UNDER_WAY;
  d->count = d->tombs = 0;
  uint64_t *live = (uint64_t *)(void *)scratch;
  for (uint64_t i = 0; i < d->nslots; i++) {
    d->tombs += t[i].hash == TOMB;
    if (t[i].hash >= 2)
      live[d->count++] = t[i].off;
  }
  mp__arena_keep(arena(d), live, d->count);
}

/* Lock the dict dp into *out: 0 (repaired first if a holder had died),
 * -ETIMEDOUT, -EINVAL (not a dict). */
static int lock(const mp_dict *dp, struct dict_state **out) {
  struct dict_state *d = dict(dp);
  if (!d)
    return -EINVAL;
  int rc = mp__mutex_lock(&d->mutex, d->timeout);
  if (rc == MP_EOWNERDEAD)
    repair(d);
  *out = d;
  return MP_ACQUIRED(rc) ? 0 : rc;
}

static void unlock(struct dict_state *d) { mp__mutex_unlock(&d->mutex); }

/* ---- lookup --------------------------------------------------------------- */

static const unsigned char *block(struct dict_state *d, const struct slot *s) {
  return mp__arena_ptr(arena(d), s->off);
}

/* The slot holding key, or -1; *free_slot gets the first reusable slot on
 * the probe path (or -1 when the table is full of entries). */
static int64_t find(struct dict_state *d, const void *key, size_t klen,
                    uint64_t h, int64_t *free_slot) {
  struct slot *t = table(d, d->active);
  uint64_t mask = d->nslots - 1;
  int64_t reuse = -1;
  for (uint64_t n = 0, i = h & mask; n < d->nslots; n++, i = (i + 1) & mask) {
    if (t[i].hash == EMPTY) {
      if (reuse < 0)
        reuse = (int64_t)i;
      break;
    }
    if (t[i].hash == TOMB) {
      if (reuse < 0)
        reuse = (int64_t)i;
    } else if (t[i].hash == h && t[i].klen == klen &&
               memcmp(block(d, &t[i]), key, klen) == 0) {
      if (free_slot)
        *free_slot = reuse;
      return (int64_t)i;
    }
  }
  if (free_slot)
    *free_slot = reuse;
  return -1;
}

/* Rebuild the active table without tombstones into the idle one and switch
 * to it with one store. */
static void rehash(struct dict_state *d) {
  struct slot *from = table(d, d->active), *to = table(d, !d->active);
  uint64_t mask = d->nslots - 1;
  memset(to, 0, d->nslots * sizeof *to);
  for (uint64_t i = 0; i < d->nslots; i++) {
    if (from[i].hash < 2)
      continue;
    uint64_t j = from[i].hash & mask;
    while (to[j].hash != EMPTY)
      j = (j + 1) & mask;
    to[j] = from[i];
  }
  MP__STORE_ORDER();
  mp__crash_point();
  d->active = !d->active; /* the commit */
  MP__STORE_ORDER();
  mp__crash_point();
  d->tombs = 0;
}

/* Replace slot i by s, recoverably. */
static void write_slot(struct dict_state *d, uint64_t i, struct slot s) {
  struct slot *t = table(d, d->active);
  d->intent_old = t[i];
  d->intent_at = i;
  /* Written field by field, as a death may tear it: the crash point in the
   * middle lets the tests tear it (test/check_crash.c). */
  MP__RECOVERABLY(d->intent, SLOT_UNDER_WAY,
                  (t[i].hash = s.hash, mp__crash_point(), t[i].off = s.off,
                   t[i].klen = s.klen, t[i].vlen = s.vlen));
}

/* Overwrite len (<= UNDO_MAX) bytes at arena offset off, recoverably. */
static void write_bytes(struct dict_state *d, uint64_t off, const void *src,
                        size_t len) {
  unsigned char *p = mp__arena_ptr(arena(d), off);
  memcpy(d->undo, p, len);
  d->undo_len = (uint32_t)len;
  d->intent_at = off;
  MP__RECOVERABLY(d->intent, BYTES_UNDER_WAY,
                  (memcpy(p, src, len / 2), mp__crash_point(),
                   memcpy(p + len / 2, (const char *)src + len / 2,
                          len - len / 2)));
}

/* ---- operations ------------------------------------------------------------- */

int mp_dict_set(mp_dict *dp, const void *key, size_t klen, const void *value,
                size_t vlen) {
  if (!key || !klen || (vlen && !value))
    return -EINVAL;
  struct dict_state *d = dict(dp);
  if (!d)
    return -EINVAL;
  if (klen > d->capacity || vlen > d->capacity - klen || klen > UINT32_MAX ||
      vlen > UINT32_MAX)
    return -EMSGSIZE;
  uint64_t h = hash(key, klen);
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  int64_t reuse, i = find(d, key, klen, h, &reuse);
  if (i < 0 && d->count >= d->max_items) {
    rc = -ENOSPC;
    goto out;
  }
  if (i < 0 && (reuse < 0 || d->count + d->tombs + 1 > d->nslots * 3 / 4) &&
      d->tombs > 0) {
    rehash(d); /* reclaim tombstones, then look again */
    find(d, key, klen, h, &reuse);
  }
  if (i < 0 && reuse < 0) {
    rc = -ENOSPC;
    goto out;
  }
  struct slot *old = i >= 0 ? &table(d, d->active)[i] : NULL;
  if (old && old->vlen == vlen && vlen <= UNDO_MAX) { /* same size: in place */
    if (vlen)
      write_bytes(d, old->off + klen, value, vlen);
    goto out;
  }
  uint64_t off = mp__arena_alloc(arena(d), klen + vlen);
  if (off == MP__ARENA_NONE) {
    rc = -ENOSPC;
    goto out;
  }
  unsigned char *b = mp__arena_ptr(arena(d), off);
  memcpy(b, key, klen);
  if (vlen)
    memcpy(b + klen, value, vlen);
  struct slot s = {h, off, (uint32_t)klen, (uint32_t)vlen};
  if (old) { /* replace, then free the old block */
    uint64_t old_off = old->off;
    write_slot(d, (uint64_t)i, s);
    mp__arena_free(arena(d), old_off);
  } else {
    bool was_tomb = table(d, d->active)[reuse].hash == TOMB;
    write_slot(d, (uint64_t)reuse, s);
    d->count++;
    d->tombs -= was_tomb;
  }
out:
  unlock(d);
  return rc;
}

/* Copy the value of key to a destination chosen by sink. */
static int lookup(mp_dict *dp, const void *key, size_t klen, mp__sink_fn sink,
                  void *ctx, size_t *vlen) {
  if (!key || !klen || !vlen)
    return -EINVAL;
  uint64_t h = hash(key, klen);
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  rc = -ENOENT;
  int64_t i = find(d, key, klen, h, NULL);
  if (i >= 0) {
    struct slot *s = &table(d, d->active)[i];
    *vlen = s->vlen;
    void *dst = sink(ctx, s->vlen, &rc);
    if (dst) {
      if (s->vlen)
        memcpy(dst, block(d, s) + s->klen, s->vlen);
      rc = 0;
    }
  }
  unlock(d);
  return rc;
}

int mp_dict_get(mp_dict *d, const void *key, size_t klen, void *buf,
                size_t cap, size_t *vlen) {
  struct mp__sink_buf b = {buf, cap};
  if (cap && !buf)
    return -EINVAL;
  return lookup(d, key, klen, mp__sink_buf, &b, vlen);
}

int mp_dict_get_alloc(mp_dict *d, const void *key, size_t klen, void **value,
                      size_t *vlen) {
  if (!value)
    return -EINVAL;
  *value = NULL;
  return lookup(d, key, klen, mp__sink_alloc, value, vlen);
}

int mp_dict_delete(mp_dict *dp, const void *key, size_t klen) {
  if (!key || !klen)
    return -EINVAL;
  uint64_t h = hash(key, klen);
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  int64_t i = find(d, key, klen, h, NULL);
  if (i >= 0) {
    struct slot s = table(d, d->active)[i];
    write_slot(d, (uint64_t)i, (struct slot){TOMB, 0, 0, 0});
    d->count--;
    d->tombs++;
    mp__arena_free(arena(d), s.off);
  }
  unlock(d);
  return i >= 0 ? 0 : -ENOENT;
}

int mp_dict_contains(mp_dict *dp, const void *key, size_t klen) {
  if (!key || !klen)
    return -EINVAL;
  uint64_t h = hash(key, klen);
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  int found = find(d, key, klen, h, NULL) >= 0;
  unlock(d);
  return found;
}

long mp_dict_len(mp_dict *dp) {
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  long n = (long)d->count;
  unlock(d);
  return n;
}

int mp_dict_clear(mp_dict *dp) {
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  memset(table(d, !d->active), 0, d->nslots * sizeof(struct slot));
  MP__STORE_ORDER();
  d->active = !d->active; /* the commit: an empty table */
  MP__STORE_ORDER();
  mp__crash_point();
  d->count = d->tombs = 0;
  mp__arena_init(arena(d), arena(d)->size);
  unlock(d);
  return 0;
}

int mp_dict_items(mp_dict *dp, mp_dict_item_cb cb, void *ctx) {
  if (!cb)
    return -EINVAL;
  struct dict_state *d;
  int rc = lock(dp, &d);
  if (rc < 0)
    return rc;
  /* Snapshot: {klen, vlen, bytes} records in one buffer. */
  struct slot *t = table(d, d->active);
  size_t size = 0;
  for (uint64_t i = 0; i < d->nslots; i++)
    if (t[i].hash >= 2)
      size += 2 * sizeof(uint32_t) + t[i].klen + t[i].vlen;
  unsigned char *snap = malloc(size ? size : 1), *p = snap;
  if (snap) {
    for (uint64_t i = 0; i < d->nslots; i++) {
      if (t[i].hash < 2)
        continue;
      memcpy(p, &t[i].klen, sizeof(uint32_t));
      memcpy(p + 4, &t[i].vlen, sizeof(uint32_t));
      memcpy(p + 8, block(d, &t[i]), (size_t)t[i].klen + t[i].vlen);
      p += 8 + t[i].klen + t[i].vlen;
    }
  }
  unlock(d);
  if (!snap)
    return -ENOMEM;
  for (unsigned char *q = snap; q < p && rc == 0;) {
    uint32_t kl, vl;
    memcpy(&kl, q, 4);
    memcpy(&vl, q + 4, 4);
    rc = cb(q + 8, kl, q + 8 + kl, vl, ctx);
    q += 8 + kl + vl;
  }
  free(snap);
  return rc;
}

MP__OBJ_LIFECYCLE(mp_dict, mp_dict, MP__KIND_DICT, NULL)

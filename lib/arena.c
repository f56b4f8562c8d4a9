/*
 * lib/arena.c - a small allocator for variable-size blocks inside shared
 * memory: first fit over a free list kept in offset order, neighbours
 * coalesced on free, so churn does not fragment without bound. Offsets
 * only, no pointers. Not locked: the caller holds its object's lock. After
 * a holder died half-way through, mp__arena_rebuild() recreates every
 * header and the free list from the set of live blocks, allocating nothing.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16u
#define HDR 16u      /* block header: size, next free */
#define NONE UINT64_MAX

struct block {
  uint64_t size; /* bytes, header included; low bit: in use */
  uint64_t next; /* free: offset of the next free block, or NONE;
                    in use: the payload length, written once at alloc */
};

static struct block *at(struct mp__arena *a, uint64_t off) {
  return (struct block *)((char *)(a + 1) + off);
}

static uint64_t round_up(uint64_t n) { return (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

void mp__arena_init(struct mp__arena *a, uint64_t size) {
  a->size = size & ~(uint64_t)(ALIGN - 1);
  a->free = 0;
  *at(a, 0) = (struct block){a->size, NONE};
}

uint64_t mp__arena_alloc(struct mp__arena *a, uint64_t len) {
  uint64_t need = round_up(len + HDR);
  if (len > a->size || need > a->size)
    return NONE;
  for (uint64_t prev = NONE, off = a->free; off != NONE;
       prev = off, off = at(a, off)->next) {
    struct block *b = at(a, off);
    if (b->size < need)
      continue;
    uint64_t next = b->next;
    if (b->size - need >= HDR + ALIGN) { /* split: the rest stays free */
      *at(a, off + need) = (struct block){b->size - need, next};
      next = off + need;
      b->size = need;
      mp__crash_point();
    }
    if (prev == NONE)
      a->free = next;
    else
      at(a, prev)->next = next;
    b->size |= 1;
    b->next = len;
    return off + HDR;
  }
  return NONE;
}

uint64_t mp__arena_len(struct mp__arena *a, uint64_t payload) {
  return at(a, payload - HDR)->next;
}

void mp__arena_free(struct mp__arena *a, uint64_t payload) {
  uint64_t off = payload - HDR;
  struct block *b = at(a, off);
  b->size &= ~(uint64_t)1;
  uint64_t prev = NONE, next = a->free;
  while (next != NONE && next < off) {
    prev = next;
    next = at(a, next)->next;
  }
  b->next = next;
  mp__crash_point();
  if (next != NONE && off + b->size == next) { /* merge with the next */
    b->size += at(a, next)->size;
    b->next = at(a, next)->next;
    mp__crash_point();
  }
  if (prev == NONE) {
    a->free = off;
  } else if (prev + at(a, prev)->size == off) { /* merge into the previous */
    at(a, prev)->size += b->size;
    at(a, prev)->next = b->next;
  } else {
    at(a, prev)->next = off;
  }
}

void mp__arena_rebuild(struct mp__arena *a, size_t n,
                       void (*item)(void *ctx, size_t i, uint64_t *payload,
                                    uint64_t *len),
                       void *ctx) {
  a->free = NONE;
  uint64_t pos = 0, last_free = NONE;
  for (size_t i = 0; i <= n; i++) {
    uint64_t payload = 0, len = 0;
    if (i < n)
      item(ctx, i, &payload, &len);
    uint64_t start = i < n ? payload - HDR : a->size;
    if (start > pos) { /* a gap: one free block */
      *at(a, pos) = (struct block){start - pos, NONE};
      if (last_free == NONE)
        a->free = pos;
      else
        at(a, last_free)->next = pos;
      last_free = pos;
    }
    if (i < n) {
      uint64_t size = round_up(len + HDR);
      *at(a, start) = (struct block){size | 1, len};
      pos = start + size;
    }
  }
}

static int by_offset(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

struct kept {
  struct mp__arena *a;
  const uint64_t *off;
};

/* A live block: its length from its header (written once, intact). */
static void kept_block(void *ctx, size_t i, uint64_t *off, uint64_t *len) {
  const struct kept *k = ctx;
  *off = k->off[i];
  *len = mp__arena_len(k->a, k->off[i]);
}

size_t mp__arena_keep(struct mp__arena *a, uint64_t *off, size_t n) {
  qsort(off, n, sizeof *off, by_offset);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (k == 0 || off[i] != off[k - 1])
      off[k++] = off[i];
  mp__arena_rebuild(a, k, kept_block, &(struct kept){a, off});
  return k;
}

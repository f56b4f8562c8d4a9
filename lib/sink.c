/*
 * lib/sink.c - destinations for variable-length reads (queue get, dict
 * get): the caller's buffer, refused with -EMSGSIZE when too small so the
 * data stays where it is, or a fresh malloc'd one.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

void *mp__sink_buf(void *ctx, uint64_t len, int *err) {
  struct mp__sink_buf *b = ctx;
  if (len > b->cap) {
    *err = -EMSGSIZE;
    return NULL;
  }
  return len ? b->buf : (void *)b; /* nothing is copied for 0 bytes */
}

void *mp__sink_alloc(void *ctx, uint64_t len, int *err) {
  if (len > SIZE_MAX) {
    *err = -ENOMEM;
    return NULL;
  }
  void *p = malloc(len ? (size_t)len : 1);
  if (!p)
    *err = -ENOMEM;
  return *(void **)ctx = p;
}

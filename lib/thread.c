/* lib/thread.c - per-thread identity tokens for lock ownership. */
#include "internal.h"

#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>


__thread uint64_t mp__thread_token_ __attribute__((tls_model("initial-exec")));

uint64_t mp__thread_token_slow(void) {
  /* The tid makes the token unique among live threads; 32 random bits keep a
   * dead thread's stale token from matching a new thread that reuses the
   * tid. */
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    r = (uint32_t)mp__now_ns();
  uint64_t t = ((uint64_t)(uint32_t)gettid() << 32) | r;
  mp__thread_token_ = t ? t : 1;
  return mp__thread_token_;
}

/* The forking thread becomes the child's only thread, with a new tid. */
static void token_reset_in_child(void) { mp__thread_token_ = 0; }

MP__SETUP static void thread_setup(void) {
  pthread_atfork(NULL, NULL, token_reset_in_child);
}

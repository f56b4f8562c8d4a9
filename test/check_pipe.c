/* test/check_pipe.c - Pipe and Connection: framing, timeouts, peers that
 * close or die, signals, and the seed examples ("Streaming data using
 * Pipe"). Children report through their exit status. */
#include "tests.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* Both ends of a pipe, for a forked child: it uses `mine`, closes `other`. */
struct ends {
  mp_conn *mine, *other;
  size_t size; /* a message size, for the children that need one */
};

/* Byte i of test message `seed`. */
static unsigned char pattern(size_t i, unsigned seed) {
  return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

static void fill(void *buf, size_t len, unsigned seed) {
  unsigned char *b = buf;
  for (size_t i = 0; i < len; i++)
    b[i] = pattern(i, seed);
}

static bool intact(const void *buf, size_t len, unsigned seed) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < len; i++)
    if (b[i] != pattern(i, seed))
      return false;
  return true;
}

/* FNV-1a, 64-bit. */
static uint64_t checksum(const void *buf, size_t len) {
  const unsigned char *b = buf;
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ b[i]) * 0x100000001b3u;
  return h;
}

/* Write len bytes to a non-blocking fd, bypassing the framing. */
static bool raw_write(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      if (poll(&pf, 1, 10000) != 1)
        return false;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

/* The 8-byte little-endian length prefix of a frame. */
static void put_header(unsigned char h[8], uint64_t len) {
  for (int i = 0; i < 8; i++)
    h[i] = (unsigned char)(len >> (8 * i));
}

static void pipe_ok(int duplex, mp_conn **a, mp_conn **b) {
  ck_rc(mp_pipe(duplex, a, b), 0);
  ck_assert_ptr_nonnull(*a);
  ck_assert_ptr_nonnull(*b);
}

/* Fork fn with e = {mine, other}; the parent closes `mine`. */
static pid_t fork_with(int (*fn)(void *), struct ends *e) {
  pid_t pid = t_fork(fn, e);
  ck_rc(mp_conn_close(e->mine), 0);
  e->mine = NULL;
  return pid;
}

/* Child: echo every message back until the peer closes; 0 then. */
static int echo_child(void *arg) {
  struct ends *e = arg;
  mp_conn_close(e->other);
  for (;;) {
    void *m;
    size_t len;
    int rc = mp_conn_recv_alloc(e->mine, &m, &len, MP_FOREVER);
    if (rc == -EPIPE)
      return 0;
    if (rc)
      return 10;
    rc = mp_conn_send(e->mine, m, len, MP_FOREVER);
    free(m);
    if (rc)
      return 11;
  }
}

/* ---- the seed examples --------------------------------------------------- */

/*
 * Python's documentation:
 *     def f(conn):
 *         conn.send([42, None, 'hello'])
 *         conn.close()
 *     parent_conn, child_conn = Pipe()
 *     p = Process(target=f, args=(child_conn,))
 *     p.start()
 *     print(parent_conn.recv())   # prints "[42, None, 'hello']"
 *     p.join()
 */
static const char hello[] = "[42, None, 'hello']";

static int send_hello(void *arg) {
  mp_conn *conn = arg;
  int rc = mp_conn_send(conn, hello, sizeof hello, MP_FOREVER);
  mp_conn_close(conn);
  return rc ? 1 : 0;
}

static int join_code(mp_process *p) {
  int code = -1000;
  ck_rc(mp_process_join(p, 10.0), 0);
  ck_rc(mp_process_exitcode(p, &code), 0);
  ck_rc(mp_process_close(p), 0);
  return code;
}

START_TEST(seed_child_sends_hello) {
  mp_conn *parent_conn, *child_conn;
  pipe_ok(1, &parent_conn, &child_conn);
  mp_process *p;
  ck_rc(mp_process_create(send_hello, child_conn, NULL, &p), 0);
  ck_rc(mp_process_start(p), 0);
  char buf[64];
  size_t len;
  ck_rc(mp_conn_recv(parent_conn, buf, sizeof buf, &len, 10.0), 0);
  ck_assert_uint_eq(len, sizeof hello);
  ck_assert_str_eq(buf, hello);
  ck_assert_int_eq(join_code(p), 0);
  ck_rc(mp_conn_close(child_conn), 0);
  ck_rc(mp_conn_recv(parent_conn, buf, sizeof buf, &len, 10.0), -EPIPE);
  ck_rc(mp_conn_close(parent_conn), 0);
}
END_TEST

/*
 * "Streaming data using Pipe": a sender and a receiver process.
 *     def sender(conn, msgs):
 *         for msg in msgs:
 *             conn.send(msg)
 *         conn.close()
 *     def receiver(conn):
 *         while 1:
 *             msg = conn.recv()
 *             if msg == "END":
 *                 break
 *             print("Received the message: {}".format(msg))
 *     msgs = ["hello", "hey", "hru?", "END"]
 *     parent_conn, child_conn = Pipe()
 *     p1 = Process(target=sender, args=(parent_conn, msgs))
 *     p2 = Process(target=receiver, args=(child_conn,))
 */
static const char *const msgs[] = {"hello", "hey", "hru?", "END"};

static int sender(void *arg) {
  mp_conn *conn = arg;
  for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
    if (mp_conn_send(conn, msgs[i], strlen(msgs[i]), MP_FOREVER))
      return 1;
  mp_conn_close(conn);
  return 0;
}

/* Exits with the number of messages received before "END", plus 100 for
 * any that was not the one expected. */
static int receiver(void *arg) {
  mp_conn *conn = arg;
  int got = 0, wrong = 0;
  for (;;) {
    char msg[16];
    size_t len;
    if (mp_conn_recv(conn, msg, sizeof msg - 1, &len, MP_FOREVER))
      return 99;
    msg[len] = '\0';
    if (strcmp(msg, "END") == 0)
      break;
    if (got >= 3 || strcmp(msg, msgs[got]) != 0)
      wrong = 100;
    got++;
  }
  return got + wrong;
}

START_TEST(seed_sender_receiver) {
  mp_conn *parent_conn, *child_conn;
  pipe_ok(1, &parent_conn, &child_conn);
  mp_process *p1, *p2;
  ck_rc(mp_process_create(sender, parent_conn, NULL, &p1), 0);
  ck_rc(mp_process_create(receiver, child_conn, NULL, &p2), 0);
  ck_rc(mp_process_start(p1), 0);
  ck_rc(mp_process_start(p2), 0);
  ck_rc(mp_conn_close(parent_conn), 0);
  ck_rc(mp_conn_close(child_conn), 0);
  ck_assert_int_eq(join_code(p1), 0);
  ck_assert_int_eq(join_code(p2), 3);
}
END_TEST

/* Streaming with Pipe(duplex=False): the child sends the squares of
 * 1..N and closes; the parent reads until the peer's close (-EPIPE). */
enum { NSQUARES = 20000 };

static int stream_squares(void *arg) {
  struct ends *e = arg;
  mp_conn_close(e->other);
  for (int64_t i = 1; i <= NSQUARES; i++) {
    int64_t sq = i * i;
    if (mp_conn_send(e->mine, &sq, sizeof sq, MP_FOREVER))
      return 1;
  }
  return 0;
}

START_TEST(seed_stream_one_way) {
  mp_conn *r, *w;
  pipe_ok(0, &r, &w);
  struct ends e = {w, r, 0};
  pid_t pid = fork_with(stream_squares, &e);
  int64_t n = 0, sum = 0, sq;
  size_t len;
  int rc;
  while ((rc = mp_conn_recv(r, &sq, sizeof sq, &len, 10.0)) == 0) {
    ck_assert_uint_eq(len, sizeof sq);
    n++;
    ck_assert_int_eq(sq, n * n);
    sum += sq;
  }
  ck_rc(rc, -EPIPE);
  ck_assert_int_eq(n, NSQUARES);
  ck_assert_int_eq(sum,
                   (int64_t)NSQUARES * (NSQUARES + 1) * (2 * NSQUARES + 1) / 6);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_conn_close(r), 0);
}
END_TEST

/* ---- basics -------------------------------------------------------------- */

START_TEST(duplex_both_ways) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  ck_assert_int_ge(mp_conn_fileno(a), 0);
  ck_assert_int_ne(mp_conn_fileno(a), mp_conn_fileno(b));
  char buf[16];
  size_t len;
  ck_rc(mp_conn_send(a, "ping", 4, 0), 0);
  ck_rc(mp_conn_send(b, "pong!", 5, 0), 0);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 4);
  ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
  ck_rc(mp_conn_recv(a, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 5);
  ck_assert_int_eq(memcmp(buf, "pong!", 5), 0);
  ck_rc(mp_conn_recv(a, buf, sizeof buf, &len, 0), -EAGAIN);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), -EAGAIN);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

START_TEST(one_way_directions) {
  mp_conn *r, *w;
  pipe_ok(0, &r, &w);
  char buf[8];
  size_t len;
  void *m;
  ck_rc(mp_conn_send(r, "x", 1, 0), -EBADF);
  ck_rc(mp_conn_recv(w, buf, sizeof buf, &len, 0), -EBADF);
  ck_rc(mp_conn_recv_alloc(w, &m, &len, 0), -EBADF);
  ck_rc(mp_conn_poll(w, 0), -EBADF);
  ck_rc(mp_conn_poll(r, 0), -EAGAIN);
  ck_rc(mp_conn_send(w, "one", 3, 0), 0);
  ck_rc(mp_conn_poll(r, 0), 0);
  ck_rc(mp_conn_recv(r, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 3);
  ck_assert_int_eq(memcmp(buf, "one", 3), 0);
  ck_rc(mp_conn_close(w), 0);
  ck_rc(mp_conn_recv(r, buf, sizeof buf, &len, 0), -EPIPE);
  ck_rc(mp_conn_close(r), 0);
}
END_TEST

START_TEST(zero_length_messages) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  char buf[4] = "abc";
  size_t len = 99;
  void *m = NULL;
  ck_rc(mp_conn_send(a, NULL, 0, 0), 0);
  ck_rc(mp_conn_send(a, buf, 0, 0), 0);
  ck_rc(mp_conn_send(a, NULL, 0, 0), 0);
  ck_rc(mp_conn_recv(b, NULL, 0, &len, 0), 0);
  ck_assert_uint_eq(len, 0);
  len = 99;
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 0);
  ck_assert_str_eq(buf, "abc"); /* untouched */
  ck_rc(mp_conn_recv_alloc(b, &m, &len, 0), 0);
  ck_assert_ptr_nonnull(m);
  ck_assert_uint_eq(len, 0);
  free(m);
  ck_rc(mp_conn_recv(b, NULL, 0, &len, 0), -EAGAIN);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

/* Sizes around the frame boundaries (a short frame is padded to 256 bytes,
 * 248 of them body) and beyond one socket buffer, echoed by a child. */
static const size_t sizes[] = {0,    1,     7,     8,      9,       247,
                               248,  249,   255,   256,    257,     1000,
                               4096, 65535, 65536, 212993, 1 << 20, 3};

START_TEST(sizes_round_trip) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  struct ends e = {b, a, 0};
  pid_t pid = fork_with(echo_child, &e);
  unsigned char *out = malloc(1 << 20), *in = malloc((1 << 20) + 1);
  ck_assert(out && in);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t len;
    fill(out, sizes[i], (unsigned)i);
    ck_rc(mp_conn_send(a, out, sizes[i], 10.0), 0);
    memset(in, 0xee, sizes[i] + 1);
    ck_rc(mp_conn_recv(a, in, 1 << 20, &len, 10.0), 0);
    ck_assert_uint_eq(len, sizes[i]);
    ck_assert(intact(in, len, (unsigned)i));
    ck_assert_int_eq(in[len], 0xee); /* nothing written past the message */
  }
  /* Many in flight at once: sent back to back, then all received. */
  for (size_t i = 0; i < 10; i++) {
    fill(out, sizes[i], (unsigned)i);
    ck_rc(mp_conn_send(a, out, sizes[i], 10.0), 0);
  }
  for (size_t i = 0; i < 10; i++) {
    size_t len;
    ck_rc(mp_conn_recv(a, in, 1 << 20, &len, 10.0), 0);
    ck_assert_uint_eq(len, sizes[i]);
    ck_assert(intact(in, len, (unsigned)i));
  }
  ck_rc(mp_conn_close(a), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  free(out);
  free(in);
}
END_TEST

/* A buffer too small: -EMSGSIZE and the size, and the message stays. */
START_TEST(too_small_keeps_message) {
  static const size_t lens[] = {100, 248, 5000};
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  for (size_t i = 0; i < 3; i++) {
    char small[10], big[5000];
    size_t len = 0;
    fill(big, lens[i], 7);
    ck_rc(mp_conn_send(a, big, lens[i], 0), 0);
    memset(big, 0, sizeof big);
    ck_rc(mp_conn_recv(b, small, sizeof small, &len, 0), -EMSGSIZE);
    ck_assert_uint_eq(len, lens[i]);
    ck_rc(mp_conn_recv(b, NULL, 0, &len, 0), -EMSGSIZE);
    ck_assert_uint_eq(len, lens[i]);
    ck_rc(mp_conn_poll(b, 0), 0); /* still there, if only in the handle */
    ck_rc(mp_conn_send(a, "next", 4, 0), 0);
    ck_rc(mp_conn_recv(b, big, lens[i], &len, 0), 0);
    ck_assert_uint_eq(len, lens[i]);
    ck_assert(intact(big, len, 7));
    ck_rc(mp_conn_recv(b, small, sizeof small, &len, 0), 0);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(small, "next", 4), 0);
  }
  /* recv_alloc takes a message a small buffer refused. */
  char big[300];
  fill(big, sizeof big, 9);
  ck_rc(mp_conn_send(b, big, sizeof big, 0), 0);
  char small[10];
  size_t len;
  void *m;
  ck_rc(mp_conn_recv(a, small, sizeof small, &len, 0), -EMSGSIZE);
  ck_rc(mp_conn_recv_alloc(a, &m, &len, 0), 0);
  ck_assert_uint_eq(len, sizeof big);
  ck_assert(intact(m, len, 9));
  free(m);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

START_TEST(recv_alloc_sizes) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  struct ends e = {b, a, 0};
  pid_t pid = fork_with(echo_child, &e);
  unsigned char *out = malloc(1 << 20);
  ck_assert_ptr_nonnull(out);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *m = NULL;
    size_t len = 12345;
    fill(out, sizes[i], (unsigned)i);
    ck_rc(mp_conn_send(a, out, sizes[i], 10.0), 0);
    ck_rc(mp_conn_recv_alloc(a, &m, &len, 10.0), 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(len, sizes[i]);
    ck_assert(intact(m, len, (unsigned)i));
    free(m);
  }
  ck_rc(mp_conn_close(a), 0);
  ck_assert_int_eq(t_wait(pid), 0);
  free(out);
}
END_TEST

/* ---- timeouts ------------------------------------------------------------ */

START_TEST(poll_and_recv_timeouts) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  char buf[8];
  size_t len;
  void *m;
  ck_rc(mp_conn_poll(b, 0), -EAGAIN);
  double t0 = t_now();
  ck_rc(mp_conn_poll(b, 0.2), -ETIMEDOUT);
  double dt = t_now() - t0;
  ck_assert_double_ge(dt, 0.2);
  ck_assert_double_lt(dt, 1.0);
  t0 = t_now();
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0.2), -ETIMEDOUT);
  dt = t_now() - t0;
  ck_assert_double_ge(dt, 0.2);
  ck_assert_double_lt(dt, 1.0);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), -EAGAIN);
  ck_rc(mp_conn_recv_alloc(b, &m, &len, 0), -EAGAIN);
  ck_rc(mp_conn_recv_alloc(b, &m, &len, 0.05), -ETIMEDOUT);
  ck_rc(mp_conn_send(a, "x", 1, 0), 0);
  ck_rc(mp_conn_poll(b, 0), 0);
  ck_rc(mp_conn_poll(b, MP_FOREVER), 0);
  ck_rc(mp_conn_poll(b, 1e12), 0); /* beyond MP_TIMEOUT_MAX: forever */
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 1e12), 0);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

/* A send that cannot start (the socket buffer is full) changes nothing;
 * one that stops half-way cuts the stream: later sends are -EPIPE and the
 * peer sees the close instead of waiting for the rest. */
START_TEST(send_timeouts) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  char msg[100];
  int n, rc;
  for (n = 0;; n++) {
    fill(msg, sizeof msg, (unsigned)n);
    if ((rc = mp_conn_send(a, msg, sizeof msg, 0)) != 0)
      break;
    ck_assert_int_lt(n, 1000000);
  }
  ck_rc(rc, -EAGAIN);
  ck_assert_int_gt(n, 10);
  double t0 = t_now();
  ck_rc(mp_conn_send(a, msg, sizeof msg, 0.1), -ETIMEDOUT);
  ck_assert_double_ge(t_now() - t0, 0.1);
  /* Every message sent is there, whole; then the stream goes on. */
  for (int i = 0; i < n; i++) {
    char in[100];
    size_t len;
    ck_rc(mp_conn_recv(b, in, sizeof in, &len, 0), 0);
    ck_assert_uint_eq(len, sizeof in);
    ck_assert(intact(in, len, (unsigned)i));
  }
  ck_rc(mp_conn_send(a, "ok", 2, 0), 0);
  ck_rc(mp_conn_recv(b, msg, sizeof msg, &(size_t){0}, 0), 0);

  /* 8 MiB with nobody reading: part of it goes out, then the time is up. */
  size_t big = (size_t)8 << 20;
  char *m = calloc(1, big);
  ck_assert_ptr_nonnull(m);
  ck_rc(mp_conn_send(a, m, big, 0.1), -ETIMEDOUT);
  ck_rc(mp_conn_send(a, "x", 1, 0), -EPIPE);
  ck_rc(mp_conn_send(a, "x", 1, MP_FOREVER), -EPIPE);
  size_t len;
  ck_rc(mp_conn_recv(b, m, big, &len, 5.0), -EPIPE);
  /* The other direction still works. */
  ck_rc(mp_conn_send(b, "back", 4, 0), 0);
  ck_rc(mp_conn_recv(a, msg, sizeof msg, &len, 0), 0);
  ck_assert_uint_eq(len, 4);
  free(m);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

/* A receive that times out mid-message keeps what it read. The child
 * writes one frame in three parts by hand: 5 header bytes, the rest of the
 * header with some of the body, the rest of the body; the parent tries to
 * receive (0.2 s) after each of the first two. _i: which calls the parent
 * uses, bit 0 for the timed-out ones and bit 1 for the last (recv_alloc
 * when set). */
enum { MID_LEN = 300000, MID_PART = 100000 };

struct parts {
  int go;    /* the child reads "go" from it */
  int ready; /* and writes "ready" to it */
  struct ends e;
};

static int write_in_parts(void *arg) {
  struct parts *p = arg;
  mp_conn_close(p->e.other);
  int fd = mp_conn_fileno(p->e.mine);
  unsigned char *msg = malloc(8 + MID_LEN);
  if (!msg)
    return 1;
  put_header(msg, MID_LEN);
  fill(msg + 8, MID_LEN, 42);
  size_t cut[] = {0, 5, 8 + MID_PART, 8 + MID_LEN};
  for (int i = 0; i < 3; i++) {
    if (i > 0 && !t_recv(p->go))
      return 2;
    if (!raw_write(fd, msg + cut[i], cut[i + 1] - cut[i]))
      return 3;
    if (i < 2) /* the last part needs the parent reading: no "ready" */
      t_send(p->ready);
  }
  free(msg);
  return t_recv(p->go) ? 0 : 4; /* stay until the parent is done */
}

static int recv_either(mp_conn *c, bool alloc, unsigned char *buf, size_t cap,
                       size_t *len, double timeout) {
  if (!alloc)
    return mp_conn_recv(c, buf, cap, len, timeout);
  void *m = NULL;
  int rc = mp_conn_recv_alloc(c, &m, len, timeout);
  if (rc == 0) {
    memcpy(buf, m, *len);
    free(m);
  }
  return rc;
}

START_TEST(recv_timeout_mid_message) {
  bool alloc_first = _i & 1, alloc_last = _i & 2;
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  int go[2], ready[2];
  t_pipe(go);
  t_pipe(ready);
  struct parts arg = {go[0], ready[1], {b, a, 0}};
  pid_t pid = t_fork(write_in_parts, &arg);
  ck_rc(mp_conn_close(b), 0);
  unsigned char *buf = malloc(MID_LEN), *other = malloc(MID_LEN);
  ck_assert(buf && other);
  size_t len = 0;
  for (int part = 0; part < 2; part++) {
    ck_assert(t_recv(ready[0]));
    double t0 = t_now();
    ck_rc(recv_either(a, alloc_first, buf, MID_LEN, &len, 0.2), -ETIMEDOUT);
    ck_assert_double_ge(t_now() - t0, 0.2);
    memset(buf, 0, MID_LEN); /* the caller's buffer is not the store */
    ck_rc(mp_conn_poll(a, 0), -EAGAIN); /* nothing new arrived */
    t_send(go[1]);
  }
  ck_rc(mp_conn_poll(a, 5.0), 0);
  ck_rc(recv_either(a, alloc_last, other, MID_LEN, &len, 5.0), 0);
  ck_assert_uint_eq(len, MID_LEN);
  ck_assert(intact(other, len, 42));
  ck_rc(mp_conn_recv(a, buf, MID_LEN, &len, 0), -EAGAIN);
  t_send(go[1]);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_conn_recv(a, buf, MID_LEN, &len, 0), -EPIPE);
  ck_rc(mp_conn_close(a), 0);
  free(buf);
  free(other);
  close(go[0]);
  close(go[1]);
  close(ready[0]);
  close(ready[1]);
}
END_TEST

/* ---- peers that close or die --------------------------------------------- */

START_TEST(peer_closed) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  for (int i = 0; i < 3; i++)
    ck_rc(mp_conn_send(a, &i, sizeof i, 0), 0);
  ck_rc(mp_conn_close(a), 0);
  for (int i = 0; i < 3; i++) {
    int v;
    size_t len;
    ck_rc(mp_conn_recv(b, &v, sizeof v, &len, 0), 0);
    ck_assert_int_eq(v, i);
  }
  size_t len;
  char buf[4];
  void *m;
  ck_rc(mp_conn_poll(b, 0), 0); /* the close is something to receive */
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, MP_FOREVER), -EPIPE);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), -EPIPE);
  ck_rc(mp_conn_recv_alloc(b, &m, &len, MP_FOREVER), -EPIPE);
  ck_rc(mp_conn_poll(b, MP_FOREVER), 0);
  /* No SIGPIPE: this process would die of it. */
  ck_rc(mp_conn_send(b, "x", 1, 0), -EPIPE);
  ck_rc(mp_conn_send(b, "x", 1, MP_FOREVER), -EPIPE);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

/* The receiver closes with messages unread: the sender gets -EPIPE. */
START_TEST(send_to_closed_peer) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  ck_rc(mp_conn_send(a, "unread", 6, 0), 0);
  ck_rc(mp_conn_send(b, "unread", 6, 0), 0);
  ck_rc(mp_conn_close(b), 0);
  ck_rc(mp_conn_send(a, "x", 1, 0), -EPIPE);
  ck_rc(mp_conn_send(a, "x", 1, 1.0), -EPIPE);
  /* What b sent before it closed still arrives. */
  char buf[8];
  size_t len;
  ck_rc(mp_conn_recv(a, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 6);
  ck_rc(mp_conn_recv(a, buf, sizeof buf, &len, 0), -EPIPE);
  ck_rc(mp_conn_close(a), 0);
}
END_TEST

/* The child writes a header announcing 1 MiB and 100 KiB of body by hand,
 * then SIGKILLs itself while the parent waits for the rest. */
static int die_mid_message(void *arg) {
  struct ends *e = arg;
  mp_conn_close(e->other);
  size_t part = 100 << 10;
  unsigned char *msg = malloc(8 + part);
  if (!msg)
    return 1;
  put_header(msg, 1 << 20);
  fill(msg + 8, part, 1);
  if (!raw_write(mp_conn_fileno(e->mine), msg, 8 + part))
    return 2;
  usleep(100000);
  kill(getpid(), SIGKILL);
  return 3;
}

START_TEST(peer_killed_mid_message) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  struct ends e = {b, a, 0};
  pid_t pid = fork_with(die_mid_message, &e);
  void *m = NULL;
  size_t len;
  ck_rc(mp_conn_recv_alloc(a, &m, &len, MP_FOREVER), -EPIPE);
  ck_assert_ptr_null(m);
  ck_assert_int_eq(t_wait(pid), -SIGKILL);
  ck_rc(mp_conn_recv_alloc(a, &m, &len, MP_FOREVER), -EPIPE);
  ck_rc(mp_conn_close(a), 0);
}
END_TEST

/* The child blocks in a send of 8 MiB nobody reads and is killed. */
static int send_big(void *arg) {
  struct ends *e = arg;
  mp_conn_close(e->other);
  size_t big = (size_t)8 << 20;
  char *m = calloc(1, big);
  return m && mp_conn_send(e->mine, m, big, MP_FOREVER) == 0 ? 0 : 1;
}

START_TEST(sender_killed_mid_message) {
  mp_conn *a, *b;
  pipe_ok(0, &a, &b);
  struct ends e = {b, a, 0};
  pid_t pid = fork_with(send_big, &e);
  ck_assert(t_wait_sleeping(pid));
  ck_rc(mp_conn_poll(a, 5.0), 0);
  t_kill(pid);
  size_t big = (size_t)8 << 20, len;
  char *m = malloc(big);
  ck_assert_ptr_nonnull(m);
  ck_rc(mp_conn_recv(a, m, big, &len, MP_FOREVER), -EPIPE);
  free(m);
  ck_rc(mp_conn_close(a), 0);
}
END_TEST

/* A header no mproc sender writes: more than MP_CONN_MSG_MAX bytes. */
START_TEST(corrupt_header) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  unsigned char frame[256] = {0};
  put_header(frame, MP_CONN_MSG_MAX + 1);
  ck_assert(raw_write(mp_conn_fileno(a), frame, sizeof frame));
  char buf[8];
  size_t len;
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 1.0), -EMSGSIZE);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 1.0), -EPIPE);
  ck_rc(mp_conn_poll(b, 0), 0);
  /* The stream is closed for the sender too. */
  ck_rc(mp_conn_send(a, "x", 1, 1.0), -EPIPE);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

/* ---- big messages, signals, threads, wait -------------------------------- */

/* Child: receive one message, send back its checksum and then the message. */
static int checksum_echo(void *arg) {
  struct ends *e = arg;
  mp_conn_close(e->other);
  void *m;
  size_t len;
  if (mp_conn_recv_alloc(e->mine, &m, &len, 20.0))
    return 1;
  if (len != e->size)
    return 2;
  uint64_t sum = checksum(m, len);
  if (mp_conn_send(e->mine, &sum, sizeof sum, 20.0) ||
      mp_conn_send(e->mine, m, len, 20.0))
    return 3;
  free(m);
  return 0;
}

START_TEST(big_message_round_trip) {
  /* valgrind is too slow to check 64 MiB within the time limit. */
  size_t big = (size_t)(t_instrumented() ? 8 : 64) << 20;
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  struct ends e = {b, a, big};
  pid_t pid = fork_with(checksum_echo, &e);
  unsigned char *out = malloc(big), *in = malloc(big);
  ck_assert(out && in);
  fill(out, big, 5);
  ck_rc(mp_conn_send(a, out, big, 20.0), 0);
  uint64_t sum;
  size_t len;
  ck_rc(mp_conn_recv(a, &sum, sizeof sum, &len, 20.0), 0);
  ck_assert(sum == checksum(out, big));
  ck_rc(mp_conn_recv(a, in, big, &len, 20.0), 0);
  ck_assert_uint_eq(len, big);
  ck_assert(memcmp(in, out, big) == 0);
  ck_assert_int_eq(t_wait(pid), 0);
  ck_rc(mp_conn_close(a), 0);
  free(out);
  free(in);
}
END_TEST

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

/* Child: on "go", wait 0.3 s, then send e.size bytes. */
static int send_late(void *arg) {
  struct parts *p = arg;
  mp_conn_close(p->e.other);
  unsigned char *m = malloc(p->e.size);
  if (!m)
    return 1;
  fill(m, p->e.size, 3);
  if (!t_recv(p->go))
    return 2;
  usleep(300000);
  int rc = mp_conn_send(p->e.mine, m, p->e.size, 10.0);
  free(m);
  return rc ? 3 : 0;
}

/* SIGALRM every 5 ms, without SA_RESTART: waits go on with the time left.
 * The child is forked before the timer starts: a fork that takes longer
 * than the interval would be restarted for ever. Under valgrind, 20 ms: its
 * checks before a 4 MiB recv() take longer than 5 ms, and it restarts them
 * on every signal. */
START_TEST(signals_do_not_break_waits) {
  size_t size = (size_t)4 << 20, len;
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  int go[2];
  t_pipe(go);
  struct parts arg = {go[0], -1, {b, a, size}};
  pid_t pid = t_fork(send_late, &arg);
  ck_rc(mp_conn_close(b), 0);
  unsigned char *m = malloc(size);
  ck_assert_ptr_nonnull(m);

  struct sigaction sa = {.sa_handler = on_alarm}, old;
  sigemptyset(&sa.sa_mask);
  ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
  long us = t_instrumented() ? 20000 : 5000;
  struct itimerval it = {{0, us}, {0, us}}, off = {{0, 0}, {0, 0}};
  ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
  double t0 = t_now();
  ck_rc(mp_conn_recv(a, m, size, &len, 0.3), -ETIMEDOUT);
  ck_assert_double_ge(t_now() - t0, 0.3);
  ck_rc(mp_conn_poll(a, 0.1), -ETIMEDOUT);
  t_send(go[1]);
  ck_rc(mp_conn_recv(a, m, size, &len, MP_FOREVER), 0);
  ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
  ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
  ck_assert_uint_eq(len, size);
  ck_assert(intact(m, len, 3));
  ck_assert_int_gt(alarms, 10);
  ck_assert_int_eq(t_wait(pid), 0);
  free(m);
  ck_rc(mp_conn_close(a), 0);
  close(go[0]);
  close(go[1]);
}
END_TEST

/* One thread sends while another receives on the same handle, the child
 * echoing: a Connection's two directions are independent. */
enum { NTHREAD_MSGS = 5000 };

static void *send_many(void *arg) {
  mp_conn *c = arg;
  char m[600];
  for (int i = 0; i < NTHREAD_MSGS; i++) {
    size_t len = (size_t)(i * 7) % sizeof m;
    fill(m, len, (unsigned)i);
    if (mp_conn_send(c, m, len, 10.0))
      return (void *)1;
  }
  return NULL;
}

START_TEST(send_and_recv_in_two_threads) {
  mp_conn *a, *b;
  pipe_ok(1, &a, &b);
  struct ends e = {b, a, 0};
  pid_t pid = fork_with(echo_child, &e);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, send_many, a), 0);
  int bad = 0;
  for (int i = 0; i < NTHREAD_MSGS; i++) {
    char m[600];
    size_t len;
    if (mp_conn_recv(a, m, sizeof m, &len, 10.0) != 0 ||
        len != (size_t)(i * 7) % sizeof m || !intact(m, len, (unsigned)i))
      bad++;
  }
  void *ret;
  ck_assert_int_eq(pthread_join(t, &ret), 0);
  ck_assert_ptr_null(ret);
  ck_assert_int_eq(bad, 0);
  ck_rc(mp_conn_close(a), 0);
  ck_assert_int_eq(t_wait(pid), 0);
}
END_TEST

/* Child: wait for "go", then send two messages on conns[1] of three. */
static int send_on_second(void *arg) {
  void **v = arg;
  int *go = v[0];
  mp_conn **w = v[1];
  if (!t_recv(go[0]))
    return 1;
  if (mp_conn_send(w[1], "first", 5, 5.0) ||
      mp_conn_send(w[1], "second", 6, 5.0))
    return 2;
  return t_recv(go[0]) ? 0 : 3;
}

START_TEST(wait_on_several) {
  mp_conn *r[3], *w[3];
  int fds[3], go[2];
  for (int i = 0; i < 3; i++) {
    pipe_ok(0, &r[i], &w[i]);
    fds[i] = mp_conn_fileno(r[i]);
  }
  t_pipe(go);
  void *arg[2] = {go, w};
  pid_t pid = t_fork(send_on_second, arg);
  unsigned char ready[3] = {9, 9, 9};
  ck_rc(mp_wait(fds, 3, 0, ready), -EAGAIN);
  ck_rc(mp_wait(fds, 3, 0.1, ready), -ETIMEDOUT);
  t_send(go[1]);
  ck_rc(mp_wait(fds, 3, 5.0, ready), 1);
  ck_assert(ready[0] == 0 && ready[1] == 1 && ready[2] == 0);
  char buf[8];
  size_t len;
  ck_rc(mp_conn_recv(r[1], buf, sizeof buf, &len, 5.0), 0);
  ck_assert_uint_eq(len, 5);
  /* The second message is still in the kernel, not in the handle: the
   * descriptor polls readable. */
  ck_rc(mp_conn_poll(r[1], 5.0), 0);
  ck_rc(mp_wait(fds, 3, 5.0, ready), 1);
  ck_assert(ready[0] == 0 && ready[1] == 1 && ready[2] == 0);
  ck_rc(mp_conn_recv(r[1], buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 6);
  ck_rc(mp_wait(fds, 3, 0, ready), -EAGAIN);
  t_send(go[1]);
  ck_assert_int_eq(t_wait(pid), 0);
  for (int i = 0; i < 3; i++) {
    ck_rc(mp_conn_close(w[i]), 0);
    ck_rc(mp_conn_close(r[i]), 0);
  }
  close(go[0]);
  close(go[1]);
}
END_TEST

/* ---- bad input ----------------------------------------------------------- */

START_TEST(bad_input) {
  mp_conn *a = NULL, *b = NULL;
  ck_rc(mp_pipe(1, NULL, &b), -EINVAL);
  ck_rc(mp_pipe(1, &a, NULL), -EINVAL);
  pipe_ok(1, &a, &b);
  char buf[8];
  size_t len;
  void *m;
  ck_rc(mp_conn_send(NULL, buf, 1, 0), -EINVAL);
  ck_rc(mp_conn_send(a, NULL, 1, 0), -EINVAL);
  ck_rc(mp_conn_send(a, buf, 1, NAN), -EINVAL);
  ck_rc(mp_conn_send(a, buf, (size_t)MP_CONN_MSG_MAX + 1, 0), -EMSGSIZE);
  ck_rc(mp_conn_recv(NULL, buf, sizeof buf, &len, 0), -EINVAL);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, NULL, 0), -EINVAL);
  ck_rc(mp_conn_recv(b, NULL, 1, &len, 0), -EINVAL);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, NAN), -EINVAL);
  ck_rc(mp_conn_recv_alloc(NULL, &m, &len, 0), -EINVAL);
  ck_rc(mp_conn_recv_alloc(b, NULL, &len, 0), -EINVAL);
  ck_rc(mp_conn_recv_alloc(b, &m, NULL, 0), -EINVAL);
  ck_rc(mp_conn_recv_alloc(b, &m, &len, NAN), -EINVAL);
  ck_rc(mp_conn_poll(NULL, 0), -EINVAL);
  ck_rc(mp_conn_poll(b, NAN), -EINVAL);
  ck_rc(mp_conn_fileno(NULL), -EINVAL);
  ck_rc(mp_conn_close(NULL), 0);
  /* None of that sent or broke anything. */
  ck_rc(mp_conn_poll(b, 0), -EAGAIN);
  ck_rc(mp_conn_send(a, "ok", 2, 0), 0);
  ck_rc(mp_conn_recv(b, buf, sizeof buf, &len, 0), 0);
  ck_assert_uint_eq(len, 2);
  ck_rc(mp_conn_close(a), 0);
  ck_rc(mp_conn_close(b), 0);
}
END_TEST

Suite *pipe_suite(void) {
  Suite *s = suite_create("pipe");
  TCase *te = tcase_create("examples");
  tcase_set_timeout(te, T_TIMEOUT);
  tcase_add_test(te, seed_child_sends_hello);
  tcase_add_test(te, seed_sender_receiver);
  tcase_add_test(te, seed_stream_one_way);
  suite_add_tcase(s, te);
  TCase *tb = tcase_create("basics");
  tcase_set_timeout(tb, T_TIMEOUT);
  tcase_add_test(tb, duplex_both_ways);
  tcase_add_test(tb, one_way_directions);
  tcase_add_test(tb, zero_length_messages);
  tcase_add_test(tb, sizes_round_trip);
  tcase_add_test(tb, too_small_keeps_message);
  tcase_add_test(tb, recv_alloc_sizes);
  tcase_add_test(tb, bad_input);
  suite_add_tcase(s, tb);
  TCase *tt = tcase_create("timeouts");
  tcase_set_timeout(tt, T_TIMEOUT);
  tcase_add_test(tt, poll_and_recv_timeouts);
  tcase_add_test(tt, send_timeouts);
  tcase_add_loop_test(tt, recv_timeout_mid_message, 0, 4);
  tcase_add_test(tt, signals_do_not_break_waits);
  suite_add_tcase(s, tt);
  TCase *tp = tcase_create("peers");
  tcase_set_timeout(tp, T_TIMEOUT);
  tcase_add_test(tp, peer_closed);
  tcase_add_test(tp, send_to_closed_peer);
  tcase_add_test(tp, peer_killed_mid_message);
  tcase_add_test(tp, sender_killed_mid_message);
  tcase_add_test(tp, corrupt_header);
  suite_add_tcase(s, tp);
  TCase *tx = tcase_create("transfer");
  tcase_set_timeout(tx, T_TIMEOUT);
  tcase_add_test(tx, big_message_round_trip);
  tcase_add_test(tx, send_and_recv_in_two_threads);
  tcase_add_test(tx, wait_on_several);
  suite_add_tcase(s, tx);
  return s;
}

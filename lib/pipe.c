/*
 * lib/pipe.c - mp_pipe and mp_conn, Python's Pipe and Connection: byte
 * messages over a UNIX stream socketpair (non-blocking, close-on-exec);
 * every wait is a ppoll() bounded by the caller's deadline.
 *
 * Frame: an 8-byte little-endian body length, the body, then zeros up to
 * FRAME_MIN bytes when the body is short. As every frame is at least
 * FRAME_MIN bytes long, a receiver may always ask the kernel for FRAME_MIN
 * bytes (the "head") without reading into the next message:
 *  - a message of up to HEAD_BODY bytes costs one sendmsg() and one recv();
 *  - a longer one costs one more recv() per socket-buffer load, straight
 *    into the caller's buffer;
 *  - nothing past the current message is ever held in the handle, so the
 *    descriptor polls readable whenever a message is waiting (mp_wait).
 *
 * A receive that stops half-way (a timeout, or any error but the peer's
 * close) keeps the head in the handle and the body bytes read so far in
 * `pend`, a heap buffer the next receive continues (recv_alloc hands it
 * over whole). A send that stops half-way shuts the stream down for
 * sending, so the peer sees a close rather than waiting for the rest.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HDR 8                       /* length prefix */
#define FRAME_MIN 256               /* shortest frame, padding included */
#define HEAD_BODY (FRAME_MIN - HDR) /* body bytes that travel in the head */
#define NS_PER_S 1000000000LL

struct mp_conn {
  int fd;
  bool can_send, can_recv; /* fixed at creation */
  /* Sending side (one thread at a time). */
  bool send_broken; /* a send stopped half-way: the stream is cut */
  /* Receiving side (one thread at a time). */
  bool recv_broken;    /* the peer closed, or a corrupt header came */
  size_t head_got;     /* bytes of head[] received */
  size_t tail_got;     /* body bytes after the head received, kept in pend
                          between calls */
  unsigned char *pend; /* body buffer kept across calls, or NULL; the tail
                          bytes sit at their body offsets */
  size_t pend_cap;     /* its size */
  unsigned char head[FRAME_MIN];
};

static void put_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* The errno of a failed socket call as an mproc code. */
static int sock_err(int e) {
  switch (e) {
  case EPIPE:
  case ECONNRESET:
  case ENOTCONN:
    return -EPIPE;
  case ENOBUFS:
    return -ENOMEM;
  default:
    return -e;
  }
}

/*
 * Wait until fd polls for events (or hangs up) before deadline d. tried:
 * the caller just found the operation would block, so a passed deadline
 * needs no further look. 0, -EAGAIN (timeout 0), -ETIMEDOUT, -EBADF, -errno.
 */
static int wait_fd(int fd, short events, const mp__deadline *d, double timeout,
                   bool tried) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int64_t left = mp__deadline_left_ns(d);
    if (left == 0 && tried)
      return timeout == 0 ? -EAGAIN : -ETIMEDOUT;
    struct timespec ts = {(time_t)(left / NS_PER_S), (long)(left % NS_PER_S)};
    int n = ppoll(&p, 1, d->forever ? NULL : &ts, NULL);
    if (n > 0)
      return p.revents & POLLNVAL ? -EBADF : 0;
    if (n < 0 && errno != EINTR)
      return -errno;
    tried = true; /* nothing yet: the next pass ends when the time is up */
  }
}

/* ---- creation and teardown ----------------------------------------------- */

static mp_conn *conn_new(int fd, bool can_recv, bool can_send) {
  mp_conn *c = calloc(1, sizeof *c);
  if (c) {
    c->fd = fd;
    c->can_recv = can_recv;
    c->can_send = can_send;
  }
  return c;
}

int mp_pipe(int duplex, mp_conn **a, mp_conn **b) {
  if (!a || !b)
    return -EINVAL;
  *a = *b = NULL;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) <
      0)
    return sock_err(errno);
  mp_conn *x = conn_new(sv[0], true, duplex != 0);
  mp_conn *y = conn_new(sv[1], duplex != 0, true);
  if (!x || !y) {
    free(x);
    free(y);
    close(sv[0]);
    close(sv[1]);
    return -ENOMEM;
  }
  if (!duplex) { /* Pipe(False): *a only receives, *b only sends */
    shutdown(sv[0], SHUT_WR);
    shutdown(sv[1], SHUT_RD);
  }
  *a = x;
  *b = y;
  return 0;
}

int mp_conn_fileno(const mp_conn *c) { return c ? c->fd : -EINVAL; }

int mp_conn_close(mp_conn *c) {
  if (!c)
    return 0;
  close(c->fd);
  free(c->pend);
  free(c);
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

/* Drop the first n bytes of the iovec array *iov (of *cnt entries). */
static void iov_advance(struct iovec **iov, size_t *cnt, size_t n) {
  while (n > 0 && n >= (*iov)->iov_len) {
    n -= (*iov)->iov_len;
    (*iov)++;
    (*cnt)--;
  }
  if (n > 0) {
    (*iov)->iov_base = (char *)(*iov)->iov_base + n;
    (*iov)->iov_len -= n;
  }
}

int mp_conn_send(mp_conn *c, const void *buf, size_t len, double timeout) {
  mp__deadline d;
  if (!c || (!buf && len > 0) || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  if (!c->can_send)
    return -EBADF;
  if ((uint64_t)len > MP_CONN_MSG_MAX)
    return -EMSGSIZE;
  if (c->send_broken)
    return -EPIPE;
  unsigned char hdr[HDR];
  unsigned char frame[FRAME_MIN];
  put_le64(hdr, len);
  struct iovec vec[3] = {{hdr, HDR}};
  size_t cnt = 1;
  if (len < HEAD_BODY) {
    memcpy(frame, hdr, HDR);
    if (len)
      memcpy(frame + HDR, buf, len);
    memset(frame + HDR + len, 0, HEAD_BODY - len);
    vec[0] = (struct iovec){frame, FRAME_MIN};
  } else {
    vec[cnt++] = (struct iovec){(void *)buf, len};
  }
  struct iovec *iov = vec;
  uint64_t left = len < HEAD_BODY ? FRAME_MIN : HDR + (uint64_t)len;
  bool started = false;
  for (;;) {
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = cnt};
    ssize_t n = cnt == 1
                    ? send(c->fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
                    : sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    int rc;
    if (n >= 0) {
      started = true;
      left -= (uint64_t)n;
      if (left == 0)
        return 0;
      iov_advance(&iov, &cnt, (size_t)n);
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN)
      rc = wait_fd(c->fd, POLLOUT, &d, timeout, true);
    else
      rc = sock_err(errno);
    if (rc == 0)
      continue;
    if (started) { /* half a frame went out: nothing can follow it */
      c->send_broken = true;
      shutdown(c->fd, SHUT_WR);
    }
    return rc;
  }
}

/* ---- receiving ----------------------------------------------------------- */

/* Read into base until *got == want; 0, -EPIPE (peer closed), or the
 * error of the wait (the bytes read so far are counted in *got). */
static int read_full(mp_conn *c, unsigned char *base, size_t *got, size_t want,
                     const mp__deadline *d, double timeout) {
  while (*got < want) {
    ssize_t n = recv(c->fd, base + *got, want - *got, 0);
    if (n > 0) {
      *got += (size_t)n;
      continue;
    }
    if (n == 0)
      return -EPIPE;
    if (errno == EINTR)
      continue;
    int rc = errno == EAGAIN ? wait_fd(c->fd, POLLIN, d, timeout, true)
                             : sock_err(errno);
    if (rc)
      return rc;
  }
  return 0;
}

/* Forget the message in progress; the next receive starts a new one. */
static void recv_reset(mp_conn *c) {
  free(c->pend);
  c->pend = NULL;
  c->pend_cap = 0;
  c->head_got = c->tail_got = 0;
}

/* Nothing more can be received: the peer is gone or the stream is garbage. */
static int recv_break(mp_conn *c, int rc) {
  recv_reset(c);
  c->recv_broken = true;
  shutdown(c->fd, SHUT_RD);
  return rc;
}

/* A receive into the caller's buffer stops half-way: keep the tail bytes
 * read so far (at their body offsets) in pend, sized for the whole body if
 * memory allows. Returns rc, or -ENOMEM when nothing could be kept. */
static int recv_keep(mp_conn *c, const unsigned char *buf, size_t len, int rc) {
  size_t have = HEAD_BODY + c->tail_got, cap = len;
  unsigned char *p = malloc(cap);
  if (!p)
    p = malloc(cap = have);
  if (!p)
    return recv_break(c, -ENOMEM);
  memcpy(p + HEAD_BODY, buf + HEAD_BODY, c->tail_got);
  c->pend = p;
  c->pend_cap = cap;
  return rc;
}

/* True when a whole message waits in the handle (a call returned before
 * taking it: -EMSGSIZE, or -ENOMEM from recv_alloc). */
static bool recv_held(const mp_conn *c) {
  if (c->head_got < FRAME_MIN)
    return false;
  uint64_t len = get_le64(c->head);
  return len <= HEAD_BODY || len - HEAD_BODY == c->tail_got;
}

/*
 * Receive one message: into buf (cap bytes) or, when out is not NULL, into
 * a buffer allocated here and returned in *out. *lenp gets its length.
 */
static int recv_msg(mp_conn *c, unsigned char *buf, size_t cap, void **out,
                    size_t *lenp, const mp__deadline *d, double timeout) {
  if (!c->can_recv)
    return -EBADF;
  if (c->recv_broken)
    return -EPIPE;
  int rc = read_full(c, c->head, &c->head_got, FRAME_MIN, d, timeout);
  if (rc)
    return rc == -EPIPE ? recv_break(c, rc) : rc;
  uint64_t len64 = get_le64(c->head);
  if (len64 > MP_CONN_MSG_MAX || len64 > SIZE_MAX - FRAME_MIN) {
    *lenp = 0; /* not a frame this library wrote */
    return recv_break(c, -EMSGSIZE);
  }
  size_t len = (size_t)len64;
  size_t in_head = len < HEAD_BODY ? len : HEAD_BODY, tail = len - in_head;
  *lenp = len;
  if (!out && len > cap)
    return -EMSGSIZE;

  /* Where the tail goes: the kept buffer, a new one (recv_alloc), or buf. */
  unsigned char *dst = buf;
  if (c->pend && c->pend_cap < len) { /* only the kept bytes fit: grow */
    unsigned char *p = realloc(c->pend, len);
    if (p) {
      c->pend = p;
      c->pend_cap = len;
    } else if (out) {
      return -ENOMEM;
    } else { /* continue in the caller's buffer */
      memcpy(buf + HEAD_BODY, c->pend + HEAD_BODY, c->tail_got);
      free(c->pend);
      c->pend = NULL;
    }
  } else if (!c->pend && out) {
    if (!(c->pend = malloc(len ? len : 1)))
      return -ENOMEM;
    c->pend_cap = len;
  }
  if (c->pend)
    dst = c->pend;

  if (tail > 0) {
    rc = read_full(c, dst + HEAD_BODY, &c->tail_got, tail, d, timeout);
    if (rc == -EPIPE)
      return recv_break(c, rc);
    if (rc)
      return dst == buf && c->tail_got > 0 ? recv_keep(c, buf, len, rc) : rc;
  }

  unsigned char *to = out ? dst : buf;
  if (in_head > 0)
    memcpy(to, c->head + HDR, in_head);
  if (to != dst && tail > 0)
    memcpy(to + HEAD_BODY, dst + HEAD_BODY, tail);
  if (out) {
    *out = dst;
    c->pend = NULL;
  }
  recv_reset(c);
  return 0;
}

int mp_conn_recv(mp_conn *c, void *buf, size_t cap, size_t *len,
                 double timeout) {
  mp__deadline d;
  if (!c || !len || (!buf && cap > 0) || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  return recv_msg(c, buf, cap, NULL, len, &d, timeout);
}

int mp_conn_recv_alloc(mp_conn *c, void **buf, size_t *len, double timeout) {
  mp__deadline d;
  if (!c || !buf || !len || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  return recv_msg(c, NULL, 0, buf, len, &d, timeout);
}

int mp_conn_poll(mp_conn *c, double timeout) {
  mp__deadline d;
  if (!c || mp__deadline_init(&d, timeout) < 0)
    return -EINVAL;
  if (!c->can_recv)
    return -EBADF;
  if (c->recv_broken || recv_held(c))
    return 0;
  return wait_fd(c->fd, POLLIN, &d, timeout, false);
}

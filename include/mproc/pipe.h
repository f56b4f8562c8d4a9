/*
 * mproc/pipe.h - Pipe and Connection (Python's multiprocessing.Pipe):
 * length-prefixed byte messages over a socketpair, between a parent and the
 * children it forks (or any two processes that share the descriptors).
 *
 * A Connection is a process-local handle around one descriptor (a UNIX
 * stream socket, close-on-exec, non-blocking: every wait is a poll with the
 * timeout of mproc/common.h). Messages are framed with an 8-byte length, so
 * any size up to MP_CONN_MSG_MAX travels whole; partial writes and EINTR are
 * handled inside. A peer that closed its end is MP_EPIPE, never a hang or a
 * SIGPIPE.
 *
 * Timeouts and partial transfers: a send that times out before writing
 * anything changes nothing; one that times out half-way leaves the stream
 * unusable for sending (later sends fail with -EPIPE, and the peer gets the
 * earlier messages, then -EPIPE) - choose timeouts that fit the message
 * size. A receive that times out half-way keeps what it read: the next
 * receive continues the same message.
 *
 * Frames: an 8-byte length, the body, and for bodies up to 248 bytes zero
 * padding to 256 bytes, so a receive never reads past its message and the
 * descriptor stays readable while a message waits. As in Python, two
 * processes (or threads) must not receive from - or send to - the same end
 * at the same time.
 *
 * Ownership: mp_pipe() allocates both handles; each is freed by
 * mp_conn_close() in every process that has it (a forked child has copies:
 * close the end it does not use, as with pipe(2)). A Connection is used by
 * one thread at a time for sending and one for receiving.
 */
#ifndef MPROC_PIPE_H
#define MPROC_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

MP_BEGIN_DECLS

typedef struct mp_conn mp_conn;

/* Largest message: 2^40 bytes (1 TiB). */
#define MP_CONN_MSG_MAX ((uint64_t)1 << 40)

/*
 * Create a connected pair. duplex non-zero: both ends send and receive.
 * duplex 0: *a only receives and *b only sends (Python's Pipe(False)).
 * Returns 0, -EINVAL (NULL), -EMFILE, -ENFILE, -ENOMEM.
 */
MP_EXTERN int mp_pipe(int duplex, mp_conn **a, mp_conn **b);

/*
 * Send len bytes (0 allowed; buf may be NULL then) as one message.
 * Returns 0, -EPIPE (peer closed, or the stream broke on an earlier
 * timeout), -ETIMEDOUT / -EAGAIN (timeout 0) as described above,
 * -EMSGSIZE (len > MP_CONN_MSG_MAX), -EBADF (a receive-only end),
 * -ENOMEM (the kernel's ENOBUFS), -EINVAL (NULL, NaN).
 */
MP_EXTERN int mp_conn_send(mp_conn *c, const void *buf, size_t len,
                           double timeout);

/*
 * Receive one message into buf (cap bytes); *len receives its length.
 * A message longer than cap is not lost: -EMSGSIZE with *len set to the
 * size needed, and the next call with a big enough buffer gets it.
 * Returns 0, -EMSGSIZE, -EPIPE (peer closed; nothing more will come),
 * -ETIMEDOUT, -EAGAIN (timeout 0, or only part of a message there),
 * -EBADF (a send-only end), -ENOMEM (timed out mid-message and could not
 * keep the part read: the end is then broken for receiving), -EINVAL (NULL
 * c or len, NULL buf with cap > 0, NaN). -EMSGSIZE with *len == 0 means a
 * corrupt stream (a length over MP_CONN_MSG_MAX): later calls get -EPIPE.
 */
MP_EXTERN int mp_conn_recv(mp_conn *c, void *buf, size_t cap, size_t *len,
                           double timeout);

/*
 * Receive one message into a buffer allocated with malloc (the caller
 * frees it; a 0-byte message gives a non-NULL 1-byte buffer). Errors as
 * mp_conn_recv, plus -ENOMEM (the message stays for a later call).
 */
MP_EXTERN int mp_conn_recv_alloc(mp_conn *c, void **buf, size_t *len,
                                 double timeout);

/* Wait until a message (or the peer's close) can be received: 0, -ETIMEDOUT,
 * -EAGAIN (timeout 0), -EBADF (send-only), -EINVAL. With part of a message
 * already held, 0 means more bytes arrived: a receive may still wait. */
MP_EXTERN int mp_conn_poll(mp_conn *c, double timeout);

/* The descriptor, for poll(2) or mp_wait(); -EINVAL for NULL. It polls
 * readable when data or the peer's close arrived. A message already held
 * inside the handle (half received, or refused with -EMSGSIZE / -ENOMEM) is
 * not visible to poll(2); mp_conn_poll sees it. */
MP_EXTERN int mp_conn_fileno(const mp_conn *c);

/* Close this process's handle and free it. NULL is harmless. */
MP_EXTERN int mp_conn_close(mp_conn *c);

MP_END_DECLS

#endif /* MPROC_PIPE_H */

/*
 * pipe_sender_receiver.c - a sender and a receiver process talk over a
 * Pipe until the message "END".
 *
 * Python (multiprocessing.Pipe):
 *     def sender(conn, msgs):
 *         for msg in msgs:
 *             conn.send(msg)
 *             print("Sent the message: {}".format(msg))
 *         conn.close()
 *
 *     def receiver(conn):
 *         while 1:
 *             msg = conn.recv()
 *             if msg == "END":
 *                 break
 *             print("Received the message: {}".format(msg))
 *
 *     msgs = ["hello", "hey", "hru?", "END"]
 *     parent_conn, child_conn = multiprocessing.Pipe()
 *     p1 = multiprocessing.Process(target=sender, args=(parent_conn, msgs))
 *     p2 = multiprocessing.Process(target=receiver, args=(child_conn,))
 *     p1.start(); p2.start(); p1.join(); p2.join()
 *
 * A message is a byte string; these carry their text without the NUL.
 *
 * Both children are forked (mp_process with the default start method), so
 * each inherits both ends, as does the parent, exactly as with pipe(2).
 * Every process closes the ends it does not use; then, once the sender has
 * closed its end too, the receiver's next receive after "END" reports the
 * closed peer: MP_EPIPE (Python's EOFError) instead of waiting for ever.
 *
 * Build: cc -std=c11 pipe_sender_receiver.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>

struct ends {
  mp_conn *parent_conn; /* the sender's end */
  mp_conn *child_conn;  /* the receiver's end */
};

/* Print what failed and why; always returns 1. */
static int fail(const char *what, int rc) {
  fprintf(stderr, "pipe_sender_receiver: %s: %s\n", what, mp_strerror(rc));
  return 1;
}

/* The sender process. Exit code 0 when every message went out. */
static int sender(void *arg) {
  static const char *const msgs[] = {"hello", "hey", "hru?", "END"};
  struct ends *e = arg;
  mp_conn_close(e->child_conn); /* not ours: close our copy */
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    int rc = mp_conn_send(e->parent_conn, msgs[i], strlen(msgs[i]), 10.0);
    if (rc < 0)
      return fail("mp_conn_send", rc);
    printf("Sent the message: %s\n", msgs[i]);
  }
  mp_conn_close(e->parent_conn);
  return 0;
}

/* The receiver process. Exit code 0 when it got the three messages, "END",
 * and then the end of the stream. */
static int receiver(void *arg) {
  struct ends *e = arg;
  char msg[64];
  size_t len;
  int rc, n = 0;
  mp_conn_close(e->parent_conn); /* not ours: close our copy */
  for (;;) {
    rc = mp_conn_recv(e->child_conn, msg, sizeof msg - 1, &len, 10.0);
    if (rc < 0)
      return fail("mp_conn_recv", rc);
    msg[len] = '\0';
    if (strcmp(msg, "END") == 0)
      break;
    printf("Received the message: %s\n", msg);
    n++;
  }
  /* Nothing follows "END": the next receive waits until every copy of the
   * sender's end is closed, and reports it. */
  rc = mp_conn_recv(e->child_conn, msg, sizeof msg, &len, 10.0);
  mp_conn_close(e->child_conn);
  if (rc != MP_EPIPE)
    return fail("receive after END", rc);
  return n == 3 ? 0 : 1;
}

/* Start fn(e) in a new process; the handle, or NULL. */
static mp_process *start(mp_target fn, struct ends *e) {
  mp_process *p;
  int rc = mp_process_create(fn, e, NULL, &p);
  if (rc == 0 && (rc = mp_process_start(p)) < 0)
    mp_process_close(p);
  if (rc < 0) {
    fail("start", rc);
    return NULL;
  }
  return p;
}

/* Wait for p and free it; 1 when it exited with code 0. */
static int joined_ok(mp_process *p) {
  int code = -1;
  if (!p)
    return 0;
  if (mp_process_join(p, MP_FOREVER) == 0)
    mp_process_exitcode(p, &code);
  mp_process_close(p);
  return code == 0;
}

int main(void) {
  struct ends e;
  int failed = 0;

  int rc = mp_pipe(1, &e.parent_conn, &e.child_conn); /* duplex */
  if (rc < 0)
    return fail("mp_pipe", rc);

  mp_process *p1 = start(sender, &e);
  mp_process *p2 = start(receiver, &e);
  /* The parent uses neither end: close its copies, or the receiver would
   * never see the sender's end closed. */
  mp_conn_close(e.parent_conn);
  mp_conn_close(e.child_conn);

  if (!joined_ok(p1))
    failed = 1;
  if (!joined_ok(p2))
    failed = 1;
  return failed;
}

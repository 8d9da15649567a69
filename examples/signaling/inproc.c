/*
 * examples/signaling — the in-process loopback transport: two sessions wired
 * to each other, for tests and single-process examples. Delivery goes
 * through the base class's idle queue, so a send never calls the other
 * side's handler re-entrantly.
 */
#include "sig_private.h"

typedef struct inproc_session {
  sig_session base;
  struct inproc_session *other; /* not a reference; NULL once either closed */
} inproc_session;

static gboolean inproc_send(sig_session *s, JsonObject *msg, GError **error) {
  inproc_session *is = (inproc_session *)s;
  if (!is->other) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: the other end is closed",
                sig_session_describe(s));
    return FALSE;
  }
  /* A deep copy (json_node_copy() would share the object): the sender may
   * change or free its object right after. */
  sig_session_deliver(&is->other->base, sig_json_copy(msg));
  return TRUE;
}

static void inproc_close(sig_session *s) {
  inproc_session *is = (inproc_session *)s;
  inproc_session *other = is->other;
  if (!other)
    return;
  is->other = NULL;
  other->other = NULL;
  JsonObject *bye = json_object_new();
  json_object_set_string_member(bye, "type", "bye");
  sig_session_deliver(&other->base, bye);
}

static void inproc_finalize(sig_session *s) {
  inproc_session *is = (inproc_session *)s;
  /* Finalized without a close (the app dropped its last reference): the
   * other end must not keep a dangling pointer. */
  if (is->other)
    is->other->other = NULL;
}

static const sig_session_class inproc_class = {inproc_send, inproc_close, inproc_finalize};

void sig_inproc_pair_new(sig_session **a, sig_session **b) {
  g_return_if_fail(a != NULL && b != NULL);
  inproc_session *x = g_new0(inproc_session, 1);
  inproc_session *y = g_new0(inproc_session, 1);
  sig_session_init(&x->base, &inproc_class);
  sig_session_init(&y->base, &inproc_class);
  x->other = y;
  y->other = x;
  sig_session_set_description(&x->base, "inproc a");
  sig_session_set_description(&y->base, "inproc b");
  *a = &x->base;
  *b = &y->base;
}

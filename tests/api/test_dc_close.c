/*
 * Closing data channels and peer connections: states, remote notification,
 * sends after close, closing from inside callbacks, "no callback after close"
 * (weft.h rule 3), every destroy order, and the remote peer going away.
 */
#include <string.h>

#include "pair.h"

static gboolean is_closed_err(int rc) {
  return rc == WEFT_ERR_INVALID_STATE || rc == WEFT_ERR_CLOSED;
}

static gboolean pred_dc_state(pair *p, void *arg) {
  dc_probe *pr = arg;
  return weft_dc_get_ready_state(pr->dc) == WEFT_DC_CLOSED;
}

static void test_dc_close_basic(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "closeme", &a, &b);
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_OPEN);
  gint64 t0 = g_get_monotonic_time();
  g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK);
  weft_dc_state st = weft_dc_get_ready_state(a->dc);
  g_assert_true(st == WEFT_DC_CLOSING || st == WEFT_DC_CLOSED);
  g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK); /* idempotent */
  g_assert_true(is_closed_err(weft_dc_send(a->dc, "x", 1)));
  g_assert_true(is_closed_err(weft_dc_send_text(a->dc, "x", 1)));
  /* The remote end gets on_close (on_closing is optional there). */
  g_assert_true(pair_wait_ge(p, &b->closed, 1, 5000));
  g_test_message("remote on_close %.1f ms after weft_dc_close",
                 (g_get_monotonic_time() - t0) / 1000.0);
  g_assert_cmpint(g_atomic_int_get(&b->closing), <=, 1);
  g_assert_cmpint(weft_dc_get_ready_state(b->dc), ==, WEFT_DC_CLOSED);
  g_assert_true(pair_wait(p, pred_dc_state, a, 5000));
  g_assert_true(is_closed_err(weft_dc_send(b->dc, "x", 1)));
  /* The local handlers are not called after weft_dc_close returned. */
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&a->closed), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&a->closing), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&b->closed), ==, 1);
  /* Getters keep working. */
  g_assert_cmpstr(weft_dc_get_label(a->dc), ==, "closeme");
  g_assert_cmpstr(weft_dc_get_label(b->dc), ==, "closeme");
  g_assert_cmpint(weft_dc_get_id(a->dc), ==, weft_dc_get_id(b->dc));
  /* The pc is still connected. */
  g_assert_cmpint(weft_pc_get_connection_state(p->side[0].pc), ==, WEFT_PC_CONNECTED);
  pair_free(p);
}

static void test_close_one_of_two(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a1, *b1;
  pair_connect(p, "one", &a1, &b1);
  dc_probe *a2 = pair_create_dc(p, 0, "two", NULL);
  dc_probe *b2 = pair_wait_remote_dc(p, 1, "two", 5000);
  g_assert_nonnull(b2);
  g_assert_true(pair_wait_ge(p, &a2->opened, 1, 5000));
  g_assert_cmpint(weft_dc_close(a1->dc), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &b1->closed, 1, 5000));
  for (int i = 0; i < 10; i++)
    g_assert_cmpint(weft_dc_send_text(a2->dc, "alive", 5), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a2, 10, 5000));
  g_assert_cmpint(weft_dc_get_ready_state(a2->dc), ==, WEFT_DC_OPEN);
  g_assert_cmpint(weft_dc_get_ready_state(b2->dc), ==, WEFT_DC_OPEN);
  g_assert_cmpint(g_atomic_int_get(&b2->closed), ==, 0);
  /* A new channel still opens, possibly reusing the freed stream id. */
  dc_probe *a3 = pair_create_dc(p, 0, "three", NULL);
  g_assert_nonnull(pair_wait_remote_dc(p, 1, "three", 5000));
  g_assert_true(pair_wait_ge(p, &a3->opened, 1, 5000));
  g_assert_cmpint(weft_dc_send_text(a3->dc, "3", 1), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a3, 1, 5000));
  pair_free(p);
}

/* B closes its channel from inside on_message. */
static void close_in_message_hook(dc_probe *pr, weft_msg_type type, const void *data, size_t size) {
  if (size == 8 && memcmp(data, "close-me", 8) == 0) {
    g_assert_cmpint(weft_dc_close(pr->dc), ==, WEFT_OK);
    g_assert_cmpint(weft_dc_close(pr->dc), ==, WEFT_OK);
    g_assert_true(is_closed_err(weft_dc_send(pr->dc, "x", 1)));
  }
}

static void test_close_from_on_message(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "self-close", &a, &b);
  b->on_message_hook = close_in_message_hook;
  g_assert_cmpint(weft_dc_send_text(a->dc, "close-me", 8), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &a->closed, 1, 5000));
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CLOSED);
  g_assert_true(pair_wait(p, pred_dc_state, b, 5000));
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&b->closed), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, 1);
  pair_free(p);
}

/* B closes its whole pc from inside a dc on_message. */
static gint cb_at_close = -1;
static void close_pc_hook(dc_probe *pr, weft_msg_type type, const void *data, size_t size) {
  pair_side *s = &pr->pair->side[pr->side];
  g_assert_cmpint(weft_pc_close(s->pc), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_close(s->pc), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_connection_state(s->pc), ==, WEFT_PC_CLOSED);
  g_assert_cmpint(weft_pc_get_signaling_state(s->pc), ==, WEFT_SIGNALING_CLOSED);
  g_assert_true(is_closed_err(weft_dc_send(pr->dc, "x", 1)));
  g_atomic_int_set(&cb_at_close, g_atomic_int_get(&s->callbacks));
}

static void test_close_pc_from_on_message(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  dc_probe *a, *b;
  pair_connect(p, "pc-close", &a, &b);
  g_atomic_int_set(&cb_at_close, -1);
  b->on_message_hook = close_pc_hook;
  for (int i = 0; i < 20; i++)
    g_assert_cmpint(weft_dc_send_text(a->dc, "bye", 3), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &cb_at_close, 0, 5000));
  /* A notices: its channel closes. */
  g_assert_true(pair_wait_ge(p, &a->closed, 1, 15000));
  pair_pump(p, 500);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].callbacks), ==, g_atomic_int_get(&cb_at_close));
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, 1);
  pair_free(p);
}

static void test_close_pc_from_on_message_thread(void) {
  test_close_pc_from_on_message(PAIR_THREAD);
}
static void test_close_pc_from_on_message_queued(void) {
  test_close_pc_from_on_message(PAIR_QUEUED);
}

/* A closes its pc from inside on_connection_state_change(connected). */
static void close_on_connected(pair_side *s, weft_pc_state st) {
  if (st != WEFT_PC_CONNECTED)
    return;
  g_assert_cmpint(weft_pc_close(s->pc), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_connection_state(s->pc), ==, WEFT_PC_CLOSED);
  g_atomic_int_set(&cb_at_close, g_atomic_int_get(&s->callbacks));
}

static void test_close_pc_from_state_change(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  g_atomic_int_set(&cb_at_close, -1);
  p->side[0].conn_hook = close_on_connected;
  dc_probe *a = pair_create_dc(p, 0, "never", NULL);
  pair_negotiate(p);
  g_assert_true(pair_wait_ge(p, &cb_at_close, 0, 10000));
  pair_pump(p, 500);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].callbacks), ==, g_atomic_int_get(&cb_at_close));
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CLOSED);
  g_assert_true(is_closed_err(weft_dc_send(a->dc, "x", 1)));
  g_assert_cmpint(weft_pc_get_ice_connection_state(p->side[0].pc), ==, WEFT_ICE_CLOSED);
  g_assert_cmpint(weft_pc_get_signaling_state(p->side[0].pc), ==, WEFT_SIGNALING_CLOSED);
  pair_free(p);
}

/* B floods A; A is closed from the test thread; nothing of A fires after. */
static void no_callback_after_close(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  dc_probe *a, *b;
  pair_connect(p, "flood", &a, &b);
  for (int i = 0; i < 200; i++) {
    int rc = weft_dc_send_text(b->dc, "flood", 5);
    g_assert_true(rc == WEFT_OK || rc == WEFT_ERR_AGAIN);
  }
  /* QUEUED: some events are queued and not dispatched yet. */
  g_assert_cmpint(weft_pc_close(p->side[0].pc), ==, WEFT_OK);
  int after = g_atomic_int_get(&p->side[0].callbacks);
  int msgs = g_atomic_int_get(&a->n_msgs);
  int conn_log = p->side[0].n_conn;
  g_assert_cmpint(weft_pc_close(p->side[0].pc), ==, WEFT_OK); /* idempotent */
  g_assert_cmpint(weft_pc_get_connection_state(p->side[0].pc), ==, WEFT_PC_CLOSED);
  g_assert_cmpint(weft_pc_get_ice_connection_state(p->side[0].pc), ==, WEFT_ICE_CLOSED);
  g_assert_cmpint(weft_pc_get_signaling_state(p->side[0].pc), ==, WEFT_SIGNALING_CLOSED);
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CLOSED);
  /* Handlers cannot be set any more. */
  g_assert_cmpint(weft_pc_set_on_error(p->side[0].pc, NULL), ==, WEFT_ERR_CLOSED);
  g_assert_null(weft_pc_create_data_channel(p->side[0].pc, "late", NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_CLOSED);
  char *sdp = NULL;
  g_assert_cmpint(weft_pc_create_offer(p->side[0].pc, NULL, &sdp), ==, WEFT_ERR_CLOSED);
  g_assert_null(sdp);
  pair_pump(p, 500);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].callbacks), ==, after);
  g_assert_cmpint(g_atomic_int_get(&a->n_msgs), ==, msgs);
  g_assert_cmpint(p->side[0].n_conn, ==, conn_log); /* close fires no state change */
  pair_free(p);
}

static void test_no_callback_after_close_thread(void) { no_callback_after_close(PAIR_THREAD); }
static void test_no_callback_after_close_queued(void) { no_callback_after_close(PAIR_QUEUED); }
static void test_no_callback_after_close_glib(void) { no_callback_after_close(PAIR_GLIB); }

/* Destroy orders. */
static void test_unref_dc_first(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "order1", &a, &b);
  probe_release_dc(a);
  probe_release_dc(b);
  /* Releasing the last reference does not close the channel (W3C: the pc
   * keeps it): the pcs stay connected. */
  pair_pump(p, 100);
  g_assert_cmpint(weft_pc_get_connection_state(p->side[0].pc), ==, WEFT_PC_CONNECTED);
  g_assert_cmpint(weft_debug_live_objects(), >=, 3);
  weft_pc_unref(p->side[0].pc);
  p->side[0].pc = NULL;
  weft_pc_unref(p->side[1].pc);
  p->side[1].pc = NULL;
  pair_free(p);
}

static void test_unref_pc_first(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "order2", &a, &b);
  int32_t id = weft_dc_get_id(a->dc);
  weft_pc_unref(p->side[0].pc); /* the only reference: closes A */
  p->side[0].pc = NULL;
  /* The dc is closed and inert, but its getters work. */
  g_assert_cmpint(weft_dc_send(a->dc, "x", 1), ==, WEFT_ERR_CLOSED);
  g_assert_cmpint(weft_dc_send_text(a->dc, "x", 1), ==, WEFT_ERR_CLOSED);
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CLOSED);
  g_assert_cmpstr(weft_dc_get_label(a->dc), ==, "order2");
  g_assert_cmpstr(weft_dc_get_protocol(a->dc), ==, "");
  g_assert_cmpint(weft_dc_get_id(a->dc), ==, id);
  g_assert_cmpint(weft_dc_get_ordered(a->dc), ==, 1);
  g_assert_cmpuint(weft_dc_get_buffered_amount(a->dc), ==, 0);
  int rc = weft_dc_close(a->dc);
  g_assert_true(rc == WEFT_OK || rc == WEFT_ERR_CLOSED);
  /* B's channel closes. */
  g_assert_true(pair_wait_ge(p, &b->closed, 1, 15000));
  weft_pc_unref(p->side[1].pc);
  p->side[1].pc = NULL;
  /* The dcs are still alive (held by the probes) until pair_free. */
  g_assert_cmpint(weft_dc_send(b->dc, "x", 1), ==, WEFT_ERR_CLOSED);
  pair_free(p);
}

static void test_unref_context_first(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "order3", &a, &b);
  weft_context_unref(p->ctx);
  p->ctx = NULL;
  /* The pcs keep the engine running. */
  g_assert_cmpint(weft_dc_send_text(a->dc, "still here", 10), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  dc_probe *a2 = pair_create_dc(p, 0, "after-ctx-unref", NULL);
  g_assert_true(pair_wait_ge(p, &a2->opened, 1, 5000));
  pair_free(p);
}

static void test_unref_everything_no_close(void) {
  /* Drop every reference without any close call, in creation order. */
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "order4", &a, &b);
  weft_context_unref(p->ctx);
  p->ctx = NULL;
  weft_pc *pa = p->side[0].pc, *pb = p->side[1].pc;
  p->side[0].pc = p->side[1].pc = NULL;
  weft_pc_unref(pa);
  weft_pc_unref(pb);
  probe_release_dc(a);
  probe_release_dc(b);
  pair_free(p);
}

static gboolean pred_left_closed(pair *p, void *arg) {
  (void)arg;
  return g_atomic_int_get(&p->side[0].conn_state) == WEFT_PC_CLOSED;
}

/* The remote closes its peer connection (weft sends close_notify): the local
 * side closes too (doc/negotiation.md, "When the remote ends the session"):
 * its channels' on_close, ICE `closed`, then connection state `closed` as the
 * very last callback, and nothing at all afterwards. Every context mode. */
static void remote_pc_close(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  dc_probe *a, *b;
  pair_connect(p, "remote-gone", &a, &b);
  gint64 t0 = g_get_monotonic_time();
  g_assert_cmpint(weft_pc_close(p->side[1].pc), ==, WEFT_OK);
  g_assert_true(pair_wait(p, pred_left_closed, NULL, 5000));
  gint64 t_pc = g_get_monotonic_time();
  g_assert_cmpint(g_atomic_int_get(&a->closed), ==, 1);
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CLOSED);
  pair_side *s = &p->side[0];
  g_mutex_lock(&p->lock);
  g_assert_cmpint(s->n_conn, >=, 2);
  g_assert_cmpint(s->conn_log[s->n_conn - 1], ==, WEFT_PC_CLOSED);
  g_assert_cmpint(s->conn_log[s->n_conn - 2], ==, WEFT_PC_CONNECTED);
  g_assert_cmpint(s->ice_log[s->n_ice - 1], ==, WEFT_ICE_CLOSED);
  g_mutex_unlock(&p->lock);
  /* A deliberate close is not an error: neither the ABORT (cause 12) nor the
   * close_notify that follows fires on_error. */
  g_assert_cmpint(g_atomic_int_get(&s->n_errors), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&a->errors), ==, 0);
  gint before = g_atomic_int_get(&s->callbacks);
  pair_pump(p, 500);
  g_assert_cmpint(g_atomic_int_get(&s->callbacks), ==, before);
  g_assert_cmpint(weft_pc_get_ice_connection_state(s->pc), ==, WEFT_ICE_CLOSED);
  g_assert_cmpint(weft_pc_get_signaling_state(s->pc), ==, WEFT_SIGNALING_CLOSED);
  g_test_message("remote close: local pc closed after %.1f ms", (t_pc - t0) / 1000.0);
  g_assert_true(is_closed_err(weft_dc_send(a->dc, "x", 1)));
  g_assert_null(weft_pc_create_data_channel(s->pc, "late", NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_CLOSED);
  g_assert_cmpint(weft_pc_close(s->pc), ==, WEFT_OK); /* still fine, idempotent */
  pair_free(p);
}
static void test_remote_pc_close_thread(void) { remote_pc_close(PAIR_THREAD); }
static void test_remote_pc_close_queued(void) { remote_pc_close(PAIR_QUEUED); }
static void test_remote_pc_close_glib(void) { remote_pc_close(PAIR_GLIB); }

/* Rule 3 for a dc: no callback of any kind after weft_dc_close returns, even
 * for messages already received (QUEUED: already queued). */
static void no_dc_callback_after_dc_close(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  dc_probe *a, *b;
  pair_connect(p, "dc-rule3", &a, &b);
  g_assert_cmpint(weft_dc_set_buffered_amount_low_threshold(a->dc, 1), ==, WEFT_OK);
  for (int i = 0; i < 300; i++)
    g_assert_cmpint(weft_dc_send_text(b->dc, "to a", 4), ==, WEFT_OK);
  for (int i = 0; i < 50; i++)
    g_assert_cmpint(weft_dc_send_text(a->dc, "to b", 4), ==, WEFT_OK);
  pair_wait_ge(p, &a->n_msgs, 10, 2000);
  g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK);
  int msgs = g_atomic_int_get(&a->n_msgs), low = g_atomic_int_get(&a->low);
  int closing = g_atomic_int_get(&a->closing), closed = g_atomic_int_get(&a->closed);
  int errors = g_atomic_int_get(&a->errors);
  g_assert_true(pair_wait_ge(p, &b->closed, 1, 5000));
  pair_pump(p, 500);
  g_test_message("mode %d: %d of 300 messages before weft_dc_close", mode, msgs);
  g_assert_cmpint(g_atomic_int_get(&a->n_msgs), ==, msgs);
  g_assert_cmpint(g_atomic_int_get(&a->low), ==, low);
  g_assert_cmpint(g_atomic_int_get(&a->closing), ==, closing);
  g_assert_cmpint(g_atomic_int_get(&a->closed), ==, closed);
  g_assert_cmpint(g_atomic_int_get(&a->errors), ==, errors);
  pair_free(p);
}

static void test_no_dc_callback_after_dc_close_thread(void) {
  no_dc_callback_after_dc_close(PAIR_THREAD);
}
static void test_no_dc_callback_after_dc_close_queued(void) {
  no_dc_callback_after_dc_close(PAIR_QUEUED);
}

/* W3C close(): "finish sending all currently pending messages of the
 * channel" before the stream reset (RFC 8831 §6.7): sends that returned
 * WEFT_OK right before weft_dc_close are delivered, then on_close. */
static void close_flushes_pending(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  dc_probe *a, *b;
  pair_connect(p, "flush", &a, &b);
  g_atomic_int_set(&b->keep, 0);
  enum { N = 40, SZ = 64 * 1024 };
  guint8 *buf = g_malloc0(SZ);
  for (int i = 0; i < N; i++)
    g_assert_cmpint(weft_dc_send(a->dc, buf, SZ), ==, WEFT_OK);
  size_t pending = weft_dc_get_buffered_amount(a->dc);
  g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &b->closed, 1, 10000));
  pair_pump(p, 100);
  g_test_message("mode %d: %zu bytes pending at close, %d of %d messages delivered", mode, pending,
                 g_atomic_int_get(&b->n_msgs), N);
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, N);
  g_free(buf);
  pair_free(p);
}

static void test_close_flushes_thread(void) { close_flushes_pending(PAIR_THREAD); }
static void test_close_flushes_queued(void) { close_flushes_pending(PAIR_QUEUED); }
static void test_close_flushes_glib(void) { close_flushes_pending(PAIR_GLIB); }

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/close/dc-basic", test_dc_close_basic);
  g_test_add_func("/api/close/one-of-two", test_close_one_of_two);
  g_test_add_func("/api/close/dc-from-on-message", test_close_from_on_message);
  g_test_add_func("/api/close/pc-from-on-message-thread", test_close_pc_from_on_message_thread);
  g_test_add_func("/api/close/pc-from-on-message-queued", test_close_pc_from_on_message_queued);
  g_test_add_func("/api/close/pc-from-state-change", test_close_pc_from_state_change);
  g_test_add_func("/api/close/no-callback-after-close-thread", test_no_callback_after_close_thread);
  g_test_add_func("/api/close/no-callback-after-close-queued", test_no_callback_after_close_queued);
  g_test_add_func("/api/close/no-callback-after-close-glib", test_no_callback_after_close_glib);
  g_test_add_func("/api/close/unref-dc-first", test_unref_dc_first);
  g_test_add_func("/api/close/unref-pc-first", test_unref_pc_first);
  g_test_add_func("/api/close/unref-context-first", test_unref_context_first);
  g_test_add_func("/api/close/unref-all-no-close", test_unref_everything_no_close);
  g_test_add_func("/api/close/remote-pc-close-thread", test_remote_pc_close_thread);
  g_test_add_func("/api/close/remote-pc-close-queued", test_remote_pc_close_queued);
  g_test_add_func("/api/close/remote-pc-close-glib", test_remote_pc_close_glib);
  g_test_add_func("/api/close/no-dc-callback-after-dc-close-thread",
                  test_no_dc_callback_after_dc_close_thread);
  g_test_add_func("/api/close/no-dc-callback-after-dc-close-queued",
                  test_no_dc_callback_after_dc_close_queued);
  g_test_add_func("/api/close/close-flushes-pending-thread", test_close_flushes_thread);
  g_test_add_func("/api/close/close-flushes-pending-queued", test_close_flushes_queued);
  /* Last: a failure here aborts the executable. */
  g_test_add_func("/api/close/close-flushes-pending-glib", test_close_flushes_glib);
  return g_test_run();
}

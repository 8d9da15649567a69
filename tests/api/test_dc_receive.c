/*
 * Receive back-pressure (issue 12 §1): a receiver that does not take its
 * messages makes the *sender* wait, through SCTP's window, instead of
 * buffering whatever the sender pushes; nothing is dropped or reordered; and
 * a message over the receive cap fails its channel cleanly.
 *
 * QUEUED mode lets the test be the slow application: nothing is handed to it
 * until it calls weft_context_dispatch().
 */
#include <string.h>

#include "pair.h"

enum { MSG = 16 * 1024 };

typedef struct {
  guint32 expected;
  gint errors;
  gint64 bytes;
} order_check;

/* Each message carries its sequence number in its first 4 bytes and a
 * pattern derived from it in the rest. */
static void fill(guint8 *buf, size_t size, guint32 seq) {
  memcpy(buf, &seq, sizeof seq);
  for (size_t i = sizeof seq; i < size; i++)
    buf[i] = (guint8)(seq * 31 + i);
}

static void order_hook(dc_probe *pr, weft_msg_type type, const void *data, size_t size) {
  order_check *c = pr->hook_data;
  const guint8 *p = data;
  guint32 seq;
  if (type != WEFT_MSG_BINARY || size != MSG) {
    g_atomic_int_inc(&c->errors);
    return;
  }
  memcpy(&seq, p, sizeof seq);
  if (seq != c->expected)
    g_atomic_int_inc(&c->errors);
  for (size_t i = sizeof seq; i < size; i += 997)
    if (p[i] != (guint8)(seq * 31 + i)) {
      g_atomic_int_inc(&c->errors);
      break;
    }
  c->expected = seq + 1;
  c->bytes += (gint64)size;
}

/* The app sleeps while the remote pushes: the remote's bufferedAmount must
 * carry what the receiver would otherwise have held. Then every message
 * arrives, in order. */
static void slow_receiver(size_t limit) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = PAIR_QUEUED;
  o.receive_buffer_limit = limit;
  o.send_buffer_limit = 8 * 1024 * 1024;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "slow", &a, &b);
  order_check c = {0, 0, 0};
  g_atomic_int_set(&a->keep, 0);
  a->hook_data = &c;
  a->on_message_hook = order_hook;

  /* B pushes 6 MiB while nobody dispatches (the test thread is the app). */
  const guint32 n = 6 * 1024 * 1024 / MSG;
  guint8 *buf = g_malloc(MSG);
  for (guint32 i = 0; i < n; i++) {
    fill(buf, MSG, i);
    g_assert_cmpint(weft_dc_send(b->dc, buf, MSG), ==, WEFT_OK);
  }
  /* Let the engine move what it can: SCTP fills the receiver's window and
   * the receive budget, then stops. */
  size_t buffered = 0, prev = SIZE_MAX;
  for (int i = 0; i < 40; i++) {
    g_usleep(50 * 1000);
    buffered = weft_dc_get_buffered_amount(b->dc);
    if (buffered == prev)
      break; /* settled */
    prev = buffered;
  }
  size_t taken = (size_t)n * MSG - buffered;
  /* What left the sender is at most the receive budget (plus one message it
   * may overshoot by), SCTP's receive buffer (1 MiB) and packets in flight. */
  size_t bound = limit + MSG + 1024 * 1024 + 256 * 1024;
  g_test_message("limit %zu: the sender still buffers %zu bytes; the receiver took %zu "
                 "(bound %zu)",
                 limit, buffered, taken, bound);
  g_assert_cmpuint(taken, <=, bound);
  g_assert_cmpint(g_atomic_int_get(&a->n_msgs), ==, 0);

  /* The app wakes up: everything arrives, in order, and the sender drains. */
  g_assert_true(pair_wait_ge(p, &a->n_msgs, (int)n, 30000));
  g_assert_cmpint(g_atomic_int_get(&c.errors), ==, 0);
  g_assert_cmpint(c.bytes, ==, (gint64)n * MSG);
  pair_pump(p, 300);
  g_assert_cmpuint(weft_dc_get_buffered_amount(b->dc), ==, 0);
  g_free(buf);
  pair_free(p);
}

static void test_slow_receiver_default(void) { slow_receiver(4 * 1024 * 1024); }
static void test_slow_receiver_small(void) { slow_receiver(128 * 1024); }

/* A channel without on_message holds what arrives (weft.h rule 4); the held
 * messages count against the budget, so the sender waits instead of the
 * receiver holding without bound — and nothing is lost once the handler is
 * set. */
static void test_held_messages_bounded(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.receive_buffer_limit = 256 * 1024;
  o.late_dc_handler = TRUE; /* B's remote channel: no handler yet */
  pair *p = pair_new(&o);
  dc_probe *a = pair_create_dc(p, 0, "held", NULL);
  pair_negotiate(p);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  const guint32 n = 4 * 1024 * 1024 / MSG;
  guint8 *buf = g_malloc(MSG);
  for (guint32 i = 0; i < n; i++) {
    fill(buf, MSG, i);
    g_assert_cmpint(weft_dc_send(a->dc, buf, MSG), ==, WEFT_OK);
  }
  size_t buffered = 0, prev = SIZE_MAX;
  for (int i = 0; i < 40; i++) {
    g_usleep(50 * 1000);
    buffered = weft_dc_get_buffered_amount(a->dc);
    if (buffered == prev)
      break;
    prev = buffered;
  }
  size_t taken = (size_t)n * MSG - buffered;
  g_test_message("no handler: the receiver took %zu bytes, the sender buffers %zu", taken,
                 buffered);
  g_assert_cmpuint(taken, <=, 256 * 1024 + MSG + 1024 * 1024 + 256 * 1024);
  /* Now the application shows up: the held messages, then the rest, in
   * order (the probe keeps every message). */
  pair_install_dc_handler(p, 1);
  dc_probe *b = pair_wait_remote_dc(p, 1, "held", 5000);
  g_assert_nonnull(b);
  g_assert_true(pair_wait_ge(p, &b->n_msgs, (int)n, 30000));
  for (guint32 i = 0; i < n; i++) {
    pair_msg *m = probe_msg(b, (int)i);
    g_assert_nonnull(m);
    guint32 seq;
    memcpy(&seq, m->data, sizeof seq);
    g_assert_cmpuint(seq, ==, i);
  }
  g_free(buf);
  pair_free(p);
}

/* The receiver advertises 64 KiB, the sender is told 1 MiB (a remote that
 * ignores the limit): a 200 KiB message fails the channel with TOO_BIG on the
 * receiver and closes it on both ends; other channels go on. */
static char *raise_mms(pair *p, int from, const char *sdp) {
  (void)p;
  if (from != 0)
    return g_strdup(sdp);
  GString *out = g_string_new(NULL);
  gchar **lines = g_strsplit(sdp, "\r\n", -1);
  for (gchar **l = lines; *l; l++) {
    if (!**l)
      continue;
    if (g_str_has_prefix(*l, "a=max-message-size:"))
      g_string_append(out, "a=max-message-size:1048576\r\n");
    else
      g_string_append_printf(out, "%s\r\n", *l);
  }
  g_strfreev(lines);
  return g_string_free(out, FALSE);
}

static void test_oversize_message(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.max_message_size = 65536;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  p->sdp_hook = raise_mms;
  dc_probe *a, *b;
  pair_connect(p, "big", &a, &b);
  dc_probe *a2 = pair_create_dc(p, 0, "other", NULL);
  g_assert_true(pair_wait_ge(p, &a2->opened, 1, 10000));
  const size_t big = 200 * 1024;
  guint8 *buf = pattern_new(big, 3);
  /* B (the answerer) believes A takes 1 MiB. */
  g_assert_cmpint(weft_dc_send(b->dc, buf, big), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &a->errors, 1, 10000));
  g_assert_true(pair_wait_ge(p, &a->closed, 1, 10000));
  g_assert_true(pair_wait_ge(p, &b->closed, 1, 10000));
  g_assert_cmpint(g_atomic_int_get(&a->n_msgs), ==, 0);
  /* The association and the other channel are fine. */
  g_assert_cmpint(weft_dc_send(a2->dc, "still here", 10), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a2, 1, 10000));
  g_free(buf);
  pair_free(p);
}

/* A remote that opens (and closes) channels faster than the application
 * takes on_data_channel: beyond 1024 announcements waiting, its OPENs are
 * refused (stream reset) instead of queuing events without end. */
static void test_announcements_bounded(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = PAIR_QUEUED;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "first", &a, &b);
  int before = g_atomic_int_get(&p->side[1].n_remote_dcs);
  /* The application sleeps (nothing is dispatched) while A opens and closes
   * 1300 channels, one stream at a time. */
  const int n = 1300;
  for (int i = 0; i < n; i++) {
    char label[32];
    g_snprintf(label, sizeof label, "c%d", i);
    weft_dc *dc = weft_pc_create_data_channel(p->side[0].pc, label, NULL);
    g_assert_nonnull(dc);
    g_usleep(1000); /* let the OPEN out before the reset */
    g_assert_cmpint(weft_dc_close(dc), ==, WEFT_OK);
    weft_dc_unref(dc);
  }
  g_usleep(500 * 1000);
  /* Now the application looks: at most 1024 announcements were kept. */
  pair_pump(p, 1000);
  int seen = g_atomic_int_get(&p->side[1].n_remote_dcs) - before;
  g_test_message("%d channels opened and closed while the app slept; %d announced", n, seen);
  g_assert_cmpint(seen, <=, 1024);
  g_assert_cmpint(seen, >, 0);
  /* The association still works. */
  g_assert_cmpint(weft_dc_send_text(a->dc, "after", 5), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 1, 10000));
  pair_free(p);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/receive/slow-receiver-default", test_slow_receiver_default);
  g_test_add_func("/api/receive/slow-receiver-small", test_slow_receiver_small);
  g_test_add_func("/api/receive/held-messages-bounded", test_held_messages_bounded);
  g_test_add_func("/api/receive/oversize-message", test_oversize_message);
  g_test_add_func("/api/receive/announcements-bounded", test_announcements_bounded);
  return g_test_run();
}

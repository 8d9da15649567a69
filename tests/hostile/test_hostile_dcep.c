/*
 * Hostile DCEP (RFC 8832) against a real weft_pc, from the ICE-validated
 * address, over a real DTLS + SCTP association:
 *
 *   open_reset_loop  DATA_CHANNEL_OPEN then an outgoing stream reset, in a
 *                    loop over every odd stream (64 in flight): each open
 *                    reaches on_data_channel, each reset closes it, and the
 *                    pc remembers at most 256 closed channels
 *                    (WEFT__MAX_CLOSED_CHANNELS): live objects and RSS stay
 *                    flat.
 *   bogus            unknown types, truncated OPENs, bad lengths, unknown
 *                    channel types, 5000-byte labels, stray ACKs, data on
 *                    streams without a channel, unknown PPIDs, a second OPEN
 *                    on an open stream, an OPEN with weft's parity, in
 *                    rounds: every refused OPEN is reset, at most 64 errors
 *                    wait for on_error (the rest counted), the association
 *                    and a channel opened afterwards still work.
 *   invalid_utf8     a PPID 51 (string) message that is not UTF-8: weft.h
 *                    promises TEXT messages are valid UTF-8.
 *
 * Each case: no crash, an RSS bound, and the bystander pair on the same
 * context echoing with p99 < 50 ms throughout.
 */
#include <string.h>

#include "hostile_peer.h"

static void send_open(hostile *h, uint16_t stream, const char *label, size_t label_len) {
  weft__dcep_open o = {0};
  o.channel_type = WEFT__DCEP_RELIABLE;
  o.label = label;
  o.label_len = (uint16_t)label_len;
  uint8_t *buf = NULL;
  size_t len = 0;
  g_assert_cmpint(weft__dcep_build_open(&o, &buf, &len), ==, 0);
  g_assert_cmpint(weft__sctp_send(h->sctp, stream, WEFT__PPID_DCEP, buf, len, NULL), ==, 0);
  g_free(buf);
}

/* ---- open_reset_loop ------------------------------------------------------------ */

enum { LOOP_INFLIGHT = 64, LOOP_STREAMS = 512 };

typedef struct loop_state {
  int total, started, done;
  int in_flight;
  uint8_t busy[LOOP_STREAMS]; /* bit 1: our reset done, bit 2: theirs; 4: in use */
  int next;
  GSource *tick;
  atomic_int finished;
  int send_errors, reset_errors;
} loop_state;

static void loop_reset(hostile *h, uint16_t stream, bool incoming) {
  loop_state *L = h->user;
  if (stream % 2 == 0 || stream / 2 >= LOOP_STREAMS)
    return;
  uint8_t *b = &L->busy[stream / 2];
  if (!(*b & 4))
    return;
  *b |= incoming ? 2 : 1;
  if ((*b & 3) == 3) {
    *b = 0;
    L->in_flight--;
    L->done++;
  }
}

static gboolean loop_tick(gpointer p) {
  hostile *h = p;
  loop_state *L = h->user;
  for (int guard = 0; L->in_flight < LOOP_INFLIGHT && L->started < L->total && guard < LOOP_STREAMS;
       guard++) {
    int i = L->next;
    L->next = (L->next + 1) % LOOP_STREAMS;
    if (L->busy[i])
      continue;
    uint16_t stream = (uint16_t)(2 * i + 1);
    char label[32];
    int n = g_snprintf(label, sizeof label, "loop-%d", L->started);
    send_open(h, stream, label, (size_t)n);
    if (weft__sctp_reset_stream(h->sctp, stream) < 0) {
      L->reset_errors++;
      continue;
    }
    L->busy[i] = 4;
    L->in_flight++;
    L->started++;
  }
  if (L->done >= L->total) {
    atomic_store(&L->finished, 1);
    L->tick = NULL;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void loop_start(hostile *h, void *data) {
  loop_state *L = data;
  h->user = L;
  h->on_reset = loop_reset;
  L->tick = g_timeout_source_new(1);
  g_source_set_callback(L->tick, loop_tick, h, NULL);
  g_source_attach(L->tick, h->ctx);
  g_source_unref(L->tick);
}

static void loop_stop(hostile *h, void *data) {
  loop_state *L = data;
  if (L->tick)
    g_source_destroy(L->tick);
  L->tick = NULL;
  h->on_reset = NULL;
  h->user = NULL;
}

typedef struct chan_count {
  weft_pc *pc;
  guint all, closed, by_stream;
} chan_count;

static void count_channels(void *p) {
  chan_count *c = p;
  c->all = c->pc->channels_all->len;
  c->closed = c->pc->closed_channels;
  c->by_stream = g_hash_table_size(c->pc->channels_by_stream);
}

static void test_open_reset_loop(void) {
  hv_frame f;
  hv_frame_up(&f, NULL, NULL, true);
  loop_state L = {0};
  L.total = 2000 * HOSTILE_SCALE;
  long live0 = weft_debug_live_objects();
  long live_max = live0;
  hv_attack_begin(&f);
  int64_t t0 = hv_now_us();
  hostile_call(f.h, loop_start, &L);
  int64_t deadline = t0 + 45 * G_USEC_PER_SEC;
  while (!atomic_load(&L.finished) && hv_now_us() < deadline) {
    long live = weft_debug_live_objects();
    if (live > live_max)
      live_max = live;
    g_usleep(10000);
  }
  hostile_call(f.h, loop_stop, &L);
  double secs = (double)(hv_now_us() - t0) / 1e6;
  /* Let the last closes land. */
  int64_t settle = hv_now_us() + 2 * G_USEC_PER_SEC;
  while (atomic_load(&f.v->n_close) < L.done && hv_now_us() < settle)
    g_usleep(10000);
  chan_count c = {f.v->pc, 0, 0, 0};
  hv_on_engine(f.ctx, count_channels, &c);
  g_print("# open_reset_loop: %d/%d cycles in %.1f s (%d reset refusals); victim saw %d "
          "on_data_channel, %d open, %d close, %d dc errors, %d pc errors; live objects %ld -> "
          "max %ld; pc keeps %u channels (%u closed, %u by stream)\n",
          L.done, L.total, secs, L.reset_errors, atomic_load(&f.v->n_dcs),
          atomic_load(&f.v->n_open), atomic_load(&f.v->n_close), atomic_load(&f.v->n_dc_errors),
          atomic_load(&f.v->n_pc_errors), live0, live_max, c.all, c.closed, c.by_stream);
  /* Each weft_dc the remote made, open or remembered closed: at most what is
   * in flight plus WEFT__MAX_CLOSED_CHANNELS. */
  long dc_bound = LOOP_INFLIGHT + WEFT__MAX_CLOSED_CHANNELS;
  /* A channel: the struct, its label, its events: well under 2 KiB; the
   * rest is slack for libnice/usrsctp/GLib bookkeeping. */
  hv_attack_end(&f, "open_reset_loop", (dc_bound * 2 + HOSTILE_RSS_SLACK_KB) * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(L.done, ==, L.total);
  g_assert_cmpint(atomic_load(&f.v->n_dcs), ==, L.total);
  g_assert_cmpint(live_max - live0, <=, dc_bound);
  g_assert_cmpuint(c.all, <=, (guint)dc_bound);
  g_assert_cmpuint(c.closed, <=, WEFT__MAX_CLOSED_CHANNELS);
  g_assert_cmpint(atomic_load(&f.v->conn_state), ==, WEFT_PC_CONNECTED);
  hv_frame_down(&f);
}

/* ---- bogus ------------------------------------------------------------------------ */

typedef struct bogus_job {
  int round;
  uint16_t stream_base;
  int sent;
} bogus_job;

static void send_dcep_raw(hostile *h, uint16_t stream, const uint8_t *p, size_t n, int *sent) {
  g_assert_cmpint(weft__sctp_send(h->sctp, stream, WEFT__PPID_DCEP, p, n, NULL), ==, 0);
  (*sent)++;
}

/* One round: 5 errors (1 unknown type, 3 refused OPENs that are reset, 1
 * label over 4096 bytes, also reset) and 2 silent drops. Streams: 8 odd ones
 * from @stream_base. */
static void bogus_round(hostile *h, void *data) {
  bogus_job *j = data;
  uint16_t s = j->stream_base;
  static const uint8_t unknown[] = {0x07, 1, 2, 3};
  send_dcep_raw(h, s, unknown, sizeof unknown, &j->sent);
  static const uint8_t trunc[] = {0x03, 0x00, 0x00};
  send_dcep_raw(h, (uint16_t)(s + 2), trunc, sizeof trunc, &j->sent);
  /* label_len 0xFFFF in a 14-byte message. */
  static const uint8_t longlab[] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 'a', 'b'};
  send_dcep_raw(h, (uint16_t)(s + 4), longlab, sizeof longlab, &j->sent);
  /* Unknown channel type 0x55. */
  static const uint8_t badtype[] = {0x03, 0x55, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 'x'};
  send_dcep_raw(h, (uint16_t)(s + 6), badtype, sizeof badtype, &j->sent);
  /* A label over WEFT__MAX_LABEL_BYTES. */
  char *big = g_malloc(5000);
  memset(big, 'L', 5000);
  send_open(h, (uint16_t)(s + 8), big, 5000);
  g_free(big);
  j->sent++;
  /* Silent drops: an ACK nobody waits for, a string on a stream with no channel. */
  static const uint8_t ack[] = {0x02};
  send_dcep_raw(h, (uint16_t)(s + 10), ack, sizeof ack, &j->sent);
  static const uint8_t text[] = "no channel here";
  g_assert_cmpint(
      weft__sctp_send(h->sctp, (uint16_t)(s + 12), WEFT__PPID_STRING, text, sizeof text - 1, NULL),
      ==, 0);
  j->sent++;
}

typedef struct held_count {
  weft_pc *pc;
  guint held;
  uint64_t dropped;
} held_count;

static void count_held(held_count *c) {
  g_mutex_lock(&c->pc->lock);
  c->held = c->pc->held_errors.length;
  c->dropped = c->pc->dropped_errors;
  g_mutex_unlock(&c->pc->lock);
}

typedef struct legit_job {
  uint16_t stream;
  const char *label;
} legit_job;

static void legit_open(hostile *h, void *data) {
  legit_job *j = data;
  send_open(h, j->stream, j->label, strlen(j->label));
}

static void legit_misc(hostile *h, void *data) {
  legit_job *j = data;
  /* A second OPEN on the open stream (ignored), an unknown PPID (dropped), then
   * an empty string and an empty binary message, then a binary message. */
  send_open(h, j->stream, "again", 5);
  static const uint8_t junk[] = {1, 2, 3};
  g_assert_cmpint(weft__sctp_send(h->sctp, j->stream, 99, junk, sizeof junk, NULL), ==, 0);
  g_assert_cmpint(weft__sctp_send(h->sctp, j->stream, WEFT__PPID_STRING_EMPTY, NULL, 0, NULL), ==,
                  0);
  g_assert_cmpint(weft__sctp_send(h->sctp, j->stream, WEFT__PPID_BINARY_EMPTY, NULL, 0, NULL), ==,
                  0);
  static const uint8_t hello[] = "hello after the storm";
  g_assert_cmpint(
      weft__sctp_send(h->sctp, j->stream, WEFT__PPID_BINARY, hello, sizeof hello - 1, NULL), ==, 0);
}

static void test_bogus(void) {
  hv_frame f;
  hv_frame_up(&f, NULL, NULL, false); /* no on_error yet: errors are held (at most 64) */
  atomic_store(&f.v->echo, true);
  hv_attack_begin(&f);
  int rounds = 150 * HOSTILE_SCALE;
  int sent = 0;
  for (int r = 0; r < rounds; r++) {
    /* Stream bases repeat every 63 rounds. weft merges a refusal into a reset
     * of the same stream that has not left yet (one reset closes the stream
     * however often it was refused), so before a base is reused the resets of
     * its last round must have arrived, or the count below would be short
     * (it was on a slow TSan run: 545 of 600). */
    if (r >= 63)
      g_assert_true(hv_wait_llong_ge(&f.h->resets_in, 4LL * (r - 62), 20000));
    bogus_job j = {r, (uint16_t)(1 + 16 * (r % 63)), 0};
    hostile_call(f.h, bogus_round, &j);
    sent += j.sent;
    if (r % 10 == 9)
      g_usleep(5000);
  }
  /* Every refused OPEN is answered with a reset of that stream: 4 a round. */
  int64_t end = hv_now_us() + 20 * G_USEC_PER_SEC;
  while (atomic_load(&f.h->resets_in) < 4 * rounds && hv_now_us() < end)
    g_usleep(10000);
  held_count hc = {f.v->pc, 0, 0};
  count_held(&hc);
  g_print("# bogus: %d rounds, %d DCEP/data messages; victim: %d channels, resets seen by the "
          "hostile %lld, errors held %u, dropped %" G_GUINT64_FORMAT "\n",
          rounds, sent, atomic_load(&f.v->n_dcs), (long long)atomic_load(&f.h->resets_in), hc.held,
          hc.dropped);
  g_assert_cmpint(atomic_load(&f.v->n_dcs), ==, 0);
  g_assert_cmpint(atomic_load(&f.h->resets_in), >=, 4 * rounds);
  /* 5 errors a round reach the error path; what waits for on_error is
   * capped (64), the rest is counted (and may be rate-limited before). */
  g_assert_cmpuint(hc.held, >=, 1);
  g_assert_cmpuint(hc.held, <=, WEFT__MAX_HELD_ERRORS);
  g_assert_cmpuint(hc.held + hc.dropped, <=, (uint64_t)(5 * rounds));
  /* Setting the handler delivers the held ones, no more. */
  victim_set_on_error(f.v);
  g_assert_true(hv_wait_int_ge(&f.v->n_pc_errors, (int)hc.held, 5000));
  g_usleep(200000);
  g_assert_cmpint(atomic_load(&f.v->n_pc_errors), ==, (int)hc.held);
  g_assert_cmpint(atomic_load(&f.v->last_pc_error_detail), ==, WEFT_DETAIL_DATA_CHANNEL_FAILURE);

  /* The association still works: a real channel opens, a second OPEN on it is
   * ignored, junk PPIDs are dropped, and a message is echoed back. An OPEN on
   * weft's own parity (even: weft is the DTLS client) is accepted. */
  legit_job lj = {1021, "after"};
  hostile_call(f.h, legit_open, &lj);
  g_assert_true(hv_wait_int_ge(&f.v->n_dcs, 1, 5000));
  long long before = atomic_load(&f.h->rx_msgs);
  hostile_call(f.h, legit_misc, &lj);
  int64_t t = hv_now_us() + 5 * G_USEC_PER_SEC;
  /* The ACK, the two empty messages and the binary one come back. */
  while (atomic_load(&f.h->rx_msgs) < before + 3 && hv_now_us() < t)
    g_usleep(5000);
  g_assert_cmpint(atomic_load(&f.h->rx_msgs), >=, before + 3);
  legit_job even = {1000, "even"};
  hostile_call(f.h, legit_open, &even);
  g_assert_true(hv_wait_int_ge(&f.v->n_dcs, 2, 5000));
  hv_attack_end(&f, "bogus", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(atomic_load(&f.v->n_dcs), ==, 2);
  g_assert_cmpint(atomic_load(&f.v->conn_state), ==, WEFT_PC_CONNECTED);
  hv_frame_down(&f);
}

/* ---- invalid_utf8 ---------------------------------------------------------------- */

static void send_bad_text(hostile *h, void *data) {
  legit_job *j = data;
  static const uint8_t bad[] = {'o', 'k', 0xC0, 0xAF, 0xFF, 0xFE, 0xED, 0xA0, 0x80};
  g_assert_cmpint(weft__sctp_send(h->sctp, j->stream, WEFT__PPID_STRING, bad, sizeof bad, NULL), ==,
                  0);
  static const uint8_t good[] = "fine";
  g_assert_cmpint(
      weft__sctp_send(h->sctp, j->stream, WEFT__PPID_STRING, good, sizeof good - 1, NULL), ==, 0);
}

static void test_invalid_utf8(void) {
  hv_frame f;
  hv_frame_up(&f, NULL, NULL, true);
  hv_attack_begin(&f);
  legit_job lj = {1, "text"};
  hostile_call(f.h, legit_open, &lj);
  g_assert_true(hv_wait_int_ge(&f.v->n_open, 1, 5000));
  hostile_call(f.h, send_bad_text, &lj);
  /* The valid message after it arrives in any case. */
  int64_t end = hv_now_us() + 5 * G_USEC_PER_SEC;
  while (atomic_load(&f.v->n_msgs) + atomic_load(&f.v->n_dc_errors) < 2 && hv_now_us() < end &&
         atomic_load(&f.v->n_close) == 0)
    g_usleep(5000);
  g_usleep(100000);
  g_print("# invalid_utf8: victim got %d messages (%d not valid UTF-8), %d dc errors, %d "
          "closes\n",
          atomic_load(&f.v->n_msgs), atomic_load(&f.v->n_bad_text), atomic_load(&f.v->n_dc_errors),
          atomic_load(&f.v->n_close));
  hv_attack_end(&f, "invalid_utf8", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  /* weft.h: TEXT messages are valid UTF-8. A message that is not must be
   * refused (dropped, or the channel failed with an error), never delivered
   * as TEXT. */
  g_assert_cmpint(atomic_load(&f.v->n_bad_text), ==, 0);
  hv_frame_down(&f);
}

int main(int argc, char **argv) {
  hv_test_init(&argc, &argv);
  g_test_add_func("/hostile/dcep/open_reset_loop", test_open_reset_loop);
  g_test_add_func("/hostile/dcep/bogus", test_bogus);
  g_test_add_func("/hostile/dcep/invalid_utf8", test_invalid_utf8);
  return g_test_run();
}

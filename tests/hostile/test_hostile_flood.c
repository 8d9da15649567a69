/*
 * A receive flood to an application slower than the network (issue 12 §4):
 * the hostile peer sends 1 GiB (optimized builds; 256 MiB under sanitizers
 * and in Debug) of 64 KiB messages on one channel as fast as its SCTP
 * association lets it; the victim runs in WEFT_CONTEXT_QUEUED mode and its
 * application thread dispatches, checks every byte and takes them at a
 * fixed rate below the network's (64 MiB/s; 16 MiB/s under sanitizers).
 *
 * weft's receive budget (weft_config_set_receive_buffer_limit: 1 MiB here,
 * 256 KiB under sanitizers, so a bystander event never waits long behind it)
 * must stop reading from SCTP, close the window and hold the sender back:
 * every byte arrives, in order, the process's RSS grows by less than the
 * budget + 16 MiB, and the bystander pair (whose callbacks share the
 * application thread) keeps a p99 under 50 ms.
 */
#include <string.h>

#include "hostile_peer.h"

#if HOSTILE_SCALE > 1
#define FLOOD_BYTES ((uint64_t)1 << 30)
#define APP_RATE (64.0 * 1024 * 1024)
#define RX_BUDGET ((size_t)1 << 20)
#else
#define FLOOD_BYTES ((uint64_t)256 << 20)
#define APP_RATE (16.0 * 1024 * 1024)
#define RX_BUDGET ((size_t)256 << 10)
#endif
enum { MSG = 64 * 1024, SENDER_WINDOW = 1 << 20 };

typedef struct flood {
  uint8_t *base;
  /* Sender (hostile thread). */
  uint64_t next_seq, total_msgs;
  GSource *tick;
  /* Receiver (the application thread). */
  uint64_t expect_seq;
  atomic_llong got_bytes;
  atomic_int bad;
  int64_t t_first_us;
  double consumed;
} flood;

static flood F;

static void pump(hostile *h) {
  uint8_t *msg = F.base; /* bytes 0..7 rewritten per message */
  while (F.next_seq < F.total_msgs && weft__sctp_buffered_amount(h->sctp, 1) < SENDER_WINDOW) {
    uint8_t *m = g_malloc(MSG);
    memcpy(m, msg, MSG);
    for (int i = 0; i < 8; i++)
      m[i] = (uint8_t)(F.next_seq >> (8 * (7 - i)));
    int rc = weft__sctp_send_owned(h->sctp, 1, WEFT__PPID_BINARY, m, MSG, NULL);
    if (rc < 0) {
      g_printerr("flood: sctp_send: %s\n", weft_last_error_message());
      break;
    }
    F.next_seq++;
  }
}

static void on_low(hostile *h, uint16_t stream, size_t amount) {
  (void)stream;
  (void)amount;
  pump(h);
}

static gboolean pump_tick(gpointer p) {
  pump(p);
  if (F.next_seq >= F.total_msgs) {
    F.tick = NULL;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void flood_start(hostile *h, void *data) {
  (void)data;
  h->on_low = on_low;
  pump(h);
  F.tick = g_timeout_source_new(2);
  g_source_set_callback(F.tick, pump_tick, h, NULL);
  g_source_attach(F.tick, h->ctx);
  g_source_unref(F.tick);
}

static void flood_stop(hostile *h, void *data) {
  (void)data;
  if (F.tick)
    g_source_destroy(F.tick);
  F.tick = NULL;
  h->on_low = NULL;
}

/* The slow application: checks the message, then takes its time. */
static void on_msg(victim *v, weft_dc *dc, weft_msg_type type, const void *data, size_t size) {
  (void)v;
  (void)dc;
  const uint8_t *p = data;
  if (type != WEFT_MSG_BINARY || size != MSG) {
    atomic_fetch_add(&F.bad, 1);
    return;
  }
  uint64_t seq = 0;
  for (int i = 0; i < 8; i++)
    seq = seq << 8 | p[i];
  if (seq != F.expect_seq || memcmp(p + 8, F.base + 8, MSG - 8) != 0)
    atomic_fetch_add(&F.bad, 1);
  F.expect_seq = seq + 1;
  int64_t now = hv_now_us();
  if (!F.t_first_us)
    F.t_first_us = now;
  F.consumed += (double)size;
  int64_t due = F.t_first_us + (int64_t)(F.consumed / APP_RATE * 1e6);
  if (due > now)
    g_usleep((gulong)MIN(due - now, 20000));
  atomic_fetch_add(&F.got_bytes, (long long)size);
}

typedef struct open_job {
  uint16_t stream;
} open_job;

static void open_channel(hostile *h, void *data) {
  open_job *j = data;
  weft__dcep_open o = {0};
  o.channel_type = WEFT__DCEP_RELIABLE;
  o.label = "flood";
  o.label_len = 5;
  uint8_t *buf = NULL;
  size_t len = 0;
  g_assert_cmpint(weft__dcep_build_open(&o, &buf, &len), ==, 0);
  g_assert_cmpint(weft__sctp_send(h->sctp, j->stream, WEFT__PPID_DCEP, buf, len, NULL), ==, 0);
  g_free(buf);
}

static void test_slow_app(void) {
  memset(&F, 0, sizeof F);
  F.base = g_malloc(MSG);
  GRand *rng = g_rand_new_with_seed(4242);
  for (int i = 0; i < MSG; i++)
    F.base[i] = (uint8_t)g_rand_int(rng);
  g_rand_free(rng);
  F.total_msgs = FLOOD_BYTES / MSG;

  weft_context_options co = WEFT_CONTEXT_OPTIONS_INIT;
  co.mode = WEFT_CONTEXT_QUEUED;
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_set_receive_buffer_limit(cfg, RX_BUDGET), ==, WEFT_OK);
  hv_frame f;
  hv_frame_up_ctx(&f, &co, NULL, cfg, true);
  weft_config_free(cfg);
  atomic_store(&f.v->on_msg, on_msg);
  open_job j = {1};
  hostile_call(f.h, open_channel, &j);
  g_assert_true(hv_wait_int_ge(&f.v->n_open, 1, 5000));

  hv_attack_begin(&f);
  int64_t t0 = hv_now_us();
  hostile_call(f.h, flood_start, NULL);
  size_t peak_used = 0;
  int64_t deadline = t0 + 100 * G_USEC_PER_SEC;
  while ((uint64_t)atomic_load(&F.got_bytes) < FLOOD_BYTES && hv_now_us() < deadline &&
         !atomic_load(&f.h->sctp_closed)) {
    size_t used = weft__rx_budget_used(&f.v->pc->rx_budget);
    if (used > peak_used)
      peak_used = used;
    g_usleep(2000);
  }
  double secs = (double)(hv_now_us() - t0) / 1e6;
  hostile_call(f.h, flood_stop, NULL);
  uint64_t got = (uint64_t)atomic_load(&F.got_bytes);
  g_print("# slow_app: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " MiB in %.1f s (%.1f MiB/s; the application takes %.0f MiB/s), %d bad; receive "
          "budget %zu KiB, peak used %zu KiB\n",
          got >> 20, FLOOD_BYTES >> 20, secs, (double)got / (1 << 20) / secs, APP_RATE / (1 << 20),
          atomic_load(&F.bad), RX_BUDGET >> 10, peak_used >> 10);
  g_print(
      "# slow_app: end states: hostile ICE %d DTLS %d SCTP %s; victim %s, ICE %s, %d pc "
      "errors (last code %d detail %d)\n",
      atomic_load(&f.h->ice_state), atomic_load(&f.h->dtls_state),
      atomic_load(&f.h->sctp_closed) ? "closed" : "up",
      weft_pc_state_to_string((weft_pc_state)atomic_load(&f.v->conn_state)),
      weft_ice_connection_state_to_string((weft_ice_connection_state)atomic_load(&f.v->ice_state)),
      atomic_load(&f.v->n_pc_errors), atomic_load(&f.v->last_pc_error_code),
      atomic_load(&f.v->last_pc_error_detail));
  hv_attack_end(&f, "slow_app", ((long)(RX_BUDGET >> 10) + 16 * 1024) * HOSTILE_RSS_FACTOR);
  g_assert_cmpuint(got, ==, FLOOD_BYTES);
  g_assert_cmpint(atomic_load(&F.bad), ==, 0);
  /* One message may go past the budget (weft.h). */
  g_assert_cmpuint(peak_used, <=, RX_BUDGET + MSG + WEFT__RX_MSG_OVERHEAD);
  g_free(F.base);
  hv_frame_down(&f);
}

int main(int argc, char **argv) {
  hv_test_init(&argc, &argv);
  g_test_add_func("/hostile/flood/slow_app", test_slow_app);
  return g_test_run();
}

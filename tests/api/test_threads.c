/*
 * Threads and contexts: the three context modes, concurrent senders,
 * concurrent peer connections, weft calls from inside callbacks, the QUEUED
 * mode API rules, user data destroy notifies, and the replay rule (weft.h
 * rule 4).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pair.h"

static void modes_exchange(pair_mode mode) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = mode;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "modes", &a, &b);
  g_test_message("mode %d: channel open after %.1f ms", mode,
                 (double)(p->t_open_us - p->t_start_us) / 1000.0);
  enum { N = 100 };
  for (int i = 0; i < N; i++) {
    char m[32];
    int n = g_snprintf(m, sizeof m, "m%d", i);
    g_assert_cmpint(weft_dc_send_text(a->dc, m, (size_t)n), ==, WEFT_OK);
  }
  g_assert_true(probe_wait_msgs(a, N, 10000));
  for (int i = 0; i < N; i++) {
    char m[32];
    g_snprintf(m, sizeof m, "m%d", i);
    g_assert_cmpstr((const char *)probe_msg(a, i)->data, ==, m);
  }
  /* Mode-specific context API. */
  if (mode == PAIR_QUEUED) {
    int fd = weft_context_get_fd(p->ctx);
    g_assert_cmpint(fd, >=, 0);
    /* Readable while events are pending: B sends, nobody dispatches. */
    pair_pump(p, 50);
    g_assert_cmpint(weft_dc_send_text(b->dc, "ping", 4), ==, WEFT_OK);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    g_assert_cmpint(poll(&pfd, 1, 5000), ==, 1);
    g_assert_cmpint(weft_context_wait(p->ctx, 0), ==, 1);
    g_assert_cmpint(weft_context_dispatch(p->ctx, 1), ==, 1);
    g_assert_true(probe_wait_msgs(a, N + 1, 5000));
    pair_pump(p, 50);
    g_assert_cmpint(weft_context_wait(p->ctx, 0), ==, 0);
    g_assert_cmpint(weft_context_dispatch(p->ctx, 0), ==, 0);
    g_assert_cmpint(weft_context_is_current(p->ctx), ==, 0);
  } else {
    g_assert_cmpint(weft_context_get_fd(p->ctx), ==, WEFT_ERR_INVALID_STATE);
    g_assert_cmpint(weft_context_dispatch(p->ctx, 0), ==, WEFT_ERR_INVALID_STATE);
    g_assert_cmpint(weft_context_wait(p->ctx, 0), ==, WEFT_ERR_INVALID_STATE);
    g_assert_cmpint(weft_context_is_current(p->ctx), ==, 0);
  }
  if (mode == PAIR_GLIB)
    g_assert_true(weft_context_get_main_context(p->ctx) == p->gmain);
  pair_free(p);
}

static void test_mode_thread(void) { modes_exchange(PAIR_THREAD); }
static void test_mode_queued(void) { modes_exchange(PAIR_QUEUED); }
static void test_mode_glib(void) { modes_exchange(PAIR_GLIB); }

/* 8 threads sending on one channel. */
enum { SENDERS = 8, PER_SENDER = 5000 };
typedef struct {
  weft_dc *dc;
  int tid;
  int again;
} sender_arg;

static gpointer sender(gpointer data) {
  sender_arg *s = data;
  for (int i = 0; i < PER_SENDER;) {
    char m[48];
    int n = g_snprintf(m, sizeof m, "t%d:%d", s->tid, i);
    int rc = weft_dc_send_text(s->dc, m, (size_t)n);
    if (rc == WEFT_ERR_AGAIN) {
      s->again++;
      g_usleep(1000);
      continue;
    }
    g_assert_cmpint(rc, ==, WEFT_OK);
    i++;
  }
  return NULL;
}

static void test_concurrent_senders(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "senders", &a, &b);
  GThread *t[SENDERS];
  sender_arg args[SENDERS];
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < SENDERS; i++) {
    args[i] = (sender_arg){a->dc, i, 0};
    t[i] = g_thread_new("sender", sender, &args[i]);
  }
  for (int i = 0; i < SENDERS; i++)
    g_thread_join(t[i]);
  g_assert_true(probe_wait_msgs(b, SENDERS * PER_SENDER, 15000));
  g_test_message("%d messages from %d threads in %.1f ms", SENDERS * PER_SENDER, SENDERS,
                 (g_get_monotonic_time() - t0) / 1000.0);
  int next[SENDERS] = {0};
  for (int k = 0; k < SENDERS * PER_SENDER; k++) {
    pair_msg *m = probe_msg(b, k);
    int tid = -1, seq = -1;
    g_assert_cmpint(m->type, ==, WEFT_MSG_TEXT);
    g_assert_cmpint(sscanf((const char *)m->data, "t%d:%d", &tid, &seq), ==, 2);
    g_assert_cmpint(tid, >=, 0);
    g_assert_cmpint(tid, <, SENDERS);
    g_assert_cmpint(seq, ==, next[tid]); /* per-thread order kept */
    next[tid]++;
  }
  for (int i = 0; i < SENDERS; i++)
    g_assert_cmpint(next[i], ==, PER_SENDER);
  pair_pump(p, 100);
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, SENDERS * PER_SENDER);
  /* Everything was delivered: bufferedAmount is back to exactly 0 (it is
   * updated by the senders and the engine concurrently). */
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (weft_dc_get_buffered_amount(a->dc) != 0 && g_get_monotonic_time() < end)
    pair_pump(p, 5);
  size_t left = weft_dc_get_buffered_amount(a->dc);
  if (left)
    g_printerr("bufferedAmount after every message arrived: %zu\n", left);
  g_assert_true(left == 0);
  pair_free(p);
}

/* 8 threads, each with its own pair (own context, or one shared context). */
static weft_context *shared_ctx;

static gpointer pair_worker(gpointer data) {
  int id = GPOINTER_TO_INT(data);
  for (int round = 0; round < 2; round++) {
    pair_opts o = PAIR_OPTS_INIT;
    o.echo_remote = TRUE;
    o.ctx = shared_ctx;
    pair *p = pair_new(&o);
    dc_probe *a, *b;
    char label[32];
    g_snprintf(label, sizeof label, "worker-%d-%d", id, round);
    pair_connect(p, label, &a, &b);
    g_assert_cmpint(weft_dc_send_text(a->dc, label, strlen(label)), ==, WEFT_OK);
    g_assert_true(probe_wait_msgs(a, 1, 10000));
    g_assert_cmpstr((const char *)probe_msg(a, 0)->data, ==, label);
    pair_release(p);
  }
  return NULL;
}

static void concurrent_pairs(gboolean shared) {
  enum { WORKERS = 8 };
  shared_ctx = shared ? weft_context_new(NULL) : NULL;
  GThread *t[WORKERS];
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < WORKERS; i++)
    t[i] = g_thread_new("pair-worker", pair_worker, GINT_TO_POINTER(i));
  for (int i = 0; i < WORKERS; i++)
    g_thread_join(t[i]);
  g_test_message("%d threads x 2 pairs (%s context): %.1f ms", WORKERS, shared ? "shared" : "own",
                 (g_get_monotonic_time() - t0) / 1000.0);
  weft_context_unref(shared_ctx);
  shared_ctx = NULL;
  pair_assert_no_live_objects(2000);
}

static void test_concurrent_pairs_own(void) { concurrent_pairs(FALSE); }
static void test_concurrent_pairs_shared(void) { concurrent_pairs(TRUE); }

/* weft calls from inside callbacks. */
typedef struct {
  gint done;
  int fails;
  char *desc;
} in_cb_result;

static void open_hook_calls(dc_probe *pr) {
  pair *p = pr->pair;
  pair_side *s = &p->side[pr->side];
  in_cb_result *r = pr->hook_data;
  if (!r || pr->side != 0)
    return;
  int fails = 0;
#define CHECK_(cond)                                                                               \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      g_printerr("in callback: %s failed\n", #cond);                                               \
      fails++;                                                                                     \
    }                                                                                              \
  } while (0)
  CHECK_(weft_dc_get_ready_state(pr->dc) == WEFT_DC_OPEN);
  CHECK_(strcmp(weft_dc_get_label(pr->dc), "outer") == 0);
  CHECK_(weft_dc_get_id(pr->dc) >= 0);
  CHECK_(weft_pc_get_connection_state(s->pc) == WEFT_PC_CONNECTED ||
         weft_pc_get_connection_state(s->pc) == WEFT_PC_CONNECTING);
  CHECK_(weft_pc_get_signaling_state(s->pc) == WEFT_SIGNALING_STABLE);
  char *sdp = NULL, *l = NULL, *rm = NULL, *fp = NULL;
  size_t max = 0;
  CHECK_(weft_pc_get_description(s->pc, WEFT_DESC_REMOTE, NULL, &sdp) == WEFT_OK && sdp);
  weft_free(sdp);
  CHECK_(weft_pc_get_selected_candidate_pair(s->pc, &l, &rm) == WEFT_OK);
  weft_free(l);
  weft_free(rm);
  CHECK_(weft_pc_get_local_fingerprint(s->pc, &fp) == WEFT_OK && fp);
  weft_free(fp);
  CHECK_(weft_pc_get_max_message_size(s->pc, &max) == WEFT_OK && max > 0);
  CHECK_(weft_dc_send_text(pr->dc, "from on_open", 12) == WEFT_OK);
  /* A new channel from inside the callback. */
  weft_dc *inner = weft_pc_create_data_channel(s->pc, "inner", NULL);
  CHECK_(inner != NULL);
  weft_dc_unref(inner); /* the pc keeps it; B will see it */
  /* In QUEUED mode the callback thread is the test thread: dispatching or
   * waiting from here is refused. */
  if (p->opts.mode == PAIR_QUEUED) {
    CHECK_(weft_context_dispatch(p->ctx, 0) == WEFT_ERR_WRONG_THREAD);
    CHECK_(weft_last_error() == WEFT_ERR_WRONG_THREAD);
    CHECK_(weft_context_wait(p->ctx, 0) == WEFT_ERR_WRONG_THREAD);
    CHECK_(weft_context_is_current(p->ctx) == 0);
  } else {
    CHECK_(weft_context_dispatch(p->ctx, 0) == WEFT_ERR_INVALID_STATE);
    CHECK_(weft_context_is_current(p->ctx) == 1);
  }
#undef CHECK_
  r->fails = fails;
  g_atomic_int_set(&r->done, 1);
}

static void calls_from_callbacks(pair_mode mode) {
  pair *p = pair_new_mode(mode);
  in_cb_result r = {0};
  dc_probe *a = pair_create_dc(p, 0, "outer", NULL);
  a->hook_data = &r;
  a->on_open_hook = open_hook_calls;
  pair_negotiate(p);
  g_assert_true(pair_wait_ge(p, &r.done, 1, 10000));
  g_assert_cmpint(r.fails, ==, 0);
  dc_probe *b = pair_wait_remote_dc(p, 1, "outer", 5000);
  g_assert_nonnull(b);
  g_assert_true(probe_wait_msgs(b, 1, 5000));
  g_assert_cmpstr((const char *)probe_msg(b, 0)->data, ==, "from on_open");
  dc_probe *inner = pair_wait_remote_dc(p, 1, "inner", 5000);
  g_assert_nonnull(inner);
  g_assert_true(pair_wait_ge(p, &inner->opened, 1, 5000));
  pair_free(p);
}

static void test_calls_from_callbacks_thread(void) { calls_from_callbacks(PAIR_THREAD); }
static void test_calls_from_callbacks_queued(void) { calls_from_callbacks(PAIR_QUEUED); }
static void test_calls_from_callbacks_glib(void) { calls_from_callbacks(PAIR_GLIB); }

/* The application dropped its context reference early (the pc keeps the
 * context alive) and drops the pc's last reference from inside the pc's own
 * callback (rule 1: any function from inside callbacks). The context then
 * goes away with the pc. In QUEUED and GLib mode the callback runs on the
 * test thread, inside weft_context_dispatch / g_main_context_iteration. */
static gint released_in_cb;
static weft_context *cb_ctx;
static void release_in_callback(weft_pc *pc, void *ud) {
  weft_pc_unref(pc); /* the application's only reference */
  g_atomic_int_set(&released_in_cb, 1);
}

static void unref_from_callback(pair_mode mode) {
  g_atomic_int_set(&released_in_cb, 0);
  GMainContext *mc = NULL;
  if (mode == PAIR_GLIB) {
    mc = g_main_context_new();
    cb_ctx = weft_context_new_for_main_context(mc);
  } else {
    weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
    o.mode = mode == PAIR_QUEUED ? WEFT_CONTEXT_QUEUED : WEFT_CONTEXT_THREAD;
    cb_ctx = weft_context_new(&o);
  }
  weft_context *ctx = cb_ctx; /* borrowed: the pc keeps it alive */
  weft_pc *pc = weft_pc_new(cb_ctx, NULL);
  g_assert_nonnull(pc);
  weft_context_unref(cb_ctx);
  g_assert_cmpint(weft_pc_set_on_negotiation_needed(pc, release_in_callback), ==, WEFT_OK);
  weft_dc *dc = weft_pc_create_data_channel(pc, "x", NULL);
  g_assert_nonnull(dc);
  weft_dc_unref(dc);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (!g_atomic_int_get(&released_in_cb) && g_get_monotonic_time() < end) {
    if (mode == PAIR_QUEUED) {
      weft_context_wait(ctx, 10);
      weft_context_dispatch(ctx, 0); /* the callback runs in here */
    } else if (mode == PAIR_GLIB) {
      g_main_context_iteration(mc, FALSE);
      g_usleep(500);
    } else {
      g_usleep(1000);
    }
  }
  g_assert_cmpint(g_atomic_int_get(&released_in_cb), ==, 1);
  if (mc) {
    end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (weft_debug_live_objects() && g_get_monotonic_time() < end)
      if (!g_main_context_iteration(mc, FALSE))
        g_usleep(1000);
  }
  pair_assert_no_live_objects(2000);
  if (mc) {
    while (g_main_context_iteration(mc, FALSE))
      ;
    g_main_context_unref(mc);
  }
}

static void test_unref_from_callback_thread(void) { unref_from_callback(PAIR_THREAD); }
static void test_unref_from_callback_glib(void) { unref_from_callback(PAIR_GLIB); }
static void test_unref_from_callback_queued(void) { unref_from_callback(PAIR_QUEUED); }

/* User data destroy notifies. */
static gint destroyed[4];
static void destroy_ud(void *d) { g_atomic_int_inc(&destroyed[GPOINTER_TO_INT(d)]); }

static void test_user_data(void) {
  memset(destroyed, 0, sizeof destroyed);
  weft_context *ctx = weft_context_new(NULL);
  weft_pc *pc = weft_pc_new(ctx, NULL);
  g_assert_null(weft_pc_get_user_data(pc));
  g_assert_cmpint(weft_pc_set_user_data(pc, GINT_TO_POINTER(0), destroy_ud), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_user_data(pc, GINT_TO_POINTER(1), destroy_ud), ==, WEFT_OK);
  g_assert_cmpint(g_atomic_int_get(&destroyed[0]), ==, 1);
  g_assert_true(weft_pc_get_user_data(pc) == GINT_TO_POINTER(1));
  weft_dc *dc = weft_pc_create_data_channel(pc, "ud", NULL);
  g_assert_null(weft_dc_get_user_data(dc)); /* local channels start with NULL */
  g_assert_cmpint(weft_dc_set_user_data(dc, GINT_TO_POINTER(2), destroy_ud), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_user_data(dc, GINT_TO_POINTER(3), destroy_ud), ==, WEFT_OK);
  g_assert_cmpint(g_atomic_int_get(&destroyed[2]), ==, 1);
  weft_pc_unref(pc);
  weft_dc_unref(dc);
  weft_context_unref(ctx);
  pair_assert_no_live_objects(2000);
  g_assert_cmpint(g_atomic_int_get(&destroyed[0]), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&destroyed[1]), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&destroyed[2]), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&destroyed[3]), ==, 1);
}

/* Replay: handlers set after the event. */
static gint late_open, late_state_calls, late_state_value = -1;
static void late_on_open(weft_dc *dc, void *ud) { g_atomic_int_inc(&late_open); }
static void late_on_conn(weft_pc *pc, weft_pc_state st, void *ud) {
  g_atomic_int_set(&late_state_value, (int)st);
  g_atomic_int_inc(&late_state_calls);
}

static gboolean pred_dc_open(pair *p, void *arg) {
  return weft_dc_get_ready_state(arg) == WEFT_DC_OPEN;
}

static void replay(pair_mode mode) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = mode;
  o.late_dc_handler = TRUE;
  pair *p = pair_new(&o);
  g_atomic_int_set(&late_open, 0);
  g_atomic_int_set(&late_state_calls, 0);
  /* A raw channel with no handlers at all. */
  weft_dc *raw = weft_pc_create_data_channel(p->side[0].pc, "raw", NULL);
  g_assert_nonnull(raw);
  /* A negotiated channel on both sides without handlers. */
  weft_dc_init neg = WEFT_DC_INIT;
  neg.negotiated = 1;
  neg.id = 40;
  weft_dc *na = weft_pc_create_data_channel(p->side[0].pc, "neg", &neg);
  weft_dc *nb = weft_pc_create_data_channel(p->side[1].pc, "neg", &neg);
  g_assert_nonnull(na);
  g_assert_nonnull(nb);
  pair_negotiate(p);
  g_assert_true(pair_wait(p, pred_dc_open, raw, 10000));
  g_assert_true(pair_wait(p, pred_dc_open, na, 10000));
  g_assert_true(pair_wait(p, pred_dc_open, nb, 10000));
  /* Messages before B's on_message exists. */
  for (int i = 0; i < 5; i++) {
    char m[8];
    int n = g_snprintf(m, sizeof m, "early%d", i);
    g_assert_cmpint(weft_dc_send_text(na, m, (size_t)n), ==, WEFT_OK);
  }
  pair_pump(p, 300);
  /* on_open set late: still called, once. */
  g_assert_cmpint(weft_dc_set_on_open(raw, late_on_open), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &late_open, 1, 2000));
  pair_pump(p, 100);
  g_assert_cmpint(g_atomic_int_get(&late_open), ==, 1);
  /* on_message set late: the held messages arrive, in order. */
  dc_probe *pb = pair_probe_attach(p, 1, nb);
  g_assert_true(probe_wait_msgs(pb, 5, 2000));
  for (int i = 0; i < 5; i++) {
    char m[8];
    g_snprintf(m, sizeof m, "early%d", i);
    g_assert_cmpstr((const char *)probe_msg(pb, i)->data, ==, m);
  }
  g_assert_true(pair_wait_ge(p, &pb->opened, 1, 2000)); /* open replayed too */
  pair_pump(p, 50);
  g_assert_cmpint(g_atomic_int_get(&pb->opened), ==, 1);
  /* on_data_channel set late: B gets "raw". */
  g_assert_cmpint(g_atomic_int_get(&p->side[1].n_remote_dcs), ==, 0);
  pair_install_dc_handler(p, 1);
  dc_probe *rb = pair_wait_remote_dc(p, 1, "raw", 2000);
  g_assert_nonnull(rb);
  g_assert_cmpint(weft_dc_get_ready_state(rb->dc), ==, WEFT_DC_OPEN);
  /* A state handler set late gets the current state. */
  g_assert_cmpint(weft_pc_set_on_connection_state_change(p->side[0].pc, late_on_conn), ==, WEFT_OK);
  g_assert_true(pair_wait_ge(p, &late_state_calls, 1, 2000));
  g_assert_cmpint(g_atomic_int_get(&late_state_value), ==, WEFT_PC_CONNECTED);
  pair_pump(p, 100);
  g_assert_cmpint(g_atomic_int_get(&late_state_calls), ==, 1);
  weft_dc_unref(raw);
  weft_dc_unref(na);
  weft_dc_unref(nb);
  pair_free(p);
}

static void test_replay_thread(void) { replay(PAIR_THREAD); }
static void test_replay_queued(void) { replay(PAIR_QUEUED); }

/* GLib mode: calls from another thread while the owner iterates. */
static gpointer glib_sender(gpointer data) {
  weft_dc *dc = data;
  for (int i = 0; i < 200; i++) {
    char m[16];
    int n = g_snprintf(m, sizeof m, "g%d", i);
    g_assert_cmpint(weft_dc_send_text(dc, m, (size_t)n), ==, WEFT_OK);
    g_assert_cmpint(weft_dc_get_ready_state(dc), ==, WEFT_DC_OPEN);
  }
  return NULL;
}

static void test_glib_other_thread(void) {
  pair *p = pair_new_mode(PAIR_GLIB);
  dc_probe *a, *b;
  pair_connect(p, "glib-mt", &a, &b);
  GThread *t = g_thread_new("glib-sender", glib_sender, a->dc);
  g_assert_true(probe_wait_msgs(b, 200, 10000));
  g_thread_join(t);
  for (int i = 0; i < 200; i++) {
    char m[16];
    g_snprintf(m, sizeof m, "g%d", i);
    g_assert_cmpstr((const char *)probe_msg(b, i)->data, ==, m);
  }
  pair_free(p);
}

/* weft_pc_new(NULL, ...): the process-wide default context. */
static void test_default_context(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.default_ctx = TRUE;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "default-ctx", &a, &b);
  g_assert_cmpint(weft_dc_send_text(a->dc, "d", 1), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  pair_free(p); /* the default context itself is not counted as live */
}

/* Replay of pc events: negotiation-needed, candidates and end-of-candidates
 * and gathering state, all set after they happened. */
static gint r_negotiation, r_cands, r_end, r_gather = -1, r_gather_calls;
static void r_on_negotiation(weft_pc *pc, void *ud) { g_atomic_int_inc(&r_negotiation); }
static void r_on_cand(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  if (c)
    g_atomic_int_inc(&r_cands);
  else
    g_atomic_int_inc(&r_end);
}
static void r_on_gather(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  g_atomic_int_set(&r_gather, (int)st);
  g_atomic_int_inc(&r_gather_calls);
}

static gboolean wait_atomic(volatile gint *v, int min, int ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (g_atomic_int_get(v) < min && g_get_monotonic_time() < end)
    g_usleep(1000);
  return g_atomic_int_get(v) >= min;
}

static void test_replay_pc_events(void) {
  weft_context *ctx = weft_context_new(NULL);
  weft_config *cfg = weft_config_new();
  weft_config_set_enable_loopback(cfg, 1);
  weft_pc *pc = weft_pc_new(ctx, cfg);
  weft_config_free(cfg);
  weft_dc *dc = weft_pc_create_data_channel(pc, "r", NULL);
  g_assert_cmpint(weft_pc_set_local_description(pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (weft_pc_get_ice_gathering_state(pc) != WEFT_GATHERING_COMPLETE &&
         g_get_monotonic_time() < end)
    g_usleep(1000);
  g_assert_cmpint(weft_pc_get_ice_gathering_state(pc), ==, WEFT_GATHERING_COMPLETE);
  g_usleep(100 * 1000);
  g_assert_cmpint(weft_pc_set_on_negotiation_needed(pc, r_on_negotiation), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_on_ice_candidate(pc, r_on_cand), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_on_ice_gathering_state_change(pc, r_on_gather), ==, WEFT_OK);
  g_assert_true(wait_atomic(&r_negotiation, 1, 2000));
  g_assert_true(wait_atomic(&r_end, 1, 2000));
  g_assert_true(wait_atomic(&r_gather_calls, 1, 2000));
  g_usleep(100 * 1000);
  g_assert_cmpint(g_atomic_int_get(&r_negotiation), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&r_cands), >, 0);
  g_assert_cmpint(g_atomic_int_get(&r_end), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&r_gather), ==, WEFT_GATHERING_COMPLETE);
  g_assert_cmpint(g_atomic_int_get(&r_gather_calls), ==, 1);
  weft_dc_unref(dc);
  weft_pc_unref(pc);
  weft_context_unref(ctx);
  pair_assert_no_live_objects(2000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/threads/mode-thread", test_mode_thread);
  g_test_add_func("/api/threads/mode-queued", test_mode_queued);
  g_test_add_func("/api/threads/mode-glib", test_mode_glib);
  g_test_add_func("/api/threads/concurrent-pairs-own-context", test_concurrent_pairs_own);
  g_test_add_func("/api/threads/concurrent-pairs-shared-context", test_concurrent_pairs_shared);
  g_test_add_func("/api/threads/calls-from-callbacks-thread", test_calls_from_callbacks_thread);
  g_test_add_func("/api/threads/calls-from-callbacks-queued", test_calls_from_callbacks_queued);
  g_test_add_func("/api/threads/calls-from-callbacks-glib", test_calls_from_callbacks_glib);
  g_test_add_func("/api/threads/unref-from-callback-thread", test_unref_from_callback_thread);
  g_test_add_func("/api/threads/user-data", test_user_data);
  g_test_add_func("/api/threads/replay-thread", test_replay_thread);
  g_test_add_func("/api/threads/replay-queued", test_replay_queued);
  g_test_add_func("/api/threads/replay-pc-events", test_replay_pc_events);
  g_test_add_func("/api/threads/default-context", test_default_context);
  g_test_add_func("/api/threads/glib-other-thread", test_glib_other_thread);
  /* Last: a failure here aborts the executable. */
  g_test_add_func("/api/threads/concurrent-senders", test_concurrent_senders);
  g_test_add_func("/api/threads/unref-from-callback-queued", test_unref_from_callback_queued);
  g_test_add_func("/api/threads/unref-from-callback-glib", test_unref_from_callback_glib);
  return g_test_run();
}

/*
 * Two-peer harness (see pair.h). Public API only.
 */
#include "pair.h"

#include <string.h>

#include <weft/weft-glib.h>

/* ---- Small helpers -------------------------------------------------------- */

long pair_live(void) { return weft_debug_live_objects(); }

guint8 *pattern_new(size_t size, guint32 seed) {
  guint8 *b = g_malloc(size ? size : 1);
  guint32 x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = (guint8)x;
  }
  return b;
}

char *text_pattern_new(size_t size, guint32 seed) {
  char *s = g_malloc(size + 1);
  guint32 x = seed * 2654435761u + 7;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = (char)(' ' + x % 95);
  }
  s[size] = '\0';
  return s;
}

static void pair_msg_free(gpointer m) {
  pair_msg *msg = m;
  g_free(msg->data);
  g_free(msg);
}

static void cand_free(pair_cand *c) {
  if (!c)
    return;
  g_free(c->candidate);
  g_free(c->sdp_mid);
  g_free(c->ufrag);
  g_free(c);
}

/* Tests stay on 127.0.0.1: only loopback IPv4 candidates are forwarded. */
static gboolean cand_is_loopback4(const char *cand) {
  if (!cand)
    return FALSE;
  if (g_str_has_prefix(cand, "a="))
    cand += 2;
  gchar **f = g_strsplit(cand, " ", 0);
  gboolean ok = g_strv_length(f) > 5 && strcmp(f[4], "127.0.0.1") == 0;
  g_strfreev(f);
  return ok;
}

/* ---- Data channel probe callbacks ---------------------------------------- */

static void side_cb(pair_side *s) { g_atomic_int_inc(&s->callbacks); }

static void probe_on_open(weft_dc *dc, void *ud) {
  dc_probe *pr = ud;
  side_cb(&pr->pair->side[pr->side]);
  g_atomic_int_inc(&pr->opened);
  if (pr->on_open_hook)
    pr->on_open_hook(pr);
}

static void probe_on_closing(weft_dc *dc, void *ud) {
  dc_probe *pr = ud;
  side_cb(&pr->pair->side[pr->side]);
  g_atomic_int_inc(&pr->closing);
}

static void probe_on_close(weft_dc *dc, void *ud) {
  dc_probe *pr = ud;
  side_cb(&pr->pair->side[pr->side]);
  g_atomic_int_inc(&pr->closed);
}

static void probe_on_low(weft_dc *dc, void *ud) {
  dc_probe *pr = ud;
  side_cb(&pr->pair->side[pr->side]);
  g_atomic_int_inc(&pr->low);
}

static void probe_on_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  dc_probe *pr = ud;
  side_cb(&pr->pair->side[pr->side]);
  pr->last_error_detail = e ? (int)e->detail : -1;
  g_atomic_int_inc(&pr->errors);
}

static void probe_on_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                             void *ud) {
  dc_probe *pr = ud;
  pair *p = pr->pair;
  side_cb(&p->side[pr->side]);
  if (type == WEFT_MSG_TEXT) {
    /* Contract: TEXT is valid UTF-8 with data[size] == '\0'. */
    if (!data || ((const char *)data)[size] != '\0' || !g_utf8_validate(data, (gssize)size, NULL))
      g_atomic_int_inc(&pr->bad_text);
  }
  if (g_atomic_int_get(&pr->keep)) {
    pair_msg *m = g_new0(pair_msg, 1);
    m->type = type;
    m->size = size;
    m->data = g_malloc(size + 1);
    if (size)
      memcpy(m->data, data, size);
    m->data[size] = 0;
    g_mutex_lock(&p->lock);
    g_ptr_array_add(pr->msgs, m);
    pr->bytes += (gint64)size;
    g_mutex_unlock(&p->lock);
  } else {
    g_mutex_lock(&p->lock);
    pr->bytes += (gint64)size;
    g_mutex_unlock(&p->lock);
  }
  if (g_atomic_int_get(&pr->echo)) {
    int rc =
        type == WEFT_MSG_TEXT ? weft_dc_send_text(dc, data, size) : weft_dc_send(dc, data, size);
    if (rc < 0) {
      g_atomic_int_set(&pr->last_echo_err, rc);
      g_atomic_int_inc(&pr->echo_failed);
    }
  }
  if (pr->on_message_hook)
    pr->on_message_hook(pr, type, data, size);
  g_atomic_int_inc(&pr->n_msgs);
}

static dc_probe *probe_attach(pair *p, int side, weft_dc *dc, gboolean echo, gboolean remote) {
  dc_probe *pr = g_new0(dc_probe, 1);
  pr->remote = remote;
  pr->pair = p;
  pr->side = side;
  pr->dc = weft_dc_ref(dc);
  pr->msgs = g_ptr_array_new_with_free_func(pair_msg_free);
  pr->keep = 1;
  pr->echo = echo ? 1 : 0;
  g_mutex_lock(&p->lock);
  g_ptr_array_add(p->side[side].probes, pr);
  g_mutex_unlock(&p->lock);
  g_assert_cmpint(weft_dc_set_user_data(dc, pr, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_open(dc, probe_on_open), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_message(dc, probe_on_message), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_closing(dc, probe_on_closing), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_close(dc, probe_on_close), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_error(dc, probe_on_error), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_set_on_buffered_amount_low(dc, probe_on_low), ==, WEFT_OK);
  return pr;
}

dc_probe *pair_probe_attach(pair *p, int side, weft_dc *dc) {
  return probe_attach(p, side, dc, FALSE, FALSE);
}

void probe_release_dc(dc_probe *probe) {
  weft_dc *dc = probe->dc;
  probe->dc = NULL;
  weft_dc_unref(dc);
}

/* ---- Peer connection callbacks ------------------------------------------- */

static void log_push(pair *p, int *log, int *n, gint *mirror, int v) {
  g_mutex_lock(&p->lock);
  if (*n < PAIR_MAX_LOG)
    log[(*n)++] = v;
  g_mutex_unlock(&p->lock);
  g_atomic_int_set(mirror, v);
}

static void on_conn(weft_pc *pc, weft_pc_state st, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  log_push(s->pair, s->conn_log, &s->n_conn, &s->conn_state, (int)st);
  if (s->conn_hook)
    s->conn_hook(s, st);
}

static void on_ice(weft_pc *pc, weft_ice_connection_state st, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  log_push(s->pair, s->ice_log, &s->n_ice, &s->ice_state, (int)st);
}

static void on_gather(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  log_push(s->pair, s->gather_log, &s->n_gather, &s->gather_state, (int)st);
}

static void on_sig(weft_pc *pc, weft_signaling_state st, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  log_push(s->pair, s->sig_log, &s->n_sig, &s->sig_state, (int)st);
}

static void on_negotiation_needed(weft_pc *pc, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  g_atomic_int_inc(&s->negotiation_needed);
}

static void on_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  g_assert_nonnull(e);
  g_assert_nonnull(e->message);
  g_atomic_int_set(&s->last_error_detail, (int)e->detail);
  g_atomic_int_set(&s->last_error_code, e->code);
  g_atomic_int_inc(&s->n_errors);
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  pair_side *s = ud;
  side_cb(s);
  /* Initial user data of a remote channel is the pc's (header contract). */
  if (weft_dc_get_user_data(dc) != s)
    g_atomic_int_inc(&s->n_errors);
  probe_attach(s->pair, s->index, dc, s->pair->opts.echo_remote, TRUE);
  g_atomic_int_inc(&s->n_remote_dcs);
  if (s->dc_hook)
    s->dc_hook(s, dc);
}

static void deliver(pair *p, int to, pair_cand *c) {
  pair_side *dst = &p->side[to];
  int rc;
  if (c->candidate) {
    weft_ice_candidate ic = {c->candidate, c->sdp_mid, c->sdp_mline_index, c->ufrag};
    rc = weft_pc_add_ice_candidate(dst->pc, &ic);
  } else {
    rc = weft_pc_add_ice_candidate(dst->pc, NULL);
  }
  if (rc != WEFT_OK) {
    g_printerr("pair: add_ice_candidate(%s) on side %d: %s (%s)\n",
               c->candidate ? c->candidate : "NULL", to, weft_err_name(rc),
               weft_last_error_message());
    g_atomic_int_inc(&p->side[1 - to].add_cand_errors);
  }
}

static void on_ice_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  pair_side *s = ud;
  pair *p = s->pair;
  side_cb(s);
  if (c) {
    g_atomic_int_inc(&s->n_candidates);
    if (g_atomic_int_get(&s->end_of_cands) > 0)
      g_atomic_int_inc(&s->cands_after_end);
    g_assert_nonnull(c->candidate);
  } else {
    g_atomic_int_inc(&s->end_of_cands);
  }
  if (!p->opts.trickle || p->opts.no_forward_cands)
    return;
  if (c && !cand_is_loopback4(c->candidate))
    return;
  pair_cand *pc_ = g_new0(pair_cand, 1);
  if (c) {
    pc_->candidate = g_strdup(c->candidate);
    pc_->sdp_mid = g_strdup(c->sdp_mid);
    pc_->sdp_mline_index = c->sdp_mline_index;
    pc_->ufrag = g_strdup(c->username_fragment);
  } else {
    pc_->sdp_mline_index = -1;
  }
  /* Deliver right here (a weft call from inside a callback) when the peer is
   * ready and nothing is queued ahead; otherwise the test thread delivers the
   * queue in order (pair_flush_candidates). */
  g_mutex_lock(&p->lock);
  gboolean direct = s->peer_ready && !s->flushing && g_queue_is_empty(&s->out_cands);
  if (!direct)
    g_queue_push_tail(&s->out_cands, pc_);
  g_mutex_unlock(&p->lock);
  if (direct) {
    deliver(p, 1 - s->index, pc_);
    cand_free(pc_);
  }
}

void pair_flush_candidates(pair *p, int from) {
  pair_side *s = &p->side[from];
  g_mutex_lock(&p->lock);
  if (!s->peer_ready || s->flushing) {
    g_mutex_unlock(&p->lock);
    return;
  }
  s->flushing = TRUE;
  for (;;) {
    pair_cand *c = g_queue_pop_head(&s->out_cands);
    if (!c) {
      s->flushing = FALSE;
      break;
    }
    g_mutex_unlock(&p->lock);
    deliver(p, 1 - from, c);
    cand_free(c);
    g_mutex_lock(&p->lock);
  }
  g_mutex_unlock(&p->lock);
}

void pair_peer_ready(pair *p, int to) {
  g_mutex_lock(&p->lock);
  p->side[1 - to].peer_ready = TRUE;
  g_mutex_unlock(&p->lock);
  pair_flush_candidates(p, 1 - to);
}

/* ---- Construction / destruction ------------------------------------------ */

void pair_install_dc_handler(pair *p, int side) {
  g_assert_cmpint(weft_pc_set_on_data_channel(p->side[side].pc, on_data_channel), ==, WEFT_OK);
}

pair *pair_new(const pair_opts *opts) {
  pair_opts def = PAIR_OPTS_INIT;
  pair *p = g_new0(pair, 1);
  p->opts = opts ? *opts : def;
  g_mutex_init(&p->lock);
  if (p->opts.default_ctx) {
    g_assert_cmpint(p->opts.mode, ==, PAIR_THREAD);
    p->ctx = NULL;
  } else if (p->opts.ctx) {
    p->ctx = weft_context_ref(p->opts.ctx);
    if (p->opts.mode == PAIR_GLIB)
      p->gmain = g_main_context_ref(weft_context_get_main_context(p->ctx));
  } else if (p->opts.mode == PAIR_GLIB) {
    p->gmain = g_main_context_new();
    p->ctx = weft_context_new_for_main_context(p->gmain);
  } else {
    weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
    o.mode = p->opts.mode == PAIR_QUEUED ? WEFT_CONTEXT_QUEUED : WEFT_CONTEXT_THREAD;
    o.thread_name = "weft-test";
    p->ctx = weft_context_new(&o);
  }
  g_assert_true(p->ctx || p->opts.default_ctx);

  weft_config *cfg = weft_config_new();
  g_assert_nonnull(cfg);
  g_assert_cmpint(weft_config_set_enable_loopback(cfg, 1), ==, WEFT_OK);
  if (p->opts.send_buffer_limit)
    g_assert_cmpint(weft_config_set_send_buffer_limit(cfg, p->opts.send_buffer_limit), ==, WEFT_OK);
  if (p->opts.receive_buffer_limit)
    g_assert_cmpint(weft_config_set_receive_buffer_limit(cfg, p->opts.receive_buffer_limit), ==,
                    WEFT_OK);
  if (p->opts.max_message_size)
    g_assert_cmpint(weft_config_set_max_message_size(
                        cfg, p->opts.max_message_size == (size_t)-1 ? 0 : p->opts.max_message_size),
                    ==, WEFT_OK);
  for (int i = 0; i < 2; i++) {
    pair_side *s = &p->side[i];
    s->pair = p;
    s->index = i;
    s->probes = g_ptr_array_new();
    g_queue_init(&s->out_cands);
    s->conn_state = s->ice_state = s->gather_state = s->sig_state = -1;
    s->last_error_detail = -1;
    g_assert_cmpint(weft_config_set_certificate_type(cfg, (p->opts.rsa_sides >> i) & 1
                                                              ? WEFT_CERTIFICATE_RSA_2048
                                                              : WEFT_CERTIFICATE_ECDSA_P256),
                    ==, WEFT_OK);
    s->pc = weft_pc_new(p->ctx, cfg);
    g_assert_nonnull(s->pc);
    g_assert_cmpint(weft_pc_set_user_data(s->pc, s, NULL), ==, WEFT_OK);
    g_assert_true(weft_pc_get_user_data(s->pc) == s);
    g_assert_cmpint(weft_pc_set_on_ice_candidate(s->pc, on_ice_candidate), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_on_connection_state_change(s->pc, on_conn), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_on_ice_connection_state_change(s->pc, on_ice), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_on_ice_gathering_state_change(s->pc, on_gather), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_on_signaling_state_change(s->pc, on_sig), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_on_negotiation_needed(s->pc, on_negotiation_needed), ==, WEFT_OK);
    if (!(i == 1 && p->opts.late_dc_handler))
      pair_install_dc_handler(p, i);
    g_assert_cmpint(weft_pc_set_on_error(s->pc, on_error), ==, WEFT_OK);
  }
  weft_config_free(cfg);
  return p;
}

pair *pair_new_mode(pair_mode mode) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = mode;
  return pair_new(&o);
}

static void pump_once(pair *p, int max_ms) {
  switch (p->opts.mode) {
  case PAIR_THREAD:
    g_usleep((gulong)MIN(max_ms, 1) * 1000);
    break;
  case PAIR_QUEUED: {
    int r = weft_context_wait(p->ctx, MIN(max_ms, 5));
    g_assert_cmpint(r, >=, 0);
    int n = weft_context_dispatch(p->ctx, 0);
    g_assert_cmpint(n, >=, 0);
    break;
  }
  case PAIR_GLIB: {
    int n = 0;
    while (g_main_context_iteration(p->gmain, FALSE) && n < 1000)
      n++;
    if (n == 0)
      g_usleep(500);
    break;
  }
  }
}

gboolean pair_wait(pair *p, pair_pred pred, void *arg, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    pair_flush_candidates(p, 0);
    pair_flush_candidates(p, 1);
    if (pred && pred(p, arg))
      return TRUE;
    gint64 now = g_get_monotonic_time();
    if (now >= end)
      return pred ? pred(p, arg) : TRUE;
    pump_once(p, (int)MAX(1, (end - now) / 1000));
  }
}

void pair_pump(pair *p, int ms) { pair_wait(p, NULL, NULL, ms); }

typedef struct {
  volatile gint *v;
  int min;
} ge_arg;

static gboolean pred_ge(pair *p, void *arg) {
  ge_arg *a = arg;
  return g_atomic_int_get(a->v) >= a->min;
}

gboolean pair_wait_ge(pair *p, volatile gint *v, int min, int timeout_ms) {
  ge_arg a = {v, min};
  return pair_wait(p, pred_ge, &a, timeout_ms);
}

void pair_assert_no_live_objects(int timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (weft_debug_live_objects() != 0 && g_get_monotonic_time() < end)
    g_usleep(2000);
  if (weft_debug_live_objects() != 0)
    g_printerr("live objects left: %ld\n", weft_debug_live_objects());
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

/* Compares what a poll of @mc would wait on with a fresh context's. */
static void main_context_poll_shape(GMainContext *mc, gint *n_fds, gint *timeout) {
  GPollFD fds[64];
  gint prio = 0;
  g_assert_true(g_main_context_acquire(mc));
  g_main_context_prepare(mc, &prio);
  *n_fds = g_main_context_query(mc, G_MAXINT, timeout, fds, G_N_ELEMENTS(fds));
  g_main_context_check(mc, G_MAXINT, fds, MIN(*n_fds, (gint)G_N_ELEMENTS(fds)));
  g_main_context_dispatch(mc);
  g_main_context_release(mc);
}

static void assert_main_context_empty(GMainContext *mc) {
  GMainContext *fresh = g_main_context_new();
  gint n0, t0, n1, t1;
  main_context_poll_shape(fresh, &n0, &t0);
  main_context_poll_shape(mc, &n1, &t1);
  g_main_context_unref(fresh);
  if (n1 != n0 || t1 != t0)
    g_printerr("GMainContext after release: %d fds, timeout %d (empty: %d fds, timeout %d)\n", n1,
               t1, n0, t0);
  g_assert_cmpint(n1, ==, n0);
  g_assert_cmpint(t1, ==, t0);
}

void pair_release(pair *p) {
  if (!p)
    return;
  /* Close first: afterwards no callback touches the probes (rule 3). */
  for (int i = 0; i < 2; i++)
    if (p->side[i].pc)
      g_assert_cmpint(weft_pc_close(p->side[i].pc), ==, WEFT_OK);
  for (int i = 0; i < 2; i++) {
    pair_side *s = &p->side[i];
    for (guint j = 0; j < s->probes->len; j++) {
      dc_probe *pr = g_ptr_array_index(s->probes, j);
      weft_dc_unref(pr->dc);
      g_ptr_array_unref(pr->msgs);
      g_free(pr);
    }
    g_ptr_array_unref(s->probes);
    pair_cand *c;
    while ((c = g_queue_pop_head(&s->out_cands)))
      cand_free(c);
    weft_pc_unref(s->pc);
    s->pc = NULL;
  }
  weft_context_unref(p->ctx);
  p->ctx = NULL;
  if (p->gmain) {
    /* GLib mode: weft removes its sources once everything is released; let
     * the context run until the objects are gone. */
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (weft_debug_live_objects() != 0 && g_get_monotonic_time() < end) {
      if (!g_main_context_iteration(p->gmain, FALSE))
        g_usleep(1000);
    }
    while (g_main_context_iteration(p->gmain, FALSE))
      ;
    /* weft-glib.h: every GSource weft attached is gone, leaving the context
     * as it was found (only a private context can be checked). */
    if (!p->opts.ctx)
      assert_main_context_empty(p->gmain);
    g_main_context_unref(p->gmain);
  }
  g_free(p->offer);
  g_free(p->answer);
  g_mutex_clear(&p->lock);
  g_free(p);
}

void pair_free(pair *p) {
  pair_release(p);
  pair_assert_no_live_objects(2000);
}

/* ---- Negotiation --------------------------------------------------------- */

static gboolean pred_gathered(pair *p, void *arg) {
  pair_side *s = arg;
  return weft_pc_get_ice_gathering_state(s->pc) == WEFT_GATHERING_COMPLETE;
}

/* Keeps only 127.0.0.1 candidates (tests stay on loopback). */
static char *sdp_filter_loopback(const char *sdp) {
  gchar **lines = g_strsplit(sdp, "\r\n", -1);
  GString *out = g_string_new(NULL);
  for (gchar **l = lines; *l; l++) {
    if (!**l)
      continue;
    if (g_str_has_prefix(*l, "a=candidate:") && !cand_is_loopback4(*l))
      continue;
    g_string_append(out, *l);
    g_string_append(out, "\r\n");
  }
  g_strfreev(lines);
  return g_string_free(out, FALSE);
}

static char *local_sdp(pair *p, int side, const char *created) {
  pair_side *s = &p->side[side];
  if (p->opts.trickle)
    return g_strdup(created);
  g_assert_true(pair_wait(p, pred_gathered, s, 10000));
  weft_sdp_type t = WEFT_SDP_UNSPEC;
  char *sdp = NULL;
  g_assert_cmpint(weft_pc_get_description(s->pc, WEFT_DESC_LOCAL, &t, &sdp), ==, WEFT_OK);
  g_assert_nonnull(sdp);
  g_assert_cmpint(t, ==, side == 0 ? WEFT_SDP_OFFER : WEFT_SDP_ANSWER);
  char *f = sdp_filter_loopback(sdp);
  weft_free(sdp);
  return f;
}

static char *apply_hook(pair *p, int from, char *sdp) {
  if (!p->sdp_hook)
    return sdp;
  char *n = p->sdp_hook(p, from, sdp);
  g_free(sdp);
  return n;
}

void pair_negotiate(pair *p) {
  pair_side *a = &p->side[0], *b = &p->side[1];
  char *offer = NULL, *answer = NULL;
  p->t_start_us = g_get_monotonic_time();
  g_assert_cmpint(weft_pc_create_offer(a->pc, NULL, &offer), ==, WEFT_OK);
  g_assert_nonnull(offer);
  g_assert_cmpint(weft_pc_set_local_description(a->pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  char *o = apply_hook(p, 0, local_sdp(p, 0, offer));
  weft_free(offer);
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_OFFER, o), ==, WEFT_OK);
  pair_peer_ready(p, 1);
  g_assert_cmpint(weft_pc_create_answer(b->pc, &answer), ==, WEFT_OK);
  g_assert_nonnull(answer);
  g_assert_cmpint(weft_pc_set_local_description(b->pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  char *an = apply_hook(p, 1, local_sdp(p, 1, answer));
  weft_free(answer);
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, an), ==, WEFT_OK);
  pair_peer_ready(p, 0);
  g_free(p->offer);
  g_free(p->answer);
  p->offer = o;
  p->answer = an;
}

static gboolean pred_connected(pair *p, void *arg) {
  return weft_pc_get_connection_state(p->side[0].pc) == WEFT_PC_CONNECTED &&
         weft_pc_get_connection_state(p->side[1].pc) == WEFT_PC_CONNECTED;
}

gboolean pair_wait_connected(pair *p, int timeout_ms) {
  return pair_wait(p, pred_connected, NULL, timeout_ms);
}

dc_probe *pair_create_dc(pair *p, int side, const char *label, const weft_dc_init *init) {
  weft_dc *dc = weft_pc_create_data_channel(p->side[side].pc, label, init);
  if (!dc)
    g_printerr("create_data_channel(%s): %s\n", label, weft_last_error_message());
  g_assert_nonnull(dc);
  dc_probe *pr = probe_attach(p, side, dc, FALSE, FALSE);
  weft_dc_unref(dc);
  return pr;
}

typedef struct {
  int side;
  const char *label;
  dc_probe *found;
} find_arg;

static gboolean pred_remote_dc(pair *p, void *arg) {
  find_arg *f = arg;
  pair_side *s = &p->side[f->side];
  g_mutex_lock(&p->lock);
  for (guint i = 0; i < s->probes->len && !f->found; i++) {
    dc_probe *pr = g_ptr_array_index(s->probes, i);
    if (pr->remote && pr->dc && g_strcmp0(weft_dc_get_label(pr->dc), f->label) == 0)
      f->found = pr;
  }
  g_mutex_unlock(&p->lock);
  return f->found != NULL;
}

dc_probe *pair_wait_remote_dc(pair *p, int side, const char *label, int timeout_ms) {
  find_arg f = {side, label, NULL};
  pair_wait(p, pred_remote_dc, &f, timeout_ms);
  return f.found;
}

typedef struct {
  dc_probe *a, *b;
} open_arg;

static gboolean pred_both_open(pair *p, void *arg) {
  open_arg *o = arg;
  return g_atomic_int_get(&o->a->opened) > 0 && g_atomic_int_get(&o->b->opened) > 0;
}

void pair_connect(pair *p, const char *label, dc_probe **local, dc_probe **remote) {
  dc_probe *la = pair_create_dc(p, 0, label, NULL);
  pair_negotiate(p);
  dc_probe *rb = pair_wait_remote_dc(p, 1, label, 10000);
  if (!rb)
    g_printerr("pair_connect: no remote channel; states A=%s B=%s\n",
               weft_pc_state_to_string(weft_pc_get_connection_state(p->side[0].pc)),
               weft_pc_state_to_string(weft_pc_get_connection_state(p->side[1].pc)));
  g_assert_nonnull(rb);
  open_arg o = {la, rb};
  g_assert_true(pair_wait(p, pred_both_open, &o, 10000));
  p->t_open_us = g_get_monotonic_time();
  if (local)
    *local = la;
  if (remote)
    *remote = rb;
}

/* ---- Probe helpers -------------------------------------------------------- */

gboolean probe_wait_msgs(dc_probe *probe, int n, int timeout_ms) {
  return pair_wait_ge(probe->pair, &probe->n_msgs, n, timeout_ms);
}

pair_msg *probe_msg(dc_probe *probe, int i) {
  pair *p = probe->pair;
  pair_msg *m = NULL;
  g_mutex_lock(&p->lock);
  if (i >= 0 && (guint)i < probe->msgs->len)
    m = g_ptr_array_index(probe->msgs, i);
  g_mutex_unlock(&p->lock);
  return m;
}

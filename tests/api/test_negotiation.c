/*
 * Negotiation through the public API: signaling, connection, ICE and
 * gathering state sequences, implicit descriptions, trickle and non-trickle
 * signaling, JSEP state errors, rollback, descriptions by kind, the selected
 * pair and the fingerprint.
 */
#include <string.h>

#include "pair.h"

static int count_substr(const char *hay, const char *needle) {
  int n = 0;
  for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
    n++;
  return n;
}

static void log_copy(pair *p, int *log, int n_log, int *out, int *n_out) {
  g_mutex_lock(&p->lock);
  memcpy(out, log, sizeof(int) * (size_t)n_log);
  *n_out = n_log;
  g_mutex_unlock(&p->lock);
}

static char *log_str(const int *log, int n, const char *(*name)(int)) {
  GString *s = g_string_new("[");
  for (int i = 0; i < n; i++)
    g_string_append_printf(s, "%s%s", i ? ", " : "", name(log[i]));
  g_string_append(s, "]");
  return g_string_free(s, FALSE);
}

static const char *sig_name(int v) {
  return weft_signaling_state_to_string((weft_signaling_state)v);
}
static const char *conn_name(int v) { return weft_pc_state_to_string((weft_pc_state)v); }
static const char *ice_name(int v) {
  return weft_ice_connection_state_to_string((weft_ice_connection_state)v);
}
static const char *gather_name(int v) {
  return weft_ice_gathering_state_to_string((weft_ice_gathering_state)v);
}

/* Asserts that the log equals @want (n_want entries), printing both if not. */
static void assert_log(pair *p, int *log, int *n_log, const int *want, int n_want,
                       const char *(*name)(int), const char *what) {
  int copy[PAIR_MAX_LOG], n;
  log_copy(p, log, *n_log, copy, &n);
  gboolean ok = n == n_want && memcmp(copy, want, sizeof(int) * (size_t)n) == 0;
  if (!ok) {
    char *a = log_str(copy, n, name), *b = log_str(want, n_want, name);
    g_printerr("%s: got %s, want %s\n", what, a, b);
    g_free(a);
    g_free(b);
  }
  g_assert_true(ok);
}

static gboolean pred_n_ge(pair *p, void *arg) {
  int **a = arg;
  g_mutex_lock(&p->lock);
  gboolean ok = *a[0] >= *a[1];
  g_mutex_unlock(&p->lock);
  return ok;
}

static gboolean wait_log(pair *p, int *n_log, int n, int timeout_ms) {
  int *args[2] = {n_log, &n};
  return pair_wait(p, pred_n_ge, args, timeout_ms);
}

static void test_state_sequences(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  pair_side *a = &p->side[0], *b = &p->side[1];
  for (int i = 0; i < 2; i++) {
    g_assert_cmpint(weft_pc_get_signaling_state(p->side[i].pc), ==, WEFT_SIGNALING_STABLE);
    g_assert_cmpint(weft_pc_get_connection_state(p->side[i].pc), ==, WEFT_PC_NEW);
    g_assert_cmpint(weft_pc_get_ice_connection_state(p->side[i].pc), ==, WEFT_ICE_NEW);
    g_assert_cmpint(weft_pc_get_ice_gathering_state(p->side[i].pc), ==, WEFT_GATHERING_NEW);
  }
  dc_probe *da, *db;
  pair_connect(p, "seq", &da, &db);
  g_test_message("time to channel open (trickle): %.1f ms",
                 (double)(p->t_open_us - p->t_start_us) / 1000.0);
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_STABLE);
  g_assert_cmpint(weft_pc_get_signaling_state(b->pc), ==, WEFT_SIGNALING_STABLE);

  /* Gathering completes on both sides, with one on_ice_candidate(NULL). */
  for (int i = 0; i < 2; i++) {
    pair_side *s = &p->side[i];
    g_assert_true(wait_log(p, &s->n_gather, 2, 10000));
    g_assert_true(pair_wait_ge(p, &s->end_of_cands, 1, 5000));
  }
  pair_pump(p, 300);
  static const int sig_a[] = {WEFT_SIGNALING_HAVE_LOCAL_OFFER, WEFT_SIGNALING_STABLE};
  static const int sig_b[] = {WEFT_SIGNALING_HAVE_REMOTE_OFFER, WEFT_SIGNALING_STABLE};
  static const int conn[] = {WEFT_PC_CONNECTING, WEFT_PC_CONNECTED};
  static const int gather[] = {WEFT_GATHERING_GATHERING, WEFT_GATHERING_COMPLETE};
  assert_log(p, a->sig_log, &a->n_sig, sig_a, 2, sig_name, "A signaling");
  assert_log(p, b->sig_log, &b->n_sig, sig_b, 2, sig_name, "B signaling");
  for (int i = 0; i < 2; i++) {
    pair_side *s = &p->side[i];
    assert_log(p, s->conn_log, &s->n_conn, conn, 2, conn_name, "connection");
    assert_log(p, s->gather_log, &s->n_gather, gather, 2, gather_name, "gathering");
    /* ICE: checking -> connected, optionally -> completed. */
    int ice[PAIR_MAX_LOG], n;
    log_copy(p, s->ice_log, s->n_ice, ice, &n);
    char *str = log_str(ice, n, ice_name);
    g_test_message("side %d ICE states: %s", i, str);
    g_free(str);
    g_assert_cmpint(n, >=, 2);
    g_assert_cmpint(n, <=, 3);
    g_assert_cmpint(ice[0], ==, WEFT_ICE_CHECKING);
    g_assert_cmpint(ice[1], ==, WEFT_ICE_CONNECTED);
    if (n == 3)
      g_assert_cmpint(ice[2], ==, WEFT_ICE_COMPLETED);
    g_assert_cmpint(g_atomic_int_get(&s->n_candidates), >, 0);
    g_assert_cmpint(g_atomic_int_get(&s->end_of_cands), ==, 1);
    g_assert_cmpint(g_atomic_int_get(&s->cands_after_end), ==, 0);
    g_assert_cmpint(g_atomic_int_get(&s->add_cand_errors), ==, 0);
    g_assert_cmpint(g_atomic_int_get(&s->n_errors), ==, 0);
    g_assert_cmpint(weft_pc_get_ice_gathering_state(s->pc), ==, WEFT_GATHERING_COMPLETE);
    weft_ice_connection_state ist = weft_pc_get_ice_connection_state(s->pc);
    g_assert_true(ist == WEFT_ICE_CONNECTED || ist == WEFT_ICE_COMPLETED);
  }
  pair_free(p);
}

static void test_negotiation_needed(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  pair_pump(p, 100);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].negotiation_needed), ==, 0);
  dc_probe *a = pair_create_dc(p, 0, "first", NULL);
  g_assert_true(pair_wait_ge(p, &p->side[0].negotiation_needed, 1, 2000));
  /* A second channel while negotiation is still needed: no second event
   * (W3C: the flag is already set). */
  pair_create_dc(p, 0, "second", NULL);
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].negotiation_needed), ==, 1);
  pair_negotiate(p);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  /* Once m=application is negotiated, new channels need no negotiation. */
  int before = g_atomic_int_get(&p->side[0].negotiation_needed);
  dc_probe *c = pair_create_dc(p, 0, "third", NULL);
  g_assert_true(pair_wait_ge(p, &c->opened, 1, 5000));
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].negotiation_needed), ==, before);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].negotiation_needed), ==, 0);
  pair_free(p);
}

/* (UNSPEC, NULL) on both sides. */
static void test_implicit(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  pair_side *a = &p->side[0], *b = &p->side[1];
  dc_probe *da = pair_create_dc(p, 0, "implicit", NULL);
  g_assert_cmpint(weft_pc_set_local_description(a->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_HAVE_LOCAL_OFFER);
  weft_sdp_type t = WEFT_SDP_UNSPEC;
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(a->pc, WEFT_DESC_LOCAL, &t, &offer), ==, WEFT_OK);
  g_assert_cmpint(t, ==, WEFT_SDP_OFFER);
  g_assert_nonnull(offer);
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  pair_peer_ready(p, 1);
  g_assert_cmpint(weft_pc_get_signaling_state(b->pc), ==, WEFT_SIGNALING_HAVE_REMOTE_OFFER);
  g_assert_cmpint(weft_pc_set_local_description(b->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(b->pc), ==, WEFT_SIGNALING_STABLE);
  g_assert_cmpint(weft_pc_get_description(b->pc, WEFT_DESC_LOCAL, &t, &answer), ==, WEFT_OK);
  g_assert_cmpint(t, ==, WEFT_SDP_ANSWER);
  g_assert_nonnull(answer);
  g_assert_nonnull(strstr(answer, "a=setup:active"));
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  pair_peer_ready(p, 0);
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_STABLE);
  dc_probe *db = pair_wait_remote_dc(p, 1, "implicit", 10000);
  g_assert_nonnull(db);
  g_assert_true(pair_wait_ge(p, &da->opened, 1, 10000));
  g_assert_cmpint(weft_dc_send_text(da->dc, "hi", 2), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(db, 1, 5000));
  weft_free(offer);
  weft_free(answer);
  pair_free(p);
}

static void test_non_trickle(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.trickle = FALSE;
  pair *p = pair_new(&o);
  dc_probe *da, *db;
  pair_connect(p, "non-trickle", &da, &db);
  g_test_message("time to channel open (non-trickle, incl. gathering): %.1f ms",
                 (double)(p->t_open_us - p->t_start_us) / 1000.0);
  for (int i = 0; i < 2; i++) {
    char *sdp = NULL;
    weft_sdp_type t;
    g_assert_cmpint(weft_pc_get_description(p->side[i].pc, WEFT_DESC_LOCAL, &t, &sdp), ==, WEFT_OK);
    g_assert_nonnull(sdp);
    g_assert_cmpint(count_substr(sdp, "a=end-of-candidates"), ==, 1);
    g_assert_cmpint(count_substr(sdp, "a=candidate:"), >=, 1);
    g_assert_cmpint(count_substr(sdp, "a=candidate:"), ==,
                    g_atomic_int_get(&p->side[i].n_candidates));
    g_assert_nonnull(strstr(sdp, " 127.0.0.1 "));
    /* Every line ends in CRLF (RFC 8866 §5). */
    g_assert_true(g_str_has_suffix(sdp, "\r\n"));
    g_assert_cmpint(count_substr(sdp, "\n"), ==, count_substr(sdp, "\r\n"));
    weft_free(sdp);
  }
  /* No add_ice_candidate was ever called: the candidates came in the SDP. */
  g_assert_cmpint(g_atomic_int_get(&p->side[0].add_cand_errors), ==, 0);
  g_assert_cmpint(weft_dc_send_text(da->dc, "nt", 2), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(db, 1, 5000));
  pair_free(p);
}

static void test_trickle_end_of_candidates_only(void) {
  /* Trickle with end-of-candidates signalled through an empty candidate
   * string instead of NULL. */
  pair_opts o = PAIR_OPTS_INIT;
  o.no_forward_cands = TRUE;
  pair *p = pair_new(&o);
  dc_probe *da = pair_create_dc(p, 0, "manual", NULL);
  pair_negotiate(p);
  /* Forward A's and B's candidates by reading the gathered descriptions. */
  for (int i = 0; i < 2; i++) {
    g_assert_true(pair_wait_ge(p, &p->side[i].end_of_cands, 1, 10000));
    char *sdp = NULL;
    g_assert_cmpint(weft_pc_get_description(p->side[i].pc, WEFT_DESC_LOCAL, NULL, &sdp), ==,
                    WEFT_OK);
    gchar **lines = g_strsplit(sdp, "\r\n", -1);
    int added = 0;
    const char *mid = NULL;
    for (gchar **l = lines; *l; l++)
      if (g_str_has_prefix(*l, "a=mid:"))
        mid = *l + 6;
    g_assert_nonnull(mid);
    for (gchar **l = lines; *l; l++) {
      if (!g_str_has_prefix(*l, "a=candidate:") || !strstr(*l, " 127.0.0.1 "))
        continue;
      weft_ice_candidate c = {*l, mid, 0, NULL}; /* "a=" prefix accepted */
      g_assert_cmpint(weft_pc_add_ice_candidate(p->side[1 - i].pc, &c), ==, WEFT_OK);
      added++;
    }
    g_assert_cmpint(added, >, 0);
    weft_ice_candidate end = {"", mid, 0, NULL};
    g_assert_cmpint(weft_pc_add_ice_candidate(p->side[1 - i].pc, &end), ==, WEFT_OK);
    g_strfreev(lines);
    weft_free(sdp);
  }
  dc_probe *db = pair_wait_remote_dc(p, 1, "manual", 10000);
  g_assert_nonnull(db);
  g_assert_true(pair_wait_ge(p, &da->opened, 1, 10000));
  pair_free(p);
}

static void test_state_errors(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  pair_side *a = &p->side[0], *b = &p->side[1];
  char *sdp = (char *)0x1;
  /* create_answer in stable. */
  g_assert_cmpint(weft_pc_create_answer(a->pc, &sdp), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpstr(weft_last_error_message(), !=, "");
  /* add_ice_candidate without a remote description. */
  weft_ice_candidate c = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", "0", 0, NULL};
  g_assert_cmpint(weft_pc_add_ice_candidate(a->pc, &c), ==, WEFT_ERR_INVALID_STATE);
  /* Rollback in stable. */
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ROLLBACK, NULL), ==,
                  WEFT_ERR_INVALID_STATE);

  dc_probe *da, *db;
  pair_connect(p, "errors", &da, &db);
  /* Both stable now: answers are out of place. */
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, p->answer), ==,
                  WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_ANSWER, p->answer), ==,
                  WEFT_ERR_INVALID_STATE);
  sdp = NULL;
  g_assert_cmpint(weft_pc_create_answer(b->pc, &sdp), ==, WEFT_ERR_INVALID_STATE);
  g_assert_null(sdp);
  g_assert_cmpint(weft_pc_set_local_description(b->pc, WEFT_SDP_ANSWER, p->answer), ==,
                  WEFT_ERR_INVALID_STATE);
  /* The failed calls changed nothing. */
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_STABLE);
  g_assert_cmpint(weft_dc_send_text(da->dc, "ok", 2), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(db, 1, 5000));

  char *offer = NULL;
  g_assert_cmpint(weft_pc_create_offer(a->pc, NULL, &offer), ==, WEFT_OK);
  /* create_offer alone does not change the signaling state. */
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_STABLE);
  /* An offer applied as an answer in stable: wrong state. */
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_ANSWER, offer), ==,
                  WEFT_ERR_INVALID_STATE);
  weft_free(offer);
  pair_free(p);
}

static void test_rollback(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  pair_side *a = &p->side[0], *b = &p->side[1];
  dc_probe *da = pair_create_dc(p, 0, "rollback", NULL);
  char *offer = NULL;
  g_assert_cmpint(weft_pc_create_offer(a->pc, NULL, &offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(a->pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_HAVE_LOCAL_OFFER);
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ROLLBACK, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(a->pc), ==, WEFT_SIGNALING_STABLE);
  char *desc = (char *)0x1;
  g_assert_cmpint(weft_pc_get_description(a->pc, WEFT_DESC_PENDING_LOCAL, NULL, &desc), ==,
                  WEFT_OK);
  g_assert_null(desc);

  /* B: rollback from have-remote-offer. */
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(b->pc), ==, WEFT_SIGNALING_HAVE_REMOTE_OFFER);
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_ROLLBACK, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_signaling_state(b->pc), ==, WEFT_SIGNALING_STABLE);
  weft_free(offer);
  pair_pump(p, 200);
  int sig[PAIR_MAX_LOG], n;
  log_copy(p, a->sig_log, a->n_sig, sig, &n);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpint(sig[0], ==, WEFT_SIGNALING_HAVE_LOCAL_OFFER);
  g_assert_cmpint(sig[1], ==, WEFT_SIGNALING_STABLE);

  /* Candidates gathered for the rolled-back offer are not forwarded. */
  g_mutex_lock(&p->lock);
  for (int i = 0; i < 2; i++) {
    pair_cand *c;
    while ((c = g_queue_pop_head(&p->side[i].out_cands))) {
      g_free(c->candidate);
      g_free(c->sdp_mid);
      g_free(c->ufrag);
      g_free(c);
    }
  }
  g_mutex_unlock(&p->lock);
  /* A normal negotiation afterwards works. */
  pair_negotiate(p);
  dc_probe *db = pair_wait_remote_dc(p, 1, "rollback", 10000);
  g_assert_nonnull(db);
  g_assert_true(pair_wait_ge(p, &da->opened, 1, 10000));
  pair_free(p);
}

static void expect_desc(weft_pc *pc, weft_desc_which which, weft_sdp_type want) {
  weft_sdp_type t = (weft_sdp_type)99;
  char *sdp = (char *)0x1;
  g_assert_cmpint(weft_pc_get_description(pc, which, &t, &sdp), ==, WEFT_OK);
  if (want == WEFT_SDP_UNSPEC) {
    g_assert_null(sdp);
  } else {
    g_assert_nonnull(sdp);
    g_assert_cmpint(t, ==, want);
    g_assert_true(g_str_has_prefix(sdp, "v=0\r\n"));
    weft_free(sdp);
  }
  /* type_out may be NULL. */
  sdp = NULL;
  g_assert_cmpint(weft_pc_get_description(pc, which, NULL, &sdp), ==, WEFT_OK);
  weft_free(sdp);
}

static void test_descriptions(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  weft_pc *a = p->side[0].pc, *b = p->side[1].pc;
  for (int w = WEFT_DESC_LOCAL; w <= WEFT_DESC_PENDING_REMOTE; w++)
    expect_desc(a, (weft_desc_which)w, WEFT_SDP_UNSPEC);
  pair_create_dc(p, 0, "desc", NULL);
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_create_offer(a, NULL, &offer), ==, WEFT_OK);
  /* SDP content that interop depends on (RFC 8841, RFC 8842, DESIGN §4). */
  g_assert_true(g_str_has_prefix(offer, "v=0\r\n"));
  g_assert_nonnull(strstr(offer, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
  g_assert_nonnull(strstr(offer, "a=setup:actpass\r\n"));
  g_assert_nonnull(strstr(offer, "a=sctp-port:5000\r\n"));
  g_assert_nonnull(strstr(offer, "a=max-message-size:262144\r\n"));
  g_assert_nonnull(strstr(offer, "a=ice-ufrag:"));
  g_assert_nonnull(strstr(offer, "a=ice-pwd:"));
  g_assert_nonnull(strstr(offer, "a=fingerprint:sha-256 "));
  g_assert_nonnull(strstr(offer, "a=mid:"));
  expect_desc(a, WEFT_DESC_LOCAL, WEFT_SDP_UNSPEC); /* create_offer applies nothing */
  g_assert_cmpint(weft_pc_set_local_description(a, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  expect_desc(a, WEFT_DESC_LOCAL, WEFT_SDP_OFFER);
  expect_desc(a, WEFT_DESC_PENDING_LOCAL, WEFT_SDP_OFFER);
  expect_desc(a, WEFT_DESC_CURRENT_LOCAL, WEFT_SDP_UNSPEC);
  expect_desc(a, WEFT_DESC_REMOTE, WEFT_SDP_UNSPEC);
  g_assert_cmpint(weft_pc_set_remote_description(b, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  pair_peer_ready(p, 1);
  expect_desc(b, WEFT_DESC_REMOTE, WEFT_SDP_OFFER);
  expect_desc(b, WEFT_DESC_PENDING_REMOTE, WEFT_SDP_OFFER);
  expect_desc(b, WEFT_DESC_CURRENT_REMOTE, WEFT_SDP_UNSPEC);
  expect_desc(b, WEFT_DESC_LOCAL, WEFT_SDP_UNSPEC);
  g_assert_cmpint(weft_pc_create_answer(b, &answer), ==, WEFT_OK);
  g_assert_nonnull(strstr(answer, "a=setup:active\r\n"));
  g_assert_nonnull(strstr(answer, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
  g_assert_cmpint(weft_pc_set_local_description(b, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  expect_desc(b, WEFT_DESC_LOCAL, WEFT_SDP_ANSWER);
  expect_desc(b, WEFT_DESC_CURRENT_LOCAL, WEFT_SDP_ANSWER);
  expect_desc(b, WEFT_DESC_CURRENT_REMOTE, WEFT_SDP_OFFER);
  expect_desc(b, WEFT_DESC_PENDING_LOCAL, WEFT_SDP_UNSPEC);
  expect_desc(b, WEFT_DESC_PENDING_REMOTE, WEFT_SDP_UNSPEC);
  g_assert_cmpint(weft_pc_set_remote_description(a, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  pair_peer_ready(p, 0);
  expect_desc(a, WEFT_DESC_LOCAL, WEFT_SDP_OFFER);
  expect_desc(a, WEFT_DESC_REMOTE, WEFT_SDP_ANSWER);
  expect_desc(a, WEFT_DESC_CURRENT_LOCAL, WEFT_SDP_OFFER);
  expect_desc(a, WEFT_DESC_CURRENT_REMOTE, WEFT_SDP_ANSWER);
  expect_desc(a, WEFT_DESC_PENDING_LOCAL, WEFT_SDP_UNSPEC);
  expect_desc(a, WEFT_DESC_PENDING_REMOTE, WEFT_SDP_UNSPEC);
  weft_free(offer);
  weft_free(answer);
  g_assert_true(pair_wait_connected(p, 10000));
  pair_free(p);
}

static gboolean is_fingerprint(const char *fp) {
  GRegex *re = g_regex_new("^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$", 0, 0, NULL);
  gboolean ok = g_regex_match(re, fp, 0, NULL);
  g_regex_unref(re);
  return ok;
}

static void test_selected_pair_and_fingerprint(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  char *l = NULL, *r = NULL;
  g_assert_cmpint(weft_pc_get_selected_candidate_pair(p->side[0].pc, &l, &r), ==,
                  WEFT_ERR_INVALID_STATE);
  char *fa = NULL, *fb = NULL;
  g_assert_cmpint(weft_pc_get_local_fingerprint(p->side[0].pc, &fa), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_local_fingerprint(p->side[1].pc, &fb), ==, WEFT_OK);
  g_assert_true(is_fingerprint(fa));
  g_assert_true(is_fingerprint(fb));
  /* Default: one certificate per context. */
  g_assert_cmpstr(fa, ==, fb);
  dc_probe *da, *db;
  pair_connect(p, "sel", &da, &db);
  /* The fingerprint is the one in the SDP. */
  char *line = g_strdup_printf("a=fingerprint:%s\r\n", fa);
  g_assert_nonnull(strstr(p->offer, line));
  g_free(line);
  for (int i = 0; i < 2; i++) {
    l = r = NULL;
    g_assert_cmpint(weft_pc_get_selected_candidate_pair(p->side[i].pc, &l, &r), ==, WEFT_OK);
    g_test_message("side %d selected pair: %s <-> %s", i, l, r);
    g_assert_nonnull(strstr(l, "candidate:"));
    g_assert_nonnull(strstr(r, "candidate:"));
    g_assert_nonnull(strstr(l, " 127.0.0.1 "));
    g_assert_nonnull(strstr(r, " 127.0.0.1 "));
    weft_free(l);
    weft_free(r);
  }
  weft_free(fa);
  weft_free(fb);
  pair_free(p);

  /* certificate_reuse = 0: a fresh certificate per pc. */
  weft_context *ctx = weft_context_new(NULL);
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_set_certificate_reuse(cfg, 0), ==, WEFT_OK);
  weft_pc *x = weft_pc_new(ctx, cfg), *y = weft_pc_new(ctx, cfg);
  g_assert_nonnull(x);
  g_assert_nonnull(y);
  g_assert_cmpint(weft_pc_get_local_fingerprint(x, &fa), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_get_local_fingerprint(y, &fb), ==, WEFT_OK);
  g_assert_true(is_fingerprint(fa));
  g_assert_cmpstr(fa, !=, fb);
  weft_free(fa);
  weft_free(fb);
  weft_pc_unref(x);
  weft_pc_unref(y);
  weft_config_free(cfg);
  weft_context_unref(ctx);
  pair_assert_no_live_objects(2000);
}

/* A second offer/answer on a connected pair (either side offering) keeps the
 * transport: same fingerprint and ICE credentials, channels keep working. */
static void test_renegotiate(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "reneg", &a, &b);
  char *first_offer = g_strdup(p->offer);
  pair_negotiate(p); /* A offers again */
  g_assert_cmpint(weft_pc_get_signaling_state(p->side[0].pc), ==, WEFT_SIGNALING_STABLE);
  g_assert_cmpint(weft_pc_get_signaling_state(p->side[1].pc), ==, WEFT_SIGNALING_STABLE);
  /* No ICE restart without asking: same credentials. */
  const char *u1 = strstr(first_offer, "a=ice-ufrag:"), *u2 = strstr(p->offer, "a=ice-ufrag:");
  g_assert_nonnull(u1);
  g_assert_nonnull(u2);
  g_assert_cmpint(strcspn(u1, "\r"), ==, strcspn(u2, "\r"));
  g_assert_true(strncmp(u1, u2, strcspn(u1, "\r")) == 0);
  g_assert_cmpint(weft_dc_send_text(a->dc, "after", 5), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  /* B offers now (roles of the SDP exchange swapped, DTLS roles kept). */
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_create_offer(p->side[1].pc, NULL, &offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(p->side[1].pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(p->side[0].pc, WEFT_SDP_OFFER, offer), ==,
                  WEFT_OK);
  g_assert_cmpint(weft_pc_create_answer(p->side[0].pc, &answer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(p->side[0].pc, WEFT_SDP_ANSWER, answer), ==,
                  WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(p->side[1].pc, WEFT_SDP_ANSWER, answer), ==,
                  WEFT_OK);
  weft_free(offer);
  weft_free(answer);
  g_assert_cmpint(weft_dc_send_text(a->dc, "again", 5), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 2, 5000));
  dc_probe *a2 = pair_create_dc(p, 0, "after-reneg", NULL);
  g_assert_true(pair_wait_ge(p, &a2->opened, 1, 5000));
  pair_pump(p, 200);
  for (int i = 0; i < 2; i++)
    g_assert_cmpint(weft_pc_get_connection_state(p->side[i].pc), ==, WEFT_PC_CONNECTED);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].n_errors), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].n_errors), ==, 0);
  g_free(first_offer);
  pair_free(p);
}

static void test_strings(void) {
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_NEW), ==, "new");
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_CONNECTING), ==, "connecting");
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_CONNECTED), ==, "connected");
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_DISCONNECTED), ==, "disconnected");
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_FAILED), ==, "failed");
  g_assert_cmpstr(weft_pc_state_to_string(WEFT_PC_CLOSED), ==, "closed");
  g_assert_nonnull(weft_pc_state_to_string((weft_pc_state)99));
  g_assert_cmpstr(weft_ice_connection_state_to_string(WEFT_ICE_CHECKING), ==, "checking");
  g_assert_cmpstr(weft_ice_connection_state_to_string(WEFT_ICE_COMPLETED), ==, "completed");
  g_assert_nonnull(weft_ice_connection_state_to_string((weft_ice_connection_state)-1));
  g_assert_cmpstr(weft_ice_gathering_state_to_string(WEFT_GATHERING_GATHERING), ==, "gathering");
  g_assert_cmpstr(weft_ice_gathering_state_to_string(WEFT_GATHERING_COMPLETE), ==, "complete");
  g_assert_cmpstr(weft_signaling_state_to_string(WEFT_SIGNALING_STABLE), ==, "stable");
  g_assert_cmpstr(weft_signaling_state_to_string(WEFT_SIGNALING_HAVE_LOCAL_OFFER), ==,
                  "have-local-offer");
  g_assert_cmpstr(weft_signaling_state_to_string(WEFT_SIGNALING_HAVE_REMOTE_PRANSWER), ==,
                  "have-remote-pranswer");
  g_assert_cmpstr(weft_signaling_state_to_string(WEFT_SIGNALING_CLOSED), ==, "closed");
  static const char *types[] = {"offer", "pranswer", "answer", "rollback"};
  for (int t = WEFT_SDP_OFFER; t <= WEFT_SDP_ROLLBACK; t++) {
    g_assert_cmpstr(weft_sdp_type_to_string((weft_sdp_type)t), ==, types[t - 1]);
    g_assert_cmpint(weft_sdp_type_from_string(types[t - 1]), ==, t);
  }
  g_assert_cmpint(weft_sdp_type_from_string(NULL), ==, WEFT_SDP_UNSPEC);
  g_assert_cmpint(weft_sdp_type_from_string("bogus"), ==, WEFT_SDP_UNSPEC);
  g_assert_cmpint(weft_sdp_type_from_string(""), ==, WEFT_SDP_UNSPEC);
  g_assert_cmpstr(weft_dc_state_to_string(WEFT_DC_CONNECTING), ==, "connecting");
  g_assert_cmpstr(weft_dc_state_to_string(WEFT_DC_OPEN), ==, "open");
  g_assert_cmpstr(weft_dc_state_to_string(WEFT_DC_CLOSING), ==, "closing");
  g_assert_cmpstr(weft_dc_state_to_string(WEFT_DC_CLOSED), ==, "closed");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_NONE), ==, "");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_DTLS_FAILURE), ==, "dtls-failure");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_FINGERPRINT_FAILURE), ==,
                  "fingerprint-failure");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_SCTP_FAILURE), ==, "sctp-failure");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_DATA_CHANNEL_FAILURE), ==,
                  "data-channel-failure");
  g_assert_cmpstr(weft_error_detail_to_string(WEFT_DETAIL_SDP_SYNTAX_ERROR), ==,
                  "sdp-syntax-error");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/negotiation/state-sequences", test_state_sequences);
  g_test_add_func("/api/negotiation/negotiation-needed", test_negotiation_needed);
  g_test_add_func("/api/negotiation/implicit", test_implicit);
  g_test_add_func("/api/negotiation/non-trickle", test_non_trickle);
  g_test_add_func("/api/negotiation/manual-candidates", test_trickle_end_of_candidates_only);
  g_test_add_func("/api/negotiation/state-errors", test_state_errors);
  g_test_add_func("/api/negotiation/rollback", test_rollback);
  g_test_add_func("/api/negotiation/descriptions", test_descriptions);
  g_test_add_func("/api/negotiation/selected-pair-fingerprint", test_selected_pair_and_fingerprint);
  g_test_add_func("/api/negotiation/strings", test_strings);
  g_test_add_func("/api/negotiation/renegotiate", test_renegotiate);
  return g_test_run();
}

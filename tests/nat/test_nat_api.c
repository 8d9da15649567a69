/*
 * tests/nat/test_nat_api — the NAT-traversal API without network namespaces
 * (runs anywhere): TURN REST credentials, ICE restart on 127.0.0.1 (both the
 * restartIce() and the offer-option paths, and a restart started by the
 * answerer), and argument errors. The namespace tests are nat_test.py.
 */
#include <string.h>
#include <time.h>

#include "pair.h"

/* ---- TURN REST credentials -------------------------------------------------- */

static char *expected_credential(const char *secret, const char *username) {
  GHmac *h = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)secret, strlen(secret));
  g_hmac_update(h, (const guchar *)username, (gssize)strlen(username));
  guint8 mac[20];
  gsize n = sizeof mac;
  g_hmac_get_digest(h, mac, &n);
  g_hmac_unref(h);
  g_assert_cmpuint(n, ==, 20);
  return g_base64_encode(mac, n);
}

static void test_turn_rest(void) {
  char *user = NULL, *cred = NULL;
  gint64 before = (gint64)time(NULL);
  g_assert_cmpint(weft_turn_rest_credentials("s3cret", "alice", 600, &user, &cred), ==, WEFT_OK);
  gint64 after = (gint64)time(NULL);
  g_assert_nonnull(user);
  g_assert_nonnull(cred);
  /* "<expiry>:alice", expiry = now + ttl */
  char *colon = strchr(user, ':');
  g_assert_nonnull(colon);
  g_assert_cmpstr(colon + 1, ==, "alice");
  gint64 expiry = g_ascii_strtoll(user, NULL, 10);
  g_assert_cmpint(expiry, >=, before + 600);
  g_assert_cmpint(expiry, <=, after + 600);
  char *want = expected_credential("s3cret", user);
  g_assert_cmpstr(cred, ==, want);
  g_free(want);
  weft_free(user);
  weft_free(cred);

  /* Without a user: the username is the expiry alone. */
  g_assert_cmpint(weft_turn_rest_credentials("k", NULL, 1, &user, &cred), ==, WEFT_OK);
  g_assert_null(strchr(user, ':'));
  want = expected_credential("k", user);
  g_assert_cmpstr(cred, ==, want);
  g_free(want);
  weft_free(user);
  weft_free(cred);

  /* Errors leave the outputs NULL. */
  user = cred = (char *)"x";
  g_assert_cmpint(weft_turn_rest_credentials(NULL, "a", 60, &user, &cred), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_null(user);
  g_assert_null(cred);
  g_assert_cmpint(weft_turn_rest_credentials("s", "a:b", 60, &user, &cred), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_nonnull(strstr(weft_last_error_message(), ":"));
  g_assert_cmpint(weft_turn_rest_credentials("s", "a", 0, &user, &cred), ==, WEFT_ERR_RANGE);
  g_assert_cmpint(weft_turn_rest_credentials("s", "a", 60, NULL, &cred), ==, WEFT_ERR_INVALID_ARG);
}

static void test_turns_refused(void) {
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_add_ice_server(cfg, "turns:turn.example.org:5349", "u", "p"), ==,
                  WEFT_ERR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(weft_last_error_message(), "TLS"));
  g_assert_cmpint(weft_config_add_ice_server(cfg, "turn:198.51.100.1?transport=tcp", "u", "p"), ==,
                  WEFT_OK);
  weft_config_free(cfg);
}

/* ---- ICE restart on loopback -------------------------------------------------- */

static char *ufrag_of(const char *sdp) {
  const char *u = strstr(sdp, "a=ice-ufrag:");
  g_assert_nonnull(u);
  u += strlen("a=ice-ufrag:");
  return g_strndup(u, strcspn(u, "\r\n"));
}

static char *local_pair(pair *p, int side) {
  char *l = NULL, *r = NULL;
  g_assert_cmpint(weft_pc_get_selected_candidate_pair(p->side[side].pc, &l, &r), ==, WEFT_OK);
  char *both = g_strdup_printf("%s | %s", l, r);
  weft_free(l);
  weft_free(r);
  return both;
}

typedef struct {
  pair_side *s;
  char *before;
} pair_changed_arg;

static gboolean pred_pair_changed(pair *p, void *arg) {
  pair_changed_arg *a = arg;
  char *l = NULL, *r = NULL;
  if (weft_pc_get_selected_candidate_pair(a->s->pc, &l, &r) != WEFT_OK)
    return FALSE;
  char *both = g_strdup_printf("%s | %s", l, r);
  weft_free(l);
  weft_free(r);
  gboolean changed = strcmp(both, a->before) != 0;
  g_free(both);
  return changed;
}

typedef struct {
  pair_side *s;
  int n;
} gather_arg;

/* Gathering went through @n more states than when the caller looked. */
static gboolean pred_gather_count(pair *p, void *arg) {
  gather_arg *g = arg;
  g_mutex_lock(&p->lock);
  int n = g->s->n_gather;
  gboolean complete = n > 0 && g->s->gather_log[n - 1] == WEFT_GATHERING_COMPLETE;
  g_mutex_unlock(&p->lock);
  return n >= g->n && complete;
}

static int gather_count(pair *p, int side) {
  g_mutex_lock(&p->lock);
  int n = p->side[side].n_gather;
  g_mutex_unlock(&p->lock);
  return n;
}

/* Offer from @from (0 = A) to the other side, non-trickle, every step
 * asserted; @option: the ice_restart offer option instead of a plain offer. */
static void offer_answer(pair *p, int from, gboolean option, gboolean restarts, char **offer_out) {
  weft_pc *o = p->side[from].pc, *a = p->side[1 - from].pc;
  weft_offer_options opts = WEFT_OFFER_OPTIONS_INIT;
  opts.ice_restart = option;
  char *offer = NULL, *answer = NULL, *sdp = NULL;
  /* A restart gathers again: gathering, then complete (two more events). */
  int more = restarts ? 2 : 0;
  gather_arg go = {&p->side[from], gather_count(p, from) + more};
  gather_arg ga = {&p->side[1 - from], gather_count(p, 1 - from) + more};
  g_assert_cmpint(weft_pc_create_offer(o, &opts, &offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(o, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  weft_free(offer);
  /* The description with every candidate of the new generation. */
  g_assert_true(pair_wait(p, pred_gather_count, &go, 10000));
  g_assert_cmpint(weft_pc_get_description(o, WEFT_DESC_LOCAL, NULL, &sdp), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(a, WEFT_SDP_OFFER, sdp), ==, WEFT_OK);
  *offer_out = sdp;
  g_assert_cmpint(weft_pc_create_answer(a, &answer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(a, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  weft_free(answer);
  g_assert_true(pair_wait(p, pred_gather_count, &ga, 10000));
  g_assert_cmpint(weft_pc_get_description(a, WEFT_DESC_LOCAL, NULL, &sdp), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(o, WEFT_SDP_ANSWER, sdp), ==, WEFT_OK);
  weft_free(sdp);
}

/* One restart: new credentials in the offer, a new selected pair (new
 * sockets), messages sent right after the restart all arrive, the channel
 * never closes. */
static void restart_case(int from, gboolean option) {
  pair_opts o = PAIR_OPTS_INIT;
  o.trickle = FALSE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "restart", &a, &b);
  char *old_ufrag = ufrag_of(p->offer);
  char *before = local_pair(p, 0);
  int nn = g_atomic_int_get(&p->side[from].negotiation_needed);

  if (!option) {
    g_assert_cmpint(weft_pc_restart_ice(p->side[from].pc), ==, WEFT_OK);
    /* W3C restartIce(): negotiation-needed fires. */
    g_assert_true(pair_wait_ge(p, &p->side[from].negotiation_needed, nn + 1, 5000));
  }
  /* Sent before the restart completes: SCTP carries them across. */
  for (int i = 0; i < 10; i++)
    g_assert_cmpint(weft_dc_send_text(a->dc, "during", 6), ==, WEFT_OK);
  char *offer = NULL;
  offer_answer(p, from, option, TRUE, &offer);
  char *new_ufrag = ufrag_of(offer);
  g_assert_cmpstr(new_ufrag, !=, old_ufrag);
  weft_free(offer);

  pair_changed_arg arg = {&p->side[0], before};
  g_assert_true(pair_wait(p, pred_pair_changed, &arg, 10000));
  for (int i = 0; i < 10; i++)
    g_assert_cmpint(weft_dc_send_text(a->dc, "after", 5), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 20, 10000));
  for (int i = 0; i < 20; i++)
    g_assert_cmpstr((const char *)probe_msg(b, i)->data, ==, i < 10 ? "during" : "after");
  g_assert_cmpint(weft_dc_send_text(b->dc, "back", 4), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  for (int i = 0; i < 2; i++) {
    g_assert_cmpint(weft_pc_get_connection_state(p->side[i].pc), ==, WEFT_PC_CONNECTED);
    g_assert_cmpint(g_atomic_int_get(&p->side[i].n_errors), ==, 0);
  }
  g_assert_cmpint(g_atomic_int_get(&a->closed), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&b->closed), ==, 0);
  g_free(before);
  g_free(old_ufrag);
  g_free(new_ufrag);
  pair_free(p);
}

static void test_restart_ice(void) { restart_case(0, FALSE); }
static void test_restart_option(void) { restart_case(0, TRUE); }
static void test_restart_by_answerer(void) { restart_case(1, FALSE); }

/* restartIce() on A, then B offers first: A's answer keeps its credentials
 * (no restart yet, the channel keeps working); A's next offer restarts. */
static void test_restart_waits_for_own_offer(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.trickle = FALSE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "wait", &a, &b);
  char *old_ufrag = ufrag_of(p->offer);
  g_assert_cmpint(weft_pc_restart_ice(p->side[0].pc), ==, WEFT_OK);
  /* A writes an offer it never applies: its credentials are new... */
  weft_offer_options opts = WEFT_OFFER_OPTIONS_INIT;
  char *unused = NULL;
  g_assert_cmpint(weft_pc_create_offer(p->side[0].pc, &opts, &unused), ==, WEFT_OK);
  char *u = ufrag_of(unused);
  g_assert_cmpstr(u, !=, old_ufrag);
  g_free(u);
  weft_free(unused);
  /* ...but B's offer comes first: A answers with its current ones. */
  char *offer = NULL;
  offer_answer(p, 1, FALSE, FALSE, &offer);
  weft_free(offer);
  char *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(p->side[0].pc, WEFT_DESC_CURRENT_LOCAL, NULL, &answer),
                  ==, WEFT_OK);
  u = ufrag_of(answer);
  g_assert_cmpstr(u, ==, old_ufrag);
  g_free(u);
  weft_free(answer);
  g_assert_cmpint(weft_dc_send_text(a->dc, "x", 1), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 1, 5000));
  /* A's own next offer restarts. */
  offer_answer(p, 0, FALSE, TRUE, &offer);
  u = ufrag_of(offer);
  g_assert_cmpstr(u, !=, old_ufrag);
  g_free(u);
  weft_free(offer);
  g_assert_cmpint(weft_dc_send_text(a->dc, "y", 1), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 2, 5000));
  g_free(old_ufrag);
  pair_free(p);
}

static void test_restart_errors(void) {
  g_assert_cmpint(weft_pc_restart_ice(NULL), ==, WEFT_ERR_INVALID_ARG);
  weft_pc *pc = weft_pc_new(NULL, NULL);
  g_assert_nonnull(pc);
  /* Before any negotiation it only prepares credentials. */
  g_assert_cmpint(weft_pc_restart_ice(pc), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_close(pc), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_restart_ice(pc), ==, WEFT_ERR_CLOSED);
  weft_pc_unref(pc);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/nat/turn_rest", test_turn_rest);
  g_test_add_func("/nat/turns_refused", test_turns_refused);
  g_test_add_func("/nat/restart/ice", test_restart_ice);
  g_test_add_func("/nat/restart/option", test_restart_option);
  g_test_add_func("/nat/restart/by_answerer", test_restart_by_answerer);
  g_test_add_func("/nat/restart/waits_for_own_offer", test_restart_waits_for_own_offer);
  g_test_add_func("/nat/restart/errors", test_restart_errors);
  return g_test_run();
}

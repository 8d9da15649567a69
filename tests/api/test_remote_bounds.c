/*
 * What a remote offer may create, through the public API: the m-sections of
 * one offer (WEFT__SDP_MAX_MEDIA, 64), the tracks of one pc (256, counting
 * stopped ones), and tracks undone when the offer that created them is rolled
 * back or replaced. Offers are written by hand (they are the remote); no
 * media flows, so nothing leaves the process.
 */
#include <string.h>

#include "pair.h"

enum { MAX_SECTIONS = 64, MAX_REMOTE_TRACKS = 256 };

static gint n_tracks; /* on_track calls (atomic) */

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  (void)t;
  (void)ud;
  g_atomic_int_inc(&n_tracks);
}

/* An offer with @n audio sections whose mids are "<prefix><i>", all in one
 * BUNDLE group; the same credentials and fingerprint every time (a changed
 * one would be an ICE restart or an unsupported certificate change). */
static char *offer_text(const char *prefix, int n) {
  GString *g = g_string_new("v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
  g_string_append(g, "a=group:BUNDLE");
  for (int i = 0; i < n; i++)
    g_string_append_printf(g, " %s%d", prefix, i);
  g_string_append(g, "\r\na=ice-options:trickle\r\na=ice-ufrag:rEmO\r\n"
                     "a=ice-pwd:remotepassword0123456789\r\na=fingerprint:sha-256 ");
  for (int i = 0; i < 32; i++)
    g_string_append_printf(g, "%s%02X", i ? ":" : "", (unsigned)(i * 7 + 1));
  g_string_append(g, "\r\na=setup:actpass\r\n");
  for (int i = 0; i < n; i++)
    g_string_append_printf(g,
                           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
                           "a=mid:%s%d\r\na=sendrecv\r\na=rtcp-mux\r\n"
                           "a=rtpmap:111 opus/48000/2\r\n",
                           prefix, i);
  return g_string_free(g, FALSE);
}

typedef struct fixture {
  weft_context *ctx;
  weft_pc *pc;
  long live0; /* live objects with the pc and its context */
} fixture;

static void fixture_init(fixture *f) {
  g_atomic_int_set(&n_tracks, 0);
  f->ctx = weft_context_new(NULL);
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_set_enable_loopback(cfg, 1), ==, WEFT_OK);
  f->pc = weft_pc_new(f->ctx, cfg);
  weft_config_free(cfg);
  g_assert_nonnull(f->pc);
  g_assert_cmpint(weft_pc_set_on_track(f->pc, on_track), ==, WEFT_OK);
  f->live0 = weft_debug_live_objects();
}

static void fixture_done(fixture *f) {
  weft_pc_close(f->pc);
  weft_pc_unref(f->pc);
  weft_context_unref(f->ctx);
  pair_assert_no_live_objects(2000);
}

/* Waits (THREAD mode: events run on the weft thread) until @pred. */
static gboolean wait_tracks(int n) {
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&n_tracks) < n && g_get_monotonic_time() < end)
    g_usleep(1000);
  return g_atomic_int_get(&n_tracks) == n;
}

static gboolean wait_live(long n) {
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while (weft_debug_live_objects() != n && g_get_monotonic_time() < end)
    g_usleep(1000);
  return weft_debug_live_objects() == n;
}

/* m-sections of @sdp accepted (port != 0) and rejected. */
static void count_sections(const char *sdp, int *accepted, int *rejected) {
  *accepted = *rejected = 0;
  for (const char *p = strstr(sdp, "m=audio "); p; p = strstr(p + 1, "\r\nm=audio "))
    (*(strncmp(strstr(p, "audio ") + 6, "0 ", 2) == 0 ? rejected : accepted))++;
}

static void answer_and_apply(weft_pc *pc, int want_accepted, int want_rejected) {
  char *answer = NULL;
  g_assert_cmpint(weft_pc_create_answer(pc, &answer), ==, WEFT_OK);
  int acc, rej;
  count_sections(answer, &acc, &rej);
  g_assert_cmpint(acc, ==, want_accepted);
  g_assert_cmpint(rej, ==, want_rejected);
  g_assert_cmpint(weft_pc_set_local_description(pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  weft_free(answer);
  g_assert_cmpint(weft_pc_get_signaling_state(pc), ==, WEFT_SIGNALING_STABLE);
}

/* One offer: 64 m-sections are fine (64 tracks), 65 are a syntax error
 * naming the line and the limit, with nothing applied. */
static void test_sections_per_offer(void) {
  fixture f;
  fixture_init(&f);
  char *over = offer_text("x", MAX_SECTIONS + 1);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, over), ==, WEFT_ERR_SYNTAX);
  const char *msg = weft_last_error_message();
  g_test_message("65 m-sections: %s", msg);
  g_assert_nonnull(strstr(msg, "SDP line "));
  g_assert_nonnull(strstr(msg, "more than 64 m-sections"));
  g_assert_cmpint(weft_pc_get_signaling_state(f.pc), ==, WEFT_SIGNALING_STABLE);
  g_free(over);
  g_usleep(20000);
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, 0);

  char *at = offer_text("a", MAX_SECTIONS);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, at), ==, WEFT_OK);
  g_assert_true(wait_tracks(MAX_SECTIONS));
  answer_and_apply(f.pc, MAX_SECTIONS, 0);
  g_free(at);
  fixture_done(&f);
}

/* A rolled-back offer takes its tracks with it: 100 rounds of an offer with
 * 8 new mids then rollback leave the live objects where they were; then a
 * normal offer/answer still works. */
static void test_rollback_undoes_tracks(void) {
  fixture f;
  fixture_init(&f);
  enum { ROUNDS = 100, PER = 8 };
  for (int r = 0; r < ROUNDS; r++) {
    char prefix[16];
    g_snprintf(prefix, sizeof prefix, "r%d-", r);
    char *offer = offer_text(prefix, PER);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
    g_assert_true(wait_tracks((r + 1) * PER));
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_ROLLBACK, NULL), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_get_signaling_state(f.pc), ==, WEFT_SIGNALING_STABLE);
    if (!wait_live(f.live0))
      g_error("round %d: %ld live objects, %ld before (tracks not undone)", r,
              weft_debug_live_objects(), f.live0);
    g_free(offer);
  }
  /* Still works: one section, accepted, one track that stays. */
  char *offer = offer_text("final", 1);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_true(wait_tracks(ROUNDS * PER + 1));
  answer_and_apply(f.pc, 1, 0);
  g_assert_cmpint(weft_debug_live_objects(), ==, f.live0 + 1);
  g_free(offer);
  fixture_done(&f);
}

/* An offer that replaces a pending one (have-remote-offer) undoes the
 * tracks of the first that it does not have. */
static void test_replaced_offer(void) {
  fixture f;
  fixture_init(&f);
  char *first = offer_text("p", 8);
  char *second = offer_text("p", 3); /* p0..p2 kept, p3..p7 gone */
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, first), ==, WEFT_OK);
  g_assert_true(wait_tracks(8));
  g_assert_true(wait_live(f.live0 + 8));
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, second), ==, WEFT_OK);
  g_assert_true(wait_live(f.live0 + 3));
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, 8); /* no new ones */
  answer_and_apply(f.pc, 3, 0);
  g_free(first);
  g_free(second);
  fixture_done(&f);
}

/* A remote changing every mid at every round creates tracks without end:
 * 256 per pc, then its new m-sections are rejected in the answer. */
static void test_remote_tracks_per_pc(void) {
  fixture f;
  fixture_init(&f);
  int rounds = MAX_REMOTE_TRACKS / MAX_SECTIONS;
  for (int r = 0; r < rounds; r++) {
    char prefix[16];
    g_snprintf(prefix, sizeof prefix, "g%d-", r);
    char *offer = offer_text(prefix, MAX_SECTIONS);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
    g_assert_true(wait_tracks((r + 1) * MAX_SECTIONS));
    answer_and_apply(f.pc, MAX_SECTIONS, 0); /* just at the cap: all accepted */
    g_free(offer);
  }
  char *offer = offer_text("over", MAX_SECTIONS);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  answer_and_apply(f.pc, 0, MAX_SECTIONS);
  g_usleep(50000);
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, MAX_REMOTE_TRACKS);
  g_free(offer);
  fixture_done(&f);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/remote-bounds/sections-per-offer", test_sections_per_offer);
  g_test_add_func("/api/remote-bounds/rollback-undoes-tracks", test_rollback_undoes_tracks);
  g_test_add_func("/api/remote-bounds/replaced-offer", test_replaced_offer);
  g_test_add_func("/api/remote-bounds/remote-tracks-per-pc", test_remote_tracks_per_pc);
  return g_test_run();
}

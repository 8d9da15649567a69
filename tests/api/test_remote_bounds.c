/*
 * What a remote offer may create, through the public API: the m-sections of
 * one offer (WEFT__SDP_MAX_MEDIA, 64); tracks undone when the offer that
 * created them is rolled back or replaced, or when their rejected m-line is
 * recycled; offers that would change a live m-section refused. Offers are
 * written by hand (they are the remote); no media flows, so nothing leaves
 * the process.
 */
#include <stdbool.h>
#include <string.h>

#include "pair.h"

enum { MAX_SECTIONS = 64 };

static gint n_tracks; /* on_track calls (atomic) */

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  (void)t;
  (void)ud;
  g_atomic_int_inc(&n_tracks);
}

/* An offer with @n audio sections whose mids are "<prefix><i>", all in one
 * BUNDLE group; the same credentials and fingerprint every time (a changed
 * one would be an ICE restart or an unsupported certificate change). With
 * @keep, the first section has that mid instead and stays live while the
 * others are @rejected (port 0, out of the group). */
static char *offer_text_ex(const char *prefix, int n, const char *keep, bool rejected) {
  GString *g = g_string_new("v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
  g_string_append(g, "a=group:BUNDLE");
  if (keep)
    g_string_append_printf(g, " %s", keep);
  for (int i = keep ? 1 : 0; i < n && !rejected; i++)
    g_string_append_printf(g, " %s%d", prefix, i);
  g_string_append(g, "\r\na=ice-options:trickle\r\na=ice-ufrag:rEmO\r\n"
                     "a=ice-pwd:remotepassword0123456789\r\na=fingerprint:sha-256 ");
  for (int i = 0; i < 32; i++)
    g_string_append_printf(g, "%s%02X", i ? ":" : "", (unsigned)(i * 7 + 1));
  g_string_append(g, "\r\na=setup:actpass\r\n");
  for (int i = 0; i < n; i++) {
    bool first = keep && i == 0;
    char mid[32];
    if (first)
      g_strlcpy(mid, keep, sizeof mid);
    else
      g_snprintf(mid, sizeof mid, "%s%d", prefix, i);
    g_string_append_printf(g,
                           "m=audio %d UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
                           "a=mid:%s\r\na=sendrecv\r\na=rtcp-mux\r\n"
                           "a=rtpmap:111 opus/48000/2\r\n",
                           rejected && !first ? 0 : 9, mid);
  }
  return g_string_free(g, FALSE);
}

static char *offer_text(const char *prefix, int n) { return offer_text_ex(prefix, n, NULL, false); }

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

/* A remote that adds and removes media for ever, as Chromium does when it
 * stops a transceiver and later adds one (the rejected m-line is recycled
 * with a new mid): every new mid gets a track, and the tracks of recycled
 * m-lines leave, so the live objects stay at one track per m-section. */
static void test_recycled_mlines(void) {
  fixture f;
  fixture_init(&f);
  enum { ROUNDS = 20 };
  /* The first m-section stays ("keep"); the other 63 are recycled. */
  for (int r = 0; r < ROUNDS; r++) {
    char prefix[16];
    g_snprintf(prefix, sizeof prefix, "g%d-", r);
    char *offer = offer_text_ex(prefix, MAX_SECTIONS, "keep", false);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
    g_assert_true(wait_tracks(1 + (r + 1) * (MAX_SECTIONS - 1)));
    answer_and_apply(f.pc, MAX_SECTIONS, 0);
    g_assert_true(wait_live(f.live0 + MAX_SECTIONS));
    g_free(offer);
    /* The remote stops all but the first: the same mids, port 0. */
    offer = offer_text_ex(prefix, MAX_SECTIONS, "keep", true);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
    answer_and_apply(f.pc, 1, MAX_SECTIONS - 1);
    g_free(offer);
  }
  g_usleep(20000);
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, 1 + ROUNDS * (MAX_SECTIONS - 1));
  g_assert_cmpint(weft_debug_live_objects(), ==, f.live0 + MAX_SECTIONS);
  fixture_done(&f);
}

/* An offer may not take back what the session has: one that changes the mid
 * of a live m-section, or that has fewer m-sections, is refused with nothing
 * applied, and the session goes on. */
static void test_live_mline_kept(void) {
  fixture f;
  fixture_init(&f);
  char *offer = offer_text("a", 4);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_true(wait_tracks(4));
  answer_and_apply(f.pc, 4, 0);
  g_free(offer);

  offer = offer_text("b", 4);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==,
                  WEFT_ERR_INVALID_ACCESS);
  g_test_message("mid changed: %s", weft_last_error_message());
  g_assert_nonnull(strstr(weft_last_error_message(), "m-section 0 changes mid a0 to b0"));
  g_free(offer);
  offer = offer_text("a", 3);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==,
                  WEFT_ERR_INVALID_ACCESS);
  g_test_message("one fewer: %s", weft_last_error_message());
  g_assert_nonnull(strstr(weft_last_error_message(), "the offer has 3 m-sections, the session 4"));
  g_free(offer);
  g_assert_cmpint(weft_pc_get_signaling_state(f.pc), ==, WEFT_SIGNALING_STABLE);
  g_usleep(20000);
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, 4);
  g_assert_cmpint(weft_debug_live_objects(), ==, f.live0 + 4);

  /* The same offer again (a re-offer) is fine. */
  offer = offer_text("a", 4);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  answer_and_apply(f.pc, 4, 0);
  g_free(offer);
  fixture_done(&f);
}

/* Tracks the remote withdraws before the application sets on_track are never
 * announced, and do not pile up: 50 rounds of offer and rollback with no
 * handler, then one offer that stays; setting the handler announces its 8
 * tracks only. */
static void test_withdrawn_not_announced(void) {
  fixture f;
  fixture_init(&f);
  g_assert_cmpint(weft_pc_set_on_track(f.pc, NULL), ==, WEFT_OK);
  enum { ROUNDS = 50, PER = 8 };
  for (int r = 0; r < ROUNDS; r++) {
    char prefix[16];
    g_snprintf(prefix, sizeof prefix, "w%d-", r);
    char *offer = offer_text(prefix, PER);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
    g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_ROLLBACK, NULL), ==, WEFT_OK);
    g_free(offer);
  }
  g_assert_true(wait_live(f.live0));
  char *offer = offer_text("kept", PER);
  g_assert_cmpint(weft_pc_set_remote_description(f.pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_true(wait_live(f.live0 + PER));
  g_assert_cmpint(weft_pc_set_on_track(f.pc, on_track), ==, WEFT_OK);
  g_assert_true(wait_tracks(PER));
  g_usleep(50000);
  g_assert_cmpint(g_atomic_int_get(&n_tracks), ==, PER);
  answer_and_apply(f.pc, PER, 0);
  g_free(offer);
  fixture_done(&f);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/remote-bounds/sections-per-offer", test_sections_per_offer);
  g_test_add_func("/api/remote-bounds/rollback-undoes-tracks", test_rollback_undoes_tracks);
  g_test_add_func("/api/remote-bounds/replaced-offer", test_replaced_offer);
  g_test_add_func("/api/remote-bounds/recycled-mlines", test_recycled_mlines);
  g_test_add_func("/api/remote-bounds/live-mline-kept", test_live_mline_kept);
  g_test_add_func("/api/remote-bounds/withdrawn-not-announced", test_withdrawn_not_announced);
  return g_test_run();
}

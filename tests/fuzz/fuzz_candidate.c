/*
 * Fuzz target: remote ICE candidate lines (RFC 8839 §5.1) as the ICE layer
 * takes them (weft__ice_add_remote_candidate: weft's own validation, then
 * libnice's parser through nice_agent_parse_remote_candidate_sdp), and ICE
 * server URLs (weft__ice_parse_server_url, RFC 7064 / RFC 7065) on the same
 * bytes.
 *
 * The candidate parser needs an agent: one is made on a private
 * GMainContext that is never iterated (nothing is gathered, no socket is
 * bound, no callback runs) and replaced every few hundred inputs so the
 * remote candidates libnice keeps do not pile up. Inputs naming a ".local"
 * host are skipped: weft resolves mDNS names asynchronously, and a fuzzer
 * must not send lookups out.
 *
 * Invariants: the candidate gives 0 (added, or ignored as unusable),
 * WEFT_ERR_SYNTAX or WEFT_ERR_OPERATION (ufrag mismatch / libnice refusal),
 * with a message on error, and the same answer before and after the remote
 * credentials are known (queued vs. handed to libnice) except for those two
 * libnice-side errors; the URL parser answers SYNTAX, NOT_SUPPORTED or
 * INVALID_ACCESS with *out zeroed, or 0 with a host.
 */
#include "fuzz_common.h"
#include "ice/ice.h"

static GMainContext *ctx;
static weft__ice *ice_ready;   /* remote credentials known: straight into libnice */
static weft__ice *ice_pending; /* no credentials yet: validated and queued */
static unsigned uses;

static void noop_candidate(void *ud, const char *c) {}
static void noop_done(void *ud) {}
static void noop_state(void *ud, weft_ice_connection_state s) {}
static void noop_recv(void *ud, const uint8_t *d, size_t n) {}

static void renew(void) {
  static const weft__ice_callbacks cb = {noop_candidate, noop_done, noop_state, noop_recv, NULL};
  if (!ctx)
    ctx = g_main_context_new();
  weft__ice_free(ice_ready);
  weft__ice_free(ice_pending);
  ice_ready = weft__ice_new(ctx, NULL, true, &cb);
  ice_pending = weft__ice_new(ctx, NULL, false, &cb);
  FUZZ_CHECK(ice_ready && ice_pending);
  FUZZ_CHECK(weft__ice_set_remote_credentials(ice_ready, "abcd", "abcdefghijklmnopqrstuvwx") == 0);
  /* Drain what the agents queued (no callback does anything). */
  while (g_main_context_iteration(ctx, FALSE))
    ;
  uses = 0;
}

static void check_url(const char *s) {
  weft__ice_server srv;
  memset(&srv, 0xa5, sizeof srv);
  int rc = weft__ice_parse_server_url(s, "user", "pass", &srv);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_NOT_SUPPORTED ||
             rc == WEFT_ERR_INVALID_ACCESS);
  if (rc < 0) {
    FUZZ_CHECK_ERROR_MESSAGE();
    FUZZ_CHECK(srv.host == NULL && srv.username == NULL && srv.credential == NULL);
    return;
  }
  FUZZ_CHECK(srv.host && srv.host[0]);
  FUZZ_CHECK(srv.is_turn == (srv.username != NULL));
  FUZZ_CHECK(g_ascii_strncasecmp(s, srv.is_turn ? "turn:" : "stun:", 5) == 0);
  bool turn = srv.is_turn;
  weft__ice_server_clear(&srv);
  /* turn: needs credentials. */
  rc = weft__ice_parse_server_url(s, NULL, NULL, &srv);
  FUZZ_CHECK(turn ? rc == WEFT_ERR_INVALID_ACCESS : rc == 0);
  weft__ice_server_clear(&srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  char *s = fuzz_strndup(data, size);
  check_url(s);
  char *lower = g_ascii_strdown(s, -1);
  bool mdns = strstr(lower, ".local") != NULL;
  g_free(lower);
  if (mdns) {
    free(s);
    return 0;
  }
  if (!ice_ready || ++uses > 500)
    renew();
  int q = weft__ice_add_remote_candidate(ice_pending, s);
  FUZZ_CHECK(q == 0 || q == WEFT_ERR_SYNTAX);
  if (q < 0)
    FUZZ_CHECK_ERROR_MESSAGE();
  int r = weft__ice_add_remote_candidate(ice_ready, s);
  FUZZ_CHECK(r == 0 || r == WEFT_ERR_SYNTAX || r == WEFT_ERR_OPERATION);
  if (r < 0)
    FUZZ_CHECK_ERROR_MESSAGE();
  /* Weft's validation is the same with or without credentials: only
   * libnice's parser or the ufrag check may refuse more once they are known. */
  FUZZ_CHECK(r == q || (q == 0 && r < 0));
  while (g_main_context_iteration(ctx, FALSE))
    ;
  free(s);
  return 0;
}

/*
 * ice/ — the libnice wrapper: one agent, one stream, one component (BUNDLE +
 * rtcp-mux), trickle ICE, candidate strings both ways, W3C state mapping,
 * STUN/TURN URL parsing. The only module that includes libnice headers.
 *
 * Threading: every weft__ice_* function is called on the thread iterating the
 * GMainContext given to weft__ice_new() (libnice's own rule: its timers, its
 * sockets and its signals live on that context). Callbacks run on that thread
 * from sources attached to the context, never inside a weft__ice_* call:
 * libnice emits its signals synchronously inside nice_agent_* calls, so they
 * are queued and delivered from an idle source. Callbacks may call any
 * weft__ice_* function except weft__ice_free() (the owner defers frees).
 */
#ifndef WEFT_ICE_H
#define WEFT_ICE_H

#include <glib.h>

#include "core/core.h"

typedef struct weft__ice weft__ice;

typedef struct weft__ice_server {
  char *host;    /* name or IP literal, IPv6 without brackets */
  uint16_t port; /* port 0 = default (3478) */
  bool is_turn;
  bool tcp; /* turn: ?transport=tcp */
  char *username, *credential;
} weft__ice_server;

/* Parses a W3C ICE server URL (RFC 7064 stun:, RFC 7065 turn:):
 * "stun:host[:port]", "turn:host[:port][?transport=udp|tcp]", IPv6 literals in
 * brackets. Scheme case-insensitive. Errors: WEFT_ERR_INVALID_ARG (NULL url or
 * out), WEFT_ERR_SYNTAX (malformed), WEFT_ERR_NOT_SUPPORTED ("turns:"/"stuns:"
 * — libnice cannot do TLS to a TURN server; other ?transport= values),
 * WEFT_ERR_INVALID_ACCESS (turn: without username or credential). On success
 * fills *out with g_strdup'd strings (free with weft__ice_server_clear); on
 * failure *out is zeroed. Credentials are kept for turn: only. Any thread. */
int weft__ice_parse_server_url(const char *url, const char *username, const char *credential,
                               weft__ice_server *out);
/* Frees the strings of @s and zeroes it. NULL ok. */
void weft__ice_server_clear(weft__ice_server *s);

typedef struct weft__ice_config {
  const weft__ice_server *servers; /* copied by weft__ice_new */
  size_t n_servers;
  bool relay_only;             /* ICE transport policy "relay" */
  uint16_t port_min, port_max; /* 0,0 = any */
  bool enable_loopback;        /* gather on 127.0.0.1 ONLY (tests) */
  /* RFC 6544 ICE-TCP (weft_config_set_ice_tcp): gather, signal and accept
   * host tcp-active/tcp-passive candidates besides UDP. */
  bool ice_tcp;
} weft__ice_config;

typedef struct weft__ice_callbacks {
  /* A local candidate, "candidate:..." (no "a=" prefix, no CRLF); the string
   * is valid during the call only. */
  void (*on_candidate)(void *ud, const char *candidate);
  void (*on_gathering_done)(void *ud);
  /* W3C RTCIceConnectionState; called only on change. Consent lost
   * (libnice, 10 s without a consent response) is disconnected, and failed
   * FAILED_GRACE_MS (5 s) later unless ICE was restarted meanwhile. */
  void (*on_state)(void *ud, weft_ice_connection_state state);
  /* A non-STUN datagram (DTLS/SRTP/...), valid during the call only. */
  void (*on_recv)(void *ud, const uint8_t *data, size_t len);
  void *ud;
} weft__ice_callbacks;

/* Optional callback (same @ud as the others, same delivery rules): a
 * problem that does not fail ICE by itself, e.g. a TURN server that gave no
 * relay candidate (wrong credentials, no answer); @message is valid during
 * the call only. Set before weft__ice_gather() to see every report. */
typedef void (*weft__ice_error_fn)(void *ud, int code, const char *message);
void weft__ice_set_on_error(weft__ice *ice, weft__ice_error_fn fn);

/* Creates the agent (trickle, regular nomination, consent freshness), its
 * stream and component, and our own random ufrag (8 chars) and pwd (24
 * chars). Host names of ICE servers are resolved asynchronously on @ctx
 * (weft__ice_gather waits for them). @cfg and @cb are copied; @cfg may be
 * NULL (no servers, any port). Returns NULL with WEFT_ERR_INVALID_ARG (NULL
 * ctx or cb), WEFT_ERR_RANGE (port_min > port_max, or
 * only one of them 0) or WEFT_ERR_OPERATION
 * (libnice refused the stream or an address). */
weft__ice *weft__ice_new(GMainContext *ctx, const weft__ice_config *cfg, bool controlling,
                         const weft__ice_callbacks *cb);

/* Stops everything: no callback after it returns. NULL ok. Without TURN the
 * agent is dropped at once. With a TURN server it is closed with
 * nice_agent_close_async() (the allocations are released) and unref'd in its
 * completion callback, which runs on the GMainContext; likewise pending
 * host-name lookups finish there. So the owner should iterate the context
 * for a short while after (until weft__ice_pending_closes(ctx) is 0); if it
 * never iterates again, those leak. */
void weft__ice_free(weft__ice *ice);
/* Agents closing and lookups not finished yet whose completion runs on @ctx
 * (any thread). Fits loop/'s weft__loop_set_pending_hook. */
int weft__ice_pending_closes(GMainContext *ctx);

/* Local credentials: ufrag 8 and pwd 24 ice-chars (RFC 8839 §5.4). Owned by
 * @ice. While a restart is prepared (weft__ice_restart_prepare) these are
 * the new ones, which the next description carries. */
const char *weft__ice_local_ufrag(const weft__ice *ice);
const char *weft__ice_local_pwd(const weft__ice *ice);

/* Role (RFC 8445 §6.1.1). WEFT_ERR_INVALID_ARG for NULL. */
int weft__ice_set_controlling(weft__ice *ice, bool controlling);

/* The remote ufrag (4-256 ice-chars) and pwd (22-256 ice-chars), RFC 8839
 * §5.4; WEFT_ERR_SYNTAX otherwise. Flushes candidates queued before. */
int weft__ice_set_remote_credentials(weft__ice *ice, const char *ufrag, const char *pwd);

/* Starts gathering; idempotent. Candidates come through on_candidate, then
 * on_gathering_done. WEFT_ERR_OPERATION if libnice fails (no usable local
 * address, port range exhausted). If server names are still being resolved,
 * gathering starts when they are (a late libnice failure is then reported as
 * state failed + gathering done). */
int weft__ice_gather(weft__ice *ice);

/* Adds a remote candidate, "candidate:..." or "a=candidate:..." (RFC 8839
 * §5.1). WEFT_ERR_SYNTAX for a malformed one (the message names the field);
 * WEFT_ERR_OPERATION if its "ufrag" extension names other credentials than the
 * remote ones. Returns 0 without adding for candidates libnice cannot use:
 * transports other than UDP (and, with ice_tcp, TCP with "tcptype active" or
 * "passive": TCP without tcptype and tcptype so are ignored), component ids
 * other than 1 (rtcp-mux), host names other than mDNS ".local" ones. Candidates that arrive before
 * weft__ice_set_remote_credentials are queued. ".local" host names are
 * resolved asynchronously (GResolver on the context) and added when resolved;
 * a failed lookup is logged and dropped (a peer-reflexive candidate from the
 * remote's checks still connects) — the name never reaches libnice.
 * Bounds (doc/nat.md): at most WEFT__ICE_MAX_REMOTE_CANDIDATES usable
 * candidates are taken per ICE generation (added, queued or resolved; a
 * restart starts the count again); later ones return 0 without being added,
 * counted in remote_dropped, with a rate-limited warning. At most
 * WEFT__ICE_MAX_LOOKUPS ".local" lookups run at once; the others wait their
 * turn (lookups_waited), then run. */
int weft__ice_add_remote_candidate(weft__ice *ice, const char *candidate);

enum {
  /* Browsers send 2-20 (host, srflx and relay per interface and family);
   * libnice checks every remote candidate against every local one. */
  WEFT__ICE_MAX_REMOTE_CANDIDATES = 100,
  /* One ".local" name per local address of the remote: a few. */
  WEFT__ICE_MAX_LOOKUPS = 8
};

typedef struct weft__ice_counters {
  unsigned remote_candidates;     /* taken for the current generation (the capped count) */
  uint64_t remote_taken;          /* taken since creation */
  uint64_t remote_dropped;        /* dropped over WEFT__ICE_MAX_REMOTE_CANDIDATES */
  unsigned lookups_in_flight;     /* ".local" lookups running now */
  unsigned lookups_waiting;       /* waiting for a slot now */
  unsigned lookups_max_in_flight; /* the most ever run at once */
  uint64_t lookups_waited;        /* lookups that had to wait */
  uint64_t recv_deferred;         /* datagrams processed a loop turn later (receive bursts) */
  uint64_t recv_dropped;          /* datagrams dropped: the deferred queue was full */
  uint64_t recv_deferred_peak;    /* the most the deferred queue ever held, in bytes
                                   * (datagram bytes + per-datagram bookkeeping, as
                                   * measured against its 4 MiB cap) */
} weft__ice_counters;
/* Copies the counters of @ice (NULL: nothing). */
void weft__ice_get_counters(const weft__ice *ice, weft__ice_counters *out);
/* The agent's limiter of remote-triggered warnings (weft__log_limited); the
 * layers above use it for theirs, so one pc has one budget. */
weft__ratelimit *weft__ice_ratelimit(weft__ice *ice);

/* Remote end-of-candidates (nice_agent_peer_candidate_gathering_done, trickle
 * mode): lets libnice declare failure once every check failed. Applied once
 * the credentials are known and every pending ".local" lookup finished. */
int weft__ice_remote_gathering_done(weft__ice *ice);

/* Sends one datagram on the selected pair. WEFT_ERR_INVALID_STATE if there is
 * none yet, WEFT_ERR_INVALID_ARG for NULL data, WEFT_ERR_TOO_BIG above 65535
 * bytes, WEFT_ERR_OPERATION if the socket refused it. Hot path: no allocation in weft. Safe from
 * callbacks. */
int weft__ice_send(weft__ice *ice, const uint8_t *data, size_t len);

/* The selected pair as candidate strings ("candidate:...", g_malloc'd, the
 * caller g_free's both). WEFT_ERR_INVALID_STATE if none. */
int weft__ice_get_selected_pair(weft__ice *ice, char **local, char **remote);

/* ICE restart (RFC 8445 §9), in two steps as JSEP needs them:
 * weft__ice_restart_prepare() picks new local credentials (returned by
 * weft__ice_local_ufrag/pwd from then on, for the offer) and is idempotent;
 * weft__ice_restart() applies them (calling prepare if needed): a new
 * libnice stream with those credentials, the TURN servers and the port
 * range, whose candidates are gathered at the next weft__ice_gather() (on the
 * addresses the machine has then). The remote credentials and candidates
 * are forgotten: the remote's next description brings new ones. The
 * current selected pair keeps carrying data until the new stream selects
 * one; then the old stream is removed. While the old path still works the
 * state stays connected; if it is lost meanwhile it is disconnected; a
 * restart from failed goes through checking. WEFT_ERR_OPERATION if libnice
 * refused the stream (nothing changed then). */
int weft__ice_restart_prepare(weft__ice *ice);
int weft__ice_restart(weft__ice *ice);
/* New credentials are prepared but not applied yet. */
bool weft__ice_restart_pending(const weft__ice *ice);
/* W3C restartIce() bookkeeping: a restart is wanted with the next offer
 * (the owner prepares credentials when it writes that offer). Cleared by
 * weft__ice_restart(). */
void weft__ice_restart_request(weft__ice *ice);
bool weft__ice_restart_requested(const weft__ice *ice);
/* Forgets prepared credentials (an offer written but never applied, and
 * now an answer is due): the request stays for the next offer. */
void weft__ice_restart_unprepare(weft__ice *ice);
/* A restart was applied and the remote credentials are not known yet (its
 * answer may carry new ones). */
bool weft__ice_restarting(const weft__ice *ice);

/* The current W3C state (the last one queued for on_state). */
weft_ice_connection_state weft__ice_get_state(const weft__ice *ice);

#endif

/* The libnice agent: one stream, one component, trickle ICE (RFC 8838). */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>

#include <gio/gio.h>
#include <nice/agent.h>

#include "ice/ice.h"

#define LOG "ice"

enum {
  UFRAG_LEN = 8,        /* RFC 8839 §5.4: ice-ufrag 4-256 ice-chars */
  PWD_LEN = 24,         /* RFC 8839 §5.4: ice-pwd 22-256 ice-chars */
  MAX_CANDIDATE = 1024, /* longer than any real candidate line (~200 bytes) */
  MAX_TOKENS = 48,
  COMPONENT = 1,       /* rtcp-mux + BUNDLE: everything on component 1 */
  DEFAULT_PORT = 3478, /* RFC 8489 §18.4 / RFC 8656 §19 */
};

/* Consent (RFC 7675) and the W3C disconnected/failed states. libnice
 * 0.1.21 checks consent every 4-6 s and, once no response came for 10 s
 * (NICE_AGENT_TIMER_CONSENT_TIMEOUT), moves the component from ready straight
 * to failed; it signals nothing in between, and it consumes every STUN
 * response itself (even to requests it did not send), so weft cannot run a
 * finer consent check of its own on the same socket. weft therefore reports
 * that consent loss as "disconnected" — the path is gone, an ICE restart
 * brings it back — and "failed" FAILED_GRACE_MS later unless a restart began
 * meanwhile: disconnected 4-10 s after the remote vanished, failed 5 s
 * after that (doc/nat.md). */
enum { FAILED_GRACE_MS = 5000 };

/* libnice 0.1.21 (agent.c, component_io_cb) reads a UDP socket until it
 * would block, calling recv_cb for every datagram inside that one dispatch.
 * When datagrams come faster than they are processed (a browser's
 * data-channel burst on a loaded machine, a sanitizer build), it never
 * returns to the main loop and every other source of the context starves:
 * libnice's consent timer (when the loop ends it finds no response for over
 * 10 s and fails the component: seen after 13-27 s loops receiving 64 MiB
 * from Chromium in an ASan build), SCTP's timers, the application's
 * callbacks (which the receive budget then waits for). So after RECV_BURST
 * datagrams processed without the main loop turning, further datagrams are
 * only copied into a bounded queue — libnice's loop then drains the socket
 * in microseconds and returns — and processed from an idle source at the
 * default priority, RECV_BURST per turn of the loop, in arrival order. Over
 * MAX_DEFERRED_BYTES they are dropped and counted, as the full socket buffer
 * they stand in for would drop them. (An earlier version paused libnice's
 * receive callback instead; under load a stream stayed deaf.) */
enum {
  RECV_BURST = 128,
  /* What the deferred queue may hold: as much as the socket's receive buffer
   * (enlarge_receive_buffer: 4 MiB) it replaces, each datagram costing its
   * bytes plus its bookkeeping. */
  MAX_DEFERRED_BYTES = 4 * 1024 * 1024,
  DEFERRED_OVERHEAD = 64,
};

/* Timers, see weft__ice_new(). */
enum {
  PACING_MS = 5,     /* Ta, RFC 8445 §14.2: its floor; libnice's default is 20 */
  STUN_RTO_MS = 250, /* first retransmission of a gathering request (Chrome's value) */
  STUN_RETRANS = 3,  /* 250+500+1000+2000 ms before a server is given up */
};

/* Agents closing and host-name lookups in flight, per GMainContext (their
 * completions run there): a context's engine waits only for its own, never
 * for another context's (a GLib-mode application may stop iterating its
 * context for good). Keys are borrowed: an entry exists only while its
 * count is positive, and every pending operation holds a context ref. */
static GMutex pending_lock;
static GHashTable *pending_by_ctx; /* GMainContext* -> count */

static void pending_add(GMainContext *ctx, int delta) {
  g_mutex_lock(&pending_lock);
  if (!pending_by_ctx)
    pending_by_ctx = g_hash_table_new(NULL, NULL);
  int n = GPOINTER_TO_INT(g_hash_table_lookup(pending_by_ctx, ctx)) + delta;
  if (n > 0)
    g_hash_table_insert(pending_by_ctx, ctx, GINT_TO_POINTER(n));
  else
    g_hash_table_remove(pending_by_ctx, ctx);
  g_mutex_unlock(&pending_lock);
}

typedef enum ev_kind { EV_CANDIDATE, EV_GATHERING_DONE, EV_STATE, EV_ERROR } ev_kind;
typedef struct ice_event {
  ev_kind kind;
  weft_ice_connection_state state;
  char *str;
} ice_event;

/* A remote candidate waiting for credentials: the normalised libnice form. */
typedef struct queued_cand {
  char *sdp;   /* "a=candidate:..." */
  char *ufrag; /* its "ufrag" extension, or NULL */
} queued_cand;

struct weft__ice {
  GMainContext *ctx;
  NiceAgent *agent;
  /* ICE restart (RFC 8445 §9) runs on a new libnice stream: new credentials,
   * candidates gathered again (the machine's addresses may have changed)
   * while the old stream keeps carrying data until the new one selects a
   * pair. @stream is the newest stream (candidates, checks, credentials),
   * @send_stream the one whose selected pair carries data, @old_stream the
   * replaced one still in use (0 if none). */
  guint stream, send_stream, old_stream;
  bool stream_connected; /* @stream has been connected */
  weft__ice_callbacks cb;
  weft__ice_error_fn on_error;
  bool relay_only;
  bool tcp;           /* ice_tcp: RFC 6544 candidates gathered, signalled and accepted */
  bool relay_applied; /* a TURN server was given to libnice: close asynchronously */
  uint16_t port_min, port_max;
  char ufrag[UFRAG_LEN + 1];
  char pwd[PWD_LEN + 1];
  bool restart_requested; /* weft__ice_restart_request: the next offer restarts */
  bool restart_pending;   /* next_* are the credentials of the coming restart */
  char next_ufrag[UFRAG_LEN + 1];
  char next_pwd[PWD_LEN + 1];
  int restarts;
  unsigned relay_candidates; /* of @stream, for the TURN error report */
  unsigned local_candidates; /* signalled for @stream */
  bool local_done;           /* @stream finished gathering */
  unsigned turn_applied;     /* TURN servers given to libnice for @stream */

  /* Remote side. */
  char *remote_ufrag; /* NULL until set_remote_credentials */
  GArray *queued;     /* queued_cand, before credentials */
  int lookups;        /* .local lookups in flight (at most WEFT__ICE_MAX_LOOKUPS) */
  GQueue waiting;     /* resolve_req* of .local candidates waiting for a lookup slot */
  bool remote_done_requested, remote_done_applied;
  /* Remote candidates taken for @stream (added, queued, being resolved):
   * at most WEFT__ICE_MAX_REMOTE_CANDIDATES, the others dropped. */
  unsigned remote_taken;
  weft__ice_counters n;
  weft__ratelimit rl; /* warnings the remote can trigger */

  /* ICE servers: copies, resolved asynchronously when they are names. */
  weft__ice_server *servers;
  char **server_ip; /* resolved address per server, NULL until known */
  size_t n_servers;
  int server_lookups;
  bool gather_requested;

  /* State, as queued for on_state. */
  weft_ice_connection_state state;
  bool was_connected;
  bool have_pair;

  /* Events for the owner, delivered from an idle source on ctx. */
  GQueue events;
  GSource *dispatch;
  /* Replaced streams to remove, from an idle source of their own: libnice
   * may not lose a stream inside one of its signals or receive callbacks. */
  GArray *drop; /* guint */
  GSource *drop_source;
  GCancellable *cancel; /* cancelled in free: every lookup */
  /* Consent lost on @grace_stream: "failed" when this fires (FAILED_GRACE_MS). */
  GSource *grace_timer;
  guint grace_stream;
  /* Receive bursts (recv_cb): datagrams processed since the main loop last
   * turned, the idle source that marks its turn and processes what was
   * deferred, and the deferred datagrams (GBytes*, arrival order). */
  unsigned burst;
  GSource *burst_source;
  GQueue deferred;
  size_t deferred_bytes;
  gulong sig[4];
  int depth;  /* callbacks of ours on the stack */
  bool freed; /* weft__ice_free ran (finalised once depth is 0) */
};

/* ---- libnice logs ----------------------------------------------------------- */

static void nice_log_cb(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud) {
  weft_log_level l;
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    l = WEFT_LOG_ERROR;
  else if (level & G_LOG_LEVEL_WARNING)
    l = WEFT_LOG_WARNING;
  else if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    l = WEFT_LOG_INFO;
  else /* the STUN, socket and verbose domains are chatty: trace */
    l = strcmp(domain ? domain : "", "libnice") == 0 ? WEFT_LOG_DEBUG : WEFT_LOG_TRACE;
  WEFT__LOG(l, "nice", "%s: %s", domain ? domain : "libnice", msg ? msg : "");
}

/* Per-domain handlers only: the default handler and the structured-log
 * writer belong to the application. Once per process. */
static void install_log_handlers(void) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    static const char *const domains[] = {"libnice",           "libnice-stun",
                                          "libnice-verbose",   "libnice-socket",
                                          "libnice-pseudotcp", "libnice-pseudotcp-verbose"};
    for (size_t i = 0; i < WEFT__ARRAY_LEN(domains); i++)
      g_log_set_handler(domains[i], G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                        nice_log_cb, NULL);
    /* libnice formats its debug messages only when enabled (process-wide). */
    if (weft__log_enabled(WEFT_LOG_DEBUG, "nice"))
      nice_debug_enable(weft__log_enabled(WEFT_LOG_TRACE, "nice"));
    g_once_init_leave(&once, 1);
  }
}

/* ---- Helpers ------------------------------------------------------------------ */

/* GTask-based calls (close_async, GResolver) complete on the thread-default
 * context of the caller: make it ours for the call. */
static bool ctx_push(GMainContext *ctx) {
  /* NULL means the global default, which is never one of ours. */
  if (g_main_context_get_thread_default() == ctx)
    return false;
  g_main_context_push_thread_default(ctx);
  return true;
}

static const char *type_name(NiceCandidateType t) {
  switch (t) {
  case NICE_CANDIDATE_TYPE_HOST:
    return "host";
  case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
    return "srflx";
  case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
    return "prflx";
  case NICE_CANDIDATE_TYPE_RELAYED:
    return "relay";
  }
  return "host";
}

static const char *w3c_state_name(weft_ice_connection_state s) {
  static const char *const n[] = {"new",          "checking", "connected", "completed",
                                  "disconnected", "failed",   "closed"};
  return (unsigned)s < WEFT__ARRAY_LEN(n) ? n[s] : "?";
}

/* RFC 6544 §4.5 tcptype of a TCP candidate, NULL for UDP. */
static const char *tcptype_name(NiceCandidateTransport t) {
  switch (t) {
  case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:
    return "active";
  case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE:
    return "passive";
  case NICE_CANDIDATE_TRANSPORT_TCP_SO:
    return "so";
  case NICE_CANDIDATE_TRANSPORT_UDP:
    break;
  }
  return NULL;
}

/* RFC 8839 §5.1 candidate-attribute from a libnice candidate; TCP ones as
 * RFC 6544 §4.5 writes them: "tcp", the tcptype extension, and port 9 (the
 * discard port) for an active candidate, whose port libnice leaves 0. */
static char *candidate_to_string(const NiceCandidate *c) {
  char addr[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(&c->addr, addr);
  unsigned port = nice_address_get_port(&c->addr);
  const char *tcptype = tcptype_name(c->transport);
  const char *proto = tcptype ? "tcp" : "udp";
  if (tcptype && port == 0)
    port = 9;
  char tcpext[24] = "";
  if (tcptype)
    g_snprintf(tcpext, sizeof tcpext, " tcptype %s", tcptype);
  if (c->type == NICE_CANDIDATE_TYPE_HOST)
    return g_strdup_printf("candidate:%s 1 %s %u %s %u typ host%s generation 0", c->foundation,
                           proto, (unsigned)c->priority, addr, port, tcpext);
  /* RFC 8839 §5.1: rel-addr/rel-port are present for every type but host.
   * Unknown (a remote peer-reflexive candidate, whose base libnice sets to
   * the address itself): 0.0.0.0 0, as browsers write it. */
  char raddr[NICE_ADDRESS_STRING_LEN] = "0.0.0.0";
  unsigned rport = 0;
  if (nice_address_is_valid(&c->base_addr) && !nice_address_equal(&c->base_addr, &c->addr)) {
    nice_address_to_string(&c->base_addr, raddr);
    rport = nice_address_get_port(&c->base_addr);
  }
  return g_strdup_printf("candidate:%s 1 %s %u %s %u typ %s raddr %s rport %u%s generation 0",
                         c->foundation, proto, (unsigned)c->priority, addr, port,
                         type_name(c->type), raddr, rport, tcpext);
}

/* ---- Events to the owner ------------------------------------------------------ */

static void finalize(weft__ice *ice);

static void event_free(ice_event *e) {
  g_free(e->str);
  g_free(e);
}

/* Ends a stretch of owner callbacks begun with depth++. Returns false if the
 * owner freed @ice meanwhile: it is finalized here when nothing of ours is
 * left on the stack, so the caller must not touch it again. */
static bool leave(weft__ice *ice) {
  ice->depth--;
  if (!ice->freed)
    return true;
  if (ice->depth == 0)
    finalize(ice);
  return false;
}

/* Runs queued events. Returns false if the owner freed @ice meanwhile (then
 * @ice may be gone). */
static bool deliver_events(weft__ice *ice) {
  ice->depth++;
  ice_event *e;
  while (!ice->freed && (e = g_queue_pop_head(&ice->events)) != NULL) {
    const weft__ice_callbacks *cb = &ice->cb;
    switch (e->kind) {
    case EV_CANDIDATE:
      if (cb->on_candidate)
        cb->on_candidate(cb->ud, e->str);
      break;
    case EV_GATHERING_DONE:
      if (cb->on_gathering_done)
        cb->on_gathering_done(cb->ud);
      break;
    case EV_STATE:
      if (cb->on_state)
        cb->on_state(cb->ud, e->state);
      break;
    case EV_ERROR:
      if (ice->on_error)
        ice->on_error(cb->ud, WEFT_ERR_OPERATION, e->str);
      break;
    }
    event_free(e);
  }
  return leave(ice);
}

static gboolean dispatch_cb(gpointer data) {
  weft__ice *ice = data;
  g_source_unref(ice->dispatch);
  ice->dispatch = NULL;
  deliver_events(ice);
  return G_SOURCE_REMOVE;
}

static void queue_event(weft__ice *ice, ev_kind kind, weft_ice_connection_state st, char *str) {
  if (ice->freed) {
    g_free(str);
    return;
  }
  ice_event *e = g_new0(ice_event, 1);
  e->kind = kind;
  e->state = st;
  e->str = str;
  g_queue_push_tail(&ice->events, e);
  if (!ice->dispatch) {
    ice->dispatch = g_idle_source_new();
    g_source_set_priority(ice->dispatch, G_PRIORITY_DEFAULT);
    g_source_set_callback(ice->dispatch, dispatch_cb, ice, NULL);
    g_source_attach(ice->dispatch, ice->ctx);
  }
}

static gboolean drop_cb(gpointer data) {
  weft__ice *ice = data;
  g_source_unref(ice->drop_source);
  ice->drop_source = NULL;
  for (guint i = 0; i < ice->drop->len; i++) {
    guint id = g_array_index(ice->drop, guint, i);
    WLOG_D(LOG, "ICE %p: removing replaced stream %u", (void *)ice, id);
    nice_agent_remove_stream(ice->agent, id);
  }
  g_array_set_size(ice->drop, 0);
  return G_SOURCE_REMOVE;
}

static void schedule_drop(weft__ice *ice, guint stream) {
  g_array_append_val(ice->drop, stream);
  if (!ice->drop_source) {
    ice->drop_source = g_idle_source_new();
    g_source_set_callback(ice->drop_source, drop_cb, ice, NULL);
    g_source_attach(ice->drop_source, ice->ctx);
  }
}

static void set_state(weft__ice *ice, weft_ice_connection_state st) {
  if (st == ice->state)
    return;
  WLOG_D(LOG, "ICE %p: %s -> %s", (void *)ice, w3c_state_name(ice->state), w3c_state_name(st));
  ice->state = st;
  queue_event(ice, EV_STATE, st, NULL);
}

/* ---- libnice signals (emitted inside nice_agent_* calls: queue only) ---------- */

static void on_new_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data) {
  weft__ice *ice = data;
  /* Local peer-reflexive candidates are learnt from checks and never
   * signalled (RFC 8445 §7.2.5.3.1). */
  if (c->stream_id != ice->stream || c->component_id != COMPONENT ||
      c->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
    return;
  /* ICE-TCP: host tcp-active and tcp-passive only. libnice's TCP srflx
   * candidates are guesses from the UDP mapping (a NAT maps TCP otherwise),
   * it has no TURN-TCP relay (RFC 6062) and its tcp-so is never gathered. */
  if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP &&
      (!ice->tcp || c->type != NICE_CANDIDATE_TYPE_HOST ||
       (c->transport != NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE &&
        c->transport != NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE)))
    return;
  /* Relay policy (W3C webrtc §4.2.1 "relay"): only relayed candidates leave;
   * force-relay keeps libnice from pairing the others. */
  if (ice->relay_only && c->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;
  if (c->type == NICE_CANDIDATE_TYPE_RELAYED)
    ice->relay_candidates++;
  ice->local_candidates++;
  char *s = candidate_to_string(c);
  WLOG_D(LOG, "ICE %p: local %s", (void *)ice, s);
  queue_event(ice, EV_CANDIDATE, 0, s);
}

/* Gathering gave no candidate (relay policy with no working TURN server,
 * no usable interface) and the remote has said all it will: there is no pair
 * to check, and libnice, which fails a component only when checks fail,
 * would stay "new" forever. W3C: failed. */
static void maybe_no_pairs(weft__ice *ice) {
  if (!ice->local_done || !ice->remote_done_applied || ice->local_candidates > 0 ||
      ice->state == WEFT_ICE_FAILED || ice->old_stream)
    return;
  WLOG_W(LOG, "ICE %p: no local candidate to pair with the remote's: failed", (void *)ice);
  set_state(ice, WEFT_ICE_FAILED);
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer data) {
  weft__ice *ice = data;
  if (stream != ice->stream)
    return;
  WLOG_D(LOG, "ICE %p: gathering done", (void *)ice);
  /* libnice says nothing when an allocation fails (a 401 after the
   * credentials were tried, a 403 quota, no answer at all): it just gives
   * no relay candidate. Report that, or a wrong credential looks like a
   * network without a path. */
  if (ice->turn_applied > ice->relay_candidates) {
    char *msg = g_strdup_printf(
        "TURN: %u of %u TURN server(s) gave no relay candidate: the server refused the "
        "allocation (wrong username or credential, expired TURN REST credential, quota) or "
        "did not answer",
        ice->turn_applied - ice->relay_candidates, ice->turn_applied);
    WLOG_W(LOG, "ICE %p: %s", (void *)ice, msg);
    queue_event(ice, EV_ERROR, 0, msg);
  }
  queue_event(ice, EV_GATHERING_DONE, 0, NULL);
  ice->local_done = true;
  maybe_no_pairs(ice);
}

static void cancel_grace(weft__ice *ice) {
  if (ice->grace_timer) {
    g_source_destroy(ice->grace_timer);
    g_source_unref(ice->grace_timer);
    ice->grace_timer = NULL;
  }
}

static gboolean grace_cb(gpointer data) {
  weft__ice *ice = data;
  g_source_unref(ice->grace_timer);
  ice->grace_timer = NULL;
  /* A restart since then owns the state now. */
  if (ice->grace_stream == ice->stream && ice->state == WEFT_ICE_DISCONNECTED) {
    WLOG_I(LOG, "ICE %p: no ICE restart %d ms after consent was lost: failed", (void *)ice,
           FAILED_GRACE_MS);
    set_state(ice, WEFT_ICE_FAILED);
  }
  return G_SOURCE_REMOVE;
}

/* libnice's consent expired on @stream: disconnected now, failed later. */
static void consent_lost(weft__ice *ice, guint stream) {
  WLOG_I(LOG, "ICE %p: consent lost (RFC 7675): disconnected", (void *)ice);
  set_state(ice, WEFT_ICE_DISCONNECTED);
  cancel_grace(ice);
  ice->grace_stream = stream;
  ice->grace_timer = g_timeout_source_new(FAILED_GRACE_MS);
  g_source_set_callback(ice->grace_timer, grace_cb, ice, NULL);
  g_source_attach(ice->grace_timer, ice->ctx);
}

static void on_component_state(NiceAgent *agent, guint stream, guint comp, guint state,
                               gpointer data) {
  weft__ice *ice = data;
  if (comp != COMPONENT || (stream != ice->stream && stream != ice->old_stream))
    return;
  WLOG_D(LOG, "ICE %p: libnice stream %u component %s", (void *)ice, stream,
         nice_component_state_to_string((NiceComponentState)state));
  weft_ice_connection_state st = ice->state;
  if (stream == ice->old_stream) {
    /* The path being replaced by a restart: losing it (consent expired,
     * RFC 7675) is "disconnected" while the new stream may still connect. */
    if (state == NICE_COMPONENT_STATE_FAILED || state == NICE_COMPONENT_STATE_DISCONNECTED)
      set_state(ice, WEFT_ICE_DISCONNECTED);
    return;
  }
  switch ((NiceComponentState)state) {
  case NICE_COMPONENT_STATE_DISCONNECTED:
    /* A new stream starts out disconnected: only a connected one drops. */
    if (ice->stream_connected)
      st = WEFT_ICE_DISCONNECTED;
    else if (!ice->was_connected)
      st = WEFT_ICE_NEW;
    break;
  case NICE_COMPONENT_STATE_GATHERING:
    if (!ice->was_connected)
      st = WEFT_ICE_NEW;
    break;
  case NICE_COMPONENT_STATE_CONNECTING:
    /* Once connected, new pairs being checked do not make the transport
     * "checking" again (W3C webrtc §5.6 RTCIceTransportState); a restart
     * after a failure does. */
    if (!ice->was_connected || ice->state == WEFT_ICE_FAILED)
      st = WEFT_ICE_CHECKING;
    break;
  case NICE_COMPONENT_STATE_CONNECTED:
  case NICE_COMPONENT_STATE_READY:
    ice->was_connected = true;
    ice->stream_connected = true;
    st = WEFT_ICE_CONNECTED;
    break;
  case NICE_COMPONENT_STATE_FAILED:
    if (ice->stream_connected && ice->state != WEFT_ICE_DISCONNECTED) {
      consent_lost(ice, stream);
      return;
    }
    if (ice->grace_timer)
      return; /* consent lost already: failed when the grace period ends */
    st = WEFT_ICE_FAILED;
    break;
  default:
    break;
  }
  set_state(ice, st);
}

/* Linux gives a UDP socket 208 KiB of receive buffer: a browser sending a
 * 256 KiB data-channel message in one burst overflows it, and the kernel
 * drops datagrams of every stream of the BUNDLE (audio and video too: seen
 * with Chromium 156, 400-1100 drops per run). Ask for 4 MiB on the socket
 * that carries the selected pair; root may exceed net.core.rmem_max
 * (SO_RCVBUFFORCE), others get what rmem_max allows. */
static void enlarge_receive_buffer(NiceAgent *agent, guint stream, guint comp) {
  GSocket *gs = nice_agent_get_selected_socket(agent, stream, comp);
  if (!gs)
    return; /* TCP turn or no base socket: nothing to do */
  int fd = g_socket_get_fd(gs);
  int want = 4 * 1024 * 1024;
  if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  g_object_unref(gs);
}

static void on_selected_pair(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l,
                             NiceCandidate *r, gpointer data) {
  weft__ice *ice = data;
  if (stream != ice->stream || comp != COMPONENT)
    return;
  enlarge_receive_buffer(agent, stream, comp);
  ice->have_pair = true;
  ice->send_stream = stream;
  if (ice->old_stream) {
    /* The restarted stream has a path: data moves to it now, the old
     * stream goes (later: we are inside a libnice signal). */
    WLOG_I(LOG, "ICE %p: restart %d: new path selected, dropping stream %u", (void *)ice,
           ice->restarts, ice->old_stream);
    schedule_drop(ice, ice->old_stream);
    ice->old_stream = 0;
  }
  if (weft__log_enabled(WEFT_LOG_DEBUG, LOG)) {
    char *ls = candidate_to_string(l), *rs = candidate_to_string(r);
    WLOG_D(LOG, "ICE %p: selected pair %s <-> %s", (void *)ice, ls, rs);
    g_free(ls);
    g_free(rs);
  }
}

/* Hands one datagram to the owner. Returns false if the owner freed @ice
 * meanwhile (it is finalized here when nothing of ours is on the stack). */
static bool deliver_datagram(weft__ice *ice, const uint8_t *buf, size_t len) {
  /* Keep order: events that happened before this datagram (the state change
   * to connected, typically) reach the owner first. */
  if (!g_queue_is_empty(&ice->events) && !deliver_events(ice))
    return false;
  ice->depth++;
  if (ice->cb.on_recv)
    ice->cb.on_recv(ice->cb.ud, buf, len);
  return leave(ice);
}

static void clear_deferred(weft__ice *ice) {
  GBytes *b;
  while ((b = g_queue_pop_head(&ice->deferred)))
    g_bytes_unref(b);
  ice->deferred_bytes = 0;
}

/* The main loop turned: a new burst may begin, and up to RECV_BURST deferred
 * datagrams are processed; the source stays while any remain. */
static gboolean burst_cb(gpointer data) {
  weft__ice *ice = data;
  ice->burst = 0;
  for (unsigned n = 0; n < RECV_BURST; n++) {
    GBytes *b = g_queue_pop_head(&ice->deferred);
    if (!b)
      break;
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    ice->deferred_bytes -= len + DEFERRED_OVERHEAD;
    ice->burst++;
    bool alive = deliver_datagram(ice, p, len);
    g_bytes_unref(b);
    if (!alive)
      return G_SOURCE_REMOVE; /* weft__ice_free destroyed this source */
  }
  if (!g_queue_is_empty(&ice->deferred))
    return G_SOURCE_CONTINUE;
  g_source_unref(ice->burst_source);
  ice->burst_source = NULL;
  return G_SOURCE_REMOVE;
}

static void recv_cb(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
                    gpointer data) {
  (void)agent;
  (void)stream;
  (void)comp;
  weft__ice *ice = data;
  if (ice->freed)
    return;
  if (!ice->burst_source) {
    ice->burst_source = g_idle_source_new();
    g_source_set_priority(ice->burst_source, G_PRIORITY_DEFAULT);
    g_source_set_callback(ice->burst_source, burst_cb, ice, NULL);
    g_source_attach(ice->burst_source, ice->ctx);
  }
  /* Past the burst (or behind deferred ones: order), only keep it. */
  if (ice->burst >= RECV_BURST || !g_queue_is_empty(&ice->deferred)) {
    if (ice->deferred_bytes + len + DEFERRED_OVERHEAD > MAX_DEFERRED_BYTES) {
      ice->n.recv_dropped++;
      return;
    }
    if (g_queue_is_empty(&ice->deferred))
      WLOG_D(LOG, "ICE %p: %u datagrams without the main loop turning: deferring", (void *)ice,
             ice->burst);
    ice->n.recv_deferred++;
    ice->deferred_bytes += len + DEFERRED_OVERHEAD;
    if (ice->deferred_bytes > ice->n.recv_deferred_peak)
      ice->n.recv_deferred_peak = ice->deferred_bytes;
    g_queue_push_tail(&ice->deferred, g_bytes_new(buf, len));
    return;
  }
  ice->burst++;
  deliver_datagram(ice, (const uint8_t *)buf, len);
}

/* ---- Remote candidates -------------------------------------------------------- */

static bool is_ice_char(char c) { return g_ascii_isalnum(c) || c == '+' || c == '/'; }

static bool ice_chars_valid(const char *s, size_t min, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n < min || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_ice_char(s[i]))
      return false;
  return true;
}

static bool parse_uint(const char *s, size_t max_digits, uint64_t max, uint64_t *out) {
  size_t n = strlen(s);
  if (n == 0 || n > max_digits)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!g_ascii_isdigit(s[i]))
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

static bool is_ip_literal(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* RFC 1123 host name (the FQDN form of RFC 8839 connection-address). */
static bool hostname_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
    return false;
  bool numeric = true;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!g_ascii_isalnum(c) && c != '-' && c != '.')
      return false;
    if (!g_ascii_isdigit(c) && c != '.')
      numeric = false;
  }
  /* "999.1.1.1" is a bad IPv4 address, not a name (RFC 3696 §2). */
  return !numeric;
}

static bool is_mdns_name(const char *s) {
  size_t n = strlen(s);
  return n > 6 && g_ascii_strcasecmp(s + n - 6, ".local") == 0;
}

/* What a validated candidate line says. */
typedef struct cand_fields {
  const char *foundation, *address, *type, *raddr, *ufrag;
  const char *tcptype; /* NULL: a UDP candidate; else "active" or "passive" */
  unsigned port;
  int rport; /* -1: absent */
  uint32_t priority;
} cand_fields;

enum { CAND_ADD = 0, CAND_IGNORE = 1 };

/* Validates a candidate line (RFC 8839 §5.1 candidate-attribute) in @buf, a
 * writable copy that the fields point into. Returns CAND_ADD, CAND_IGNORE (a
 * candidate libnice cannot use; logged) or a negative weft_err. */
static int parse_candidate(weft__ice *ice, char *buf, cand_fields *f) {
  memset(f, 0, sizeof *f);
  f->rport = -1;
  char *p = buf;
  if (strncmp(p, "a=", 2) == 0)
    p += 2;
  if (strncmp(p, "candidate:", 10) != 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: must start with 'candidate:'");
  p += 10;

  char *tok[MAX_TOKENS];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(p, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n == MAX_TOKENS)
      return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: more than %d fields", MAX_TOKENS);
    tok[n++] = t;
  }
  static const char *const names[] = {"foundation", "component-id",       "transport",
                                      "priority",   "connection-address", "port",
                                      "'typ'",      "candidate type"};
  if (n < 8)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: missing %s", names[n]);

  /* foundation = 1*32 ice-char */
  if (!ice_chars_valid(tok[0], 1, 32))
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad foundation '%.40s'", tok[0]);
  f->foundation = tok[0];
  uint64_t comp;
  if (!parse_uint(tok[1], 3, 256, &comp) || comp == 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad component-id '%.40s'", tok[1]);
  for (const char *c = tok[2]; *c; c++)
    if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '.')
      return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad transport '%.40s'", tok[2]);
  uint64_t prio;
  if (!parse_uint(tok[3], 10, 0xffffffffu, &prio))
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad priority '%.40s'", tok[3]);
  f->priority = (uint32_t)prio;
  f->address = tok[4];
  bool ip = is_ip_literal(f->address);
  if (!ip && !hostname_valid(f->address))
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad connection-address '%.64s'",
                       f->address);
  uint64_t port;
  if (!parse_uint(tok[5], 5, 65535, &port) || port == 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad port '%.40s'", tok[5]);
  f->port = (unsigned)port;
  if (strcmp(tok[6], "typ") != 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: expected 'typ', got '%.40s'", tok[6]);
  f->type = tok[7];
  if (strcmp(f->type, "host") != 0 && strcmp(f->type, "srflx") != 0 &&
      strcmp(f->type, "prflx") != 0 && strcmp(f->type, "relay") != 0)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad candidate type '%.40s'", f->type);

  /* [SP rel-addr] [SP rel-port] *(SP extension-att-name SP extension-att-value) */
  for (int i = 8; i < n; i += 2) {
    const char *name = tok[i];
    if (i + 1 >= n)
      return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: no value for '%.40s'", name);
    const char *val = tok[i + 1];
    if (strcmp(name, "raddr") == 0) {
      if (!is_ip_literal(val) && !hostname_valid(val))
        return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad raddr '%.64s'", val);
      f->raddr = is_ip_literal(val) ? val : NULL; /* a name would only be for show */
    } else if (strcmp(name, "rport") == 0) {
      uint64_t rp;
      if (!parse_uint(val, 5, 65535, &rp))
        return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad rport '%.40s'", val);
      f->rport = (int)rp;
    } else {
      for (const char *c = name; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '.')
          return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: bad extension name '%.40s'", name);
      if (strcmp(name, "ufrag") == 0)
        f->ufrag = val;
      else if (strcmp(name, "tcptype") == 0)
        f->tcptype = val;
    }
  }

  /* What libnice cannot take: ignore, as browsers ignore what they cannot use. */
  if (comp != COMPONENT) {
    WLOG_D(LOG, "ICE %p: ignoring candidate of component %u (rtcp-mux)", (void *)ice,
           (unsigned)comp);
    return CAND_IGNORE;
  }
  if (g_ascii_strcasecmp(tok[2], "tcp") == 0 && ice->tcp) {
    /* RFC 6544: libnice pairs our active with their passive (and takes
     * their active's connections on our passive). Without tcptype libnice
     * 0.1.21 hands NULL to g_ascii_strcasecmp; so (simultaneous open) it
     * never gathers nor connects. Port 9 (an active one's) is kept. */
    if (!f->tcptype || (g_ascii_strcasecmp(f->tcptype, "active") != 0 &&
                        g_ascii_strcasecmp(f->tcptype, "passive") != 0)) {
      WLOG_D(LOG, "ICE %p: ignoring TCP candidate with tcptype '%.16s'", (void *)ice,
             f->tcptype ? f->tcptype : "(none)");
      return CAND_IGNORE;
    }
    f->tcptype = g_ascii_strcasecmp(f->tcptype, "active") == 0 ? "active" : "passive";
  } else if (g_ascii_strcasecmp(tok[2], "udp") != 0) {
    /* RFC 6544 TCP candidates without ice_tcp (weft_config_set_ice_tcp),
     * and transports libnice does not know. */
    WLOG_D(LOG, "ICE %p: ignoring %s candidate", (void *)ice, tok[2]);
    return CAND_IGNORE;
  } else {
    f->tcptype = NULL; /* a tcptype on a UDP candidate means nothing */
  }
  if (!ip && !is_mdns_name(f->address)) {
    weft__log_limited(&ice->rl, WEFT_LOG_INFO, LOG,
                      "ICE %p: ignoring candidate with host name '%.64s' (only mDNS names "
                      "resolved)",
                      (void *)ice, f->address);
    return CAND_IGNORE;
  }
  return CAND_ADD;
}

/* "a=candidate:<f> 1 udp|tcp <prio> " + address + " <port> typ <t> [raddr
 * rport] [tcptype <tt>]": libnice's parser wants exactly this (prefix, no
 * trailing blank). */
static char *normalise(const cand_fields *f, const char *address) {
  const char *proto = f->tcptype ? "tcp" : "udp";
  char tcpext[24] = "";
  if (f->tcptype)
    g_snprintf(tcpext, sizeof tcpext, " tcptype %s", f->tcptype);
  if (f->raddr || f->rport >= 0)
    return g_strdup_printf("a=candidate:%s 1 %s %u %s %u typ %s raddr %s rport %d%s", f->foundation,
                           proto, (unsigned)f->priority, address, f->port, f->type,
                           f->raddr ? f->raddr : "0.0.0.0", f->rport >= 0 ? f->rport : 0, tcpext);
  return g_strdup_printf("a=candidate:%s 1 %s %u %s %u typ %s%s", f->foundation, proto,
                         (unsigned)f->priority, address, f->port, f->type, tcpext);
}

static int add_to_agent(weft__ice *ice, const char *sdp) {
  NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream, sdp);
  if (!c)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: libnice rejected '%.100s'", sdp + 2);
  GSList one = {c, NULL};
  int n = nice_agent_set_remote_candidates(ice->agent, ice->stream, COMPONENT, &one);
  nice_candidate_free(c);
  if (n < 0)
    return weft__error(WEFT_ERR_OPERATION, "ICE: libnice refused remote candidate '%.100s'",
                       sdp + 2);
  WLOG_D(LOG, "ICE %p: remote %s", (void *)ice, sdp + 2);
  return 0;
}

static void maybe_remote_done(weft__ice *ice) {
  /* Only once everything the remote announced is in libnice: otherwise it
   * could declare failure before a late (.local) candidate is checked. */
  if (!ice->remote_done_requested || ice->remote_done_applied || !ice->remote_ufrag ||
      ice->lookups > 0 || ice->waiting.length > 0)
    return;
  ice->remote_done_applied = true;
  nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream);
  WLOG_D(LOG, "ICE %p: remote end-of-candidates", (void *)ice);
  maybe_no_pairs(ice);
}

/* Adds or queues a normalised candidate. */
static int add_or_queue(weft__ice *ice, char *sdp, const char *ufrag) {
  if (!ice->remote_ufrag) {
    queued_cand q = {sdp, g_strdup(ufrag)};
    g_array_append_val(ice->queued, q);
    WLOG_D(LOG, "ICE %p: queued %s until credentials arrive", (void *)ice, sdp + 2);
    return 0;
  }
  int rc = add_to_agent(ice, sdp);
  g_free(sdp);
  return rc;
}

typedef enum rq_kind { RQ_CANDIDATE, RQ_SERVER } rq_kind;
typedef struct resolve_req {
  rq_kind kind;
  weft__ice *ice; /* valid while cancel is not cancelled */
  GCancellable *cancel;
  char *host;
  cand_fields f; /* RQ_CANDIDATE: strings point into buf */
  char *buf;
  size_t server;      /* RQ_SERVER: index in ice->servers */
  GMainContext *gctx; /* a ref: where the completion runs */
} resolve_req;

static void apply_server(weft__ice *ice, size_t i, const char *ip);
static int start_gather(weft__ice *ice);
static void start_lookup(weft__ice *ice, resolve_req *rq);

static void resolve_req_free(resolve_req *rq) {
  g_free(rq->host);
  g_free(rq->buf);
  g_free(rq);
}

/* A .local lookup: now if fewer than WEFT__ICE_MAX_LOOKUPS are in flight,
 * else when one finishes (a peer cannot make us run many resolver queries
 * at once; what waits is bounded by the candidate cap). */
static void lookup_or_wait(weft__ice *ice, resolve_req *rq) {
  if (ice->lookups < WEFT__ICE_MAX_LOOKUPS) {
    ice->lookups++;
    if ((unsigned)ice->lookups > ice->n.lookups_max_in_flight)
      ice->n.lookups_max_in_flight = (unsigned)ice->lookups;
    start_lookup(ice, rq);
    return;
  }
  g_queue_push_tail(&ice->waiting, rq);
  ice->n.lookups_waited++;
  WLOG_D(LOG, "ICE %p: %d mDNS lookups in flight: %s waits", (void *)ice, ice->lookups, rq->host);
}

static void clear_waiting(weft__ice *ice) {
  resolve_req *rq;
  while ((rq = g_queue_pop_head(&ice->waiting)))
    resolve_req_free(rq);
}

static void lookup_done(GObject *src, GAsyncResult *res, gpointer data) {
  resolve_req *rq = data;
  GError *err = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish(G_RESOLVER(src), res, &err);
  if (!g_cancellable_is_cancelled(rq->cancel)) {
    weft__ice *ice = rq->ice;
    char *ip = addrs ? g_inet_address_to_string(addrs->data) : NULL;
    if (rq->kind == RQ_CANDIDATE) {
      ice->lookups--;
      if (!ip) {
        char why[WEFT__ESCAPE_BUF];
        weft__log_limited(
            &ice->rl, WEFT_LOG_INFO, LOG,
            "ICE %p: could not resolve mDNS candidate %.64s (%s); dropped, a "
            "peer-reflexive candidate can still connect",
            (void *)ice, rq->host,
            weft__escape(why, sizeof why, err ? err->message : "no address", SIZE_MAX));
      } else {
        WLOG_D(LOG, "ICE %p: %s is %s", (void *)ice, rq->host, ip);
        if (add_or_queue(ice, normalise(&rq->f, ip), rq->f.ufrag) < 0)
          weft__log_limited(&ice->rl, WEFT_LOG_WARNING, LOG, "ICE %p: resolved candidate: %s",
                            (void *)ice, weft__error_message());
      }
      resolve_req *next = g_queue_pop_head(&ice->waiting);
      if (next) {
        ice->lookups++;
        start_lookup(ice, next);
      }
      maybe_remote_done(ice);
    } else {
      ice->server_lookups--;
      if (ip)
        apply_server(ice, rq->server, ip);
      else
        WLOG_W(LOG, "ICE %p: could not resolve ICE server %.64s (%s); not used", (void *)ice,
               rq->host, err ? err->message : "no address");
      if (ice->server_lookups == 0 && ice->gather_requested && start_gather(ice) < 0) {
        WLOG_E(LOG, "ICE %p: %s", (void *)ice, weft__error_message());
        set_state(ice, WEFT_ICE_FAILED);
        queue_event(ice, EV_GATHERING_DONE, 0, NULL);
      }
    }
    g_free(ip);
  }
  g_resolver_free_addresses(addrs);
  g_clear_error(&err);
  g_object_unref(rq->cancel);
  pending_add(rq->gctx, -1);
  g_main_context_unref(rq->gctx);
  resolve_req_free(rq);
}

static void start_lookup(weft__ice *ice, resolve_req *rq) {
  rq->ice = ice;
  rq->cancel = g_object_ref(ice->cancel);
  rq->gctx = g_main_context_ref(ice->ctx);
  pending_add(rq->gctx, 1);
  GResolver *r = g_resolver_get_default();
  bool pushed = ctx_push(ice->ctx);
  g_resolver_lookup_by_name_async(r, rq->host, rq->cancel, lookup_done, rq);
  if (pushed)
    g_main_context_pop_thread_default(ice->ctx);
  g_object_unref(r);
}

int weft__ice_add_remote_candidate(weft__ice *ice, const char *candidate) {
  if (!ice || !candidate)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE candidate: NULL");
  size_t len = strnlen(candidate, MAX_CANDIDATE + 1);
  if (len > MAX_CANDIDATE)
    return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: longer than %d bytes", MAX_CANDIDATE);
  /* Trailing line ends and blanks are tolerated (SDP lines); no other
   * control character is. */
  while (len > 0 && (candidate[len - 1] == '\r' || candidate[len - 1] == '\n' ||
                     candidate[len - 1] == ' ' || candidate[len - 1] == '\t'))
    len--;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)candidate[i];
    if ((c < 0x20 && c != '\t') || c >= 0x7f)
      return weft__error(WEFT_ERR_SYNTAX, "ICE candidate: control or non-ASCII byte at %zu", i);
  }
  char *buf = g_strndup(candidate, len);
  cand_fields f;
  int rc = parse_candidate(ice, buf, &f);
  if (rc != CAND_ADD) {
    g_free(buf);
    return rc < 0 ? rc : 0;
  }
  /* W3C webrtc §4.4.1.1 addIceCandidate: a ufrag that is not the remote one
   * is an OperationError. */
  if (f.ufrag && ice->remote_ufrag && strcmp(f.ufrag, ice->remote_ufrag) != 0) {
    rc = weft__error(WEFT_ERR_OPERATION, "ICE candidate: ufrag '%.40s' is not the remote ufrag",
                     f.ufrag);
    g_free(buf);
    return rc;
  }
  /* The cap: libnice pairs every remote candidate with every local one and
   * checks them all, and each one waiting costs memory. A counted drop, as
   * for a candidate libnice cannot use: the ones already taken still work. */
  if (ice->remote_taken >= WEFT__ICE_MAX_REMOTE_CANDIDATES) {
    ice->n.remote_dropped++;
    weft__log_limited(
        &ice->rl, WEFT_LOG_WARNING, LOG,
        "ICE %p: more than %d remote candidates: %s:%u dropped (%" G_GUINT64_FORMAT " so far)",
        (void *)ice, WEFT__ICE_MAX_REMOTE_CANDIDATES, f.address, f.port, ice->n.remote_dropped);
    g_free(buf);
    return 0;
  }
  ice->remote_taken++;
  ice->n.remote_taken++;
  if (is_ip_literal(f.address)) {
    rc = add_or_queue(ice, normalise(&f, f.address), f.ufrag);
    g_free(buf);
    return rc;
  }
  /* mDNS (draft-ietf-mmusic-mdns-ice-candidates §3.2.1): resolve, never hand
   * the name to libnice (it has no mDNS and would fail on it). */
  resolve_req *rq = g_new0(resolve_req, 1);
  rq->kind = RQ_CANDIDATE;
  rq->buf = buf;
  rq->f = f;
  rq->host = g_strdup(f.address);
  lookup_or_wait(ice, rq);
  return 0;
}

weft__ratelimit *weft__ice_ratelimit(weft__ice *ice) { return &ice->rl; }

void weft__ice_get_counters(const weft__ice *ice, weft__ice_counters *out) {
  if (!ice || !out)
    return;
  *out = ice->n;
  out->remote_candidates = ice->remote_taken;
  out->lookups_in_flight = (unsigned)ice->lookups;
  out->lookups_waiting = ice->waiting.length;
}

int weft__ice_remote_gathering_done(weft__ice *ice) {
  if (!ice)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL");
  ice->remote_done_requested = true;
  maybe_remote_done(ice);
  return 0;
}

int weft__ice_set_remote_credentials(weft__ice *ice, const char *ufrag, const char *pwd) {
  if (!ice || !ufrag || !pwd)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE credentials: NULL");
  /* RFC 8839 §5.4 */
  if (!ice_chars_valid(ufrag, 4, 256))
    return weft__error(WEFT_ERR_SYNTAX, "ICE credentials: ice-ufrag must be 4-256 ice-chars");
  if (!ice_chars_valid(pwd, 22, 256))
    return weft__error(WEFT_ERR_SYNTAX, "ICE credentials: ice-pwd must be 22-256 ice-chars");
  if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd))
    return weft__error(WEFT_ERR_OPERATION, "ICE: libnice refused the remote credentials");
  g_free(ice->remote_ufrag);
  ice->remote_ufrag = g_strdup(ufrag);
  /* Flush candidates that arrived first (trickle can beat the answer). */
  GArray *q = ice->queued;
  ice->queued = g_array_new(FALSE, FALSE, sizeof(queued_cand));
  for (guint i = 0; i < q->len; i++) {
    queued_cand *c = &g_array_index(q, queued_cand, i);
    if (c->ufrag && strcmp(c->ufrag, ufrag) != 0)
      weft__log_limited(&ice->rl, WEFT_LOG_INFO, LOG,
                        "ICE %p: dropping queued candidate of ufrag %s", (void *)ice, c->ufrag);
    else if (add_to_agent(ice, c->sdp) < 0)
      weft__log_limited(&ice->rl, WEFT_LOG_WARNING, LOG, "ICE %p: queued candidate: %s",
                        (void *)ice, weft__error_message());
    g_free(c->sdp);
    g_free(c->ufrag);
  }
  g_array_free(q, TRUE);
  maybe_remote_done(ice);
  weft__error_clear();
  return 0;
}

/* ---- Servers and gathering ---------------------------------------------------- */

static void apply_server(weft__ice *ice, size_t i, const char *ip) {
  const weft__ice_server *s = &ice->servers[i];
  if (ip != ice->server_ip[i]) {
    g_free(ice->server_ip[i]);
    ice->server_ip[i] = g_strdup(ip);
  }
  guint port = s->port ? s->port : DEFAULT_PORT;
  if (!s->is_turn) {
    g_object_set(ice->agent, "stun-server", ip, "stun-server-port", port, NULL);
    WLOG_D(LOG, "ICE %p: STUN server %s:%u", (void *)ice, ip, port);
    return;
  }
  if (!nice_agent_set_relay_info(ice->agent, ice->stream, COMPONENT, ip, port, s->username,
                                 s->credential,
                                 s->tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP))
    WLOG_W(LOG, "ICE %p: libnice refused TURN server %s:%u", (void *)ice, ip, port);
  else {
    ice->relay_applied = true;
    ice->turn_applied++;
    WLOG_D(LOG, "ICE %p: TURN server %s:%u/%s", (void *)ice, ip, port, s->tcp ? "tcp" : "udp");
  }
}

static int start_gather(weft__ice *ice) {
  if (!nice_agent_gather_candidates(ice->agent, ice->stream)) {
    ice->gather_requested = false;
    return weft__error(WEFT_ERR_OPERATION, "ICE: libnice could not gather candidates (no usable "
                                           "local address, or the port range is exhausted)");
  }
  return 0;
}

int weft__ice_gather(weft__ice *ice) {
  if (!ice)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL");
  if (ice->gather_requested)
    return 0;
  ice->gather_requested = true;
  if (ice->server_lookups > 0)
    return 0; /* started by the last lookup */
  return start_gather(ice);
}

/* ---- Life cycle --------------------------------------------------------------- */

static void finalize(weft__ice *ice) {
  ice_event *e;
  while ((e = g_queue_pop_head(&ice->events)) != NULL)
    event_free(e);
  for (guint i = 0; i < ice->queued->len; i++) {
    queued_cand *c = &g_array_index(ice->queued, queued_cand, i);
    g_free(c->sdp);
    g_free(c->ufrag);
  }
  g_array_free(ice->queued, TRUE);
  clear_waiting(ice);
  g_array_free(ice->drop, TRUE);
  for (size_t i = 0; i < ice->n_servers; i++) {
    weft__ice_server_clear(&ice->servers[i]);
    g_free(ice->server_ip[i]);
  }
  g_free(ice->servers);
  g_free(ice->server_ip);
  g_free(ice->remote_ufrag);
  g_object_unref(ice->cancel);
  g_main_context_unref(ice->ctx);
  g_free(ice);
  weft__live_dec();
}

typedef struct agent_close {
  NiceAgent *agent;
  GMainContext *gctx; /* a ref */
} agent_close;

static void close_done(GObject *src, GAsyncResult *res, gpointer data) {
  /* The TURN allocations are released: drop the agent (its sockets and
   * timers go with it). */
  agent_close *c = data;
  g_object_unref(c->agent);
  pending_add(c->gctx, -1);
  g_main_context_unref(c->gctx);
  g_free(c);
}

int weft__ice_pending_closes(GMainContext *ctx) {
  g_mutex_lock(&pending_lock);
  int n = pending_by_ctx ? GPOINTER_TO_INT(g_hash_table_lookup(pending_by_ctx, ctx)) : 0;
  g_mutex_unlock(&pending_lock);
  return n;
}

static void release_agent(weft__ice *ice) {
  NiceAgent *agent = ice->agent;
  if (!agent)
    return;
  ice->agent = NULL;
  /* libdatachannel #1102: nothing of ours may run once the owner is gone —
   * handlers off and receive detached before the asynchronous close. */
  for (size_t i = 0; i < WEFT__ARRAY_LEN(ice->sig); i++)
    if (ice->sig[i])
      g_signal_handler_disconnect(agent, ice->sig[i]);
  if (ice->stream)
    nice_agent_attach_recv(agent, ice->stream, COMPONENT, ice->ctx, NULL, NULL);
  if (ice->old_stream)
    nice_agent_attach_recv(agent, ice->old_stream, COMPONENT, ice->ctx, NULL, NULL);
  if (!ice->relay_applied) {
    /* Nothing allocated on a server: dropping the agent closes its sockets
     * and timers now, leaving nothing to run on the context later. */
    g_object_unref(agent);
    return;
  }
  /* TURN allocations must be released on the server (a refresh with
   * lifetime 0): that takes a round trip, completed on the context. */
  agent_close *c = g_new0(agent_close, 1);
  c->agent = agent;
  c->gctx = g_main_context_ref(ice->ctx);
  pending_add(c->gctx, 1);
  bool pushed = ctx_push(ice->ctx);
  nice_agent_close_async(agent, close_done, c);
  if (pushed)
    g_main_context_pop_thread_default(ice->ctx);
}

void weft__ice_free(weft__ice *ice) {
  if (!ice || ice->freed)
    return;
  ice->freed = true;
  g_cancellable_cancel(ice->cancel);
  if (ice->dispatch) {
    g_source_destroy(ice->dispatch);
    g_source_unref(ice->dispatch);
    ice->dispatch = NULL;
  }
  if (ice->drop_source) {
    g_source_destroy(ice->drop_source);
    g_source_unref(ice->drop_source);
    ice->drop_source = NULL;
  }
  if (ice->burst_source) {
    g_source_destroy(ice->burst_source);
    g_source_unref(ice->burst_source);
    ice->burst_source = NULL;
  }
  clear_deferred(ice);
  cancel_grace(ice);
  release_agent(ice);
  if (ice->depth == 0)
    finalize(ice);
}

/* A TURN-over-UDP server at @host:@port in @cfg (same spelling of the host). */
static bool turn_udp_at(const weft__ice_config *cfg, const char *host, uint16_t port) {
  uint16_t p = port ? port : DEFAULT_PORT;
  for (size_t i = 0; i < cfg->n_servers; i++) {
    const weft__ice_server *t = &cfg->servers[i];
    if (t->is_turn && !t->tcp && t->host && g_ascii_strcasecmp(t->host, host) == 0 &&
        (t->port ? t->port : DEFAULT_PORT) == p)
      return true;
  }
  return false;
}

weft__ice *weft__ice_new(GMainContext *ctx, const weft__ice_config *cfg, bool controlling,
                         const weft__ice_callbacks *cb) {
  if (!ctx || !cb) {
    weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL context or callbacks");
    return NULL;
  }
  static const weft__ice_config none = {0};
  if (!cfg)
    cfg = &none;
  if (cfg->port_min > cfg->port_max || (cfg->port_min == 0) != (cfg->port_max == 0)) {
    weft__error(WEFT_ERR_RANGE, "ICE: bad port range %u-%u", cfg->port_min, cfg->port_max);
    return NULL;
  }
  if (cfg->n_servers && !cfg->servers) {
    weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL server list");
    return NULL;
  }
  install_log_handlers();

  weft__ice *ice = g_new0(weft__ice, 1);
  weft__live_inc();
  ice->ctx = g_main_context_ref(ctx);
  ice->cb = *cb;
  ice->relay_only = cfg->relay_only;
  ice->tcp = cfg->ice_tcp;
  ice->queued = g_array_new(FALSE, FALSE, sizeof(queued_cand));
  ice->drop = g_array_new(FALSE, FALSE, sizeof(guint));
  ice->port_min = cfg->port_min;
  ice->port_max = cfg->port_max;
  ice->cancel = g_cancellable_new();
  g_queue_init(&ice->events);
  g_queue_init(&ice->deferred);
  g_queue_init(&ice->waiting);
  ice->state = WEFT_ICE_NEW;

  /* Regular nomination (RFC 8445 §8.1.1; aggressive is deprecated), trickle
   * (RFC 8838) and RFC 7675 consent freshness (without it a vanished peer
   * stays "connected" forever, libdatachannel #1262). Never RELIABLE. */
  ice->agent =
      nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245,
                          NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_REGULAR_NOMINATION |
                              NICE_AGENT_OPTION_CONSENT_FRESHNESS);
  if (!ice->agent) {
    weft__error(WEFT_ERR_OPERATION, "ICE: libnice could not create an agent");
    goto fail;
  }
  /* Timers. On a fast path setup time is a few multiples of Ta: libnice
   * sends the first check on the first tick after the remote candidates
   * arrive, decides to nominate on a later tick and sends the USE-CANDIDATE
   * check on the one after (regular nomination), so gather -> connected is
   * ~3 Ta: 17 ms on loopback with Ta = 5 ms (the RFC 8445 §14.2 floor),
   * 32 ms with 10, ~60 ms with libnice's 20. Check retransmissions use
   * libnice's own RTO (max(500 ms, Ta * pairs), RFC 8445 §14.3);
   * stun-initial-timeout is the RTO of STUN/TURN requests while gathering:
   * 250 ms (as Chrome) instead of 500 finds a lost srflx/relay answer sooner
   * and gives up a dead server after ~3.75 s instead of ~7.5 s, so
   * gathering completes sooner. keepalive-conncheck: keepalives are binding
   * requests whose answers feed consent (RFC 7675 §5.1). */
  g_object_set(ice->agent, "controlling-mode", (gboolean)controlling, "ice-udp", TRUE, "ice-tcp",
               (gboolean)cfg->ice_tcp, "upnp", FALSE, "stun-pacing-timer", (guint)PACING_MS,
               "stun-initial-timeout", (guint)STUN_RTO_MS, "stun-max-retransmissions",
               (guint)STUN_RETRANS, "keepalive-conncheck", TRUE, NULL);
  if (cfg->relay_only)
    /* libnice ≥ 0.1.14: no host/srflx candidate is signalled or paired. */
    g_object_set(ice->agent, "force-relay", TRUE, NULL);

  if (cfg->enable_loopback) {
    /* libnice skips loopback unless told (nice_interfaces_get_local_ips
     * (FALSE)); adding an address also stops it from using the others. */
    NiceAddress lo;
    nice_address_init(&lo);
    if (!nice_address_set_from_string(&lo, "127.0.0.1") ||
        !nice_agent_add_local_address(ice->agent, &lo)) {
      weft__error(WEFT_ERR_OPERATION, "ICE: libnice refused 127.0.0.1");
      goto fail;
    }
  }

  ice->stream = nice_agent_add_stream(ice->agent, 1);
  ice->send_stream = ice->stream;
  if (ice->stream == 0) {
    weft__error(WEFT_ERR_OPERATION, "ICE: libnice could not add a stream");
    goto fail;
  }
  weft__random_ice_chars(ice->ufrag, UFRAG_LEN);
  weft__random_ice_chars(ice->pwd, PWD_LEN);
  if (!nice_agent_set_local_credentials(ice->agent, ice->stream, ice->ufrag, ice->pwd)) {
    weft__error(WEFT_ERR_OPERATION, "ICE: libnice refused the local credentials");
    goto fail;
  }
  if (cfg->port_min)
    nice_agent_set_port_range(ice->agent, ice->stream, COMPONENT, cfg->port_min, cfg->port_max);

  ice->sig[0] =
      g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
  ice->sig[1] =
      g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), ice);
  ice->sig[2] =
      g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_component_state), ice);
  ice->sig[3] =
      g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
  if (!nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, ctx, recv_cb, ice)) {
    weft__error(WEFT_ERR_OPERATION, "ICE: libnice could not attach the receive callback");
    goto fail;
  }

  /* Servers. libnice takes one STUN server, as an IP address; TURN servers
   * as IP addresses too (set_relay_info, after add_stream). Names are
   * resolved here, asynchronously; gathering waits for them. */
  ice->servers = g_new0(weft__ice_server, cfg->n_servers ? cfg->n_servers : 1);
  ice->server_ip = g_new0(char *, cfg->n_servers ? cfg->n_servers : 1);
  bool have_stun = false, have_turn = false;
  for (size_t i = 0; i < cfg->n_servers; i++) {
    const weft__ice_server *s = &cfg->servers[i];
    if (!s->host || !*s->host) {
      weft__error(WEFT_ERR_INVALID_ARG, "ICE: server %zu has no host", i);
      goto fail;
    }
    if (!s->is_turn && (have_stun || cfg->relay_only)) {
      WLOG_I(LOG, "ICE %p: STUN server %s not used (%s)", (void *)ice, s->host,
             cfg->relay_only ? "relay-only policy" : "libnice takes one STUN server");
      continue;
    }
    if (!s->is_turn && turn_udp_at(cfg, s->host, s->port)) {
      /* The allocation's XOR-MAPPED-ADDRESS gives the server-reflexive
       * candidate already; libnice 0.1.21 would also send a Binding request
       * to the same server from the relay socket, fail to match the answer
       * and keep gathering open until it times out (~1 s here). */
      WLOG_I(LOG, "ICE %p: STUN server %s is also a UDP TURN server: srflx comes from TURN",
             (void *)ice, s->host);
      continue;
    }
    have_stun |= !s->is_turn;
    have_turn |= s->is_turn;
    weft__ice_server *d = &ice->servers[ice->n_servers++];
    d->host = g_strdup(s->host);
    d->port = s->port;
    d->is_turn = s->is_turn;
    d->tcp = s->tcp;
    d->username = g_strdup(s->username ? s->username : "");
    d->credential = g_strdup(s->credential ? s->credential : "");
  }
  if (cfg->relay_only && !have_turn)
    WLOG_W(LOG, "ICE %p: relay-only policy without a TURN server: no candidate will be gathered",
           (void *)ice);
  for (size_t i = 0; i < ice->n_servers; i++) {
    weft__ice_server *s = &ice->servers[i];
    if (g_hostname_is_ip_address(s->host)) {
      apply_server(ice, i, s->host);
      continue;
    }
    resolve_req *rq = g_new0(resolve_req, 1);
    rq->kind = RQ_SERVER;
    rq->server = i;
    rq->host = g_strdup(s->host);
    ice->server_lookups++;
    start_lookup(ice, rq);
  }
  WLOG_D(LOG, "ICE %p: agent %p (%s)", (void *)ice, (void *)ice->agent,
         controlling ? "controlling" : "controlled");
  return ice;

fail:;
  int code = weft_last_error();
  char *msg = g_strdup(weft__error_message());
  weft__ice_free(ice);
  weft__error_set_raw(code, msg);
  g_free(msg);
  return NULL;
}

const char *weft__ice_local_ufrag(const weft__ice *ice) {
  return !ice ? NULL : ice->restart_pending ? ice->next_ufrag : ice->ufrag;
}
const char *weft__ice_local_pwd(const weft__ice *ice) {
  return !ice ? NULL : ice->restart_pending ? ice->next_pwd : ice->pwd;
}

/* ---- ICE restart ---------------------------------------------------------------- */

int weft__ice_restart_prepare(weft__ice *ice) {
  if (!ice)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL");
  if (ice->restart_pending)
    return 0;
  /* RFC 8445 §9: both must change; a collision with the current ufrag is
   * 62^-8 but would make the restart invisible to the remote. */
  do {
    weft__random_ice_chars(ice->next_ufrag, UFRAG_LEN);
  } while (strcmp(ice->next_ufrag, ice->ufrag) == 0);
  weft__random_ice_chars(ice->next_pwd, PWD_LEN);
  ice->restart_pending = true;
  return 0;
}

bool weft__ice_restart_pending(const weft__ice *ice) { return ice && ice->restart_pending; }

void weft__ice_restart_request(weft__ice *ice) {
  if (ice)
    ice->restart_requested = true;
}

bool weft__ice_restart_requested(const weft__ice *ice) { return ice && ice->restart_requested; }

void weft__ice_restart_unprepare(weft__ice *ice) {
  if (ice)
    ice->restart_pending = false;
}

bool weft__ice_restarting(const weft__ice *ice) {
  return ice && ice->restarts > 0 && !ice->remote_ufrag;
}

static void clear_queued(weft__ice *ice) {
  for (guint i = 0; i < ice->queued->len; i++) {
    queued_cand *c = &g_array_index(ice->queued, queued_cand, i);
    g_free(c->sdp);
    g_free(c->ufrag);
  }
  g_array_set_size(ice->queued, 0);
}

int weft__ice_restart(weft__ice *ice) {
  if (!ice || !ice->agent)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE restart: NULL or closed");
  weft__ice_restart_prepare(ice);
  guint s = nice_agent_add_stream(ice->agent, 1);
  if (s == 0)
    return weft__error(WEFT_ERR_OPERATION, "ICE restart: libnice could not add a stream");
  if (!nice_agent_set_local_credentials(ice->agent, s, ice->next_ufrag, ice->next_pwd) ||
      !nice_agent_attach_recv(ice->agent, s, COMPONENT, ice->ctx, recv_cb, ice)) {
    nice_agent_remove_stream(ice->agent, s);
    return weft__error(WEFT_ERR_OPERATION, "ICE restart: libnice refused the new stream");
  }
  if (ice->port_min)
    nice_agent_set_port_range(ice->agent, s, COMPONENT, ice->port_min, ice->port_max);

  /* The stream replaced by an earlier restart that never connected goes
   * now; the current one keeps carrying data until the new one has a pair
   * (or goes now if it has none). */
  guint prev = ice->stream;
  if (ice->old_stream) {
    /* An earlier restart is still checking: its stream never carried data
     * and goes; the old stream keeps carrying it. */
    nice_agent_attach_recv(ice->agent, prev, COMPONENT, ice->ctx, NULL, NULL);
    schedule_drop(ice, prev);
  } else if (ice->have_pair && ice->send_stream == prev) {
    ice->old_stream = prev;
  } else {
    nice_agent_attach_recv(ice->agent, prev, COMPONENT, ice->ctx, NULL, NULL);
    schedule_drop(ice, prev);
    ice->have_pair = false;
    ice->send_stream = s;
  }
  ice->stream = s;
  ice->stream_connected = false;
  ice->restarts++;
  cancel_grace(ice);
  memcpy(ice->ufrag, ice->next_ufrag, sizeof ice->ufrag);
  memcpy(ice->pwd, ice->next_pwd, sizeof ice->pwd);
  ice->restart_pending = false;
  ice->restart_requested = false;

  /* The remote side starts over too (RFC 8445 §9.3): new credentials,
   * candidates and end-of-candidates come with its next description. */
  g_free(ice->remote_ufrag);
  ice->remote_ufrag = NULL;
  clear_queued(ice);
  clear_waiting(ice); /* lookups in flight finish into the new stream, as before */
  ice->remote_taken = 0;
  ice->remote_done_requested = ice->remote_done_applied = false;
  ice->gather_requested = false;
  ice->relay_candidates = ice->turn_applied = ice->local_candidates = 0;
  ice->local_done = false;
  for (size_t i = 0; i < ice->n_servers; i++)
    if (ice->server_ip[i] && ice->servers[i].is_turn)
      apply_server(ice, i, ice->server_ip[i]);
  WLOG_I(LOG, "ICE %p: restart %d: stream %u (ufrag %s) replaces stream %u", (void *)ice,
         ice->restarts, s, ice->ufrag, prev);
  return 0;
}

void weft__ice_set_on_error(weft__ice *ice, weft__ice_error_fn fn) {
  if (ice)
    ice->on_error = fn;
}

int weft__ice_set_controlling(weft__ice *ice, bool controlling) {
  if (!ice)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL");
  g_object_set(ice->agent, "controlling-mode", (gboolean)controlling, NULL);
  return 0;
}

int weft__ice_send(weft__ice *ice, const uint8_t *data, size_t len) {
  if (!ice || (!data && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE send: NULL");
  if (!ice->have_pair)
    return weft__error(WEFT_ERR_INVALID_STATE, "ICE send: no selected candidate pair yet");
  if (len > 65535)
    return weft__error(WEFT_ERR_TOO_BIG, "ICE send: %zu bytes do not fit a datagram", len);
  if (nice_agent_send(ice->agent, ice->send_stream, COMPONENT, (guint)len, (const gchar *)data) < 0)
    return weft__error(WEFT_ERR_OPERATION, "ICE send: the socket refused the datagram");
  return 0;
}

int weft__ice_get_selected_pair(weft__ice *ice, char **local, char **remote) {
  if (!ice || !local || !remote)
    return weft__error(WEFT_ERR_INVALID_ARG, "ICE: NULL");
  NiceCandidate *l = NULL, *r = NULL;
  if (!ice->have_pair ||
      !nice_agent_get_selected_pair(ice->agent, ice->send_stream, COMPONENT, &l, &r) || !l || !r)
    return weft__error(WEFT_ERR_INVALID_STATE, "ICE: no selected candidate pair");
  *local = candidate_to_string(l);
  *remote = candidate_to_string(r);
  return 0;
}

weft_ice_connection_state weft__ice_get_state(const weft__ice *ice) {
  return ice ? ice->state : WEFT_ICE_CLOSED;
}

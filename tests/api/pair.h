/*
 * Two-peer harness for the API tests: two weft_pc in one process, signalled
 * in-process, on 127.0.0.1 only. Written against the public header only.
 *
 * Side 0 ("A") is the offerer, side 1 ("B") the answerer. Both peer
 * connections share one weft_context in one of three modes; pair_wait() pumps
 * whatever the mode needs (nothing for THREAD, wait+dispatch for QUEUED,
 * iterating the GMainContext for GLIB) until a predicate holds.
 *
 * Shared state written by callbacks is protected by pair->lock (or atomics),
 * because in THREAD mode callbacks run on the weft thread while the test
 * thread reads.
 */
#ifndef WEFT_TEST_PAIR_H
#define WEFT_TEST_PAIR_H

#include <glib.h>
#include <weft/weft.h>
#include <weft/weft-glib.h>

typedef enum pair_mode { PAIR_THREAD = 0, PAIR_QUEUED, PAIR_GLIB } pair_mode;

#define PAIR_MAX_LOG 64

typedef struct pair pair;
typedef struct pair_side pair_side;
typedef struct dc_probe dc_probe;

/* One received message (copied out of the callback). */
typedef struct pair_msg {
  weft_msg_type type;
  size_t size;
  guint8 *data; /* size bytes + a '\0' */
} pair_msg;

/* Records everything that happens on one data channel. */
struct dc_probe {
  pair *pair;
  weft_dc *dc; /* strong reference (NULL once released) */
  int side;
  gboolean remote;                           /* surfaced by on_data_channel */
  gint opened, closing, closed, low, errors; /* atomic counters */
  gint n_msgs;                               /* atomic */
  gint bad_text;    /* atomic: TEXT message without '\0' at data[size] or bad UTF-8 */
  gint echo;        /* atomic flag: send every message back with the same type */
  gint echo_failed; /* atomic: echo sends that returned an error */
  gint last_echo_err;
  gint keep;    /* atomic flag: store messages in msgs (default 1) */
  gint64 bytes; /* atomic-ish (under lock) total payload bytes received */
  int last_error_detail;
  GPtrArray *msgs; /* pair_msg*, under pair->lock */
  /* Optional hook run at the end of on_message (test-specific behaviour). */
  void (*on_message_hook)(dc_probe *probe, weft_msg_type type, const void *data, size_t size);
  void (*on_open_hook)(dc_probe *probe);
  void *hook_data;
};

/* One candidate (or end-of-candidates when candidate == NULL) waiting to be
 * passed to the other side. */
typedef struct pair_cand {
  char *candidate;
  char *sdp_mid;
  int sdp_mline_index;
  char *ufrag;
} pair_cand;

struct pair_side {
  pair *pair;
  int index;
  weft_pc *pc;
  /* Callback logs (under pair->lock). */
  int conn_log[PAIR_MAX_LOG], n_conn;
  int ice_log[PAIR_MAX_LOG], n_ice;
  int gather_log[PAIR_MAX_LOG], n_gather;
  int sig_log[PAIR_MAX_LOG], n_sig;
  /* Atomics mirrored from the logs for cheap predicates. */
  gint conn_state, ice_state, gather_state, sig_state;
  gint n_candidates;    /* non-NULL on_ice_candidate calls */
  gint end_of_cands;    /* on_ice_candidate(NULL) calls */
  gint cands_after_end; /* candidates that came after the NULL one (bug) */
  gint negotiation_needed;
  gint n_errors;
  gint last_error_detail;
  gint last_error_code;
  gint n_remote_dcs; /* on_data_channel calls */
  gint callbacks;    /* every pc/dc callback of this side (for "no callback after close") */
  GPtrArray *probes; /* dc_probe* for every channel (local and remote), under lock */
  /* Trickle plumbing: candidates produced by this side for the peer. */
  GQueue out_cands;     /* pair_cand*, under lock */
  gboolean peer_ready;  /* peer has a remote description (under lock) */
  gboolean flushing;    /* the test thread is delivering the queue (under lock) */
  gint add_cand_errors; /* add_ice_candidate failures on the peer */
  /* Optional test hooks, run on the callback thread after the harness's own
   * bookkeeping. Set them before the events can happen. */
  void (*conn_hook)(pair_side *s, weft_pc_state st);
  void (*dc_hook)(pair_side *s, weft_dc *dc);
  void *hook_data;
};

typedef struct pair_opts {
  pair_mode mode;
  gboolean trickle;            /* default TRUE */
  gboolean echo_remote;        /* channels surfaced by on_data_channel echo (default FALSE) */
  size_t send_buffer_limit;    /* 0 = library default */
  size_t max_message_size;     /* 0 = library default; (size_t)-1 = advertise 0 ("any") */
  gboolean no_forward_cands;   /* never forward trickled candidates (non-trickle tests) */
  weft_context *ctx;           /* share this context (THREAD/QUEUED kind as mode); NULL = new */
  gboolean late_dc_handler;    /* do not set B's on_data_channel (pair_install_dc_handler) */
  gboolean default_ctx;        /* weft_pc_new(NULL, ...): the process-wide context (THREAD) */
  size_t receive_buffer_limit; /* 0 = library default */
  unsigned rsa_sides;          /* bit i: side i's certificate is RSA-2048 (default none) */
} pair_opts;
#define PAIR_OPTS_INIT                                                                             \
  { PAIR_THREAD, TRUE, FALSE, 0, 0, FALSE, NULL, FALSE, FALSE, 0, 0 }

struct pair {
  pair_opts opts;
  weft_context *ctx;
  GMainContext *gmain; /* GLIB mode only */
  pair_side side[2];
  GMutex lock;
  gint64 t_start_us;    /* pair_negotiate start */
  gint64 t_open_us;     /* both channel ends open (pair_connect) */
  char *offer, *answer; /* last SDPs exchanged */
  /* Optional: rewrites the SDP side @from sends (returns a g_malloc'd string). */
  char *(*sdp_hook)(pair *p, int from, const char *sdp);
};

typedef gboolean (*pair_pred)(pair *p, void *arg);

/* Creates two peer connections (loopback on) on a new context of @opts->mode
 * (NULL = defaults) and installs every handler. */
pair *pair_new(const pair_opts *opts);
/* Shortcut. */
pair *pair_new_mode(pair_mode mode);
/* Closes and releases everything (pcs, probes, context, GMainContext), then
 * asserts that weft_debug_live_objects() returns to 0 within 2 s. */
void pair_free(pair *p);
/* Releases everything without the live-object assertion (for tests that own
 * other objects). */
void pair_release(pair *p);
/* Asserts weft_debug_live_objects() reaches 0 within @timeout_ms. */
void pair_assert_no_live_objects(int timeout_ms);

/* Pumps the context (per mode) until @pred returns TRUE or @timeout_ms
 * passes; returns the predicate's last value. Also delivers queued trickle
 * candidates. Call from the test thread. */
gboolean pair_wait(pair *p, pair_pred pred, void *arg, int timeout_ms);
/* Pumps for @ms milliseconds. */
void pair_pump(pair *p, int ms);
/* Waits until the atomic int *@v >= @min. */
gboolean pair_wait_ge(pair *p, volatile gint *v, int min, int timeout_ms);

/* Full offer/answer (trickle or not per opts), asserting every step. A needs
 * at least one data channel for the SDP to carry m=application. */
void pair_negotiate(pair *p);
/* Delivers candidates queued for the peer of @from (test thread). */
void pair_flush_candidates(pair *p, int from);
/* Marks that side @to now has a remote description (enables forwarding). */
void pair_peer_ready(pair *p, int to);

/* Sets the harness's on_data_channel handler on @side (see late_dc_handler). */
void pair_install_dc_handler(pair *p, int side);
/* Creates a data channel on side @side with a probe attached. */
dc_probe *pair_create_dc(pair *p, int side, const char *label, const weft_dc_init *init);
/* Attaches a probe to an existing channel (takes a new reference). */
dc_probe *pair_probe_attach(pair *p, int side, weft_dc *dc);
/* Waits for the channel with @label surfaced by on_data_channel on @side. */
dc_probe *pair_wait_remote_dc(pair *p, int side, const char *label, int timeout_ms);
/* Creates "label" on A, negotiates, waits for both ends to open. Sets
 * t_open_us. Either out pointer may be NULL. */
void pair_connect(pair *p, const char *label, dc_probe **local, dc_probe **remote);
/* Waits until both pcs are connected. */
gboolean pair_wait_connected(pair *p, int timeout_ms);

/* Waits for @probe to have received at least @n messages. */
gboolean probe_wait_msgs(dc_probe *probe, int n, int timeout_ms);
/* Message @i (under the lock, copy-free: valid until pair_free). */
pair_msg *probe_msg(dc_probe *probe, int i);
/* Releases the probe's dc reference (the probe itself lives until pair_free). */
void probe_release_dc(dc_probe *probe);

/* Helpers. */
guint8 *pattern_new(size_t size, guint32 seed);    /* deterministic bytes (g_free) */
char *text_pattern_new(size_t size, guint32 seed); /* printable ASCII, NUL-terminated */
long pair_live(void);

#endif

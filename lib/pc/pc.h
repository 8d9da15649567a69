/*
 * pc/ — the peer-connection orchestrator: the only module that knows the
 * whole stack. It owns the signaling state machine, wires
 *   ice/ -> demux/ -> dtls/ -> sctp/ -> data channels,
 * derives the aggregate connection state, and turns everything the layers
 * report into user-visible events (queued through loop/).
 *
 * Functions named weft__pc_engine_* run on the context's engine (invoked by
 * api/ through weft__context_invoke_sync); everything else says its thread.
 */
#ifndef WEFT_PC_H
#define WEFT_PC_H

#include <glib.h>

#include "core/core.h"
#include "dtls/dtls.h"
#include "ice/ice.h"
#include "jsep/jsep.h"
#include "loop/loop.h"
#include "sctp/sctp.h"

/* ---- Configuration (weft_config) ----------------------------------------- */
struct weft_config {
  GArray *servers; /* weft__ice_server */
  weft_ice_transport_policy policy;
  uint16_t port_min, port_max;
  size_t max_message_size;
  size_t send_buffer_limit;
  bool enable_loopback;
  bool certificate_reuse;
};
void weft__config_init_defaults(weft_config *cfg);
void weft__config_copy_into(weft_config *dst, const weft_config *src);
void weft__config_clear(weft_config *cfg);

/* ---- Handler slots ------------------------------------------------------- */
typedef struct weft__pc_handlers {
  weft_pc_ice_candidate_fn on_ice_candidate;
  weft_pc_state_fn on_connection_state;
  weft_pc_ice_state_fn on_ice_state;
  weft_pc_gathering_fn on_gathering;
  weft_pc_signaling_fn on_signaling;
  weft_pc_negotiation_needed_fn on_negotiation_needed;
  weft_pc_data_channel_fn on_data_channel;
  weft_pc_error_fn on_error;
} weft__pc_handlers;

/* Which events were dispatched while no handler was set (replay rule). */
enum {
  WEFT__MISSED_CONN = 1 << 0,
  WEFT__MISSED_ICE = 1 << 1,
  WEFT__MISSED_GATHER = 1 << 2,
  WEFT__MISSED_SIGNALING = 1 << 3,
  WEFT__MISSED_NEGOTIATION = 1 << 4,
};

struct weft_pc {
  atomic_int app_refs; /* weft_pc_ref/unref: the last one closes */
  weft__refcount refs; /* memory: app side + events + posted tasks */
  weft_context *ctx;

  /* Guarded by lock: handlers, user data, held events (any thread). */
  GMutex lock;
  weft__pc_handlers h;
  void *user_data;
  void (*user_destroy)(void *);
  unsigned missed;
  GQueue held_candidates; /* weft__event* waiting for on_ice_candidate */
  GQueue held_channels;   /* weft__event* waiting for on_data_channel */
  GQueue held_errors;

  /* Lock-free reads from any thread. */
  atomic_int conn_state, ice_state, gathering_state, signaling_state;
  atomic_bool closed;
  /* The remote ended the session (remote_end() in pc.c): events numbered up
   * to end_seq are still delivered after `closed` is set; 0 = none. */
  _Atomic uint64_t end_seq;

  /* App-thread send queue (weft_dc_send* from non-engine threads). */
  GMutex sendq_lock;
  GQueue sendq;
  bool sendq_scheduled;

  /* ---- Engine-only state (context thread) ---- */
  weft_config cfg;
  weft__dtls_cert *cert;
  weft__ice *ice;
  weft__dtls *dtls;
  weft__sctp *sctp;
  bool ice_started; /* gathering started */
  bool controlling;
  bool dtls_is_client; /* known once the answer is applied */
  bool dtls_role_known;
  bool dtls_connected;
  bool dtls_failed;
  bool events_sealed; /* remote_end() emitted the last event: emit nothing more */
  uint64_t ev_seq;    /* number of the last event emitted */
  bool sctp_connected;
  bool negotiated_once;    /* a data section has been through offer/answer */
  bool negotiation_needed; /* pending, fired when stable */
  uint64_t session_id, session_version;
  char *data_mid; /* mid of our data section */
  char *local_sdp_current, *local_sdp_pending;
  weft_sdp_type local_type_current, local_type_pending;
  weft__jsep_desc *remote_current, *remote_pending;
  char *remote_sdp_current, *remote_sdp_pending;
  GPtrArray *local_candidates; /* char* "candidate:..." */
  bool gathering_done;
  size_t remote_max_message_size; /* SIZE_MAX = any */
  uint16_t remote_sctp_port;
  GHashTable *channels_by_stream; /* uint16 stream -> weft_dc* (ref held) */
  GPtrArray *channels_pending;    /* weft_dc* created before ids could be assigned */
  GPtrArray *channels_all;        /* every dc ever attached (ref held), for close */
  int64_t created_us;
};

/* ---- Data channels ------------------------------------------------------- */
struct weft_dc {
  weft__refcount refs;
  GMutex lock; /* guards pc (weak), handlers, user data, held messages */
  weft_pc *pc; /* weak: cleared when the pc is freed */
  char *label, *protocol;
  bool ordered, negotiated;
  int32_t max_retransmits, max_packet_life_time;
  weft_priority priority;
  atomic_int id;             /* -1 until assigned */
  atomic_int state;          /* weft_dc_state */
  atomic_bool closed_by_app; /* weft_dc_close called: no more callbacks */
  atomic_size_t buffered;    /* W3C bufferedAmount (queued + in sctp FIFO) */
  atomic_size_t low_threshold;
  /* A send failed with WEFT_ERR_AGAIN: fire buffered-amount-low once
   * bufferedAmount drops to wake_at (room for that message). */
  atomic_bool wake_armed;
  atomic_size_t wake_at;
  bool remote_created;

  weft_dc_event_fn on_open, on_closing, on_close, on_low;
  weft_dc_message_fn on_message;
  weft_dc_error_fn on_error;
  void *user_data;
  void (*user_destroy)(void *);
  bool open_missed, close_missed, closing_missed;
  GQueue held_msgs; /* message events waiting for on_message */
  size_t held_bytes;

  /* Engine-only. */
  bool open_sent; /* DCEP OPEN sent, waiting for ACK */
  bool reset_out_done, reset_in_done, reset_out_requested;
  size_t engine_buffered; /* bytes in the sctp FIFO for this stream */
};

/* Memory references (events, posted tasks); the last release frees. */
weft_pc *weft__pc_hold(weft_pc *pc);
void weft__pc_release(weft_pc *pc);
void weft__pc_drop_held(weft_pc *pc);
void weft__dc_drop_held(weft_dc *dc);

/* Constructors / teardown used by api/. */
weft_pc *weft__pc_new(weft_context *ctx, const weft_config *cfg);
void weft__pc_free(weft_pc *pc); /* memory only, after close */
void weft__pc_engine_close(weft_pc *pc);
/* Tears the layers down and marks @pc closed; @by_app also drops its queued
 * events (weft_pc_close), otherwise they still run (remote end). */
void weft__pc_engine_teardown(weft_pc *pc, bool by_app);

/* Negotiation, on the engine. Each returns 0 or a negative weft_err with the
 * thread's error detail set. */
int weft__pc_engine_create_offer(weft_pc *pc, char **sdp_out);
int weft__pc_engine_create_answer(weft_pc *pc, char **sdp_out);
int weft__pc_engine_set_local(weft_pc *pc, weft_sdp_type type, const char *sdp);
int weft__pc_engine_set_remote(weft_pc *pc, weft_sdp_type type, const char *sdp);
int weft__pc_engine_add_candidate(weft_pc *pc, const weft_ice_candidate *c);
int weft__pc_engine_get_description(weft_pc *pc, weft_desc_which which, weft_sdp_type *type,
                                    char **sdp_out);
int weft__pc_engine_selected_pair(weft_pc *pc, char **local, char **remote);

/* Data channels, on the engine. */
int weft__pc_engine_add_channel(weft_pc *pc, weft_dc *dc);
void weft__dc_engine_close(weft_dc *dc, weft_pc *pc);
int weft__dc_engine_send(weft_pc *pc, weft_dc *dc, uint32_t ppid, uint8_t *data, size_t len);

/* One message an application thread queued on pc->sendq (api/). */
typedef struct weft__send_item {
  weft_dc *dc; /* reference held */
  uint32_t ppid;
  uint8_t *data; /* g_malloc'd, owned */
  size_t len;
} weft__send_item;
/* Engine: hands every queued message to SCTP in order (or frees it once the
 * pc is closed). */
void weft__pc_engine_drain_sendq(weft_pc *pc);
/* Engine: creates ICE and fetches the certificate (weft_pc_new). */
int weft__pc_engine_init(weft_pc *pc);

weft_dc *weft__dc_new(const char *label, const weft_dc_init *init);
void weft__dc_detach(weft_dc *dc); /* pc gone: closed, inert */

/* Events (pc/events.c): queue a user-visible event. */
void weft__pc_emit_connection_state(weft_pc *pc, weft_pc_state s);
void weft__pc_emit_ice_state(weft_pc *pc, weft_ice_connection_state s);
void weft__pc_emit_gathering(weft_pc *pc, weft_ice_gathering_state s);
void weft__pc_emit_signaling(weft_pc *pc, weft_signaling_state s);
void weft__pc_emit_negotiation_needed(weft_pc *pc);
void weft__pc_emit_candidate(weft_pc *pc, const char *candidate /* NULL = done */);
void weft__pc_emit_data_channel(weft_pc *pc, weft_dc *dc);
void weft__pc_emit_error(weft_pc *pc, int code, weft_error_detail detail, int alert, int cause,
                         const char *message);
void weft__dc_emit_open(weft_dc *dc, weft_pc *pc);
void weft__dc_emit_closing(weft_dc *dc, weft_pc *pc);
void weft__dc_emit_close(weft_dc *dc, weft_pc *pc);
void weft__dc_emit_low(weft_dc *dc, weft_pc *pc);
void weft__dc_emit_error(weft_dc *dc, weft_pc *pc, int code, const char *message);
/* Takes ownership of @data (g_malloc'd, with a NUL at data[len] for text). */
void weft__dc_emit_message(weft_dc *dc, weft_pc *pc, weft_msg_type type, uint8_t *data, size_t len);
/* Replays for handlers set late (any thread). */
void weft__pc_replay(weft_pc *pc, unsigned which);
void weft__pc_flush_held(weft_pc *pc);
/* Engine: the events emitted so far are the last ones of @pc; later emits are
 * dropped, and these still run after `closed` is set (remote end). */
void weft__pc_seal_events(weft_pc *pc);
void weft__dc_replay(weft_dc *dc);
void weft__dc_flush_held(weft_dc *dc);

#endif

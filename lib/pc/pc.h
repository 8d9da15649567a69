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
#include "media/media.h"
#include "rtp/rtp.h"
#include "sctp/sctp.h"
#include "srtp/srtp.h"

/* ---- Bounds on what a remote controls (doc/datachannels.md) --------------- */
enum {
  WEFT__DEFAULT_RECEIVE_BUFFER_LIMIT = 4 * 1024 * 1024,
  WEFT__MIN_RECEIVE_BUFFER_LIMIT = 64 * 1024,
  WEFT__MAX_CLOSED_CHANNELS = 256, /* closed channels a pc remembers */
  WEFT__MAX_LABEL_BYTES = 4096,    /* label and protocol of a remote DCEP OPEN */
  WEFT__MAX_HELD_ERRORS = 64,      /* error events held until on_error is set */
  /* Remote-opened channels whose on_data_channel the application has not
   * had yet: beyond, OPENs are refused (stream reset). */
  WEFT__MAX_ANNOUNCING_CHANNELS = 1024,
  /* Datagrams that arrive before the layer that takes them exists (a fast
   * peer's first DTLS flight before our ICE reports connected, SRTP before
   * the keys): held, then fed in order. */
  WEFT__MAX_EARLY_DATAGRAMS = 128,
  WEFT__DRAIN_BYTES_PER_TURN = 256 * 1024, /* app sends handed to SCTP per engine turn */
  /* Media events waiting for the application, per track: over either bound
   * the oldest are dropped (never a data-channel message). */
  WEFT__TRACK_MAX_EVENTS = 1024,
  WEFT__TRACK_MAX_EVENT_BYTES = 8 * 1024 * 1024,
  WEFT__MAX_EARLY_BYTES = 192 * 1024,
};

/* ---- Configuration (weft_config) ----------------------------------------- */
struct weft_config {
  GArray *servers; /* weft__ice_server */
  weft_ice_transport_policy policy;
  uint16_t port_min, port_max;
  size_t max_message_size;
  size_t send_buffer_limit;
  size_t receive_buffer_limit;
  bool enable_loopback;
  bool ice_tcp;
  bool certificate_reuse;
  weft_certificate_type certificate_type;
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
  weft_pc_track_fn on_track;
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
  GQueue held_tracks;      /* weft__event* waiting for on_track */
  uint64_t dropped_errors; /* error events dropped: WEFT__MAX_HELD_ERRORS were held */
  /* on_data_channel events emitted and not yet run or dropped (any thread). */
  atomic_uint channels_announcing;
  weft__ratelimit remote_rl; /* warnings and errors a remote can cause at will (engine) */

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
  bool ice_started;               /* gathering started */
  GQueue early_dtls, early_media; /* GBytes*: see WEFT__MAX_EARLY_DATAGRAMS */
  size_t early_bytes;             /* of both queues */
  uint64_t early_dropped;         /* over the bound: dropped (counted) */
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
  GPtrArray *channels_all;        /* every dc attached (ref held), for close; closed ones
                                     beyond WEFT__MAX_CLOSED_CHANNELS are pruned */
  guint closed_channels;          /* closed channels still in channels_all */
  /* Data-channel receive back-pressure: bytes SCTP delivered that the
   * application has not taken yet (queued events and held messages). */
  weft__rx_budget rx_budget;
  int64_t created_us;

  /* ---- Media (pc/media.c) ---- */
  GPtrArray *tracks;       /* weft_track* (ref held), creation order */
  int data_mline;          /* m-line index of the data section, -1 none */
  guint n_mlines;          /* m-lines in the negotiated (or pending) descriptions */
  char *transport_mid;     /* mid of the section describing our transport */
  weft__srtp *srtp;        /* once DTLS exported keys */
  GHashTable *ssrc_tracks; /* remote SSRC -> weft_track* (borrowed from tracks) */
  GSource *media_timer;    /* RTCP reports, NACK retries (20 ms) */
  int64_t next_report_us;
  uint8_t *media_buf; /* received packets, unprotected in place */
  uint8_t *send_buf;  /* outgoing packets, protected in place */
  uint8_t *pkt_buf;   /* packetizer output (RTP header + one payload) */
  GMutex mediaq_lock; /* app-thread sends (weft_track_send_*) */
  GQueue mediaq;
  size_t mediaq_bytes;
  bool mediaq_scheduled;
  uint32_t test_drop_permille; /* tests: drop this share of outgoing RTP (not RTCP) */
  uint32_t test_drop_state;
  uint32_t test_drop_seen; /* the first 20 packets always pass: a receiver cannot NACK what
                              precedes its first packet */
  /* The unannounced SSRCs of ssrc_tracks, learnt by mid or payload type and
   * capped (rtp/ bounds, issue 12); the others are the a=ssrc announced. */
  weft__ssrc_table ssrc_learnt;
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

/* ---- Tracks (transceivers) ---------------------------------------------- */
typedef struct weft__hist_slot { /* one sent RTP packet, for NACK answers */
  uint8_t *buf;                  /* WEFT__HIST_SLOT_BYTES, lazily allocated */
  size_t len;
  uint16_t seq;
  bool used;
  int64_t rtx_us; /* last NACK answer, WEFT__RTX_NEVER (one per window: rtp/ bounds) */
} weft__hist_slot;
enum {
  WEFT__HIST_SIZE = 1024,
  WEFT__HIST_SLOT_BYTES = 1500,
  WEFT__MAX_MISSING = 512,
  WEFT__PKT_BUF_BYTES = 2048
};

typedef struct weft__missing { /* a received-side gap being NACKed */
  int64_t seq;                 /* extended sequence number */
  int64_t first_us, last_nack_us;
  int tries;
} weft__missing;

typedef struct weft__track_counters {
  _Atomic uint64_t packets_sent, bytes_sent, frames_sent, packets_received, bytes_received;
  _Atomic uint64_t frames_received, frames_dropped, packets_lost, nacks_sent, nacks_received;
  _Atomic uint64_t retransmitted, plis_sent, plis_received, srtp_failures;
  /* issue 12 bounds: NACKed packets not resent (duplicate in the window, over
   * the budget, past the per-RTCP cap); PLI/FIR not passed on (throttled,
   * FIR repeats). */
  _Atomic uint64_t rtx_dropped, keyframe_requests_throttled;
  _Atomic int64_t rtt_us;
} weft__track_counters;

struct weft_track {
  weft__refcount refs;
  GMutex lock; /* pc (weak), handlers, user data, mid, send params */
  weft_pc *pc; /* weak: cleared when the pc is freed */
  weft_media_kind kind;
  atomic_int direction;            /* what the app wants */
  atomic_int current_direction;    /* negotiated */
  atomic_bool stopped;             /* weft_track_stop, or the remote rejected it */
  atomic_bool stopped_by_app;      /* no more callbacks */
  atomic_bool withdrawn;           /* the remote took it back (offer rolled back or
                                      replaced, m-line recycled): no on_track if not run yet */
  atomic_bool can_send;            /* negotiated with send and SRTP ready */
  atomic_bool want_frames;         /* on_frame set */
  atomic_bool want_rtp, want_rtcp; /* on_rtp / on_rtcp set: read per packet without the lock */
  atomic_bool received_any;
  bool remote_created;
  char *mid;            /* NULL until it has an m-section (lock for readers) */
  uint32_t *prefs_jsep; /* weft__codec_id flags, preference order */
  size_t n_prefs;
  char *stream_id, *track_id, *cname;
  uint32_t ssrc; /* ours: media we send and the sender SSRC of our RTCP */
  bool rtcp_feedback;
  weft_codec_params send_params; /* lock; codec NONE until negotiated */

  weft_track_packet_fn on_rtp, on_rtcp;
  weft_track_frame_fn on_frame;
  weft_track_event_fn on_keyframe_request;
  void *user_data;
  void (*user_destroy)(void *);
  /* Media events (packets, frames, keyframe requests) wait here, not in the
   * context's queue, bounded by WEFT__TRACK_MAX_EVENTS / _BYTES: over it the
   * oldest are dropped and counted (events.c). Under lock. */
  GQueue evq;
  size_t evq_bytes;
  bool evq_scheduled;              /* a drain event is queued on the context */
  _Atomic uint64_t events_dropped; /* media events dropped: the app was too slow */
  int64_t evq_warned_us;           /* last "dropped" log line (engine) */

  weft__track_counters n;

  /* ---- Engine-only ---- */
  int mline; /* index of its m-section, -1 none */
  bool negotiated;
  bool section_rejected;       /* its m-section went through offer/answer with port 0 */
  weft__direction written_dir; /* the direction our last description gave it */
  bool answered;               /* that description was an answer to ... */
  weft__direction offered_dir; /* ... an offer with this direction */
  /* The negotiated codecs (the answer's list): pt -> codec for receiving. */
  struct {
    uint8_t pt;
    weft_codec codec;
    uint32_t clock;
  } codecs[16];
  size_t n_codecs;
  uint8_t mid_ext_id; /* sdes:mid header extension id, 0 = not negotiated */
  bool nack, pli, fir, rsize;
  /* sending */
  uint16_t seq;
  uint32_t ts_base;
  uint32_t last_ts;
  int64_t last_ts_us;
  weft__vp8_packetizer vp8;
  weft__h264_packetizer h264;
  weft__hist_slot *hist; /* WEFT__HIST_SIZE, lazily */
  bool rtp_src_known;    /* send_rtp rebasing */
  uint32_t rtp_src_ssrc, rtp_ts_offset;
  uint16_t rtp_seq_offset, rtp_last_in_seq;
  /* receiving */
  uint32_t remote_ssrc;
  bool remote_ssrc_known;
  weft__rtp_source src;
  bool src_started;
  weft__rtp_seq_unwrapper unwrap;
  int64_t highest; /* extended sequence number, valid once src_started */
  GArray *missing; /* weft__missing, ascending */
  weft__media_assembler *assembler;
  weft_codec asm_codec;
  bool first_frame_set;
  uint32_t first_frame_ts;
  uint32_t last_sr_compact;
  int64_t last_sr_us;
  int64_t last_pli_us;
  bool seen_keyframe; /* video: a keyframe was delivered since the source (re)started */
  /* bounds on what the remote makes this track do (rtp/ bounds, issue 12) */
  weft__rtx_limiter rtx;      /* NACK answers */
  weft__keyframe_throttle kf; /* PLI/FIR received */
};

/* User data of a pc, dc or track (weft_*_set_user_data): swaps @ud in
 * under @lock and calls the previous destroy outside it (it may re-enter
 * weft); reads under @lock. */
void weft__user_data_set(GMutex *lock, void **slot, void (**destroy_slot)(void *), void *ud,
                         void (*destroy)(void *));
void *weft__user_data_get(GMutex *lock, void *const *slot);

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

/* Sets the negotiation-needed flag and fires the event when stable (a
 * pending flag fires again when negotiation returns to stable). */
void weft__pc_need_negotiation(weft_pc *pc);

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
/* Engine: hands the application's queued sends to SCTP, at most @max_bytes of them
 * (at least one message; SIZE_MAX: all — before a channel close, or to
 * discard them once closed). What is left goes on in a later engine turn. */
void weft__pc_engine_drain_sendq(weft_pc *pc, size_t max_bytes);
/* Engine: creates ICE and fetches the certificate (weft_pc_new). */
int weft__pc_engine_init(weft_pc *pc);

/* ---- Media engine (pc/media.c) ---- */
weft_track *weft__track_new(weft_media_kind kind, const weft_track_init *init);
void weft__track_detach(weft_track *t); /* pc gone: inert */
int weft__pc_engine_add_track(weft_pc *pc, weft_track *t);
int weft__track_engine_stop(weft_pc *pc, weft_track *t);
int weft__track_engine_set_direction(weft_pc *pc, weft_track *t, weft_direction d);
/* Offer/answer: fills @out (g_new'd, caller frees with the models) with the
 * m-sections of an offer / answer; *models gets the weft__media_desc* to free. */
int weft__pc_media_offer_sections(weft_pc *pc, weft__jsep_msection **out, size_t *n,
                                  GPtrArray **models);
int weft__pc_media_answer_sections(weft_pc *pc, const weft__jsep_desc *offer,
                                   weft__jsep_msection **out, size_t *n, GPtrArray **models);
/* A remote offer arrived: associate or create tracks for its sections. */
/* RFC 9429 §5.8, §5.10: a new remote offer keeps each m-section of the
 * session in its place with its mid, except one rejected in the current
 * negotiation, which it may recycle with a new mid. WEFT_ERR_INVALID_ACCESS
 * otherwise, before anything is applied. */
int weft__pc_media_check_remote_offer(weft_pc *pc, const weft__jsep_desc *offer);
int weft__pc_media_remote_offer(weft_pc *pc, const weft__jsep_desc *offer);
/* Rollback of a remote offer: removes the tracks it created, clears the mids
 * it gave to local tracks (engine). */
void weft__pc_media_remote_rollback(weft_pc *pc);
/* Offer/answer completed: apply codecs, SSRCs, directions. */
void weft__pc_media_negotiated(weft_pc *pc, const char *local_sdp, const weft__jsep_desc *remote);
void weft__pc_media_dtls_keys(weft_pc *pc, const weft__srtp_keys *keys);
void weft__pc_media_input(weft_pc *pc, const uint8_t *data, size_t len);
void weft__pc_media_teardown(weft_pc *pc); /* close: stop timers, free SRTP */
void weft__pc_media_free(weft_pc *pc);     /* memory */
/* App-thread sends, queued for the engine. */
typedef enum weft__media_op {
  WEFT__MEDIA_FRAME = 0,
  WEFT__MEDIA_RTP,
  WEFT__MEDIA_RTCP,
  WEFT__MEDIA_KEYFRAME_REQUEST
} weft__media_op;
typedef struct weft__media_item {
  weft_track *t; /* reference held */
  weft__media_op op;
  uint32_t flags;
  weft_frame_info info;
  size_t len;
  uint8_t data[]; /* copied */
} weft__media_item;
int weft__pc_media_submit(weft_pc *pc, weft__media_item *it);
void weft__pc_engine_drain_mediaq(weft_pc *pc);
/* Events. */
void weft__pc_emit_track(weft_pc *pc, weft_track *t);
/* @t was withdrawn: frees its on_track event if it waits for a handler
 * (a remote recycling m-lines must not fill the held queue). Any thread. */
void weft__pc_forget_held_track(weft_pc *pc, weft_track *t);
void weft__track_emit_packet(weft_track *t, weft_pc *pc, bool rtcp, const uint8_t *data,
                             size_t len);
void weft__track_emit_frame(weft_track *t, weft_pc *pc, const uint8_t *data, size_t len,
                            const weft_frame_info *info);
void weft__track_emit_keyframe_request(weft_track *t, weft_pc *pc);
void weft__pc_test_set_rtp_drop(weft_pc *pc, uint32_t permille, uint32_t seed);

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
/* Copies @data (NUL-terminated at data[len] in the copy, for text). The
 * event carries @rx_cost of pc->rx_budget and releases it when it is freed
 * (delivered, dropped, or purged). */
void weft__dc_emit_message(weft_dc *dc, weft_pc *pc, weft_msg_type type, const uint8_t *data,
                           size_t len, size_t rx_cost);
/* Replays for handlers set late (any thread). */
void weft__pc_replay(weft_pc *pc, unsigned which);
void weft__pc_flush_held(weft_pc *pc);
/* Engine: the events emitted so far are the last ones of @pc; later emits are
 * dropped, and these still run after `closed` is set (remote end). */
void weft__pc_seal_events(weft_pc *pc);
void weft__dc_replay(weft_dc *dc);
/* Frees the media events still waiting in @t's queue (any thread). */
void weft__track_drop_events(weft_track *t);
void weft__dc_flush_held(weft_dc *dc);

#endif

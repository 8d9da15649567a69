/*
 * A hostile peer for weft (issue 12 §4), built from weft's own internal
 * layers: its own libnice agent (weft__ice), its own certificate, a
 * hand-built SDP offer (lib/jsep) that a real weft_pc answers through the
 * public API. ICE therefore validates the hostile peer's address, and what it
 * sends afterwards reaches weft's DTLS, SCTP and SRTP code (a spray from an
 * unvalidated address is dropped by libnice before weft sees it).
 *
 * The peer runs on its own thread and GMainContext (hostile_call() runs a
 * function there and waits). It can
 *   (a) run weft__dtls (client or server, per the negotiated setup) and
 *       weft__sctp over it: raw DCEP, garbage, stream resets, a closed
 *       receive window;
 *   (b) send raw datagrams on the ICE-selected pair (hand-made ClientHellos);
 *   (c) protect SRTP/SRTCP with the DTLS-exported keys (a video section).
 *
 * Around it: the victim (a weft_pc with counting handlers), a second pc pair
 * on the same weft_context echoing 100-byte messages every 10 ms (round-trip
 * percentiles over an attack window), and an RSS sampler. See README.md.
 */
#ifndef WEFT_HOSTILE_PEER_H
#define WEFT_HOSTILE_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <weft/weft.h>

#include "core/core.h"
#include "datachannel/dcep.h"
#include "demux/demux.h"
#include "dtls/dtls.h"
#include "ice/ice.h"
#include "jsep/jsep.h"
#include "loop/loop.h"
#include "pc/pc.h"
#include "rtp/rtp.h"
#include "sctp/sctp.h"
#include "srtp/srtp.h"

/* ---- Build flavour (hostile.cmake) --------------------------------------- */
#if defined(HOSTILE_FULL) && HOSTILE_FULL
#define HOSTILE_SCALE 4 /* release: the full-size attacks */
#else
#define HOSTILE_SCALE 1 /* sanitizers / Debug: a quarter */

#endif
/* What a sanitizer adds to the process's RSS for memory the program touches
 * (TSan keeps 4 shadow bytes per byte; ASan's quarantine is capped in
 * hostile_peer.c). Bounds below are (documented bound) * factor + slack. */
#if defined(HOSTILE_TSAN) && HOSTILE_TSAN
#define HOSTILE_RSS_FACTOR 5
#else
#define HOSTILE_RSS_FACTOR 1

#endif
/* RSS no bound of weft's explains: allocator caches and page granularity,
 * and under ASan its quarantine (capped at 4 MiB in hostile_peer.c) and
 * per-thread caches. In KiB. */
#if defined(HOSTILE_SANITIZED) && HOSTILE_SANITIZED
#define HOSTILE_RSS_SLACK_KB (12 * 1024)
#else
#define HOSTILE_RSS_SLACK_KB (6 * 1024)

#endif
/* Applies HOSTILE_NONFATAL=1 from the environment (every assertion of a run
 * reported, not only the first). */
void hv_test_init(int *argc, char ***argv);

/* ---- Small utilities -------------------------------------------------------- */
int64_t hv_now_us(void);
/* VmRSS of this process, in KiB. */
long hv_rss_kb(void);
/* A thread sampling VmRSS every 5 ms between begin and end; end returns the
 * peak growth over the RSS at begin, in KiB. */
typedef struct hv_rss hv_rss;
hv_rss *hv_rss_begin(void);
long hv_rss_end(hv_rss *r);
/* Polls @pred(@arg) every 2 ms until true or @timeout_ms passes. */
bool hv_wait(bool (*pred)(void *arg), void *arg, int timeout_ms);
bool hv_wait_int_ge(atomic_int *v, int min, int timeout_ms);
bool hv_wait_llong_ge(atomic_llong *v, long long min, int timeout_ms);
/* Runs @fn(@data) on @ctx's engine thread and returns when it ran. */
void hv_on_engine(weft_context *ctx, void (*fn)(void *data), void *data);
/* CRC32c as SCTP wants it (RFC 9260 Appendix A), stored by the caller
 * little-endian at offset 8 (the packet's checksum field zeroed first). */
uint32_t hv_crc32c(const uint8_t *data, size_t len);

/* ---- The hostile peer -------------------------------------------------------- */
typedef struct hostile_opts {
  bool data;                 /* offer a data section (default) */
  bool video;                /* offer a VP8 video section (mid "v") before it */
  bool weft_is_server;       /* offer setup:active: weft answers passive (DTLS server) */
  bool run_dtls;             /* run weft__dtls; else only raw datagrams */
  bool run_sctp;             /* run weft__sctp over DTLS (needs data) */
  uint64_t max_message_size; /* a=max-message-size the hostile advertises (0 = any size) */
} hostile_opts;
#define HOSTILE_OPTS_INIT                                                                          \
  { true, false, false, true, true, 262144 }

typedef struct hostile hostile;
typedef void (*hostile_msg_fn)(hostile *h, uint16_t stream, uint32_t ppid, const uint8_t *data,
                               size_t len);
typedef void (*hostile_reset_fn)(hostile *h, uint16_t stream, bool incoming);
typedef void (*hostile_low_fn)(hostile *h, uint16_t stream, size_t amount);
typedef void (*hostile_rtp_fn)(hostile *h, bool rtcp, const uint8_t *pkt, size_t len);

struct hostile {
  hostile_opts o;
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  /* Hostile-thread state. */
  weft__ice *ice;
  weft__dtls_cert *cert;
  weft__dtls *dtls;
  weft__sctp *sctp;
  weft__srtp *srtp;
  GPtrArray *cands; /* char* local candidates */
  char *remote_fp_alg, *remote_fp;
  weft__dtls_role role; /* ours */
  uint64_t remote_mms;  /* the victim's a=max-message-size */
  weft__rx_budget budget;
  uint8_t rtpbuf[65536 + 256];
  uint32_t ssrc;      /* what we announce in a=ssrc */
  uint32_t peer_ssrc; /* the victim's video SSRC (its a=ssrc), 0 if none */
  uint8_t mid_ext_id; /* sdes:mid extension id we offered */
  uint8_t video_pt;   /* the first codec (VP8) of our video section */
  uint32_t peer_vtag; /* SCTP verification tag the victim expects (snooped) */
  bool have_vtag;
  /* Our SCTP packets whose checksum field equals hv_crc32c (stored
   * little-endian), and those checked: proves the garbage generator's CRC. */
  atomic_int crc_checked, crc_match;
  /* Hooks, run on the hostile thread. */
  hostile_msg_fn on_msg;
  hostile_reset_fn on_reset;
  hostile_low_fn on_low;
  hostile_rtp_fn on_rtp;
  void *user;
  /* Read from any thread. */
  atomic_int gathered, ice_state, dtls_state /* 0, 1 up, -1 failed */, sctp_up, sctp_closed;
  atomic_int srtp_ready;
  atomic_llong rx_dgrams, rx_dtls_dgrams, rx_rtp, rx_rtcp, rx_srtp_fail, rx_msgs, rx_msg_bytes;
  atomic_llong resets_in, resets_out, oversize;
  GMutex lock;
  GPtrArray *raw_dtls; /* GBytes: the first 256 DTLS datagrams received (raw mode) */
  char dtls_fail_msg[256];
};

hostile *hostile_new(const hostile_opts *o);
void hostile_free(hostile *h);
/* Runs @fn(@h, @data) on the hostile thread and waits for it. */
void hostile_call(hostile *h, void (*fn)(hostile *h, void *data), void *data);
/* Waits for gathering, returns the offer (g_free) with our candidates. */
char *hostile_offer(hostile *h);
/* Applies the victim's answer: ICE credentials, candidates, fingerprint,
 * max-message-size, the video SSRC. Starts DTLS per the roles. */
void hostile_set_answer(hostile *h, const char *sdp);

/* Hostile thread only (from hostile_call or a hook). */
int hostile_raw_send(hostile *h, const uint8_t *data, size_t len);
int hostile_send_rtp(hostile *h, const weft__rtp_build *b);
int hostile_send_rtcp(hostile *h, const uint8_t *pkt, size_t len);
/* A packet straight into DTLS (as application data: what weft's SCTP reads). */
int hostile_dtls_send(hostile *h, const uint8_t *data, size_t len);
/* Stops reading from our SCTP association for good: its receive buffer
 * fills and the window we advertise goes to zero. */
void hostile_stop_reading(hostile *h);
/* The ClientHello a weft__dtls client sends, captured (not sent): one record
 * of one handshake message. g_free. */
uint8_t *hostile_make_client_hello(hostile *h, size_t *len);

/* Any thread: copies of the DTLS datagrams received in raw mode. */
GPtrArray *hostile_raw_dtls(hostile *h); /* GBytes*, unref the array */

/* ---- The victim --------------------------------------------------------------- */
typedef struct victim victim;
typedef void (*victim_msg_fn)(victim *v, weft_dc *dc, weft_msg_type type, const void *data,
                              size_t size);
struct victim {
  weft_context *ctx;
  weft_pc *pc;
  atomic_int conn_state, ice_state, gathered;
  atomic_int n_dcs, n_open, n_closing, n_close, n_dc_errors, n_dc_too_big, n_msgs, n_bad_text;
  atomic_int n_pc_errors, last_pc_error_code, last_pc_error_detail, n_pc_dtls_errors;
  atomic_int n_tracks, n_keyframe_requests;
  atomic_llong msg_bytes;
  GMutex lock;
  GPtrArray *tracks;             /* weft_track* (ref) */
  GPtrArray *dcs;                /* weft_dc* (ref) when keep_dcs */
  atomic_bool keep_dcs;          /* take a reference to every remote channel */
  atomic_bool echo;              /* echo every message back on its channel */
  _Atomic(victim_msg_fn) on_msg; /* extra hook (callback thread) */
  void *user;
};
/* @cfg may be NULL (loopback only). @with_on_error: set the pc's on_error
 * handler now (else errors are held, at most 64). */
victim *victim_new(weft_context *ctx, const weft_config *cfg, bool with_on_error);
void victim_set_on_error(victim *v);
void victim_free(victim *v);
/* Offer from @h, answer from @v, both ways; waits until ICE (and, when the
 * hostile runs DTLS, DTLS; with SCTP, SCTP) is up on both sides. */
void hv_connect(hostile *h, victim *v);

/* ---- The bystander: a second pc pair echoing on the same context ------------- */
typedef struct echo_pair echo_pair;
typedef struct echo_result {
  int sent, answered;
  double p50_ms, p99_ms, max_ms;
} echo_result;
/* Connects two pcs on @ctx with one channel; B echoes; a thread sends a
 * 100-byte message from A every 10 ms. */
echo_pair *echo_start(weft_context *ctx);
void echo_window_begin(echo_pair *e);
/* Waits up to 500 ms for the messages of the window still in flight;
 * unanswered ones count as infinitely late. */
echo_result echo_window_end(echo_pair *e, const char *what);
void echo_stop(echo_pair *e);

/* QUEUED mode: a thread that waits and dispatches (the application). */
typedef struct dispatcher dispatcher;
dispatcher *dispatcher_start(weft_context *ctx);
void dispatcher_stop(dispatcher *d);

/* The common frame of every case: the bound on the bystander's p99. The
 * issue's 50 ms is asserted as is in builds that run at real speed. An ASan
 * build copies and encrypts 3-10x slower, and under scripts/under-load (both
 * cores busy) the zero-window case's usrsctp work alone measured 63-89 ms
 * p99 there (10 ms in release): sanitized builds allow 3x, still far below
 * the stalls this guards against (libnice's read loop starving the engine:
 * 566 ms). TSan only measures (hostile_peer.c). */
#if defined(HOSTILE_SANITIZED) && HOSTILE_SANITIZED
#define HV_P99_LIMIT_MS 150.0
#else
#define HV_P99_LIMIT_MS 50.0
#endif
void hv_assert_echo(const echo_result *r);
/* Logs and asserts @grown_kb <= @bound_kb. */
void hv_assert_rss(const char *what, long grown_kb, long bound_kb);

/* ---- The frame of every case ------------------------------------------------ */
typedef struct hv_frame {
  weft_context *ctx;
  dispatcher *disp; /* QUEUED contexts */
  echo_pair *echo;
  hostile *h;
  victim *v;
  hv_rss *rss;
  int64_t t_begin;
} hv_frame;
/* A context (@ctx_opts NULL: THREAD mode; QUEUED gets a dispatcher thread),
 * the bystander pair on it, a hostile peer (@ho, NULL = defaults) and a
 * victim pc (@cfg may be NULL), connected. */
void hv_frame_up_ctx(hv_frame *f, const weft_context_options *ctx_opts, const hostile_opts *ho,
                     const weft_config *cfg, bool with_on_error);
void hv_frame_up(hv_frame *f, const hostile_opts *ho, const weft_config *cfg, bool with_on_error);
/* The attack window: RSS sampling and the bystander's round trips. */
void hv_attack_begin(hv_frame *f);
/* Asserts RSS growth <= @rss_bound_kb and the bystander's p99. */
void hv_attack_end(hv_frame *f, const char *what, long rss_bound_kb);
/* Frees everything; asserts no weft object is left. */
void hv_frame_down(hv_frame *f);

#endif

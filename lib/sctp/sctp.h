/*
 * sctp/ — SCTP associations over DTLS (RFC 8261) with usrsctp 0.9.5 in AF_CONN
 * mode, for WebRTC data channels (RFC 8831, RFC 8841).
 *
 * usrsctp is process-global. This module initializes it on the first
 * association (usrsctp_init_nothreads: no usrsctp threads) and finishes it
 * after the last one. Every usrsctp call is made under one process-wide lock;
 * usrsctp timers are driven by a 10 ms tick source on every GMainContext that
 * has live associations.
 *
 * Threading: an association belongs to the thread iterating the GMainContext
 * given to weft__sctp_new(); call its functions only there. Every callback in
 * weft__sctp_callbacks runs on that thread, never inside a usrsctp call, and
 * never after weft__sctp_free() returns. Callbacks may call weft__sctp_send*,
 * weft__sctp_reset_stream and the getters, but not weft__sctp_free.
 * Packets go out through out.send on the owner thread; during
 * weft__sctp_free() out.send is called once more for the ABORT, so free the
 * association before the DTLS transport under it.
 *
 * Only this module includes usrsctp.h.
 */
#ifndef WEFT_SCTP_H
#define WEFT_SCTP_H

#include <glib.h>

#include "core/core.h"

/* Streams negotiated in each direction (SCTP_INITMSG); stream ids are below. */
enum { WEFT__SCTP_MAX_STREAMS = 1024 };

typedef struct weft__sctp weft__sctp;

typedef struct weft__sctp_send_opts {
  bool unordered;
  int32_t max_retransmits;      /* -1 = unset (reliable unless lifetime set) */
  int32_t max_packet_life_time; /* ms, -1 = unset */
} weft__sctp_send_opts;

typedef struct weft__sctp_callbacks {
  void (*on_connected)(void *ud); /* association up (SCTP_COMM_UP) */
  /* A complete message (reassembled until MSG_EOR, any size up to the
   * configured max). @data is only valid during the call. Messages with the
   * empty PPIDs 56/57 arrive with len 0 (their padding byte stripped, RFC 8831
   * §6.6). */
  void (*on_message)(void *ud, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len);
  /* incoming=true: the remote reset its outgoing stream (remote closed);
   * incoming=false: our outgoing reset of `stream` completed (or was refused:
   * the stream is unusable either way, see the log). */
  void (*on_stream_reset)(void *ud, uint16_t stream, bool incoming);
  /* weft__sctp_buffered_amount(stream) decreased (called after data moved from
   * weft's queue into usrsctp); @amount is the new value. */
  void (*on_buffered_amount_low)(void *ud, uint16_t stream, size_t amount);
  /* Association lost/aborted/shut down, or setup failed. Called at most once. */
  /* @sctp_cause: the RFC 4960 §3.3.10 cause of the peer's ABORT; 0 when
   * usrsctp itself ended the association (a protocol violation by the peer,
   * retransmissions exhausted); -1 for a graceful shutdown or a peer's ABORT
   * without a cause (how aiortc closes). */
  void (*on_closed)(void *ud, int sctp_cause, const char *message);
  /* A message on @stream grew past the receive cap (@cap bytes, see
   * weft__sctp_set_max_receive_size): its bytes are discarded up to its end.
   * The stream has lost reliable data: close it. May be NULL. */
  void (*on_oversize)(void *ud, uint16_t stream, size_t cap);
  void *ud;
} weft__sctp_callbacks;

/* Creates the socket (AF_CONN, registered address = a small integer id from a
 * registry, NOT a pointer), bound to @local_port. Does not connect yet.
 * @max_message_size: largest message weft__sctp_send accepts (the remote's
 * a=max-message-size); 0 = no limit other than the send buffer, which is
 * max(1 MiB, max_message_size). @cb is copied. Returns NULL on error
 * (INVALID_ARG, OPERATION when usrsctp refuses the socket). */
weft__sctp *weft__sctp_new(GMainContext *ctx, weft__dgram_sink out, uint16_t local_port,
                           uint16_t remote_port, size_t max_message_size,
                           const weft__sctp_callbacks *cb);

/* Both sides call connect (simultaneous open, RFC 8841 §4). Call once DTLS is
 * connected. Packets given to weft__sctp_input before this call are held (up
 * to 32) and fed to usrsctp right after our INIT was sent. Errors:
 * INVALID_STATE when called twice or after close, OPERATION from usrsctp. */
int weft__sctp_connect(weft__sctp *s);

/* One SCTP packet from DTLS. Garbage is dropped (usrsctp validates), never a crash. */
void weft__sctp_input(weft__sctp *s, const uint8_t *data, size_t len);

/* Queues one message on `stream` with `ppid`. Copies data (only when it cannot
 * go to usrsctp at once). Never drops a reliable message: if usrsctp returns
 * EWOULDBLOCK/EAGAIN the message stays in weft's per-association FIFO (counted
 * in buffered_amount) and goes out when usrsctp has room (send-space upcall).
 * len may be 0 only for the empty PPIDs (56/57): 1 byte 0x00 is sent as the
 * payload then (RFC 8831 §6.6). @opts NULL = reliable ordered.
 * Errors: INVALID_STATE before connected / after close, TOO_BIG (>
 * max_message_size given at creation, or > the send buffer when that was 0),
 * RANGE (stream >= 1024), INVALID_ARG (NULL data with len > 0, len 0 with
 * another PPID). */
int weft__sctp_send(weft__sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                    const weft__sctp_send_opts *opts);
/* Zero-copy variant: takes ownership of data (g_malloc'd), frees with g_free;
 * same errors (frees on error too). */
int weft__sctp_send_owned(weft__sctp *s, uint16_t stream, uint32_t ppid, uint8_t *data, size_t len,
                          const weft__sctp_send_opts *opts);

/* Bytes of this stream still held on the send side (0 for an out-of-range
 * stream): in weft's FIFO, and inside usrsctp — queued or sent and not yet
 * acknowledged (or abandoned, PR-SCTP). usrsctp only reports the
 * association's total; it is attributed to streams in the order messages were
 * handed to it. That split is exact for streams sending one after another,
 * approximate while several have data inside usrsctp (its scheduler takes
 * them in turn, a message each); the total is exact, up to usrsctp's 16 bytes
 * per chunk not yet freed. on_buffered_amount_low reports every decrease. A remote that
 * stops acknowledging thus shows as a growing amount, bounded by the send
 * buffer, and the caller's send limit refuses more. */
size_t weft__sctp_buffered_amount(const weft__sctp *s, uint16_t stream);
/* Bytes inside usrsctp for all streams (the in-flight part of the above). */
size_t weft__sctp_inflight_total(const weft__sctp *s);

/* Receive back-pressure. Before each read from usrsctp the association asks
 * weft__rx_budget_admit(@b, bytes of the message being reassembled) and stops
 * reading when refused: the data stays in usrsctp's receive buffer, whose
 * free space is the window SCTP advertises, so the remote's sender stops
 * (its bufferedAmount grows). Each completed message adds
 * weft__rx_cost(len) to @b before on_message runs; the callee releases
 * exactly that when the message is consumed or dropped (on_message not set:
 * released here). @b must outlive the association; its wake must arrange a
 * call to weft__sctp_resume_receive() on the owner thread. NULL = none. */
void weft__sctp_set_receive_budget(weft__sctp *s, weft__rx_budget *b);
/* Owner thread: read again (after the budget refused). No-op when closed. */
void weft__sctp_resume_receive(weft__sctp *s);

/* RFC 8831 §6.7: reset our outgoing stream (after the data queued before it
 * has been handed to usrsctp). Completion is reported by on_stream_reset(stream,
 * false). Errors: RANGE, INVALID_STATE (not connected / closed). */
int weft__sctp_reset_stream(weft__sctp *s, uint16_t stream);

bool weft__sctp_is_connected(const weft__sctp *s);

/* Largest incoming message kept (bytes); a bigger one is discarded (with a
 * warning and on_oversize) so a peer cannot make us buffer without bound.
 * Default 16 MiB; 0 = 256 MiB, the most weft ever reassembles. Set it to the
 * a=max-message-size weft advertises. */
void weft__sctp_set_max_receive_size(weft__sctp *s, size_t max);

/* Aborts the association (SO_LINGER 0), closes, deregisters; no callback after
 * it returns. NULL ok. */
void weft__sctp_free(weft__sctp *s);

/* Debug counters (any thread): live associations in the process, whether
 * usrsctp is initialized, and how many times usrsctp_finish() succeeded. */
int weft__sctp_debug_live_count(void);
bool weft__sctp_debug_usrsctp_running(void);
unsigned weft__sctp_debug_finish_count(void);

/* Tests and fuzzing: handles @buf as one SCTP notification (usrsctp's
 * struct sctp_notification layout, host byte order) as if read from the
 * socket, and delivers the callbacks it causes. Owner thread only. */
void weft__sctp_test_notification(weft__sctp *s, const uint8_t *buf, size_t len);

#endif

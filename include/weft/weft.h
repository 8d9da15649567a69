/*
 * weft — an embeddable WebRTC stack in C.
 *
 * This header is the reference for the public API. Everything that is not
 * declared here (or in weft-glib.h / weft-version.h) is internal.
 *
 * Conventions (see doc/ownership.md, doc/threading.md, doc/errors.md):
 *
 * Return values
 *   Functions that can fail return int: WEFT_OK (0) or a negative weft_err.
 *   Constructors return a pointer or NULL. On every failure the calling
 *   thread's last error is set: weft_last_error() / weft_last_error_message()
 *   give the code and a human-readable detail ("SDP line 14: ...").
 *   If a function that takes a callback fails, that callback is never called
 *   for that request.
 *
 * Ownership
 *   *_new / weft_pc_create_data_channel return a new reference, released with
 *   *_unref (weft_config_free for the non-refcounted config). Objects handed to
 *   callbacks are borrowed for the duration of the callback (take a *_ref to
 *   keep one). *_unref(NULL) and *_free(NULL) are no-ops. Strings returned
 *   through char ** are newly allocated: free them with weft_free(). Input
 *   pointers are only read during the call. Data passed to a callback is valid
 *   only until the callback returns. Destruction order is free: releasing a
 *   weft_pc while a weft_dc reference is still held leaves a closed, inert dc
 *   whose calls return WEFT_ERR_CLOSED.
 *
 * Threads
 *   1. Every function may be called from any thread, including from inside
 *      callbacks, unless its comment says otherwise.
 *   2. Callbacks for the objects of one weft_context are called one at a time,
 *      in the order the events happened, on that context's callback thread:
 *      the context thread (WEFT_CONTEXT_THREAD), the thread calling
 *      weft_context_dispatch() (WEFT_CONTEXT_QUEUED), or the thread iterating
 *      the GMainContext (weft_context_new_for_main_context()).
 *      Callbacks are never called from inside a weft_* call you made, except
 *      weft_context_dispatch(), whose job it is.
 *   3. After weft_pc_close() / weft_dc_close() returns, no further callback is
 *      called for that object (or, for a pc, its data channels), except the one
 *      you may be calling it from.
 *   4. Events that happen before a handler is set are not lost: state and
 *      one-shot events are replayed when the handler is set, data-channel
 *      messages are held until on_message is set, within the pc's receive
 *      budget (weft_config_set_receive_buffer_limit).
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>
#include <weft/weft-version.h>

/* ===== Export macros ===================================================== */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(WEFT_STATIC)
#define WEFT_API
#elif defined(WEFT_BUILDING_LIBRARY)
#define WEFT_API __declspec(dllexport)
#else
#define WEFT_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===== Opaque objects ==================================================== */
typedef struct weft_context weft_context; /* event loop + callback thread */
typedef struct weft_config weft_config;   /* RTCConfiguration (+ extensions) */
typedef struct weft_pc weft_pc;           /* RTCPeerConnection */
typedef struct weft_dc weft_dc;           /* RTCDataChannel */
typedef struct weft_track weft_track;     /* RTCRtpTransceiver (+ its sender and receiver) */

/* ===== Errors ============================================================ */
/* X(name, code, W3C DOMException name, message): one list drives the enum,
 * weft_err_name(), weft_err_dom_name() and weft_strerror(). */
#define WEFT_ERRNO_MAP(X)                                                                          \
  X(INVALID_ARG, -1, "TypeError", "invalid argument")                                              \
  X(INVALID_STATE, -2, "InvalidStateError", "invalid state")                                       \
  X(INVALID_ACCESS, -3, "InvalidAccessError", "invalid access")                                    \
  X(INVALID_MODIFICATION, -4, "InvalidModificationError", "modification not allowed")              \
  X(SYNTAX, -5, "SyntaxError", "malformed input")                                                  \
  X(OPERATION, -6, "OperationError", "operation failed")                                           \
  X(NOT_SUPPORTED, -7, "NotSupportedError", "not supported")                                       \
  X(RANGE, -8, "RangeError", "value out of range")                                                 \
  X(TOO_BIG, -9, "TypeError", "message too big")                                                   \
  X(AGAIN, -10, "OperationError", "send buffer full")                                              \
  X(CLOSED, -11, "InvalidStateError", "object closed")                                             \
  X(NO_MEMORY, -12, "UnknownError", "out of memory")                                               \
  X(TIMEOUT, -13, "OperationError", "timed out")                                                   \
  X(WRONG_THREAD, -14, "InvalidStateError", "not allowed on this thread")                          \
  X(INTERNAL, -15, "UnknownError", "internal error")

typedef enum weft_err {
  WEFT_OK = 0,
#define WEFT_ERR_ENUM_(name, code, dom, msg) WEFT_ERR_##name = code,
  WEFT_ERRNO_MAP(WEFT_ERR_ENUM_)
#undef WEFT_ERR_ENUM_
      WEFT_ERR_LAST_ = -16
} weft_err;

/** Static English text for @err ("invalid state"); never NULL, "unknown error"
 *  for codes outside the table. Any thread. */
WEFT_API const char *weft_strerror(int err);
/** Enum spelling of @err ("WEFT_ERR_INVALID_STATE"); never NULL. Any thread. */
WEFT_API const char *weft_err_name(int err);
/** W3C DOMException name for @err ("InvalidStateError"); never NULL. */
WEFT_API const char *weft_err_dom_name(int err);
/** Code of the calling thread's last failed weft_* call (WEFT_OK if the last
 *  call succeeded or none failed yet). Thread-local. */
WEFT_API int weft_last_error(void);
/** Detail message of the calling thread's last failure; never NULL ("" if
 *  none). Valid until the next weft_* call on this thread. Thread-local. */
WEFT_API const char *weft_last_error_message(void);

/** W3C RTCErrorDetailType (+ ICE) for failures delivered asynchronously. */
typedef enum weft_error_detail {
  WEFT_DETAIL_NONE = 0,
  WEFT_DETAIL_DATA_CHANNEL_FAILURE,
  WEFT_DETAIL_DTLS_FAILURE,
  WEFT_DETAIL_FINGERPRINT_FAILURE,
  WEFT_DETAIL_SCTP_FAILURE,
  WEFT_DETAIL_SDP_SYNTAX_ERROR,
  WEFT_DETAIL_ICE_FAILURE
} weft_error_detail;

/** Passed to on_error callbacks; library-owned, valid during the callback. */
typedef struct weft_error_info {
  int code;                 /* weft_err */
  weft_error_detail detail; /* what failed */
  const char *message;      /* human-readable, never NULL */
  int sctp_cause;           /* RFC 4960 cause code, or -1 */
  int dtls_alert;           /* TLS alert received/sent, or -1 */
} weft_error_info;

/** W3C string of @d ("dtls-failure", "" for NONE). Static. */
WEFT_API const char *weft_error_detail_to_string(weft_error_detail d);

/* ===== Memory, version, logging ========================================== */
/** Frees any string or array the library returned through an out-parameter.
 *  NULL is a no-op. Any thread. */
WEFT_API void weft_free(void *ptr);
/** WEFT_VERSION_NUMBER the library was built as (compare with the header's). */
WEFT_API unsigned weft_version(void);
/** "0.1.0". Static. */
WEFT_API const char *weft_version_string(void);
/** Versions of the dependencies compiled in: "libnice 0.1.21; mbedTLS 2.28.3;
 *  libsrtp2 2.5.0; usrsctp 0.9.5.0; GLib 2.74.6". Static. */
WEFT_API const char *weft_build_info(void);

typedef enum weft_log_level {
  WEFT_LOG_NONE = 0,
  WEFT_LOG_ERROR,
  WEFT_LOG_WARNING,
  WEFT_LOG_INFO,
  WEFT_LOG_DEBUG,
  WEFT_LOG_TRACE
} weft_log_level;

/** Log handler. @component is one of "pc", "ice", "nice" (libnice's own
 *  messages), "dtls", "mbedtls", "sctp", "usrsctp", "dc", "sdp", "jsep",
 *  "loop", "api", "rtp", "srtp", "media". Called from any library thread, never concurrently (the
 *  library serializes calls), never re-entrantly. It must not call weft_*
 *  functions other than weft_strerror() and the *_to_string() functions. */
typedef void (*weft_log_fn)(weft_log_level level, const char *component, const char *message,
                            void *user_data);
/** Installs @fn (NULL restores the default, which writes to stderr). */
WEFT_API void weft_set_log_handler(weft_log_fn fn, void *user_data);
/** Sets the level of every component (default WEFT_LOG_WARNING, or what the
 *  environment variable WEFT_DEBUG says at first use). */
WEFT_API void weft_set_log_level(weft_log_level level);
/** Sets levels per component: "ice:debug,dtls:trace,*:warning". Levels are
 *  none, error, warning, info, debug, trace (or 0..5). The same grammar is read
 *  from WEFT_DEBUG at first use. Returns WEFT_ERR_SYNTAX on a bad spec (nothing
 *  is changed then). */
WEFT_API int weft_set_log_spec(const char *spec);

/* ===== Context: where the engine runs and where callbacks are called ====== */
typedef enum weft_context_mode {
  WEFT_CONTEXT_THREAD = 0, /* private thread + private GMainContext; callbacks on it */
  WEFT_CONTEXT_QUEUED = 1  /* private thread runs the engine; callbacks are queued and
                              run by weft_context_dispatch() on the caller's thread  */
} weft_context_mode;

typedef struct weft_context_options {
  uint32_t struct_size;       /* sizeof(weft_context_options) */
  weft_context_mode mode;     /* default WEFT_CONTEXT_THREAD */
  const char *thread_name;    /* NULL = "weft" */
  uint32_t max_queued_events; /* undelivered events above which a warning is logged
                                 (events are never dropped), 0 = 65536 */
} weft_context_options;
#define WEFT_CONTEXT_OPTIONS_INIT                                                                  \
  { sizeof(weft_context_options), WEFT_CONTEXT_THREAD, NULL, 0 }

/** Creates a context: a private GMainContext and a thread that runs it.
 *  @opts may be NULL (defaults). Returns a new reference or NULL
 *  (WEFT_ERR_INVALID_ARG for a bad mode or struct_size). */
WEFT_API weft_context *weft_context_new(const weft_context_options *opts);
/** Adds a reference; returns @ctx. */
WEFT_API weft_context *weft_context_ref(weft_context *ctx);
/** Drops a reference. The last one stops the thread after every peer
 *  connection of the context has been released; it must not be dropped from
 *  one of the context's own callbacks (it is then released later, safely).
 *  NULL is a no-op. */
WEFT_API void weft_context_unref(weft_context *ctx);
/** 1 if the calling thread is the context's engine thread (or, in GLib mode,
 *  currently owns its GMainContext), else 0. */
WEFT_API int weft_context_is_current(const weft_context *ctx);
/** QUEUED mode: a file descriptor that is readable while events are pending.
 *  Owned by the context; do not close or read it. WEFT_ERR_INVALID_STATE in
 *  other modes. */
WEFT_API int weft_context_get_fd(weft_context *ctx);
/** QUEUED mode: runs up to @max pending callbacks (all if @max <= 0) on the
 *  calling thread and returns how many ran. WEFT_ERR_WRONG_THREAD if called
 *  from inside a callback of this context, WEFT_ERR_INVALID_STATE in other
 *  modes. */
WEFT_API int weft_context_dispatch(weft_context *ctx, int max);
/** QUEUED mode: waits up to @timeout_ms (negative = forever) until an event is
 *  pending. Returns 1 if one is, 0 on timeout, or an error as dispatch. */
WEFT_API int weft_context_wait(weft_context *ctx, int timeout_ms);

/* ===== Configuration (RTCConfiguration + extensions) ====================== */
typedef enum weft_ice_transport_policy {
  WEFT_ICE_POLICY_ALL = 0,
  WEFT_ICE_POLICY_RELAY
} weft_ice_transport_policy;

/** A new configuration with W3C defaults (no ICE server). Free with
 *  weft_config_free(). A configuration is not thread-safe; weft_pc_new()
 *  copies it. */
WEFT_API weft_config *weft_config_new(void);
WEFT_API weft_config *weft_config_copy(const weft_config *cfg);
WEFT_API void weft_config_free(weft_config *cfg);
/** Adds an ICE server by W3C URL: "stun:host[:port]", "turn:host[:port]
 *  [?transport=udp|tcp]". @username/@credential are required for turn: and
 *  ignored for stun:. Errors: WEFT_ERR_SYNTAX (malformed URL),
 *  WEFT_ERR_INVALID_ACCESS (turn: without credentials),
 *  WEFT_ERR_NOT_SUPPORTED ("turns:" — libnice cannot do TLS to a TURN server). */
WEFT_API int weft_config_add_ice_server(weft_config *cfg, const char *url, const char *username,
                                        const char *credential);
/** ALL (default) or RELAY (only relay candidates are gathered and used). */
WEFT_API int weft_config_set_ice_transport_policy(weft_config *cfg, weft_ice_transport_policy p);
/** Extension: local UDP port range for host candidates (0,0 = any).
 *  WEFT_ERR_RANGE if @min > @max. */
WEFT_API int weft_config_set_port_range(weft_config *cfg, uint16_t min, uint16_t max);
/** Extension: the a=max-message-size weft advertises (default 262144; 0 means
 *  "any size" per RFC 8841, which weft takes as up to 256 MiB). A remote that
 *  sends a bigger message gets its channel closed: on_error with
 *  WEFT_ERR_TOO_BIG, then closing/close (the bytes were discarded as they
 *  came, never buffered). */
WEFT_API int weft_config_set_max_message_size(weft_config *cfg, size_t bytes);
/** Extension: bufferedAmount limit per data channel above which sends fail with
 *  WEFT_ERR_AGAIN (default 16 MiB). It also bounds SCTP's send buffer, so the
 *  largest message weft sends is the smaller of this and the remote's
 *  max-message-size (WEFT_ERR_TOO_BIG above). bufferedAmount counts bytes
 *  until the remote acknowledged them, so a remote that stops acknowledging
 *  shows as a growing bufferedAmount and sends fail with WEFT_ERR_AGAIN. */
WEFT_API int weft_config_set_send_buffer_limit(weft_config *cfg, size_t bytes);
/** Extension: the receive budget of a peer connection (default 4 MiB, at
 *  least 65536): bytes of data-channel messages SCTP delivered that the
 *  application has not taken yet — queued for a callback, or held on a
 *  channel without on_message. Each message counts its size plus 128 bytes.
 *  When the budget is spent weft stops reading from SCTP: SCTP's receive
 *  window closes, the remote stops sending and its bufferedAmount grows;
 *  reading goes on once the application has taken half of it. No message is
 *  dropped or reordered. The budget is shared by every channel of the pc: a
 *  channel without on_message that holds messages can stall the others once
 *  it holds the whole budget. One message bigger than the budget still gets
 *  through (max-message-size bounds it). WEFT_ERR_RANGE below 65536. */
WEFT_API int weft_config_set_receive_buffer_limit(weft_config *cfg, size_t bytes);
/** Extension: gather on 127.0.0.1 only (instead of the machine's other
 *  interfaces). Off by default (like browsers); tests and single-machine demos
 *  turn it on. */
WEFT_API int weft_config_set_enable_loopback(weft_config *cfg, int enable);
/** Extension: ICE-TCP (RFC 6544), for networks that block UDP. Off by
 *  default. When on, weft gathers, besides the UDP candidates, a host
 *  "tcptype passive" candidate (a listening TCP socket) and a host "tcptype
 *  active" candidate (signalled with port 9, RFC 6544 §4.5) on every address
 *  it gathers on, and accepts the remote's "tcp" candidates with tcptype
 *  active or passive (tcptype so, and tcp without tcptype, are ignored; with
 *  the switch off every TCP candidate is ignored). No TCP candidate is
 *  server-reflexive or relayed; TURN over TCP to the server
 *  (?transport=tcp) is unrelated and works either way. The port range
 *  (weft_config_set_port_range) also applies to the listening port. Every
 *  datagram (DTLS, SRTP, SCTP inside DTLS) goes as one RFC 4571 frame; one
 *  the TCP socket cannot take at once (its send queue is not empty) is
 *  dropped whole, as UDP loses one.
 *  Why off: libnice listens on a TCP port on every gathered address, for
 *  anyone who can reach it; its RFC 4571 reassembly buffer is shared by all
 *  TCP connections of a peer connection, so a stray client writing a
 *  partial frame to that port corrupts the framing of the real connection
 *  and the session stops receiving, then fails (libnice 0.1.21, measured);
 *  and UDP wins whenever it works (TCP candidates have a lower priority),
 *  so ICE-TCP only helps where UDP is blocked. doc/nat.md has the details.
 *  Read when the peer connection is created; the TCP sockets, like the UDP
 *  ones, are served on the context's thread (no thread of their own).
 *  WEFT_ERR_INVALID_ARG for a NULL @cfg. Any thread. */
WEFT_API int weft_config_set_ice_tcp(weft_config *cfg, int enable);
/** Extension: use a fresh certificate for this peer connection instead of the
 *  one shared by every peer connection of its context (the default reuses one
 *  ECDSA P-256 certificate per context, generated once). */
WEFT_API int weft_config_set_certificate_reuse(weft_config *cfg, int reuse);
/** The key type of weft's own DTLS certificate. */
typedef enum weft_certificate_type {
  WEFT_CERTIFICATE_ECDSA_P256 = 0, /**< the default, as browsers use */
  WEFT_CERTIFICATE_RSA_2048 = 1,   /**< for peers that accept nothing else */
} weft_certificate_type;
/** Extension: the key type of weft's own certificate (default ECDSA P-256).
 *  Whatever the type, weft accepts peers with ECDSA or RSA certificates in
 *  both DTLS roles (doc/interop.md). An RSA-2048 key takes tens to hundreds
 *  of milliseconds to generate (more under sanitizers), on the context's
 *  thread, once per context when certificates are reused (the default: one
 *  per type), else per peer connection. WEFT_ERR_INVALID_ARG for an unknown
 *  @type. Any thread. */
WEFT_API int weft_config_set_certificate_type(weft_config *cfg, weft_certificate_type type);
/** TURN REST API credentials (time-limited; coturn's use-auth-secret /
 *  static-auth-secret, draft-uberti-behave-turn-rest-00 §2.2): the username
 *  is "<expiry>:<user>" (or just "<expiry>" when @user is NULL or ""), where
 *  expiry is the Unix time now + @ttl_seconds; the credential is
 *  base64(HMAC-SHA1(@secret, username)). Pass both to
 *  weft_config_add_ice_server() with a turn: URL. Normally a signaling server
 *  computes these and sends them to clients: the shared @secret must not
 *  reach an untrusted client. *@username_out and *@credential_out get new
 *  strings (weft_free) on success, NULL on failure. Errors:
 *  WEFT_ERR_INVALID_ARG (NULL secret or outputs, @user containing ':'),
 *  WEFT_ERR_RANGE (@ttl_seconds 0). Any thread. */
WEFT_API int weft_turn_rest_credentials(const char *secret, const char *user, uint32_t ttl_seconds,
                                        char **username_out, char **credential_out);

/* ===== Peer connection ==================================================== */
typedef enum weft_pc_state {
  WEFT_PC_NEW = 0,
  WEFT_PC_CONNECTING,
  WEFT_PC_CONNECTED,
  WEFT_PC_DISCONNECTED,
  WEFT_PC_FAILED,
  WEFT_PC_CLOSED
} weft_pc_state;
typedef enum weft_ice_connection_state {
  WEFT_ICE_NEW = 0,
  WEFT_ICE_CHECKING,
  WEFT_ICE_CONNECTED,
  WEFT_ICE_COMPLETED,
  WEFT_ICE_DISCONNECTED,
  WEFT_ICE_FAILED,
  WEFT_ICE_CLOSED
} weft_ice_connection_state;
typedef enum weft_ice_gathering_state {
  WEFT_GATHERING_NEW = 0,
  WEFT_GATHERING_GATHERING,
  WEFT_GATHERING_COMPLETE
} weft_ice_gathering_state;
typedef enum weft_signaling_state {
  WEFT_SIGNALING_STABLE = 0,
  WEFT_SIGNALING_HAVE_LOCAL_OFFER,
  WEFT_SIGNALING_HAVE_REMOTE_OFFER,
  WEFT_SIGNALING_HAVE_LOCAL_PRANSWER,
  WEFT_SIGNALING_HAVE_REMOTE_PRANSWER,
  WEFT_SIGNALING_CLOSED
} weft_signaling_state;
typedef enum weft_sdp_type {
  WEFT_SDP_UNSPEC = 0,
  WEFT_SDP_OFFER,
  WEFT_SDP_PRANSWER,
  WEFT_SDP_ANSWER,
  WEFT_SDP_ROLLBACK
} weft_sdp_type;
typedef enum weft_desc_which {
  WEFT_DESC_LOCAL = 0, /* pending if any, else current (W3C localDescription) */
  WEFT_DESC_REMOTE,
  WEFT_DESC_CURRENT_LOCAL,
  WEFT_DESC_CURRENT_REMOTE,
  WEFT_DESC_PENDING_LOCAL,
  WEFT_DESC_PENDING_REMOTE
} weft_desc_which;

/* W3C strings ("connected", "have-local-offer", "offer"); static, never NULL. */
WEFT_API const char *weft_pc_state_to_string(weft_pc_state s);
WEFT_API const char *weft_ice_connection_state_to_string(weft_ice_connection_state s);
WEFT_API const char *weft_ice_gathering_state_to_string(weft_ice_gathering_state s);
WEFT_API const char *weft_signaling_state_to_string(weft_signaling_state s);
WEFT_API const char *weft_sdp_type_to_string(weft_sdp_type t);
/** "offer" → WEFT_SDP_OFFER ...; WEFT_SDP_UNSPEC if unknown or NULL. */
WEFT_API weft_sdp_type weft_sdp_type_from_string(const char *s);

/** RTCIceCandidateInit. */
typedef struct weft_ice_candidate {
  const char *candidate;         /* "candidate:..." (an "a=" prefix is accepted) */
  const char *sdp_mid;           /* NULL if unknown */
  int sdp_mline_index;           /* -1 if unknown */
  const char *username_fragment; /* NULL if unknown */
} weft_ice_candidate;

typedef struct weft_offer_options { /* RTCOfferOptions */
  uint32_t struct_size;
  int ice_restart; /* RTCOfferOptions.iceRestart: new ICE credentials (see
                      weft_pc_restart_ice(), without negotiation-needed) */
} weft_offer_options;
#define WEFT_OFFER_OPTIONS_INIT                                                                    \
  { sizeof(weft_offer_options), 0 }

/* Callbacks. The pc (and dc) passed in are borrowed for the call. */
typedef void (*weft_pc_ice_candidate_fn)(weft_pc *pc, const weft_ice_candidate *c /* NULL = done */,
                                         void *user_data);
typedef void (*weft_pc_state_fn)(weft_pc *pc, weft_pc_state state, void *user_data);
typedef void (*weft_pc_ice_state_fn)(weft_pc *pc, weft_ice_connection_state state, void *user_data);
typedef void (*weft_pc_gathering_fn)(weft_pc *pc, weft_ice_gathering_state state, void *user_data);
typedef void (*weft_pc_signaling_fn)(weft_pc *pc, weft_signaling_state state, void *user_data);
typedef void (*weft_pc_negotiation_needed_fn)(weft_pc *pc, void *user_data);
typedef void (*weft_pc_data_channel_fn)(weft_pc *pc, weft_dc *dc, void *user_data);
typedef void (*weft_pc_error_fn)(weft_pc *pc, const weft_error_info *error, void *user_data);
/* A remote description added an audio/video m-section (W3C ontrack); the
 * track is borrowed for the call (weft_track_ref to keep it). */
typedef void (*weft_pc_track_fn)(weft_pc *pc, weft_track *track, void *user_data);

/** Creates a peer connection on @ctx (NULL: a process-wide default context of
 *  the THREAD kind, created on first use). @cfg is copied (NULL = defaults).
 *  Returns a new reference, or NULL (WEFT_ERR_INVALID_ARG, WEFT_ERR_OPERATION if
 *  ICE or the certificate could not be set up). */
WEFT_API weft_pc *weft_pc_new(weft_context *ctx, const weft_config *cfg);
WEFT_API weft_pc *weft_pc_ref(weft_pc *pc);
/** Drops a reference; the last one closes the pc (as weft_pc_close()) and frees
 *  it once the engine is done with it. NULL is a no-op. */
WEFT_API void weft_pc_unref(weft_pc *pc);
/** W3C close(): idempotent; stops ICE/DTLS/SCTP, closes every data channel,
 *  sets every state to closed *without* firing state-change callbacks. After it
 *  returns no callback fires for the pc or its data channels (except the one it
 *  is called from). Returns WEFT_OK.
 *  When the *remote* ends the session (DTLS close_notify, sent by weft, aiortc
 *  and others on close), weft closes the pc by itself: on_close of every data
 *  channel still open, ICE state closed, then connection state closed — the
 *  last callback of the pc (unlike the W3C API, which would wait for ICE
 *  consent to expire, ~30 s). Calling weft_pc_close() afterwards is harmless
 *  and drops any of those callbacks not yet run. */
WEFT_API int weft_pc_close(weft_pc *pc);
/** Sets the pointer passed to every callback of the pc (and, as their initial
 *  user data, of data channels it surfaces through on_data_channel). @destroy
 *  (may be NULL) is called with the previous pointer when it is replaced and
 *  with the last one when the pc is freed, on whichever thread drops the last
 *  reference. */
WEFT_API int weft_pc_set_user_data(weft_pc *pc, void *user_data, void (*destroy)(void *));
WEFT_API void *weft_pc_get_user_data(const weft_pc *pc);

/* Handlers. Each returns WEFT_OK, or WEFT_ERR_CLOSED once the pc is closed.
 * Setting NULL removes the handler. A state handler set once the state has
 * left its initial value (new / stable) is called with the current state;
 * negotiation-needed, candidates, remote data channels and errors that fired
 * while no handler was set are delivered when one is (replay rule). */
WEFT_API int weft_pc_set_on_ice_candidate(weft_pc *pc, weft_pc_ice_candidate_fn fn);
WEFT_API int weft_pc_set_on_connection_state_change(weft_pc *pc, weft_pc_state_fn fn);
WEFT_API int weft_pc_set_on_ice_connection_state_change(weft_pc *pc, weft_pc_ice_state_fn fn);
WEFT_API int weft_pc_set_on_ice_gathering_state_change(weft_pc *pc, weft_pc_gathering_fn fn);
WEFT_API int weft_pc_set_on_signaling_state_change(weft_pc *pc, weft_pc_signaling_fn fn);
WEFT_API int weft_pc_set_on_negotiation_needed(weft_pc *pc, weft_pc_negotiation_needed_fn fn);
WEFT_API int weft_pc_set_on_data_channel(weft_pc *pc, weft_pc_data_channel_fn fn);
WEFT_API int weft_pc_set_on_error(weft_pc *pc, weft_pc_error_fn fn);
/** Tracks that a remote offer brought (one per new audio/video m-section)
 *  and that fired while no handler was set are delivered when one is, except
 *  those the remote withdrew meanwhile (offer rolled back or replaced, m-line
 *  recycled: doc/negotiation.md). */
WEFT_API int weft_pc_set_on_track(weft_pc *pc, weft_pc_track_fn fn);

/* Negotiation (JSEP). Synchronous: each call returns once the step is applied
 * on the context thread; effects (candidates, states, channels) arrive later
 * through callbacks.
 * Errors: WEFT_ERR_SYNTAX (malformed SDP; the detail names the line),
 * WEFT_ERR_INVALID_STATE (wrong signaling state), WEFT_ERR_INVALID_ACCESS (the
 * description cannot be applied, e.g. no ICE credentials or fingerprint, or
 * an offer that removes an m-section or changes the mid of a live one),
 * WEFT_ERR_NOT_SUPPORTED (e.g. an unknown fingerprint hash), WEFT_ERR_CLOSED. */

/** Creates an offer. @opts may be NULL. *@sdp_out gets a new string (weft_free). */
WEFT_API int weft_pc_create_offer(weft_pc *pc, const weft_offer_options *opts, char **sdp_out);
/** Creates an answer to the remote offer (state have-remote-offer). */
WEFT_API int weft_pc_create_answer(weft_pc *pc, char **sdp_out);
/** Applies a local description. (WEFT_SDP_UNSPEC, NULL) is the implicit form:
 *  creates and applies an offer in stable, an answer in have-remote-offer.
 *  Starts ICE gathering. */
WEFT_API int weft_pc_set_local_description(weft_pc *pc, weft_sdp_type type, const char *sdp);
/** Applies a remote description (offer or answer); candidates inside it are
 *  added, a=end-of-candidates ends the remote candidates.
 *  WEFT_SDP_ROLLBACK (sdp may be NULL) returns a have-local-offer or
 *  have-remote-offer pc to stable. */
WEFT_API int weft_pc_set_remote_description(weft_pc *pc, weft_sdp_type type, const char *sdp);
/** Adds a remote candidate (trickle). @c NULL, or an empty candidate string,
 *  means end-of-candidates. Candidates whose address is an mDNS ".local" name
 *  are resolved with the system resolver and skipped if that fails (the
 *  connection may then still succeed through peer-reflexive candidates).
 *  Errors: WEFT_ERR_SYNTAX (malformed candidate), WEFT_ERR_INVALID_STATE (no
 *  remote description yet), WEFT_ERR_OPERATION (unknown mid / ufrag). */
WEFT_API int weft_pc_add_ice_candidate(weft_pc *pc, const weft_ice_candidate *c);
/** Copies a description into a new string (*@sdp_out, weft_free; NULL if there
 *  is none) and its type into *@type_out (may be NULL). The local description
 *  includes every candidate gathered so far, and a=end-of-candidates once
 *  gathering is complete: for non-trickle signaling, wait for
 *  WEFT_GATHERING_COMPLETE and read WEFT_DESC_LOCAL. */
WEFT_API int weft_pc_get_description(weft_pc *pc, weft_desc_which which, weft_sdp_type *type_out,
                                     char **sdp_out);

/* Introspection: lock-free reads, callable from any thread. */
WEFT_API weft_pc_state weft_pc_get_connection_state(const weft_pc *pc);
WEFT_API weft_ice_connection_state weft_pc_get_ice_connection_state(const weft_pc *pc);
WEFT_API weft_ice_gathering_state weft_pc_get_ice_gathering_state(const weft_pc *pc);
WEFT_API weft_signaling_state weft_pc_get_signaling_state(const weft_pc *pc);
/** Selected ICE pair as two candidate strings (weft_free each); an ICE-TCP
 *  pair (weft_config_set_ice_tcp) reads "tcp ... tcptype active|passive".
 *  WEFT_ERR_INVALID_STATE until ICE has selected a pair. */
WEFT_API int weft_pc_get_selected_candidate_pair(weft_pc *pc, char **local, char **remote);
/** W3C restartIce(): the next offer (weft_pc_create_offer(), or the implicit
 *  one of weft_pc_set_local_description()) carries new ICE credentials, and
 *  negotiation-needed fires (when stable). Applying that offer restarts ICE
 *  (RFC 8445 §9): candidates are gathered again — on the addresses the
 *  machine has at that point, so call it after a network change — and
 *  checked with the ones of the remote's answer. The current path keeps
 *  carrying data until a new pair is selected; data channels and tracks are
 *  untouched (messages sent meanwhile are retransmitted by SCTP). An offer
 *  from the remote with new credentials restarts ICE the same way on this
 *  side. An answer written before that offer keeps the current credentials
 *  (the restart waits for this side's next offer); before the first
 *  negotiation there is nothing to restart and the call does nothing. ICE
 *  state: stays connected while the old path works, disconnected if it is
 *  lost meanwhile, checking when restarting from failed. To recover from
 *  disconnected or failed (the remote's address changed, consent lost), call
 *  this and renegotiate (doc/nat.md). Any thread (runs on the engine).
 *  Errors: WEFT_ERR_CLOSED. */
WEFT_API int weft_pc_restart_ice(weft_pc *pc);
/** "sha-256 AB:CD:..." of the local certificate (weft_free). */
WEFT_API int weft_pc_get_local_fingerprint(weft_pc *pc, char **fingerprint_out);
/** Largest message this pc may send: the remote's a=max-message-size (65536
 *  if it gave none, per RFC 8841 §6), or 0 before a remote description.
 *  "Any size" (0 in SDP) reads as SIZE_MAX. */
WEFT_API int weft_pc_get_max_message_size(weft_pc *pc, size_t *bytes_out);

/* ===== Data channels ====================================================== */
typedef enum weft_dc_state {
  WEFT_DC_CONNECTING = 0,
  WEFT_DC_OPEN,
  WEFT_DC_CLOSING,
  WEFT_DC_CLOSED
} weft_dc_state;
typedef enum weft_priority {
  WEFT_PRIORITY_VERY_LOW = 0,
  WEFT_PRIORITY_LOW,
  WEFT_PRIORITY_MEDIUM,
  WEFT_PRIORITY_HIGH
} weft_priority;
typedef enum weft_msg_type { WEFT_MSG_BINARY = 0, WEFT_MSG_TEXT = 1 } weft_msg_type;

typedef struct weft_dc_init { /* RTCDataChannelInit */
  uint32_t struct_size;
  int ordered;                  /* default 1 */
  int32_t max_packet_life_time; /* ms, -1 = unset */
  int32_t max_retransmits;      /* -1 = unset */
  const char *protocol;         /* NULL = "" */
  int negotiated;               /* default 0 */
  int32_t id;                   /* -1 = auto; required (0..1023) if negotiated */
  weft_priority priority;
} weft_dc_init;
#define WEFT_DC_INIT                                                                               \
  { sizeof(weft_dc_init), 1, -1, -1, NULL, 0, -1, WEFT_PRIORITY_LOW }

typedef void (*weft_dc_event_fn)(weft_dc *dc, void *user_data); /* open, closing, close, low */
/* TEXT messages are valid UTF-8 (as received) with data[size] == '\0'. */
typedef void (*weft_dc_message_fn)(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                                   void *user_data);
typedef void (*weft_dc_error_fn)(weft_dc *dc, const weft_error_info *error, void *user_data);

/** Creates a data channel (W3C createDataChannel). It opens once the SCTP
 *  association is up (DCEP, RFC 8832) — or at once for negotiated channels.
 *  Returns a new reference, or NULL: WEFT_ERR_INVALID_ARG (label or protocol
 *  longer than 65535 bytes, both max_retransmits and max_packet_life_time set,
 *  negotiated without id), WEFT_ERR_RANGE (id > 1023), WEFT_ERR_OPERATION (id
 *  in use), WEFT_ERR_CLOSED. A first channel on a pc without one fires
 *  negotiation-needed. */
WEFT_API weft_dc *weft_pc_create_data_channel(weft_pc *pc, const char *label,
                                              const weft_dc_init *init);
WEFT_API weft_dc *weft_dc_ref(weft_dc *dc);
WEFT_API void weft_dc_unref(weft_dc *dc);
/** W3C close(): closing → (SCTP stream reset, RFC 8831 §6.7) → closed. The
 *  on_closing/on_close handlers of this channel are not called after it
 *  returns (the remote side gets its on_closing/on_close). Idempotent. */
WEFT_API int weft_dc_close(weft_dc *dc);
/** As weft_pc_set_user_data(). Initially the pc's user data for channels the
 *  remote opened, NULL for channels created locally. */
WEFT_API int weft_dc_set_user_data(weft_dc *dc, void *user_data, void (*destroy)(void *));
WEFT_API void *weft_dc_get_user_data(const weft_dc *dc);

WEFT_API int weft_dc_set_on_open(weft_dc *dc, weft_dc_event_fn fn);
WEFT_API int weft_dc_set_on_message(weft_dc *dc, weft_dc_message_fn fn);
WEFT_API int weft_dc_set_on_closing(weft_dc *dc, weft_dc_event_fn fn);
WEFT_API int weft_dc_set_on_close(weft_dc *dc, weft_dc_event_fn fn);
WEFT_API int weft_dc_set_on_error(weft_dc *dc, weft_dc_error_fn fn);
WEFT_API int weft_dc_set_on_buffered_amount_low(weft_dc *dc, weft_dc_event_fn fn);

/** Sends a binary message (PPID 53; 57 when empty). Copies @data.
 *  Errors: WEFT_ERR_INVALID_STATE (not open), WEFT_ERR_TOO_BIG (larger than
 *  weft_pc_get_max_message_size() or the send-buffer limit), WEFT_ERR_AGAIN (bufferedAmount would
 * exceed the send-buffer limit; wait for buffered-amount-low: after this error it fires once the
 * message fits, whatever the threshold), WEFT_ERR_CLOSED. */
WEFT_API int weft_dc_send(weft_dc *dc, const void *data, size_t size);
/** Sends a text message (PPID 51; 56 when empty). @utf8 must be valid UTF-8
 *  (WEFT_ERR_INVALID_ARG otherwise); @size in bytes, without a terminator.
 *  Other errors as weft_dc_send(). */
WEFT_API int weft_dc_send_text(weft_dc *dc, const char *utf8, size_t size);
/** Zero-copy send: takes ownership of @data and calls @free_fn(data) exactly
 *  once when done with it — also when it fails. @free_fn may be NULL. */
WEFT_API int weft_dc_send_owned(weft_dc *dc, weft_msg_type type, void *data, size_t size,
                                void (*free_fn)(void *data));

WEFT_API const char *weft_dc_get_label(const weft_dc *dc);    /* dc-owned, immutable */
WEFT_API const char *weft_dc_get_protocol(const weft_dc *dc); /* dc-owned, immutable */
WEFT_API int32_t weft_dc_get_id(const weft_dc *dc);           /* -1 until assigned */
WEFT_API int weft_dc_get_ordered(const weft_dc *dc);
WEFT_API int weft_dc_get_negotiated(const weft_dc *dc);
WEFT_API int32_t weft_dc_get_max_retransmits(const weft_dc *dc);      /* -1 = unset */
WEFT_API int32_t weft_dc_get_max_packet_life_time(const weft_dc *dc); /* -1 = unset */
WEFT_API weft_dc_state weft_dc_get_ready_state(const weft_dc *dc);
/** Bytes queued by send calls and not yet handed to SCTP's wire (W3C
 *  bufferedAmount). */
WEFT_API size_t weft_dc_get_buffered_amount(const weft_dc *dc);
WEFT_API size_t weft_dc_get_buffered_amount_low_threshold(const weft_dc *dc);
/** on_buffered_amount_low fires when bufferedAmount falls from above to at or
 *  below @bytes (default 0), and once after a send failed with WEFT_ERR_AGAIN
 *  as soon as that message would fit (so a threshold above the send-buffer
 *  limit cannot leave a sender waiting forever). */
WEFT_API int weft_dc_set_buffered_amount_low_threshold(weft_dc *dc, size_t bytes);
WEFT_API const char *weft_dc_state_to_string(weft_dc_state s);

/* ===== Media: tracks (= transceivers), RTP and frames ===================== */
/* A weft_track is one audio or video m-section: a sender and a receiver with
 * a mid, a direction and a negotiated codec (W3C RTCRtpTransceiver; there is
 * no MediaStreamTrack: weft neither captures nor encodes). All audio, video
 * and data sections share one ICE/DTLS transport (BUNDLE, rtcp-mux); media
 * is protected with SRTP keyed by DTLS-SRTP (RFC 5764). Encoders and decoders
 * stay in the application: weft sends and delivers *encoded* frames (it
 * packetizes and reassembles them) or whole RTP packets.
 *
 * RTCP is weft's job (doc/media.md): sender/receiver reports every second,
 * NACK (RFC 4585) for lost packets with retransmission from a history of the
 * last 1024 packets sent, PLI/FIR in both directions. */
typedef enum weft_media_kind { WEFT_KIND_AUDIO = 1, WEFT_KIND_VIDEO = 2 } weft_media_kind;
typedef enum weft_direction {
  WEFT_DIR_SENDRECV = 0,
  WEFT_DIR_SENDONLY,
  WEFT_DIR_RECVONLY,
  WEFT_DIR_INACTIVE,
  WEFT_DIR_STOPPED
} weft_direction;
typedef enum weft_codec {
  WEFT_CODEC_NONE = 0,
  WEFT_CODEC_OPUS = 1, /* opus/48000/2, RFC 7587 */
  WEFT_CODEC_PCMU,     /* PCMU/8000, payload type 0 */
  WEFT_CODEC_PCMA,     /* PCMA/8000, payload type 8 */
  WEFT_CODEC_VP8 = 64, /* VP8/90000, RFC 7741 */
  WEFT_CODEC_H264      /* H264/90000, RFC 6184 packetization-mode 1, 42e01f */
} weft_codec;

typedef struct weft_track_init { /* RTCRtpTransceiverInit + send parameters */
  uint32_t struct_size;          /* sizeof(weft_track_init) */
  weft_direction direction;      /* default SENDRECV (STOPPED is refused) */
  const weft_codec *codecs;      /* preference order; NULL = every codec of the kind */
  size_t n_codecs;
  const char *stream_id; /* a=msid stream; NULL = random */
  const char *track_id;  /* a=msid track; NULL = random */
  uint32_t ssrc;         /* 0 = random */
  int rtcp_feedback;     /* 1 (default): NACK/PLI/SR/RR handled by weft; 0: by the app */
} weft_track_init;
#define WEFT_TRACK_INIT                                                                            \
  { sizeof(weft_track_init), WEFT_DIR_SENDRECV, NULL, 0, NULL, NULL, 0, 1 }

typedef struct weft_codec_params {
  uint32_t struct_size; /* sizeof(weft_codec_params) */
  weft_codec codec;
  uint8_t payload_type; /* as negotiated (the offerer's numbering) */
  uint32_t clock_rate;
  uint8_t channels;
} weft_codec_params;
#define WEFT_CODEC_PARAMS_INIT                                                                     \
  { sizeof(weft_codec_params), WEFT_CODEC_NONE, 0, 0, 0 }

enum { WEFT_FRAME_KEY = 1u << 0 };
typedef struct weft_frame_info {
  uint32_t struct_size; /* sizeof(weft_frame_info) */
  uint32_t flags;       /* WEFT_FRAME_KEY: a keyframe (receive: from the payload) */
  int has_rtp_timestamp;
  uint32_t rtp_timestamp; /* codec clock units, if has_rtp_timestamp */
  int64_t pts_us;         /* send: presentation time used when !has_rtp_timestamp (weft adds a
                             random base, RFC 3550 §5.1); receive: time since the first frame */
  weft_codec codec;       /* receive: the frame's codec; send: ignored */
} weft_frame_info;
#define WEFT_FRAME_INFO_INIT                                                                       \
  { sizeof(weft_frame_info), 0, 0, 0, 0, WEFT_CODEC_NONE }

/* weft_track_send_rtp flags. */
enum { WEFT_RTP_KEEP_SEQ = 1u << 0, WEFT_RTP_KEEP_TIMESTAMP = 1u << 1 };

/** Counters of one track (monotonic). */
typedef struct weft_track_stats {
  uint32_t struct_size;              /* sizeof(weft_track_stats) */
  uint64_t packets_sent, bytes_sent; /* RTP, payload bytes, retransmissions excluded */
  uint64_t frames_sent;
  uint64_t packets_received, bytes_received; /* RTP that reached this track */
  uint64_t frames_received;                  /* delivered to on_frame */
  uint64_t frames_dropped;                   /* incomplete or malformed, never delivered */
  uint64_t packets_lost;                     /* never arrived, even after NACK */
  uint64_t nacks_sent, nacks_received;       /* sequence numbers asked for / asked of us */
  uint64_t retransmitted;                    /* packets resent for a NACK */
  uint64_t plis_sent, plis_received;         /* PLI + FIR */
  uint64_t srtp_failures;                    /* unprotect failures on this track's SSRC */
  int64_t rtt_us;                            /* from RTCP reports; -1 unknown */
  /* What the remote asked for and weft refused (doc/media.md, bounds): */
  uint64_t rtx_dropped;                 /* NACKed packets not resent (budget, duplicates) */
  uint64_t keyframe_requests_throttled; /* PLI/FIR beyond one per 200 ms, repeated FIRs */
  uint64_t events_dropped;              /* media events the application did not take in time: the
                                           oldest beyond 1024 / 8 MiB waiting on this track */
} weft_track_stats;
#define WEFT_TRACK_STATS_INIT                                                                      \
  { sizeof(weft_track_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

typedef void (*weft_track_packet_fn)(weft_track *t, const uint8_t *packet, size_t size,
                                     void *user_data); /* RTP or RTCP */
typedef void (*weft_track_frame_fn)(weft_track *t, const uint8_t *frame, size_t size,
                                    const weft_frame_info *info, void *user_data);
typedef void (*weft_track_event_fn)(weft_track *t, void *user_data); /* keyframe request */

/** W3C addTransceiver(kind, init): a new track, to be negotiated (fires
 *  negotiation-needed). @init may be NULL (defaults). Returns a new reference
 *  (the pc keeps its own until it is closed), or NULL: WEFT_ERR_INVALID_ARG
 *  (bad kind, struct_size or direction, a codec of the other kind or listed
 *  twice, n_codecs without codecs), WEFT_ERR_CLOSED. */
WEFT_API weft_track *weft_pc_add_track(weft_pc *pc, weft_media_kind kind,
                                       const weft_track_init *init);
WEFT_API weft_track *weft_track_ref(weft_track *t);
/** NULL is a no-op. A track outliving its pc is inert (WEFT_ERR_CLOSED). */
WEFT_API void weft_track_unref(weft_track *t);
/** W3C transceiver.stop(): stops sending and receiving at once; the
 *  m-section is rejected (port 0) in the next offer or answer (fires
 *  negotiation-needed). No callback of the track runs after it returns.
 *  Idempotent. */
WEFT_API int weft_track_stop(weft_track *t);
/** As weft_pc_set_user_data(). Initially the pc's for tracks the remote
 *  added, NULL for tracks created by weft_pc_add_track(). */
WEFT_API int weft_track_set_user_data(weft_track *t, void *user_data, void (*destroy)(void *));
WEFT_API void *weft_track_get_user_data(const weft_track *t);

WEFT_API weft_media_kind weft_track_get_kind(const weft_track *t);
/** The track's mid (weft_free), or *@mid_out NULL before it has one. */
WEFT_API int weft_track_get_mid(weft_track *t, char **mid_out);
/** W3C transceiver.direction: what the app wants (negotiated next time;
 *  fires negotiation-needed on a change). WEFT_ERR_INVALID_ARG for STOPPED
 *  (use weft_track_stop), WEFT_ERR_INVALID_STATE once stopped. */
WEFT_API int weft_track_set_direction(weft_track *t, weft_direction d);
WEFT_API weft_direction weft_track_get_direction(const weft_track *t);
/** W3C currentDirection: as negotiated; WEFT_DIR_INACTIVE before that,
 *  WEFT_DIR_STOPPED once stopped or rejected. */
WEFT_API weft_direction weft_track_get_current_direction(const weft_track *t);
/** The codec frames are sent with (the first of the negotiated list).
 *  WEFT_ERR_INVALID_STATE before negotiation. */
WEFT_API int weft_track_get_send_codec(weft_track *t, weft_codec_params *out);
/** Counters; any thread. WEFT_ERR_INVALID_ARG for NULL or a bad struct_size. */
WEFT_API int weft_track_get_stats(weft_track *t, weft_track_stats *out);

/** Sends one encoded frame: an Opus packet (RFC 7587), a VP8 frame (RFC
 *  7741) or an H264 access unit, Annex-B or 4-byte length-prefixed (RFC 6184
 *  mode 1: single NAL units, STAP-A, FU-A). weft packetizes it with the
 *  negotiated payload type, numbers, protects and sends it; the data is copied.
 *  @info may be NULL (timestamp from the clock). Any thread; the work runs on
 *  the context thread. Errors: WEFT_ERR_INVALID_STATE (the track does not send:
 *  not negotiated yet, direction without send, DTLS not connected),
 *  WEFT_ERR_SYNTAX (a malformed Opus packet or H264 framing), WEFT_ERR_TOO_BIG
 *  (> 16 MiB), WEFT_ERR_AGAIN (more than 4 MiB queued for the context thread),
 *  WEFT_ERR_CLOSED. */
WEFT_API int weft_track_send_frame(weft_track *t, const void *frame, size_t size,
                                   const weft_frame_info *info);
/** Sends a whole RTP packet (a relay, an external packetizer): weft rewrites
 *  the SSRC and payload type to the track's, replaces header extensions with
 *  its own, renumbers the sequence unless WEFT_RTP_KEEP_SEQ and rebases the
 *  timestamp (continuous across source changes) unless
 *  WEFT_RTP_KEEP_TIMESTAMP, then protects and sends it. Packets without
 *  payload (padding only) are dropped. Errors as send_frame; WEFT_ERR_SYNTAX
 *  for a packet that is not RTP. */
WEFT_API int weft_track_send_rtp(weft_track *t, const void *packet, size_t size, uint32_t flags);
/** Sends an application RTCP compound packet (protected by weft).
 *  WEFT_ERR_SYNTAX if it is not RTCP (RFC 3550 §A.2 checks). */
WEFT_API int weft_track_send_rtcp(weft_track *t, const void *packet, size_t size);
/** Asks the remote sender for a keyframe (PLI, RFC 4585 §6.3.1).
 *  WEFT_ERR_INVALID_STATE before anything was received on the track. */
WEFT_API int weft_track_request_keyframe(weft_track *t);

/* Receiving (decrypted; data valid during the call only). Callbacks run on the
 * context's callback thread; packets and frames that arrive while no handler
 * is set are not kept. Setting on_frame enables reassembly: frames come whole,
 * in order, H264 as Annex-B; a frame with a missing packet (after NACK) is
 * dropped, counted, and for video a keyframe is requested. */
WEFT_API int weft_track_set_on_rtp(weft_track *t, weft_track_packet_fn fn);
WEFT_API int weft_track_set_on_rtcp(weft_track *t, weft_track_packet_fn fn);
WEFT_API int weft_track_set_on_frame(weft_track *t, weft_track_frame_fn fn);
/** The remote asked for a keyframe (PLI or FIR received). */
WEFT_API int weft_track_set_on_keyframe_request(weft_track *t, weft_track_event_fn fn);

/** "opus", "PCMU", "PCMA", "VP8", "H264" (SDP encoding names); "" for NONE
 *  or unknown. Static. */
WEFT_API const char *weft_codec_to_string(weft_codec c);
WEFT_API const char *weft_direction_to_string(weft_direction d); /* "sendrecv" ... "stopped" */

/* ===== Diagnostics ======================================================== */
/** Number of live library objects (contexts, pcs, dcs, tracks) in the process; for
 *  leak tests. */
WEFT_API long weft_debug_live_objects(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */

/*
 * core/ — what every layer may use: errors, logging, time, randomness,
 * reference counts, and the two small structs layers exchange (the datagram
 * sink and the SRTP keying material).
 *
 * Internal: symbols are weft__*, hidden from the shared library.
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

#if defined(__GNUC__)
#define WEFT__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define WEFT__UNUSED __attribute__((unused))
#else
#define WEFT__PRINTF(f, a)
#define WEFT__UNUSED
#endif

#define WEFT__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Errors ------------------------------------------------------------- */
/* Records @code and a printf-style detail as the calling thread's last error
 * (weft_last_error / weft_last_error_message) and returns @code, so failures
 * read `return weft__error(WEFT_ERR_SYNTAX, "SDP line %d: ...", n);`. */
int weft__error(int code, const char *fmt, ...) WEFT__PRINTF(2, 3);
int weft__verror(int code, const char *fmt, va_list ap) WEFT__PRINTF(2, 0);
/* Marks the calling thread's last call as successful. */
void weft__error_clear(void);
/* Copies another thread's error into this thread (used when a call ran on the
 * context thread on behalf of a caller). */
void weft__error_set_raw(int code, const char *message);
const char *weft__error_message(void);

/* ---- Logging ------------------------------------------------------------ */
/* Components: "pc","ice","nice","dtls","mbedtls","sctp","usrsctp","dc","sdp",
 * "jsep","loop","api". */
bool weft__log_enabled(weft_log_level level, const char *component);
void weft__log(weft_log_level level, const char *component, const char *fmt, ...)
    WEFT__PRINTF(3, 4);
void weft__vlog(weft_log_level level, const char *component, const char *fmt, va_list ap)
    WEFT__PRINTF(3, 0);

#define WEFT__LOG(lvl, comp, ...)                                                                  \
  do {                                                                                             \
    if (weft__log_enabled((lvl), (comp)))                                                          \
      weft__log((lvl), (comp), __VA_ARGS__);                                                       \
  } while (0)
#define WLOG_E(comp, ...) WEFT__LOG(WEFT_LOG_ERROR, comp, __VA_ARGS__)
#define WLOG_W(comp, ...) WEFT__LOG(WEFT_LOG_WARNING, comp, __VA_ARGS__)
#define WLOG_I(comp, ...) WEFT__LOG(WEFT_LOG_INFO, comp, __VA_ARGS__)
#define WLOG_D(comp, ...) WEFT__LOG(WEFT_LOG_DEBUG, comp, __VA_ARGS__)
#define WLOG_T(comp, ...) WEFT__LOG(WEFT_LOG_TRACE, comp, __VA_ARGS__)

/* ---- Time and randomness ------------------------------------------------ */
/* Monotonic clock in microseconds. */
int64_t weft__now_us(void);
/* Fills @buf with cryptographically strong random bytes (getrandom(2)).
 * Aborts the process if the kernel cannot provide them. */
void weft__random(void *buf, size_t len);
uint32_t weft__random_u32(void);
/* @len random characters from the ICE alphabet [A-Za-z0-9+/] plus NUL (buf
 * must hold len+1). RFC 8839 §5.4 ice-char. */
void weft__random_ice_chars(char *buf, size_t len);

/* ---- Live-object counter (weft_debug_live_objects) ---------------------- */
void weft__live_inc(void);
void weft__live_dec(void);

/* ---- Reference counts --------------------------------------------------- */
typedef atomic_int weft__refcount;
static inline void weft__ref_init(weft__refcount *r) { atomic_init(r, 1); }
static inline void weft__ref_inc(weft__refcount *r) {
  atomic_fetch_add_explicit(r, 1, memory_order_relaxed);
}
/* Returns true when the count dropped to zero. */
static inline bool weft__ref_dec(weft__refcount *r) {
  return atomic_fetch_sub_explicit(r, 1, memory_order_acq_rel) == 1;
}

/* ---- Datagram sink: how a layer hands packets to the layer below --------- */
/* The upper layer is created with one of these and calls send() for every
 * datagram it wants on the wire; the lower layer feeds received datagrams in
 * with the upper layer's own *_input() function. send() returns 0 or a
 * negative weft_err; a dropped datagram is not an error the upper layer can
 * act on (UDP semantics), so most callers ignore it. */
typedef struct weft__dgram_sink {
  int (*send)(void *ctx, const uint8_t *data, size_t len);
  void *ctx;
} weft__dgram_sink;

/* ---- SRTP keying material (RFC 5764 §4.2), exported by dtls/ ------------- */
enum { WEFT__SRTP_KEY_LEN = 16, WEFT__SRTP_SALT_LEN = 14 };
typedef enum weft__srtp_profile {
  WEFT__SRTP_NONE = 0,
  WEFT__SRTP_AES128_CM_SHA1_80 = 1, /* RFC 5764 0x0001 */
  WEFT__SRTP_AES128_CM_SHA1_32 = 2  /* RFC 5764 0x0002 */
} weft__srtp_profile;
typedef struct weft__srtp_keys {
  weft__srtp_profile profile;
  bool is_client; /* the DTLS role of this side: the client sends with client_* */
  uint8_t client_key[WEFT__SRTP_KEY_LEN];
  uint8_t server_key[WEFT__SRTP_KEY_LEN];
  uint8_t client_salt[WEFT__SRTP_SALT_LEN];
  uint8_t server_salt[WEFT__SRTP_SALT_LEN];
} weft__srtp_keys;

/* ---- Receive budget (data-channel back-pressure) ------------------------ */
/* Bytes a transport delivered and weft holds for the application (queued
 * events, held messages), against a limit. The reader (the engine thread)
 * asks weft__rx_budget_admit() before it reads more and stops when refused;
 * the consumer (any thread) calls weft__rx_budget_release() as the
 * application takes messages. Once the reader stopped, the first release
 * that brings the count to half the limit or below calls @wake (on the
 * releasing thread) exactly once, so the reader can go on. Lock-free: a stop
 * and a release that cross each other end with the reader going on or with
 * one wake, never with neither. No clock, no I/O (unit-tested in test_core). */
typedef struct weft__rx_budget {
  atomic_size_t used;
  atomic_bool stopped;
  size_t limit;
  void (*wake)(void *ud);
  void *ud;
} weft__rx_budget;
void weft__rx_budget_init(weft__rx_budget *b, size_t limit, void (*wake)(void *ud), void *ud);
/* May the reader take more, with @pending bytes already read but not yet
 * added (a message being reassembled)? Yes while used + pending < limit, and
 * always when used is 0 (one message bigger than the limit still gets through:
 * the reader bounds message size on its own). No: the reader stops, and
 * @wake will be called. */
bool weft__rx_budget_admit(weft__rx_budget *b, size_t pending);
void weft__rx_budget_add(weft__rx_budget *b, size_t n);
void weft__rx_budget_release(weft__rx_budget *b, size_t n);
static inline size_t weft__rx_budget_used(weft__rx_budget *b) { return atomic_load(&b->used); }
/* What one received message of @len bytes counts against a budget: its bytes
 * plus the bookkeeping around it, so a flood of empty messages is bounded
 * too. */
enum { WEFT__RX_MSG_OVERHEAD = 128 };
static inline size_t weft__rx_cost(size_t len) { return len + WEFT__RX_MSG_OVERHEAD; }

/* ---- Small helpers ------------------------------------------------------ */
/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * U+0000 is valid UTF-8: callers that must refuse NUL check it themselves. */
bool weft__utf8_valid(const void *data, size_t len);
/* A copy of @data (free(), NUL-terminated) in which every maximal invalid subpart is replaced
 * by U+FFFD, as the WHATWG "UTF-8 decode" browsers use does; *@out_len gets
 * its length. */
uint8_t *weft__utf8_sanitize(const void *data, size_t len, size_t *out_len);

/* Network byte order (every wire format weft parses is big-endian). The
 * caller has checked the bounds. */
static inline uint16_t weft__rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t weft__rd24(const uint8_t *p) {
  return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t weft__rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void weft__wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void weft__wr24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}
static inline void weft__wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---- Remote-triggered logs (ratelimit.c) ---------------------------------
 * What a remote can trigger at will (a bad candidate, an m-section over a
 * cap) is logged through a limiter: at most `burst` lines a second, the
 * others counted and reported with the next line let through. */
enum { WEFT__RATELIMIT_BURST = 5 };                /* default lines per window */
#define WEFT__RATELIMIT_WINDOW_US INT64_C(1000000) /* 1 s */
typedef struct weft__ratelimit { /* zero-initialise; one per pc/agent; owner's thread */
  unsigned burst;                /* lines per window; 0 = WEFT__RATELIMIT_BURST */
  unsigned in_window;            /* lines let through in the current window */
  int64_t window_start_us;
  uint64_t suppressed; /* held back since the last line let through */
  uint64_t events;     /* every event offered, let through or not */
} weft__ratelimit;
/* Whether an event at @now_us may be logged (time is an argument: tests drive
 * it). When it may, *@suppressed (NULL ok) gets the events held back since
 * the last one let through, and that count restarts. */
bool weft__ratelimit_allow(weft__ratelimit *rl, int64_t now_us, uint64_t *suppressed);
/* weft__log through @rl at weft__now_us(); a line let through after others
 * were held back ends with " (K similar suppressed)". Nothing is counted
 * when @level is disabled for @component. */
void weft__log_limited(weft__ratelimit *rl, weft_log_level level, const char *component,
                       const char *fmt, ...) WEFT__PRINTF(4, 5);
/* A remote-supplied string made safe for a log line or an error message:
 * printable ASCII is kept, any other byte and the backslash become \xNN, the
 * result is cut with "..." to fit @cap (>= 4) with its NUL. @s is @len
 * bytes (NULs escaped like the rest), or a C string when @len is SIZE_MAX;
 * NULL gives "(null)". Reads no further than the output needs. Returns @out.
 * WEFT__ESCAPE_BUF fits 64 characters and the "...". */
enum { WEFT__ESCAPE_BUF = 68 };
const char *weft__escape(char *out, size_t cap, const char *s, size_t len);

#endif

/*
 * Fuzz target: SCTP notification handling (lib/sctp/sctp.c
 * handle_notification, reached through weft__sctp_test_notification): what
 * weft makes of SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT and the others
 * usrsctp reports, as the callbacks it invokes. usrsctp builds these
 * structures from what the peer sends (the stream list of a RE-CONFIG chunk,
 * an ABORT's cause), so their contents are remote-controlled.
 *
 * Input: notifications as [16-bit big-endian length][bytes], each in
 * usrsctp's struct layout in host byte order (sn_type, sn_flags, sn_length,
 * then the type's fields), on a fresh association per input. A last short
 * one takes what is left.
 *
 * Invariants (an independent model of usrsctp 0.9.5's structures):
 * - on_connected only for SCTP_COMM_UP, at most once, never after a close;
 * - on_closed at most once, for COMM_LOST, SHUTDOWN_COMP or CANT_STR_ASSOC,
 *   with a message; the cause is sac_error (-1 when 0; 0 for a COMM_LOST
 *   that carries no ABORT chunk: usrsctp ended the association itself);
 * - on_stream_reset exactly for the stream ids of a stream reset event that
 *   lie inside both the notification and its strreset_length, below
 *   WEFT__SCTP_MAX_STREAMS, in order, incoming iff the INCOMING_SSN flag;
 *   outgoing ones only with OUTGOING_SSN, DENIED or FAILED;
 * - nothing else is called, and nothing reads outside the notification.
 */
#include "fuzz_common.h"
#include "sctp/sctp.h"

/* usrsctp.h (not included: only lib/sctp may). */
enum {
  N_ASSOC_CHANGE = 0x0001,
  N_STREAM_RESET = 0x0009,
  ASSOC_CHANGE_SIZE = 20, /* type flags length state error out in assoc_id */
  STREAM_RESET_SIZE = 12, /* type flags length assoc_id, then uint16 ids */
  COMM_UP = 1,
  COMM_LOST = 2,
  SHUTDOWN_COMP = 4,
  CANT_STR_ASSOC = 5,
  RESET_INCOMING = 1,
  RESET_OUTGOING = 2,
  RESET_DENIED = 4,
  RESET_FAILED = 8,
  MAX_EVENTS = 32768 /* a 64 KiB notification holds at most this many ids */
};

typedef struct fuzz_ev {
  char kind; /* 'u' up, 'c' closed, 'r' reset */
  uint16_t stream;
  bool incoming;
  int cause;
} fuzz_ev;

typedef struct ev_log {
  fuzz_ev ev[MAX_EVENTS];
  size_t n;
} ev_log;

static ev_log got, want;

static void add(ev_log *l, fuzz_ev e) {
  FUZZ_CHECK(l->n < MAX_EVENTS);
  l->ev[l->n++] = e;
}

static void on_connected(void *ud) {
  (void)ud;
  add(&got, (fuzz_ev){'u', 0, false, 0});
}
static void on_message(void *ud, uint16_t stream, uint32_t ppid, const uint8_t *d, size_t len) {
  (void)ud, (void)stream, (void)ppid, (void)d, (void)len;
  FUZZ_CHECK(!"on_message from a notification");
}
static void on_stream_reset(void *ud, uint16_t stream, bool incoming) {
  (void)ud;
  add(&got, (fuzz_ev){'r', stream, incoming, 0});
}
static void on_low(void *ud, uint16_t stream, size_t amount) {
  (void)ud, (void)stream, (void)amount;
  FUZZ_CHECK(!"on_buffered_amount_low from a notification");
}
static void on_closed(void *ud, int cause, const char *message) {
  (void)ud;
  FUZZ_CHECK(message && message[0]);
  add(&got, (fuzz_ev){'c', 0, false, cause});
}
static void on_oversize(void *ud, uint16_t stream, size_t cap) {
  (void)ud, (void)stream, (void)cap;
  FUZZ_CHECK(!"on_oversize from a notification");
}

static int sink(void *ctx, const uint8_t *data, size_t len) {
  (void)ctx, (void)data, (void)len;
  return 0;
}

static uint16_t h16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static uint32_t h32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The model: what one notification must produce. */
static void expect(const uint8_t *p, size_t n, bool *connected, bool *closed) {
  if (n < 8)
    return;
  switch (h16(p)) {
  case N_ASSOC_CHANGE: {
    if (n < ASSOC_CHANGE_SIZE)
      return;
    uint16_t state = h16(p + 8), error = h16(p + 10);
    int cause = error ? error : -1;
    /* A COMM_LOST without the peer's ABORT chunk after the header: usrsctp
     * ended the association itself, reported as cause 0. */
    size_t total = MIN((size_t)h32(p + 4), n);
    if (state == COMM_LOST && !error && total <= ASSOC_CHANGE_SIZE)
      cause = 0;
    if (state == COMM_UP) {
      if (!*connected && !*closed) {
        *connected = true;
        add(&want, (fuzz_ev){'u', 0, false, 0});
      }
    } else if (state == COMM_LOST || state == SHUTDOWN_COMP || state == CANT_STR_ASSOC) {
      if (!*closed) {
        *closed = true;
        add(&want, (fuzz_ev){'c', 0, false, state == SHUTDOWN_COMP ? -1 : cause});
      }
    }
    return;
  }
  case N_STREAM_RESET: {
    if (n < STREAM_RESET_SIZE)
      return;
    uint16_t flags = h16(p + 2);
    uint32_t length = h32(p + 4);
    size_t total = length < n ? length : n;
    if (total < STREAM_RESET_SIZE)
      return;
    bool in = flags & RESET_INCOMING;
    bool out = flags & (RESET_OUTGOING | RESET_DENIED | RESET_FAILED);
    for (size_t off = STREAM_RESET_SIZE; off + 2 <= total; off += 2) {
      uint16_t sid = h16(p + off);
      if (sid >= WEFT__SCTP_MAX_STREAMS)
        continue;
      if (in)
        add(&want, (fuzz_ev){'r', sid, true, 0});
      else if (out)
        add(&want, (fuzz_ev){'r', sid, false, 0});
    }
    return;
  }
  default:
    return;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  static GMainContext *ctx;
  if (!ctx)
    ctx = g_main_context_new();
  weft__sctp_callbacks cb = {.on_connected = on_connected,
                             .on_message = on_message,
                             .on_stream_reset = on_stream_reset,
                             .on_buffered_amount_low = on_low,
                             .on_closed = on_closed,
                             .on_oversize = on_oversize};
  weft__dgram_sink out = {.send = sink};
  weft__sctp *s = weft__sctp_new(ctx, out, 5000, 5000, 0, &cb);
  FUZZ_CHECK(s);
  bool connected = false, closed = false;
  size_t off = 0;
  while (off < size) {
    size_t n = size - off;
    if (n >= 2) {
      size_t l = weft__rd16(data + off);
      off += 2;
      n = l < size - off ? l : size - off;
    } else {
      off += n;
      n = 0;
    }
    /* An exact-size copy: a read past the notification is an ASan report. */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
      abort();
    if (n)
      memcpy(copy, data + off, n);
    weft__sctp_test_notification(s, copy, n);
    expect(copy, n, &connected, &closed);
    free(copy);
    off += n;
    FUZZ_CHECK(got.n == want.n);
    for (size_t i = 0; i < got.n; i++) {
      FUZZ_CHECK(got.ev[i].kind == want.ev[i].kind);
      FUZZ_CHECK(got.ev[i].stream == want.ev[i].stream);
      FUZZ_CHECK(got.ev[i].incoming == want.ev[i].incoming);
      FUZZ_CHECK(got.ev[i].cause == want.ev[i].cause);
    }
    got.n = want.n = 0;
  }
  FUZZ_CHECK(weft__sctp_is_connected(s) == (connected && !closed));
  weft__sctp_free(s);
  return 0;
}

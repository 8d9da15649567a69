/*
 * Fuzz target: what lib/dtls/dtls.c does with datagrams before mbedTLS sees
 * them — the server's pre-filter and ClientHello reassembly (RFC 6347
 * §4.2.3), and the record checks during the handshake (whole records only,
 * record_ok) — through weft__dtls_input on a fresh association per input.
 *
 * Input: byte 0 bit 0 picks the role (0: server waiting for a ClientHello,
 * 1: client that has sent its ClientHello); then datagrams as [16-bit
 * big-endian length][bytes] (a short last one takes what is left).
 *
 * Invariants:
 * - no handshake completes (no one can forge the peer's Finished): no
 *   on_connected, on_data or on_closed;
 * - on_failed at most once, with DTLS_FAILURE or FINGERPRINT_FAILURE and a
 *   message, and the association sends nothing after it;
 * - server: without an epoch-0 ClientHello fragment anywhere in the input,
 *   the pre-filter drops everything: no failure and nothing sent (mbedTLS
 *   would otherwise abort the handshake on the first stray record);
 * - client: without an epoch-0 handshake, alert or ChangeCipherSpec record,
 *   no failure and nothing sent beyond the first ClientHello flight (and at
 *   most a retransmission of it);
 * - datagrams are never bigger than the handshake MTU allows.
 */
#include "dtls/dtls.h"
#include "fuzz_common.h"

typedef struct probe {
  int connected, failed, data, closed;
  unsigned sent, sent_after_fail;
  bool is_failed;
} probe;

static void on_connected(void *ud, const weft__srtp_keys *keys) {
  (void)keys;
  ((probe *)ud)->connected++;
}
static void on_data(void *ud, const uint8_t *d, size_t len) {
  (void)d, (void)len;
  ((probe *)ud)->data++;
}
static void on_failed(void *ud, weft_error_detail detail, int alert, const char *message) {
  (void)alert;
  probe *p = ud;
  FUZZ_CHECK(detail == WEFT_DETAIL_DTLS_FAILURE || detail == WEFT_DETAIL_FINGERPRINT_FAILURE);
  FUZZ_CHECK(message && message[0]);
  p->failed++;
  p->is_failed = true;
}
static void on_closed(void *ud) { ((probe *)ud)->closed++; }

static int sink(void *ctx, const uint8_t *data, size_t len) {
  probe *p = ctx;
  FUZZ_CHECK(data && len > 0 && len <= 1500);
  p->sent++;
  if (p->is_failed)
    p->sent_after_fail++;
  return 0;
}

/* Epoch-0 records (whole ones, as the pre-filter walks them) of @d: does any
 * hold a handshake fragment of @hs_type (-1: any type), or (types_mask) a
 * record of one of the given content types? */
static bool scan(const uint8_t *d, size_t len, int hs_type, unsigned types_mask) {
  size_t off = 0;
  while (len - off >= 13) {
    const uint8_t *rec = d + off;
    size_t rlen = weft__rd16(rec + 11);
    if (rlen > len - off - 13)
      break;
    off += 13 + rlen;
    if (rec[3] != 0 || rec[4] != 0)
      continue;
    if (rec[0] < 32 && (types_mask >> rec[0] & 1))
      return true;
    if (rec[0] != 22 || hs_type < 0)
      continue;
    const uint8_t *p = rec + 13;
    size_t n = rlen;
    while (n >= 12) {
      size_t flen = weft__rd24(p + 9);
      if (flen > n - 12)
        break;
      if (p[0] == hs_type)
        return true;
      p += 12 + flen;
      n -= 12 + flen;
    }
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  static GMainContext *ctx;
  static weft__dtls_cert *cert;
  if (!ctx) {
    ctx = g_main_context_new();
    cert = weft__dtls_cert_new();
    FUZZ_CHECK(cert);
  }
  if (size < 1)
    return 0;
  bool client = data[0] & 1;
  probe p = {0};
  weft__dtls_callbacks cb = {.on_connected = on_connected,
                             .on_data = on_data,
                             .on_failed = on_failed,
                             .on_closed = on_closed,
                             .ud = &p};
  weft__dgram_sink out = {.send = sink, .ctx = &p};
  weft__dtls *d =
      weft__dtls_new(ctx, cert, client ? WEFT__DTLS_CLIENT : WEFT__DTLS_SERVER, out, &cb);
  FUZZ_CHECK(d);
  FUZZ_CHECK(weft__dtls_set_remote_fingerprint(
                 d, "sha-256",
                 "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:"
                 "45:67:89:AB:CD:EF") == 0);
  FUZZ_CHECK(weft__dtls_start(d) == 0);
  unsigned hello_flight = p.sent;
  FUZZ_CHECK(client ? hello_flight >= 1 : hello_flight == 0);

  bool may_fail = false;
  size_t off = 1;
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
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
      abort();
    if (n)
      memcpy(copy, data + off, n);
    off += n;
    if (client)
      may_fail = may_fail || scan(copy, n, -1, 1u << 20 | 1u << 21 | 1u << 22);
    else
      may_fail = may_fail || scan(copy, n, 1, 0);
    weft__dtls_input(d, copy, n);
    free(copy);
    FUZZ_CHECK(p.failed <= 1 && p.connected == 0 && p.data == 0 && p.closed == 0);
    FUZZ_CHECK(p.sent_after_fail == 0);
    if (!may_fail) {
      FUZZ_CHECK(p.failed == 0);
      /* The client may have retransmitted its ClientHello flight once if
       * mbedTLS's timer ran out while we were busy. */
      FUZZ_CHECK(client ? p.sent <= 2 * hello_flight : p.sent == 0);
    }
  }
  FUZZ_CHECK(!weft__dtls_is_connected(d));
  weft__dtls_free(d);
  return 0;
}

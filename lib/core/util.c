/* Time, randomness, the live-object counter, UTF-8 validation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/core.h"

int64_t weft__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void weft__random(void *buf, size_t len) {
  uint8_t *p = buf;
  while (len) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      abort(); /* no entropy: nothing secure can be done */
    }
    p += n;
    len -= (size_t)n;
  }
}

uint32_t weft__random_u32(void) {
  uint32_t v;
  weft__random(&v, sizeof v);
  return v;
}

void weft__random_ice_chars(char *buf, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t r[64];
  for (size_t i = 0; i < len; i++) {
    if (i % sizeof r == 0)
      weft__random(r, sizeof r);
    buf[i] = alphabet[r[i % sizeof r] & 63];
  }
  buf[len] = '\0';
}

static atomic_long live_objects;
void weft__live_inc(void) { atomic_fetch_add(&live_objects, 1); }
void weft__live_dec(void) { atomic_fetch_sub(&live_objects, 1); }
long weft_debug_live_objects(void) { return atomic_load(&live_objects); }

bool weft__utf8_valid(const void *data, size_t len) {
  const uint8_t *s = data;
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= len) /* truncated sequence */
      return false;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

/* WHATWG Encoding "UTF-8 decode" error handling: each maximal invalid
 * subpart becomes one U+FFFD (what browsers hand to onmessage). */
uint8_t *weft__utf8_sanitize(const void *data, size_t len, size_t *out_len) {
  const uint8_t *s = data;
  uint8_t *out = malloc(len * 3 + 1); /* one U+FFFD (3 bytes) per input byte at most */
  if (!out)
    abort();
  size_t o = 0, i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      out[o++] = c;
      i++;
      continue;
    }
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xBF; /* bounds of the first continuation byte */
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0)
        lo = 0xA0; /* no overlongs */
      else if (c == 0xED)
        hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F; /* <= U+10FFFF */
    }
    size_t k = 1;
    for (; n && k <= n && i + k < len; k++) {
      uint8_t b = s[i + k];
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
        break;
    }
    if (n && k == n + 1) {
      memcpy(out + o, s + i, n + 1);
      o += n + 1;
      i += n + 1;
    } else {
      out[o++] = 0xEF;
      out[o++] = 0xBF;
      out[o++] = 0xBD;
      i += n ? k : 1; /* the valid prefix is consumed, the offending byte is not */
    }
  }
  out[o] = 0;
  *out_len = o;
  return out;
}

/* ---- Receive budget -------------------------------------------------------- */

void weft__rx_budget_init(weft__rx_budget *b, size_t limit, void (*wake)(void *ud), void *ud) {
  atomic_init(&b->used, 0);
  atomic_init(&b->stopped, false);
  b->limit = limit ? limit : 1;
  b->wake = wake;
  b->ud = ud;
}

static bool budget_room(weft__rx_budget *b, size_t pending) {
  size_t used = atomic_load(&b->used);
  return used == 0 || used + pending < b->limit;
}

bool weft__rx_budget_admit(weft__rx_budget *b, size_t pending) {
  if (budget_room(b, pending))
    return true;
  /* Announce the stop first, then look again: a release that ran before the
   * announcement is seen here; one that runs after it sees `stopped`. */
  atomic_store(&b->stopped, true);
  if (!budget_room(b, pending))
    return false;
  /* Room after all. If a releaser took the flag first it will wake us too:
   * one spurious wake, harmless. */
  atomic_exchange(&b->stopped, false);
  return true;
}

void weft__rx_budget_add(weft__rx_budget *b, size_t n) { atomic_fetch_add(&b->used, n); }

void weft__rx_budget_release(weft__rx_budget *b, size_t n) {
  if (!n)
    return;
  size_t after = atomic_fetch_sub(&b->used, n) - n;
  /* Hysteresis: wake at half the limit, so a reader at the limit is not
   * woken once per message. */
  if (after <= b->limit / 2 && atomic_load(&b->stopped) && atomic_exchange(&b->stopped, false) &&
      b->wake)
    b->wake(b->ud);
}

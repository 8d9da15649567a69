/* Rate-limited logging of remote-triggered events, and escaping of
 * remote-supplied strings for logs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

bool weft__ratelimit_allow(weft__ratelimit *rl, int64_t now_us, uint64_t *suppressed) {
  unsigned burst = rl->burst ? rl->burst : WEFT__RATELIMIT_BURST;
  rl->events++;
  /* A new window when this one is over (or the clock went back). */
  if (rl->in_window == 0 || now_us < rl->window_start_us ||
      now_us - rl->window_start_us >= WEFT__RATELIMIT_WINDOW_US) {
    rl->window_start_us = now_us;
    rl->in_window = 0;
  }
  if (rl->in_window >= burst) {
    rl->suppressed++;
    return false;
  }
  rl->in_window++;
  if (suppressed)
    *suppressed = rl->suppressed;
  rl->suppressed = 0;
  return true;
}

void weft__log_limited(weft__ratelimit *rl, weft_log_level level, const char *component,
                       const char *fmt, ...) {
  if (!weft__log_enabled(level, component))
    return;
  uint64_t held = 0;
  if (!weft__ratelimit_allow(rl, weft__now_us(), &held))
    return;
  char buf[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (held)
    weft__log(level, component, "%s (%" PRIu64 " similar suppressed)", buf, held);
  else
    weft__log(level, component, "%s", buf);
}

/* Bytes @c takes once escaped. */
static size_t escaped_len(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4; }

static size_t put(char *out, size_t o, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  if (escaped_len(c) == 1) {
    out[o] = (char)c;
    return o + 1;
  }
  out[o] = '\\';
  out[o + 1] = 'x';
  out[o + 2] = hex[c >> 4];
  out[o + 3] = hex[c & 15];
  return o + 4;
}

/* Whether @s ends before byte @i: @len bytes, or a C string when SIZE_MAX. */
static bool at_end(const char *s, size_t len, size_t i) {
  return len == SIZE_MAX ? s[i] == '\0' : i >= len;
}

const char *weft__escape(char *out, size_t cap, const char *s, size_t len) {
  if (!out || cap < 4)
    return out && cap ? (out[0] = '\0', out) : "";
  if (!s) {
    snprintf(out, cap, "(null)");
    return out;
  }
  /* Everything up to cap-4 bytes goes in as it comes; past that, the rest
   * goes in only if it all fits, else "..." does. The input read is
   * bounded by the output room, not by @len. */
  size_t o = 0, i = 0;
  for (; !at_end(s, len, i); i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + escaped_len(c) > cap - 4)
      break;
    o = put(out, o, c);
  }
  size_t rest = 0, j = i;
  for (; !at_end(s, len, j) && o + rest <= cap - 1; j++)
    rest += escaped_len((unsigned char)s[j]);
  bool all_fits = at_end(s, len, j) && o + rest <= cap - 1;
  if (all_fits) {
    for (; i < j; i++)
      o = put(out, o, (unsigned char)s[i]);
  } else {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
  return out;
}

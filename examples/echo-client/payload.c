/* examples/echo-client — deterministic message contents (see payload.h). */
#include "payload.h"

/* splitmix64: tiny, fast and well mixed, so nearby (channel, round, size)
 * tuples still give unrelated contents. */
static uint64_t next64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t seed_of(payload_kind kind, uint32_t channel, uint32_t round, size_t size) {
  uint64_t s = 0x7765667465636830ull ^ (uint64_t)kind;
  s ^= next64(&s) ^ channel;
  s ^= next64(&s) ^ round;
  s ^= next64(&s) ^ (uint64_t)size;
  next64(&s);
  return s;
}

/* Encodes one character of exactly @len bytes (1..4) chosen by @r. */
static void put_char(uint8_t *p, size_t len, uint64_t r) {
  uint32_t cp;
  switch (len) {
  case 1:
    p[0] = (uint8_t)(0x20 + r % 95); /* printable ASCII */
    return;
  case 2:
    cp = 0x80 + (uint32_t)(r % (0x800 - 0x80));
    p[0] = (uint8_t)(0xC0 | (cp >> 6));
    p[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return;
  case 3:
    /* U+0800..U+FFFF without the surrogate block U+D800..U+DFFF */
    cp = 0x800 + (uint32_t)(r % (0x10000 - 0x800 - 0x800));
    if (cp >= 0xD800)
      cp += 0x800;
    p[0] = (uint8_t)(0xE0 | (cp >> 12));
    p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return;
  default:
    cp = 0x10000 + (uint32_t)(r % 0x100000); /* up to U+10FFFF */
    p[0] = (uint8_t)(0xF0 | (cp >> 18));
    p[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return;
  }
}

void payload_fill(payload_kind kind, uint32_t channel, uint32_t round, uint8_t *buf, size_t size) {
  uint64_t st = seed_of(kind, channel, round, size);
  size_t pos = 0;
  if (kind == PAYLOAD_BINARY) {
    while (pos < size) {
      uint64_t r = next64(&st);
      for (int i = 0; i < 8 && pos < size; i++, r >>= 8)
        buf[pos++] = (uint8_t)r;
    }
    return;
  }
  while (pos < size) {
    uint64_t r = next64(&st);
    size_t len = 1 + (size_t)(r & 3);
    if (len > size - pos)
      len = size - pos; /* the tail still ends on a character boundary */
    put_char(buf + pos, len, r >> 2);
    pos += len;
  }
}

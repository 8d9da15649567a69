/*
 * examples/echo-client — the deterministic messages echo-client sends.
 *
 * Every message is a pure function of (channel, round, size, kind), so an
 * echo can be checked by regenerating what was sent instead of keeping a copy
 * of every message in flight.
 */
#ifndef ECHO_CLIENT_PAYLOAD_H
#define ECHO_CLIENT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum payload_kind { PAYLOAD_TEXT = 0, PAYLOAD_BINARY = 1 } payload_kind;

/* Fills @buf with exactly @size bytes. PAYLOAD_TEXT gives valid UTF-8 mixing
 * 1-, 2-, 3- and 4-byte characters (no NUL, no surrogates); PAYLOAD_BINARY
 * gives pseudo-random bytes (NULs included). */
void payload_fill(payload_kind kind, uint32_t channel, uint32_t round, uint8_t *buf, size_t size);

#endif

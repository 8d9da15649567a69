/*
 * An in-memory datagram link between two endpoints (A and B), driven by a
 * GMainContext, with knobs for loss, duplication, reordering and delay.
 * Transport tests stack DTLS or SCTP on it without ICE.
 *
 *   lossy_link *l = lossy_link_new(ctx, seed);
 *   lossy_link_set_receiver(l, LOSSY_A, a_input, a);   // what A receives
 *   weft__dgram_sink sink_a = lossy_link_sink(l, LOSSY_A); // what A sends
 *
 * Delivery always happens from a source on @ctx (never inside send), so a
 * layer is never re-entered from its own send call. The seed makes loss
 * patterns reproducible.
 */
#ifndef WEFT_TEST_LOSSY_LINK_H
#define WEFT_TEST_LOSSY_LINK_H

#include <glib.h>

#include "core/core.h"

typedef enum { LOSSY_A = 0, LOSSY_B = 1 } lossy_side;
typedef void (*lossy_recv_fn)(void *user, const uint8_t *data, size_t len);
typedef struct lossy_link lossy_link;

typedef struct lossy_params {
  double loss;      /* probability a datagram is dropped, 0..1 */
  double duplicate; /* probability a datagram is delivered twice */
  double reorder;   /* probability a datagram is held back behind later ones */
  guint delay_ms;   /* one-way delay added to every datagram */
  guint max_drops;  /* stop dropping after this many (0 = unlimited) */
} lossy_params;

lossy_link *lossy_link_new(GMainContext *ctx, guint32 seed);
void lossy_link_free(lossy_link *l);
/* Same parameters both ways. */
void lossy_link_set_params(lossy_link *l, const lossy_params *p);
/* Which function receives the datagrams sent towards @side. */
void lossy_link_set_receiver(lossy_link *l, lossy_side side, lossy_recv_fn fn, void *user);
/* The sink @side sends through (towards the other side). */
weft__dgram_sink lossy_link_sink(lossy_link *l, lossy_side side);
/* Optional hook that sees (and may rewrite or drop) each datagram sent by @side
 * before loss is applied: return FALSE to drop it. Used to split handshake
 * records or inject garbage. */
typedef gboolean (*lossy_filter_fn)(void *user, lossy_side from, GByteArray *datagram);
void lossy_link_set_filter(lossy_link *l, lossy_filter_fn fn, void *user);
/* Counters. */
guint lossy_link_sent(lossy_link *l, lossy_side from);
guint lossy_link_dropped(lossy_link *l, lossy_side from);

#endif

/*
 * examples/signaling-server — a GIOStream that watches the WebSocket frames a
 * client sends, so a message split into many fragments cannot grow without
 * bound inside libsoup (3.2 reassembles fragments with no size limit; its
 * max-incoming-payload-size applies per frame only).
 *
 * The server hands this stream, not the accepted GSocketConnection, to
 * SoupServer. Every byte libsoup reads passes through it: after the HTTP
 * request's blank line it follows the frame headers and sums the payloads
 * of the message in progress (the header's end is found the way libsoup
 * finds it, bare "\n" line ends included). That only works if no request
 * body sits between the header and the first frame: the server refuses
 * every request that announces a body (main.c, on_early). Once armed (the
 * connection became a WebSocket), a message over the limit makes the read
 * fail with G_IO_ERROR_MESSAGE_TOO_LARGE before libsoup buffers it: libsoup
 * emits "error" (where the server says too-big and closes with 1009) and
 * drops the connection. Output goes straight to the socket.
 */
#ifndef WEFT_SIGNALING_SERVER_GUARD_H
#define WEFT_SIGNALING_SERVER_GUARD_H

#include <gio/gio.h>

/* A new stream over @base (referenced); a message may carry @max_message
 * payload bytes. */
GIOStream *ws_guard_new(GSocketConnection *base, guint64 max_message);
/* The socket connection underneath (borrowed). */
GSocketConnection *ws_guard_get_base(GIOStream *guard);
/* From now on an oversized message fails the read. */
void ws_guard_arm(GIOStream *guard);
/* TRUE once a read failed because of an oversized message. */
gboolean ws_guard_tripped(GIOStream *guard);

#endif

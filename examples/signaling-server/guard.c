/*
 * examples/signaling-server — the frame-watching stream (guard.h).
 *
 * Two small GObject classes: WsGuardInput, a pollable GInputStream that
 * reads from the socket's input stream and parses what passes, and
 * WsGuardStream, the GIOStream pairing it with the socket's own output
 * stream. Everything is non-blocking and runs on the caller's thread; the
 * close is synchronous (closing a socket does not block), so GIO never
 * needs a worker thread for it.
 */
#include "guard.h"

#include <string.h>

/* ---- WsGuardInput --------------------------------------------------------------- */

#define WS_TYPE_GUARD_INPUT (ws_guard_input_get_type())
G_DECLARE_FINAL_TYPE(WsGuardInput, ws_guard_input, WS, GUARD_INPUT, GInputStream)

struct _WsGuardInput {
  GInputStream parent;
  GInputStream *base; /* the socket's input stream (a reference) */
  guint64 max_message;
  gboolean armed, tripped;
  /* Parser state. The end of the request's header, found exactly as
   * libsoup finds it (soup_message_io_data_read_headers): an empty line,
   * "\n" or "\r\n", after at least 2 resp. 3 header bytes; so bare-LF
   * headers and leading blank lines cannot leave us out of step. */
  guint hdr_before; /* header bytes before the current line (saturates at 16) */
  guint line_len;   /* bytes of the current line so far (saturates at 2) */
  gboolean line_cr; /* the current line starts with '\r' */
  gboolean frames;  /* past the header: the bytes are WebSocket frames */
  guint8 hdr[14];
  guint hlen;
  guint64 payload_left; /* of the frame in progress */
  guint64 message;      /* payload bytes of the data message in progress */
};

static void ws_guard_input_pollable_init(GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE(WsGuardInput, ws_guard_input, G_TYPE_INPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM,
                                              ws_guard_input_pollable_init))

/* Follows the byte stream; sets @tripped when an armed stream sees a data
 * message grow over the limit. */
static void feed(WsGuardInput *in, const guint8 *p, gsize n) {
  for (gsize i = 0; i < n && !in->tripped; i++) {
    if (!in->frames) {
      guint8 b = p[i];
      if (b == '\n') {
        in->frames = in->line_len == 0 ? in->hdr_before >= 2
                                       : in->line_len == 1 && in->line_cr && in->hdr_before >= 3;
        in->hdr_before = MIN(in->hdr_before + in->line_len + 1, 16);
        in->line_len = 0;
        in->line_cr = FALSE;
      } else {
        if (in->line_len == 0)
          in->line_cr = b == '\r';
        in->line_len = MIN(in->line_len + 1, 2);
      }
      continue;
    }
    if (in->payload_left) {
      gsize skip = (gsize)MIN(in->payload_left, (guint64)(n - i));
      in->payload_left -= skip;
      i += skip - 1;
      continue;
    }
    in->hdr[in->hlen++] = p[i];
    if (in->hlen < 2)
      continue;
    guint len7 = in->hdr[1] & 0x7f;
    guint need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((in->hdr[1] & 0x80) ? 4 : 0);
    if (in->hlen < need)
      continue;
    guint64 len = len7;
    if (len7 == 126) {
      len = ((guint64)in->hdr[2] << 8) | in->hdr[3];
    } else if (len7 == 127) {
      len = 0;
      for (int k = 2; k < 10; k++)
        len = (len << 8) | in->hdr[k];
    }
    guint opcode = in->hdr[0] & 0x0f;
    if (opcode == 1 || opcode == 2)
      in->message = len; /* a new text or binary message */
    else if (opcode == 0)
      in->message = in->message > G_MAXUINT64 - len ? G_MAXUINT64 : in->message + len;
    /* Control frames (>= 8) are small and never part of a message. */
    if (opcode < 8 && in->armed && in->message > in->max_message)
      in->tripped = TRUE;
    in->payload_left = len;
    in->hlen = 0;
  }
}

static gboolean trip_error(WsGuardInput *in, GError **error) {
  if (!in->tripped)
    return FALSE;
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
              "a WebSocket message over %" G_GUINT64_FORMAT " bytes", in->max_message);
  return TRUE;
}

static gssize guard_read(GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                         GError **error) {
  WsGuardInput *in = WS_GUARD_INPUT(stream);
  if (trip_error(in, error))
    return -1;
  gssize n = g_input_stream_read(in->base, buffer, count, cancellable, error);
  if (n > 0)
    feed(in, buffer, (gsize)n);
  return trip_error(in, error) ? -1 : n;
}

static gssize guard_read_nonblocking(GPollableInputStream *stream, void *buffer, gsize count,
                                     GError **error) {
  WsGuardInput *in = WS_GUARD_INPUT(stream);
  if (trip_error(in, error))
    return -1;
  gssize n = g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(in->base), buffer,
                                                      count, NULL, error);
  if (n > 0)
    feed(in, buffer, (gsize)n);
  return trip_error(in, error) ? -1 : n;
}

static gboolean guard_can_poll(GPollableInputStream *stream) {
  (void)stream;
  return TRUE;
}

static gboolean guard_is_readable(GPollableInputStream *stream) {
  WsGuardInput *in = WS_GUARD_INPUT(stream);
  return in->tripped || g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(in->base));
}

static GSource *guard_create_source(GPollableInputStream *stream, GCancellable *cancellable) {
  WsGuardInput *in = WS_GUARD_INPUT(stream);
  GSource *base = g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(in->base), NULL);
  GSource *source = g_pollable_source_new_full(stream, base, cancellable);
  g_source_unref(base);
  return source;
}

static gboolean guard_input_close(GInputStream *stream, GCancellable *cancellable, GError **error) {
  /* The socket is closed with the GIOStream (WsGuardStream). */
  (void)stream;
  (void)cancellable;
  (void)error;
  return TRUE;
}

static void ws_guard_input_dispose(GObject *object) {
  WsGuardInput *in = WS_GUARD_INPUT(object);
  g_clear_object(&in->base);
  G_OBJECT_CLASS(ws_guard_input_parent_class)->dispose(object);
}

static void ws_guard_input_class_init(WsGuardInputClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = ws_guard_input_dispose;
  G_INPUT_STREAM_CLASS(klass)->read_fn = guard_read;
  G_INPUT_STREAM_CLASS(klass)->close_fn = guard_input_close;
}

static void ws_guard_input_pollable_init(GPollableInputStreamInterface *iface) {
  iface->can_poll = guard_can_poll;
  iface->is_readable = guard_is_readable;
  iface->create_source = guard_create_source;
  iface->read_nonblocking = guard_read_nonblocking;
}

static void ws_guard_input_init(WsGuardInput *in) { (void)in; }

/* ---- WsGuardStream ------------------------------------------------------------------ */

#define WS_TYPE_GUARD_STREAM (ws_guard_stream_get_type())
G_DECLARE_FINAL_TYPE(WsGuardStream, ws_guard_stream, WS, GUARD_STREAM, GIOStream)

struct _WsGuardStream {
  GIOStream parent;
  GSocketConnection *base;
  WsGuardInput *input;
};

G_DEFINE_TYPE(WsGuardStream, ws_guard_stream, G_TYPE_IO_STREAM)

static GInputStream *guard_get_input(GIOStream *stream) {
  return G_INPUT_STREAM(WS_GUARD_STREAM(stream)->input);
}

static GOutputStream *guard_get_output(GIOStream *stream) {
  return g_io_stream_get_output_stream(G_IO_STREAM(WS_GUARD_STREAM(stream)->base));
}

static gboolean guard_close(GIOStream *stream, GCancellable *cancellable, GError **error) {
  WsGuardStream *s = WS_GUARD_STREAM(stream);
  g_input_stream_close(G_INPUT_STREAM(s->input), NULL, NULL);
  return g_io_stream_close(G_IO_STREAM(s->base), cancellable, error);
}

/* The default close_async runs close_fn in a worker thread: not needed for
 * a socket, and it would touch the socket from another thread. */
static void guard_close_async(GIOStream *stream, int io_priority, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data) {
  (void)io_priority;
  GTask *task = g_task_new(stream, cancellable, callback, user_data);
  g_task_set_source_tag(task, guard_close_async);
  GError *error = NULL;
  if (guard_close(stream, cancellable, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
  g_object_unref(task);
}

static gboolean guard_close_finish(GIOStream *stream, GAsyncResult *result, GError **error) {
  (void)stream;
  return g_task_propagate_boolean(G_TASK(result), error);
}

static void ws_guard_stream_dispose(GObject *object) {
  WsGuardStream *s = WS_GUARD_STREAM(object);
  g_clear_object(&s->input);
  g_clear_object(&s->base);
  G_OBJECT_CLASS(ws_guard_stream_parent_class)->dispose(object);
}

static void ws_guard_stream_class_init(WsGuardStreamClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = ws_guard_stream_dispose;
  GIOStreamClass *io = G_IO_STREAM_CLASS(klass);
  io->get_input_stream = guard_get_input;
  io->get_output_stream = guard_get_output;
  io->close_fn = guard_close;
  io->close_async = guard_close_async;
  io->close_finish = guard_close_finish;
}

static void ws_guard_stream_init(WsGuardStream *s) { (void)s; }

/* ---- API ------------------------------------------------------------------------------ */

GIOStream *ws_guard_new(GSocketConnection *base, guint64 max_message) {
  WsGuardStream *s = g_object_new(WS_TYPE_GUARD_STREAM, NULL);
  s->base = g_object_ref(base);
  s->input = g_object_new(WS_TYPE_GUARD_INPUT, NULL);
  s->input->base = g_object_ref(g_io_stream_get_input_stream(G_IO_STREAM(base)));
  s->input->max_message = max_message;
  return G_IO_STREAM(s);
}

GSocketConnection *ws_guard_get_base(GIOStream *guard) { return WS_GUARD_STREAM(guard)->base; }

void ws_guard_arm(GIOStream *guard) { WS_GUARD_STREAM(guard)->input->armed = TRUE; }

gboolean ws_guard_tripped(GIOStream *guard) { return WS_GUARD_STREAM(guard)->input->tripped; }

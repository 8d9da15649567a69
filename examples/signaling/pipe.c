/*
 * examples/signaling — the line transport: one compact JSON object per line
 * over a pair of streams (stdin/stdout between two processes, a pipe, a
 * socket). Reads and writes are asynchronous on the session's context; a
 * pending operation holds a reference to the session, and close cancels
 * them.
 */
#include "sig_private.h"

#include <string.h>

#define MAX_LINE (1024 * 1024)

typedef struct pipe_session {
  sig_session base;
  GDataInputStream *in;
  GOutputStream *out;
  GCancellable *cancel;
  GQueue outq; /* GBytes * lines waiting for the write in flight */
  gboolean writing;
  gboolean eof;
} pipe_session;

static void read_next(pipe_session *ps);
static void write_next(pipe_session *ps);

static void on_written(GObject *src, GAsyncResult *res, gpointer data) {
  pipe_session *ps = data;
  GError *error = NULL;
  gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, NULL, &error);
  ps->writing = FALSE;
  if (!ok) {
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      sig_session_deliver_error(&ps->base, 0, "write failed: %s", error->message);
    g_error_free(error);
    g_queue_clear_full(&ps->outq, (GDestroyNotify)g_bytes_unref);
  } else {
    write_next(ps);
  }
  sig_session_unref(&ps->base);
}

static void write_next(pipe_session *ps) {
  if (ps->writing || g_queue_is_empty(&ps->outq) || ps->base.closed)
    return;
  GBytes *line = g_queue_pop_head(&ps->outq);
  gsize len;
  const void *p = g_bytes_get_data(line, &len);
  ps->writing = TRUE;
  /* write_all_async keeps no copy: the buffer lives in the GBytes, which we
   * keep in the task data until the write finished. */
  g_object_set_data_full(G_OBJECT(ps->cancel), "line", line, (GDestroyNotify)g_bytes_unref);
  g_output_stream_write_all_async(ps->out, p, len, G_PRIORITY_DEFAULT, ps->cancel, on_written,
                                  sig_session_ref(&ps->base));
}

static gboolean pipe_send(sig_session *s, JsonObject *msg, GError **error) {
  (void)error;
  pipe_session *ps = (pipe_session *)s;
  char *text = sig_json_to_string(msg);
  /* Compact JSON escapes control characters, so the line has no newline. */
  char *line = g_strconcat(text, "\n", NULL);
  g_free(text);
  g_queue_push_tail(&ps->outq, g_bytes_new_take(line, strlen(line)));
  write_next(ps);
  return TRUE;
}

static void on_line(GObject *src, GAsyncResult *res, gpointer data) {
  pipe_session *ps = data;
  GError *error = NULL;
  gsize len = 0;
  char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res, &len, &error);
  if (error) {
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      sig_session_deliver_error(&ps->base, 0, "read failed: %s", error->message);
    g_error_free(error);
  } else if (!line) {
    ps->eof = TRUE;
    JsonObject *bye = json_object_new();
    json_object_set_string_member(bye, "type", "bye");
    sig_session_deliver(&ps->base, bye);
  } else {
    g_strchomp(line);
    if (len > MAX_LINE) {
      sig_session_deliver_error(&ps->base, 0, "line of %zu bytes ignored (limit %d)", len,
                                MAX_LINE);
    } else if (!g_utf8_validate(line, -1, NULL)) {
      sig_session_deliver_error(&ps->base, 0, "a line that is not UTF-8 was ignored");
    } else if (*line) {
      JsonParser *p = json_parser_new_immutable();
      JsonNode *root =
          json_parser_load_from_data(p, line, -1, NULL) ? json_parser_get_root(p) : NULL;
      if (root && JSON_NODE_HOLDS_OBJECT(root) && sig_msg_type(json_node_get_object(root)))
        sig_session_deliver(&ps->base, json_node_dup_object(root));
      else
        sig_session_deliver_error(&ps->base, 0, "not a JSON message with a \"type\": %.80s", line);
      g_object_unref(p);
    }
    g_free(line);
    read_next(ps);
  }
  sig_session_unref(&ps->base);
}

static void read_next(pipe_session *ps) {
  if (ps->base.closed || ps->eof)
    return;
  g_data_input_stream_read_line_async(ps->in, G_PRIORITY_DEFAULT, ps->cancel, on_line,
                                      sig_session_ref(&ps->base));
}

static void pipe_close(sig_session *s) {
  pipe_session *ps = (pipe_session *)s;
  g_cancellable_cancel(ps->cancel);
}

static void pipe_finalize(sig_session *s) {
  pipe_session *ps = (pipe_session *)s;
  g_queue_clear_full(&ps->outq, (GDestroyNotify)g_bytes_unref);
  g_object_unref(ps->cancel);
  g_object_unref(ps->in);
  g_object_unref(ps->out);
}

static const sig_session_class pipe_class = {pipe_send, pipe_close, pipe_finalize};

sig_session *sig_pipe_new(GInputStream *in, GOutputStream *out) {
  g_return_val_if_fail(G_IS_INPUT_STREAM(in) && G_IS_OUTPUT_STREAM(out), NULL);
  pipe_session *ps = g_new0(pipe_session, 1);
  sig_session_init(&ps->base, &pipe_class);
  sig_session_set_description(&ps->base, "lines");
  ps->in = g_data_input_stream_new(in);
  /* The caller owns @in: closing our wrapper must not close it. */
  g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(ps->in), FALSE);
  g_data_input_stream_set_newline_type(ps->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  ps->out = g_object_ref(out);
  ps->cancel = g_cancellable_new();
  g_queue_init(&ps->outq);
  read_next(ps);
  return &ps->base;
}

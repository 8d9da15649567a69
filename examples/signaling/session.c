/*
 * examples/signaling — the transport-independent part of sig_session:
 * references, the handler, queued delivery, close.
 */
#include "sig_private.h"

#include <gio/gio.h>
#include <stdarg.h>
#include <string.h>

void sig_session_init(sig_session *s, const sig_session_class *klass) {
  s->klass = klass;
  s->ref_count = 1;
  s->context = g_main_context_ref_thread_default();
  g_queue_init(&s->pending);
}

sig_session *sig_session_ref(sig_session *s) {
  g_return_val_if_fail(s != NULL, NULL);
  g_atomic_int_inc(&s->ref_count);
  return s;
}

void sig_session_unref(sig_session *s) {
  if (!s || !g_atomic_int_dec_and_test(&s->ref_count))
    return;
  /* The idle source holds a reference while scheduled, so it is gone here. */
  g_assert(s->idle == NULL);
  if (s->klass->finalize)
    s->klass->finalize(s);
  g_queue_clear_full(&s->pending, (GDestroyNotify)json_object_unref);
  if (s->fn_destroy)
    s->fn_destroy(s->fn_data);
  g_main_context_unref(s->context);
  g_free(s->description);
  g_free(s->remote);
  g_free(s);
}

static gboolean deliver_idle(gpointer data) {
  sig_session *s = data;
  /* Re-read fn and closed on every turn: the handler may replace itself,
   * close the session or drop its own references (ours keeps @s alive). */
  while (!s->closed && s->fn && !g_queue_is_empty(&s->pending)) {
    JsonObject *msg = g_queue_pop_head(&s->pending);
    s->fn(s, msg, s->fn_data);
    json_object_unref(msg);
  }
  /* sig_session_close() from the handler already forgot the source. */
  if (s->idle) {
    g_source_unref(s->idle);
    s->idle = NULL;
  }
  return G_SOURCE_REMOVE;
}

static void schedule_delivery(sig_session *s) {
  if (s->idle || s->closed || !s->fn || g_queue_is_empty(&s->pending))
    return;
  s->idle = g_idle_source_new();
  g_source_set_name(s->idle, "sig_session delivery");
  g_source_set_callback(s->idle, deliver_idle, sig_session_ref(s),
                        (GDestroyNotify)sig_session_unref);
  g_source_attach(s->idle, s->context);
}

void sig_session_set_handler(sig_session *s, sig_message_fn fn, void *user_data,
                             GDestroyNotify destroy) {
  g_return_if_fail(s != NULL);
  GDestroyNotify old_destroy = s->fn_destroy;
  void *old_data = s->fn_data;
  s->fn = fn;
  s->fn_data = user_data;
  s->fn_destroy = destroy;
  /* After the swap, so a destroy notify that looks at the session sees the
   * new handler. */
  if (old_destroy)
    old_destroy(old_data);
  schedule_delivery(s);
}

void sig_session_deliver(sig_session *s, JsonObject *msg) {
  if (s->closed) {
    json_object_unref(msg);
    return;
  }
  g_queue_push_tail(&s->pending, msg);
  schedule_delivery(s);
}

void sig_session_deliver_error(sig_session *s, guint status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  JsonObject *msg = json_object_new();
  json_object_set_string_member(msg, "type", "error");
  /* The text may quote a remote's reply body: keep the JSON valid UTF-8. */
  char *valid = g_utf8_make_valid(text, -1);
  json_object_set_string_member(msg, "message", valid);
  if (status)
    json_object_set_int_member(msg, "status", status);
  g_free(valid);
  g_free(text);
  sig_session_deliver(s, msg);
}

gboolean sig_session_send(sig_session *s, JsonObject *msg, GError **error) {
  g_return_val_if_fail(s != NULL, FALSE);
  if (!msg || !sig_msg_type(msg)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "a signaling message needs a string \"type\"");
    return FALSE;
  }
  static const char *const known[] = {"offer", "answer", "candidate", "end-of-candidates",
                                      "bye",   "error",  NULL};
  if (!g_strv_contains(known, sig_msg_type(msg))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "unknown signaling message type \"%s\"", sig_msg_type(msg));
    return FALSE;
  }
  if (s->closed) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s is closed", sig_session_describe(s));
    return FALSE;
  }
  return s->klass->send(s, msg, error);
}

const char *sig_session_describe(sig_session *s) {
  g_return_val_if_fail(s != NULL, "");
  return s->description ? s->description : "signaling session";
}

const char *sig_session_get_remote(sig_session *s) {
  g_return_val_if_fail(s != NULL, "");
  return s->remote ? s->remote : "";
}

void sig_session_close(sig_session *s) {
  g_return_if_fail(s != NULL);
  if (s->closed)
    return;
  s->closed = TRUE;
  g_queue_clear_full(&s->pending, (GDestroyNotify)json_object_unref);
  if (s->idle) {
    /* Destroying the source drops the reference it held; keep @s alive
     * until the transport's close ran. */
    sig_session_ref(s);
    GSource *idle = s->idle;
    s->idle = NULL;
    g_source_destroy(idle);
    g_source_unref(idle);
    if (s->klass->close)
      s->klass->close(s);
    sig_session_unref(s);
    return;
  }
  if (s->klass->close)
    s->klass->close(s);
}

void sig_session_set_description(sig_session *s, const char *description) {
  g_free(s->description);
  s->description = g_strdup(description);
}

void sig_session_set_remote(sig_session *s, const char *remote) {
  g_free(s->remote);
  s->remote = g_strdup(remote);
}

char *sig_json_to_string(JsonObject *o) {
  JsonNode *n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  char *text = json_to_string(n, FALSE);
  json_node_unref(n);
  /* json-glib 1.6 writes some control characters (U+001F, ...) raw inside
   * strings, which JSON forbids (RFC 8259 §7) and a browser's JSON.parse
   * rejects. Unindented output has no raw control character outside
   * strings, so escaping every one is exact. */
  size_t ctl = 0;
  for (const char *p = text; *p; p++)
    ctl += (unsigned char)*p < 0x20;
  if (!ctl)
    return text;
  GString *out = g_string_sized_new(strlen(text) + ctl * 5);
  for (const char *p = text; *p; p++) {
    if ((unsigned char)*p < 0x20)
      g_string_append_printf(out, "\\u%04x", (unsigned char)*p);
    else
      g_string_append_c(out, *p);
  }
  g_free(text);
  return g_string_free(out, FALSE);
}

JsonObject *sig_json_copy(JsonObject *o) {
  char *text = sig_json_to_string(o);
  JsonNode *n = json_from_string(text, NULL);
  g_free(text);
  JsonObject *copy = json_node_dup_object(n);
  json_node_unref(n);
  return copy;
}

const char *sig_msg_type(JsonObject *msg) { return sig_msg_string(msg, "type"); }

const char *sig_msg_string(JsonObject *msg, const char *member) {
  JsonNode *n = json_object_get_member(msg, member);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

gboolean sig_msg_int(JsonObject *msg, const char *member, gint64 *out) {
  JsonNode *n = json_object_get_member(msg, member);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int(n);
  return TRUE;
}

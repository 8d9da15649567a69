/*
 * examples/signaling — the HTTP offer/answer client (WHIP shape): POST the
 * offer, PATCH trickled candidates to the Location, DELETE at the end.
 *
 * Every request is asynchronous on the session's GMainContext
 * (soup_session_send_and_read_async). Each in-flight request holds a
 * reference on the sig_session, so the session may outlive the application's
 * references until its requests finish (the DELETE sent by close() included);
 * results that arrive after sig_session_close() are discarded (the base drops
 * deliveries on a closed session).
 */
#include "sig_private.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

/* The server side waits up to 10 s for its application's answer: leave room. */
#define HTTP_TIMEOUT_S 30

typedef enum client_state {
  CLIENT_NEW,      /* nothing sent yet */
  CLIENT_POSTING,  /* POST in flight */
  CLIENT_ANSWERED, /* 2xx received; PATCHes may flow */
  CLIENT_FAILED    /* an error was delivered; nothing more is sent */
} client_state;

typedef struct http_client {
  sig_session base;
  SoupSession *soup;
  GUri *url;
  char *url_str;
  char *location; /* absolute session URL, once known */
  client_state state;
  sig_sdp_info *offer; /* for the fragments' m=/mid/credentials */
  GQueue patches;      /* char *fragment, waiting for their turn */
  gboolean patch_busy; /* one PATCH at a time, in order */
  gboolean deleted;    /* DELETE sent (by bye or close) */
  gboolean said_bye;   /* nothing may follow a bye */
} http_client;

typedef enum request_kind { REQ_POST, REQ_PATCH, REQ_DELETE } request_kind;

typedef struct request {
  http_client *c; /* holds a reference */
  SoupMessage *msg;
  request_kind kind;
} request;

static void request_done(GObject *source, GAsyncResult *res, gpointer data);
static void fail(http_client *c, guint status, const char *text);

static const char *method_name(request_kind kind) {
  return kind == REQ_POST ? "POST" : kind == REQ_PATCH ? "PATCH" : "DELETE";
}

/* Starts one request; @body (may be NULL) is copied. */
static void start_request(http_client *c, request_kind kind, const char *url,
                          const char *content_type, const char *body) {
  SoupMessage *msg = soup_message_new(method_name(kind), url);
  if (!msg) {
    /* Only a Location can get here (the endpoint URL was checked): an
     * absolute one with a scheme libsoup does not speak, say ftp:. */
    char *text = g_strdup_printf("%s %s: not an http(s) URL", method_name(kind), url);
    fail(c, 0, text);
    g_free(text);
    return;
  }
  if (body) {
    GBytes *bytes = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, content_type, bytes);
    g_bytes_unref(bytes);
  }
  request *r = g_new0(request, 1);
  r->c = (http_client *)sig_session_ref(&c->base);
  r->msg = msg;
  r->kind = kind;
  soup_session_send_and_read_async(c->soup, msg, G_PRIORITY_DEFAULT, NULL, request_done, r);
}

static void send_delete(http_client *c) {
  if (c->deleted || !c->location)
    return;
  c->deleted = TRUE;
  start_request(c, REQ_DELETE, c->location, NULL, NULL);
}

/* Queued in @patches for "bye": the DELETE waits for the PATCHes before it. */
static char bye_mark[] = "bye";

static void free_fragment(gpointer p) {
  if (p != bye_mark)
    g_free(p);
}

static void pump_patches(http_client *c) {
  if (c->state != CLIENT_ANSWERED || c->patch_busy || g_queue_is_empty(&c->patches))
    return;
  if (!c->location) {
    g_queue_clear_full(&c->patches, free_fragment);
    c->state = CLIENT_FAILED;
    sig_session_deliver_error(
        &c->base, 0, "POST %s: the reply had no usable Location, cannot trickle", c->url_str);
    return;
  }
  char *frag = g_queue_pop_head(&c->patches);
  if (frag == bye_mark) {
    /* After every PATCH before it, and nothing is sent after it. */
    g_queue_clear_full(&c->patches, free_fragment);
    send_delete(c);
    return;
  }
  c->patch_busy = TRUE;
  start_request(c, REQ_PATCH, c->location, "application/trickle-ice-sdpfrag", frag);
  g_free(frag);
}

static void fail(http_client *c, guint status, const char *text) {
  if (c->state == CLIENT_FAILED)
    return;
  c->state = CLIENT_FAILED;
  g_queue_clear_full(&c->patches, free_fragment);
  sig_session_deliver_error(&c->base, status, "%s", text);
}

/* The reply body as a short printable string for error messages. */
static char *body_excerpt(GBytes *body) {
  gsize n = 0;
  const char *data = body ? g_bytes_get_data(body, &n) : NULL;
  if (!data || !n)
    return g_strdup("");
  char *text = g_utf8_make_valid(data, (gssize)MIN(n, 512));
  return g_strstrip(text);
}

/* Resolves the reply's Location against the URL we posted to (it is
 * usually relative, "/session/3"). */
static char *resolve_location(http_client *c, SoupMessage *msg) {
  const char *loc =
      soup_message_headers_get_one(soup_message_get_response_headers(msg), "Location");
  GUri *abs = loc ? g_uri_parse_relative(c->url, loc, G_URI_FLAGS_NONE, NULL) : NULL;
  if (!abs)
    return NULL;
  char *s = g_uri_to_string(abs);
  g_uri_unref(abs);
  return s;
}

static void on_answer(http_client *c, SoupMessage *msg, GBytes *body) {
  gsize n = 0;
  const char *sdp = body ? g_bytes_get_data(body, &n) : NULL;
  if (!sdp || !n || !g_utf8_validate(sdp, (gssize)n, NULL) || memchr(sdp, '\0', n)) {
    char *text = g_strdup_printf("POST %s: %u reply without a usable SDP body", c->url_str,
                                 soup_message_get_status(msg));
    fail(c, soup_message_get_status(msg), text);
    g_free(text);
    return;
  }
  /* Without a Location the answer is still usable; only trickling fails
   * (pump_patches says why). */
  c->location = resolve_location(c, msg);
  if (c->location) {
    char *desc = g_strdup_printf("http %s", c->location);
    sig_session_set_description(&c->base, desc);
    g_free(desc);
  }
  c->state = CLIENT_ANSWERED;
  JsonObject *answer = json_object_new();
  json_object_set_string_member(answer, "type", "answer");
  char *text = g_strndup(sdp, n);
  json_object_set_string_member(answer, "sdp", text);
  g_free(text);
  sig_session_deliver(&c->base, answer);
  pump_patches(c);
}

static void request_done(GObject *source, GAsyncResult *res, gpointer data) {
  request *r = data;
  http_client *c = r->c;
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &err);
  guint status = soup_message_get_status(r->msg);

  if (r->kind == REQ_DELETE) {
    /* Fire and forget: nobody is listening any more. */
  } else if (c->base.closed) {
    /* Closed while the POST was in flight: the endpoint created a session we
     * no longer want; end it now that we know where it lives. */
    if (r->kind == REQ_POST && !err && SOUP_STATUS_IS_SUCCESSFUL(status) && !c->location) {
      c->location = resolve_location(c, r->msg);
      send_delete(c);
    }
  } else if (err) {
    char *text = g_strdup_printf("%s %s: %s", method_name(r->kind),
                                 r->kind == REQ_POST ? c->url_str : c->location, err->message);
    fail(c, 0, text);
    g_free(text);
  } else if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
    char *excerpt = body_excerpt(body);
    const char *reason = soup_message_get_reason_phrase(r->msg);
    char *text = g_strdup_printf("%s %s: %u %s%s%s", method_name(r->kind),
                                 r->kind == REQ_POST ? c->url_str : c->location, status,
                                 reason ? reason : "", *excerpt ? ": " : "", excerpt);
    fail(c, status, text);
    g_free(text);
    g_free(excerpt);
  } else if (r->kind == REQ_POST) {
    on_answer(c, r->msg, body);
  } else {
    c->patch_busy = FALSE;
    pump_patches(c);
  }

  g_clear_pointer(&body, g_bytes_unref);
  g_clear_error(&err);
  g_object_unref(r->msg);
  sig_session_unref(&c->base);
  g_free(r);
}

/* ---- sig_session_class ---------------------------------------------------- */

static gboolean client_send(sig_session *s, JsonObject *msg, GError **error) {
  http_client *c = (http_client *)s;
  const char *type = sig_msg_type(msg);

  if (c->said_bye) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: bye was sent", sig_session_describe(s));
    return FALSE;
  }
  if (c->state == CLIENT_FAILED) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s failed earlier", sig_session_describe(s));
    return FALSE;
  }
  if (strcmp(type, "offer") == 0) {
    const char *sdp = sig_msg_string(msg, "sdp");
    if (!sdp || !*sdp) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          "an offer needs a non-empty \"sdp\" string");
      return FALSE;
    }
    if (c->state != CLIENT_NEW) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                          "the HTTP offer/answer protocol has one offer per session");
      return FALSE;
    }
    c->offer = sig_sdp_info_parse(sdp);
    c->state = CLIENT_POSTING;
    start_request(c, REQ_POST, c->url_str, "application/sdp", sdp);
    return TRUE;
  }
  if (strcmp(type, "candidate") == 0 || strcmp(type, "end-of-candidates") == 0) {
    const char *cand = NULL, *mid = NULL;
    gint64 index = -1;
    if (type[0] == 'c') {
      cand = sig_msg_string(msg, "candidate");
      if (!cand) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a candidate message needs a \"candidate\" string");
        return FALSE;
      }
      mid = sig_msg_string(msg, "sdpMid");
      if (sig_msg_int(msg, "sdpMLineIndex", &index) && (index < 0 || index > 1024)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "sdpMLineIndex out of range");
        return FALSE;
      }
      /* Both end up on a fragment line of their own. */
      if (strpbrk(cand, "\r\n") || (mid && strpbrk(mid, "\r\n"))) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a candidate and its sdpMid are single lines");
        return FALSE;
      }
      /* The browser convention: an empty candidate means "no more". */
      if (!*cand)
        cand = NULL;
    }
    /* Formatted now, from the offer if it went out (its m= line, mid and
     * ICE credentials); sent in order once the answer and Location arrived. */
    g_queue_push_tail(&c->patches, sig_sdpfrag_format(c->offer, cand, mid, (int)index));
    pump_patches(c);
    return TRUE;
  }
  if (strcmp(type, "bye") == 0) {
    c->said_bye = TRUE;
    if (c->state == CLIENT_NEW) {
      /* Nothing exists on the endpoint yet. */
      g_queue_clear_full(&c->patches, free_fragment);
      return TRUE;
    }
    g_queue_push_tail(&c->patches, bye_mark);
    pump_patches(c);
    return TRUE;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
              "the HTTP client has no place for a \"%s\" message", type);
  return FALSE;
}

static void client_close(sig_session *s) {
  http_client *c = (http_client *)s;
  g_queue_clear_full(&c->patches, free_fragment);
  /* If the POST is still in flight, request_done() sends the DELETE once the
   * Location is known. */
  send_delete(c);
}

static void client_finalize(sig_session *s) {
  http_client *c = (http_client *)s;
  g_queue_clear_full(&c->patches, free_fragment);
  g_clear_object(&c->soup);
  g_uri_unref(c->url);
  g_free(c->url_str);
  g_free(c->location);
  sig_sdp_info_free(c->offer);
}

static const sig_session_class client_class = {client_send, client_close, client_finalize};

sig_session *sig_http_client_new(const char *url, GError **error) {
  g_return_val_if_fail(url != NULL, NULL);
  GUri *uri = g_uri_parse(url, G_URI_FLAGS_NONE, error);
  if (!uri)
    return NULL;
  const char *scheme = g_uri_get_scheme(uri);
  if ((g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
      !g_uri_get_host(uri) || !*g_uri_get_host(uri)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: want http://HOST[:PORT]/PATH",
                url);
    g_uri_unref(uri);
    return NULL;
  }
  http_client *c = g_new0(http_client, 1);
  sig_session_init(&c->base, &client_class);
  c->url = uri;
  c->url_str = g_uri_to_string(uri);
  g_queue_init(&c->patches);
  /* No proxy: the examples talk to endpoints on this machine, and an
   * http_proxy in the environment must not reroute 127.0.0.1. */
  c->soup = soup_session_new_with_options("timeout", HTTP_TIMEOUT_S, "proxy-resolver", NULL, NULL);
  int port = g_uri_get_port(uri);
  if (port < 0)
    port = g_ascii_strcasecmp(scheme, "https") == 0 ? 443 : 80;
  const char *host = g_uri_get_host(uri);
  char *remote = strchr(host, ':') ? g_strdup_printf("[%s]:%d", host, port)
                                   : g_strdup_printf("%s:%d", host, port);
  sig_session_set_remote(&c->base, remote);
  char *desc = g_strdup_printf("http %s", c->url_str);
  sig_session_set_description(&c->base, desc);
  g_free(desc);
  g_free(remote);
  return &c->base;
}

/*
 * examples/chat — a weft peer in a chat room (doc/rooms.md).
 *
 *   chat --url ws://127.0.0.1:8080/ws --room R [--peer P] [--name N]
 *
 * Every line read from stdin goes to every peer of the room on its "chat"
 * data channel (a mesh: nobody relays). Events are JSON lines on stdout:
 *   {"ev":"joined","room":R,"peer":P}          our join was accepted
 *   {"ev":"peer-joined","peer":P,"name":N}     / {"ev":"peer-left","peer":P}
 *   {"ev":"open","peer":P}                     the chat channel with P is open
 *   {"ev":"chat","from":P,"name":N,"text":T}   a message from P
 * EOF on stdin: what was sent is flushed (bounded), then we leave, exit 0.
 * Exit 1 when the room connection fails, 2 for a bad command line.
 */
#define _POSIX_C_SOURCE 200809L
#include "room_peer.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After EOF: how long queued messages may take to leave, then a short grace
 * for SCTP to deliver what it holds before the connections close. */
#define FLUSH_MAX_US (3 * G_USEC_PER_SEC)
#define GRACE_US (300 * 1000)

typedef struct app {
  GMainLoop *loop;
  rp_room *room;
  GIOChannel *in;
  guint in_watch;
  gboolean eof;
  gint64 eof_us, flushed_us;
  char *error; /* set on a fatal error */
} app;

static void on_peer_joined(rp_room *r, const char *peer, const char *name, void *ud) {
  (void)r, (void)ud;
  rp_print_ev("peer-joined", peer, "name", name);
}

static void on_chat_open(rp_room *r, rp_peer *p, void *ud) {
  (void)r, (void)ud;
  rp_print_ev("open", rp_peer_id(p), NULL, NULL);
}

/* {"type":"chat","from":P,"name":N,"text":T}: "from" is taken from the
 * connection the message came on, not from the message (a peer cannot speak
 * for another); the name is the message's when it is a sane one. */
static void on_chat_message(rp_room *r, rp_peer *p, const char *text, size_t size, void *ud) {
  (void)r, (void)ud;
  JsonParser *parser = NULL;
  JsonObject *m = rp_json_parse(text, size, &parser);
  const char *type = m ? rp_json_str(m, "type") : NULL;
  const char *txt = m ? rp_json_str(m, "text") : NULL;
  if (!type || strcmp(type, "chat") != 0 || !txt) {
    fprintf(stderr, "chat: a message from %s that is not a chat message ignored\n", rp_peer_id(p));
    g_object_unref(parser);
    return;
  }
  const char *name = rp_peer_name(p);
  const char *mname = rp_json_str(m, "name");
  if (mname && *mname && strlen(mname) <= 64)
    name = mname;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", "chat");
  json_object_set_string_member(o, "from", rp_peer_id(p));
  json_object_set_string_member(o, "name", name);
  json_object_set_string_member(o, "text", txt);
  rp_print(o);
  g_object_unref(parser);
}

static void on_error(rp_room *r, const char *msg, void *ud) {
  (void)r;
  app *a = ud;
  if (!a->error)
    a->error = g_strdup(msg ? msg : "failed");
  g_main_loop_quit(a->loop);
}

static void send_line(app *a, char *line) {
  g_strchomp(line); /* drops the newline (and a CR) */
  if (!g_utf8_validate(line, -1, NULL)) {
    fprintf(stderr, "chat: a line that is not UTF-8 was not sent\n");
    return;
  }
  int n = rp_room_send_chat(a->room, line);
  if (n == 0)
    fprintf(stderr, "chat: nobody to send to yet\n");
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer ud) {
  app *a = ud;
  (void)cond;
  for (;;) {
    char *line = NULL;
    gsize len = 0;
    GError *err = NULL;
    GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, &err);
    if (st == G_IO_STATUS_NORMAL) {
      send_line(a, line);
      g_free(line);
      continue;
    }
    g_free(line);
    if (st == G_IO_STATUS_AGAIN)
      return G_SOURCE_CONTINUE;
    if (err) {
      fprintf(stderr, "chat: stdin: %s\n", err->message);
      g_error_free(err);
    }
    /* EOF: a last line without a newline is still in the buffer. */
    if (st == G_IO_STATUS_EOF) {
      char *rest = NULL;
      if (g_io_channel_read_to_end(ch, &rest, &len, NULL) == G_IO_STATUS_NORMAL && rest && len > 0)
        send_line(a, rest);
      g_free(rest);
    }
    a->eof = TRUE;
    a->eof_us = g_get_monotonic_time();
    a->in_watch = 0;
    return G_SOURCE_REMOVE;
  }
}

/* After EOF: quit once no chat channel has anything queued, plus a grace
 * period, or after FLUSH_MAX_US. */
static gboolean on_tick(gpointer ud) {
  app *a = ud;
  if (!a->eof)
    return G_SOURCE_CONTINUE;
  gint64 now = g_get_monotonic_time();
  if (!a->flushed_us) {
    gboolean empty = TRUE;
    GPtrArray *all = rp_room_peers(a->room);
    for (guint i = 0; i < all->len && empty; i++) {
      weft_dc *dc = rp_peer_chat(all->pdata[i]);
      if (dc && weft_dc_get_ready_state(dc) == WEFT_DC_OPEN && weft_dc_get_buffered_amount(dc))
        empty = FALSE;
    }
    g_ptr_array_unref(all);
    if (empty || now - a->eof_us > FLUSH_MAX_US)
      a->flushed_us = now;
  }
  if (a->flushed_us && now - a->flushed_us >= GRACE_US)
    g_main_loop_quit(a->loop);
  return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv) {
  rp_cmdline cl = {0};
  GOptionContext *oc = g_option_context_new("- chat in a weft room (doc/rooms.md)");
  rp_cmdline_add(&cl, oc);
  GError *err = NULL;
  int bad = !g_option_context_parse(oc, &argc, &argv, &err) || argc > 1 || !cl.url || !cl.room;
  g_option_context_free(oc);
  if (bad) {
    fprintf(stderr,
            "chat: %s\nusage: chat --url ws://HOST:PORT/ws --room R [--peer P] [--name N]\n",
            err ? err->message : "bad arguments");
    g_clear_error(&err);
    rp_cmdline_clear(&cl);
    return 2;
  }

  app a = {0};
  a.loop = g_main_loop_new(NULL, FALSE);
  rp_options o = rp_cmdline_options(&cl, "chat");
  rp_callbacks cb = {.joined = rp_print_joined,
                     .peer_joined = on_peer_joined,
                     .peer_left = rp_print_peer_left,
                     .chat_open = on_chat_open,
                     .chat_message = on_chat_message,
                     .error = on_error};
  a.room = rp_room_new(&o, &cb, &a, &err);
  if (!a.room) {
    fprintf(stderr, "chat: %s\n", err->message);
    g_error_free(err);
    g_main_loop_unref(a.loop);
    rp_cmdline_clear(&cl);
    return 2;
  }
  a.in = g_io_channel_unix_new(STDIN_FILENO);
  g_io_channel_set_flags(a.in, G_IO_FLAG_NONBLOCK, NULL);
  a.in_watch = g_io_add_watch(a.in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &a);
  guint tick = g_timeout_add(50, on_tick, &a);
  rp_quit_on_signals(a.loop);

  g_main_loop_run(a.loop);

  if (a.in_watch)
    g_source_remove(a.in_watch);
  g_source_remove(tick);
  g_io_channel_unref(a.in);
  rp_room_free(a.room);
  rp_drain(2 * G_USEC_PER_SEC);
  int rc = a.error ? 1 : 0;
  if (a.error)
    fprintf(stderr, "chat: %s\n", a.error);
  g_free(a.error);
  g_main_loop_unref(a.loop);
  rp_cmdline_clear(&cl);
  return rc;
}

/*
 * examples/file-transfer — send a file to a peer of a room over a weft data
 * channel, with SHA-256 check and resume (doc/rooms.md, "File transfer").
 *
 *   file-transfer send FILE --to P --url ws://HOST:PORT/ws --room R [...]
 *   file-transfer receive DIR      --url ws://HOST:PORT/ws --room R [...]
 *
 * One channel labeled "file" per transfer, opened by the sender on its
 * connection with the receiver: header {"type":"file",...}, the receiver's
 * {"type":"resume","offset":K} (K = what DIR/.ID.part already holds), 16 KiB
 * binary chunks from K with bufferedAmount kept at or below 1 MiB, an "ack"
 * per durably stored MiB, then "done" after the SHA-256 check. If the channel
 * or connection drops before "done", the sender leaves, joins again (a new
 * connection) and starts over with the same ID; the receiver answers with
 * what it has.
 *
 * stdout: one final line {"ev":"done","ok":...,"name","size","sha256",
 * "seconds","mb_per_s","resumed_from"} (+ "error" when not ok); events
 * {"ev":"joined"|"peer-joined"|"peer-left"|"open"|"resume"|"cut",...} before
 * it. stderr: progress (at most 5 lines a second) and diagnostics.
 * Exit 0 only if the transfer succeeded; 1 on failure; 2 for a bad command
 * line.
 *
 * "seconds" runs from the first chunk of the first attempt to "done" (so it
 * includes any reconnection), "mb_per_s" is (size - the offset of the first
 * attempt) / seconds in units of 10^6 bytes, and "resumed_from" is the offset
 * the last attempt started at.
 */
#define _GNU_SOURCE
#include "room_peer.h"
#include "signaling.h" /* sig_valid_id, sig_json_to_string */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 16384
#define MAX_BUFFERED (1024 * 1024)
#define LOW_WATER (256 * 1024)
#define ACK_EVERY (1024 * 1024)
#define PROGRESS_US (200 * 1000)
#define MAX_ATTEMPTS 8
#define REJOIN_DELAY_MS 300
/* After "done": how long to wait for the other side to close the channel. */
#define CLOSE_WAIT_MS 5000
#define MAX_FILE_SIZE ((gint64)1 << 50)

typedef enum { ST_WAIT_PEER, ST_WAIT_RESUME, ST_SENDING, ST_WAIT_DONE, ST_FINISHED } sstate;

typedef struct app {
  GMainLoop *loop;
  rp_room *room;
  gboolean sender;
  gboolean ok; /* set by finish() */
  char *error;
  gboolean finished;
  guint finish_timer, rejoin_timer, timeout_timer, progress_timer;
  gboolean in_rejoin;

  /* the transfer (both sides) */
  weft_dc *dc;
  char *peer; /* the other side of the current channel */
  char *name;
  gint64 size;
  char sha[65];
  char id[65];
  gint64 offset;    /* sender: next byte to send; receiver: bytes held */
  gint64 acked;     /* sender: the receiver's last ack */
  gint64 first_off; /* offset the first attempt started at */
  gint64 resumed_from;
  gint64 start_us, last_progress_us;
  gboolean started;
  gboolean garbage; /* --test-garbage */

  /* sender */
  char *to;
  int fd;
  gint64 cut_after; /* 0 = never */
  gboolean cut_done;
  sstate st;
  int attempts;
  uint8_t buf[CHUNK];

  /* receiver */
  char *dir;
  char *part_path;
  int part_fd;
  gboolean have_header;
  gint64 last_ack;
  GChecksum *sum;
} app;

static void G_GNUC_PRINTF(1, 2) say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("file-transfer: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
  va_end(ap);
}

static gint64 now_us(void) { return g_get_monotonic_time(); }

/* {"ev":@ev[,"peer":@peer],"offset":@offset} */
static void ev_offset(const char *ev, const char *peer, gint64 offset) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", ev);
  if (peer)
    json_object_set_string_member(o, "peer", peer);
  json_object_set_int_member(o, "offset", offset);
  rp_print(o);
}

static void send_json(weft_dc *dc, JsonObject *o) {
  char *s = sig_json_to_string(o);
  json_object_unref(o);
  int rc = weft_dc_send_text(dc, s, strlen(s));
  if (rc < 0)
    say("sending %s: %s", s, weft_err_name(rc));
  g_free(s);
}

static void progress(app *a, gboolean force) {
  gint64 now = now_us();
  if (!a->started || (!force && now - a->last_progress_us < PROGRESS_US))
    return;
  a->last_progress_us = now;
  double secs = (double)(now - a->start_us) / 1e6;
  double moved = (double)(a->offset - a->first_off);
  double rate = secs > 0 ? moved / secs / 1e6 : 0;
  double left = (double)(a->size - a->offset);
  double pct = a->size ? 100.0 * (double)a->offset / (double)a->size : 100.0;
  if (rate > 0)
    fprintf(stderr, "file-transfer: %s %5.1f%% %.1f/%.1f MB  %.1f MB/s  ETA %.0f s\n",
            a->sender ? "sent" : "received", pct, (double)a->offset / 1e6, (double)a->size / 1e6,
            rate, left / (rate * 1e6));
  else
    fprintf(stderr, "file-transfer: %s %5.1f%%\n", a->sender ? "sent" : "received", pct);
  fflush(stderr);
}

static gboolean on_progress(gpointer ud) {
  app *a = ud;
  if (a->started && !a->finished && (a->st == ST_SENDING || !a->sender))
    progress(a, FALSE);
  return G_SOURCE_CONTINUE;
}

static gboolean quit_now(gpointer ud) {
  app *a = ud;
  a->finish_timer = 0;
  g_main_loop_quit(a->loop);
  return G_SOURCE_REMOVE;
}

/* Quits after @delay_ms (0: from an idle callback), replacing an earlier
 * schedule. */
static void quit_after(app *a, guint delay_ms) {
  if (a->finish_timer)
    g_source_remove(a->finish_timer);
  a->finish_timer = delay_ms ? g_timeout_add(delay_ms, quit_now, a) : g_idle_add(quit_now, a);
}

/* The final line; then quit after @delay_ms (0: at once). */
static void finish(app *a, gboolean ok, const char *error, guint delay_ms) {
  if (a->finished)
    return;
  a->finished = TRUE;
  a->st = ST_FINISHED;
  a->ok = ok;
  gint64 now = now_us();
  double secs = a->started ? (double)(now - a->start_us) / 1e6 : 0;
  if (ok)
    a->offset = a->size;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", "done");
  json_object_set_boolean_member(o, "ok", ok);
  if (a->name)
    json_object_set_string_member(o, "name", a->name);
  json_object_set_int_member(o, "size", a->size);
  if (a->sha[0])
    json_object_set_string_member(o, "sha256", a->sha);
  if (!ok)
    json_object_set_string_member(o, "error", error ? error : "failed");
  double rate = secs > 0 ? (double)(a->offset - a->first_off) / secs / 1e6 : 0;
  char s1[32], s2[32];
  char *tail = g_strdup_printf("\"seconds\":%s,\"mb_per_s\":%s,\"resumed_from\":%" G_GINT64_FORMAT,
                               g_ascii_formatd(s1, sizeof s1, "%.3f", secs),
                               g_ascii_formatd(s2, sizeof s2, "%.2f", rate), a->resumed_from);
  if (ok)
    progress(a, TRUE);
  else
    say("failed: %s", error ? error : "?");
  rp_print_tail(o, tail);
  g_free(tail);
  quit_after(a, delay_ms);
}

/* Feeds the first @len bytes of @fd to @sum; returns how many could be read
 * (fewer at the end of the file, or on a read error: its errno in *@error,
 * else 0). */
static gint64 hash_fd(int fd, gint64 len, GChecksum *sum, int *error) {
  uint8_t *buf = g_malloc(1024 * 1024);
  gint64 pos = 0;
  *error = 0;
  while (pos < len) {
    ssize_t n = pread(fd, buf, (size_t)MIN(len - pos, 1024 * 1024), (off_t)pos);
    if (n <= 0) {
      *error = n < 0 ? errno : 0;
      break;
    }
    g_checksum_update(sum, buf, (gssize)n);
    pos += n;
  }
  g_free(buf);
  return pos;
}

static void release_dc(app *a) {
  if (!a->dc)
    return;
  weft_dc_close(a->dc);
  weft_dc_unref(a->dc);
  a->dc = NULL;
}

/* ===== Sender ============================================================= */

static void start_channel(app *a, rp_peer *p);

static gboolean do_rejoin(gpointer ud) {
  app *a = ud;
  a->rejoin_timer = 0;
  if (a->finished)
    return G_SOURCE_REMOVE;
  say("joining the room again (attempt %d)", a->attempts + 1);
  a->in_rejoin = TRUE;
  rp_room_rejoin(a->room);
  a->in_rejoin = FALSE;
  return G_SOURCE_REMOVE;
}

/* The current attempt is over before "done": leave, join again, start over
 * (doc/rooms.md step 6). */
static void lose_attempt(app *a, const char *why) {
  if (a->finished || !a->sender)
    return;
  release_dc(a);
  a->st = ST_WAIT_PEER;
  if (a->rejoin_timer)
    return;
  say("attempt %d lost: %s", a->attempts, why);
  if (a->attempts >= MAX_ATTEMPTS) {
    char *e = g_strdup_printf("gave up after %d attempts (%s)", a->attempts, why);
    finish(a, FALSE, e, 0);
    g_free(e);
    return;
  }
  a->rejoin_timer = g_timeout_add(REJOIN_DELAY_MS, do_rejoin, a);
}

static void pump(app *a) {
  while (a->st == ST_SENDING && a->offset < a->size && a->dc) {
    size_t n = (size_t)MIN((gint64)CHUNK, a->size - a->offset);
    if (weft_dc_get_buffered_amount(a->dc) + n > MAX_BUFFERED)
      return; /* on_buffered_amount_low calls again */
    ssize_t got = pread(a->fd, a->buf, n, (off_t)a->offset);
    if (got != (ssize_t)n) {
      char *e = g_strdup_printf("reading the file at %" G_GINT64_FORMAT ": %s", a->offset,
                                got < 0 ? g_strerror(errno) : "short read (file changed?)");
      finish(a, FALSE, e, 0);
      g_free(e);
      return;
    }
    int rc = weft_dc_send(a->dc, a->buf, n);
    if (rc == WEFT_ERR_AGAIN)
      return;
    if (rc < 0) {
      lose_attempt(a, weft_err_name(rc));
      return;
    }
    a->offset += (gint64)n;
    if (a->cut_after && !a->cut_done && a->offset >= a->cut_after) {
      a->cut_done = TRUE;
      ev_offset("cut", NULL, a->offset);
      /* Abruptly: the peer connection goes (bye + close), dropping what SCTP
       * still holds, as a network failure would; then leave and rejoin. */
      rp_peer *p = rp_room_find_peer(a->room, a->peer);
      if (p)
        rp_room_bye(a->room, p); /* on_peer_closed -> lose_attempt */
      lose_attempt(a, "--cut-after");
      return;
    }
  }
  if (a->st == ST_SENDING && a->offset >= a->size)
    a->st = ST_WAIT_DONE;
}

static void on_low(weft_dc *dc, void *ud) {
  (void)dc;
  pump(ud);
}

static void sender_message(app *a, JsonObject *m) {
  const char *type = rp_json_str(m, "type");
  const char *id = rp_json_str(m, "id");
  if (!type || g_strcmp0(id, a->id) != 0) {
    say("a message about another transfer ignored");
    return;
  }
  gint64 v = 0;
  if (!strcmp(type, "resume")) {
    if (a->st != ST_WAIT_RESUME || !rp_json_int(m, "offset", 0, a->size, &v)) {
      say("an unexpected or malformed resume ignored");
      return;
    }
    a->offset = v;
    a->resumed_from = v;
    if (!a->started) {
      a->started = TRUE;
      a->start_us = now_us();
      a->first_off = v;
    }
    ev_offset("resume", a->peer, v);
    a->st = ST_SENDING;
    pump(a);
  } else if (!strcmp(type, "ack")) {
    if (rp_json_int(m, "offset", 0, a->size, &v))
      a->acked = v;
  } else if (!strcmp(type, "done")) {
    JsonNode *okn = json_object_get_member(m, "ok");
    gboolean ok = okn && JSON_NODE_HOLDS_VALUE(okn) &&
                  json_node_get_value_type(okn) == G_TYPE_BOOLEAN && json_node_get_boolean(okn);
    const char *err = rp_json_str(m, "error");
    if (ok && a->offset < a->size) {
      finish(a, FALSE, "the receiver said done before it had every byte", 0);
      return;
    }
    char *e = ok ? NULL : g_strdup_printf("receiver: %s", err ? err : "failed");
    /* Step 5: the sender closes the channel; a short grace lets the close
     * reach the receiver before the connection goes. */
    finish(a, ok, e, 200);
    g_free(e);
    release_dc(a);
  }
}

static void on_dc_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud);

/* --test-garbage: malformed messages the other side must shrug off before
 * the real ones (the tests check that the transfer still works and that
 * nothing stray is written). */
static void send_garbage(app *a, weft_dc *dc) {
  static const char *const to_receiver[] = {
      "",
      "not json",
      "[]",
      "{}",
      "{\"type\":7}",
      "{\"type\":\"file\"}",
      "{\"type\":\"file\",\"id\":\"../x\",\"name\":\"a\",\"size\":1,\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g1\",\"name\":\"../../evil\",\"size\":1,\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g2\",\"name\":\"..\",\"size\":1,\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g3\",\"name\":\"a\",\"size\":-1,\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g4\",\"name\":\"a\",\"size\":\"12\",\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g5\",\"name\":\"a\",\"size\":1e300,\"sha256\":\"@\"}",
      "{\"type\":\"file\",\"id\":\"g6\",\"name\":\"a\",\"size\":1,\"sha256\":\"xyz\"}",
      "{\"type\":\"file\",\"id\":\"g7\",\"name\":\"a\\u0001b\",\"size\":1,\"sha256\":\"@\"}",
      "{\"type\":\"resume\",\"id\":\"x\",\"offset\":0}",
      "{\"type\":\"done\",\"ok\":true}"};
  static const char *const to_sender[] = {
      "",
      "not json",
      "[1,2]",
      "{\"type\":null}",
      "{\"type\":\"resume\",\"id\":\"other\",\"offset\":0}",
      "{\"type\":\"resume\",\"id\":\"@\",\"offset\":-5}",
      "{\"type\":\"resume\",\"id\":\"@\",\"offset\":99999999999999999}",
      "{\"type\":\"resume\",\"id\":\"@\",\"offset\":\"0\"}",
      "{\"type\":\"ack\",\"id\":\"@\",\"offset\":1e30}",
      "{\"type\":\"done\",\"id\":\"other\"}",
      "{\"type\":\"file\",\"id\":\"@\"}"};
  const char *const *list = a->sender ? to_receiver : to_sender;
  size_t n = a->sender ? G_N_ELEMENTS(to_receiver) : G_N_ELEMENTS(to_sender);
  const char *arg = a->sender ? a->sha : a->id;
  for (size_t i = 0; i < n; i++) {
    char **parts = g_strsplit(list[i], "@", -1); /* "@" stands for the hash or ID */
    char *m = g_strjoinv(arg, parts);
    weft_dc_send_text(dc, m, strlen(m));
    g_free(m);
    g_strfreev(parts);
  }
  static const uint8_t junk[] = {0xff, 0x00, '{', '}', 0x80};
  weft_dc_send(dc, junk, sizeof junk);
}

static void on_dc_open(weft_dc *dc, void *ud) {
  app *a = ud;
  if (dc != a->dc || a->finished)
    return;
  rp_print_ev("open", a->peer, NULL, NULL);
  if (!a->sender)
    return;
  if (a->garbage)
    send_garbage(a, dc);
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", "file");
  json_object_set_string_member(o, "id", a->id);
  json_object_set_string_member(o, "name", a->name);
  json_object_set_int_member(o, "size", a->size);
  json_object_set_string_member(o, "sha256", a->sha);
  send_json(dc, o);
  a->st = ST_WAIT_RESUME;
}

static void on_dc_close(weft_dc *dc, void *ud);

static void watch_dc(app *a, weft_dc *dc) {
  a->dc = weft_dc_ref(dc);
  weft_dc_set_user_data(dc, a, NULL);
  weft_dc_set_on_message(dc, on_dc_message);
  weft_dc_set_on_close(dc, on_dc_close);
  weft_dc_set_on_open(dc, on_dc_open);
  if (a->sender) {
    weft_dc_set_buffered_amount_low_threshold(dc, LOW_WATER);
    weft_dc_set_on_buffered_amount_low(dc, on_low);
  }
}

static void start_channel(app *a, rp_peer *p) {
  if (a->dc || a->finished || a->rejoin_timer)
    return;
  weft_dc_init init = WEFT_DC_INIT;
  weft_dc *dc = weft_pc_create_data_channel(rp_peer_pc(p), "file", &init);
  if (!dc) {
    lose_attempt(a, weft_last_error_message());
    return;
  }
  a->attempts++;
  g_free(a->peer);
  a->peer = g_strdup(rp_peer_id(p));
  a->st = ST_WAIT_PEER;
  /* on_open is replayed by weft if the channel is already open. */
  watch_dc(a, dc);
  weft_dc_unref(dc);
}

/* ===== Receiver =========================================================== */

static void rx_reset(app *a) {
  if (a->part_fd >= 0)
    close(a->part_fd);
  a->part_fd = -1;
  a->have_header = FALSE;
  if (a->sum)
    g_checksum_free(a->sum);
  a->sum = NULL;
}

static gboolean valid_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 255 || !g_utf8_validate(s, -1, NULL) || !strcmp(s, ".") || !strcmp(s, ".."))
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == '/' || s[i] == '\\' || s[i] == 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean valid_file_id(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > 64)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean valid_hex64(const char *s) {
  if (!s || strlen(s) != 64)
    return FALSE;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isxdigit(s[i]))
      return FALSE;
  return TRUE;
}

static void rx_send(app *a, const char *type, gint64 offset, const char *error) {
  if (!a->dc)
    return;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", type);
  json_object_set_string_member(o, "id", a->id);
  if (!strcmp(type, "done")) {
    json_object_set_boolean_member(o, "ok", error == NULL);
    if (error)
      json_object_set_string_member(o, "error", error);
  } else {
    json_object_set_int_member(o, "offset", offset);
  }
  send_json(a->dc, o);
}

/* Everything is here: check, keep or delete, tell the sender. */
static void rx_complete(app *a) {
  if (fdatasync(a->part_fd) < 0)
    say("fdatasync: %s", g_strerror(errno));
  rx_send(a, "ack", a->offset, NULL);
  const char *got = g_checksum_get_string(a->sum);
  close(a->part_fd);
  a->part_fd = -1;
  if (g_ascii_strcasecmp(got, a->sha) != 0) {
    say("sha256 mismatch: announced %s, received %s", a->sha, got);
    if (unlink(a->part_path) < 0)
      say("removing %s: %s", a->part_path, g_strerror(errno));
    rx_send(a, "done", 0, "sha256 mismatch");
    finish(a, FALSE, "sha256 mismatch", CLOSE_WAIT_MS);
    return;
  }
  char *dest = g_build_filename(a->dir, a->name, NULL);
  if (rename(a->part_path, dest) < 0) {
    char *e = g_strdup_printf("renaming into %s: %s", dest, g_strerror(errno));
    unlink(a->part_path);
    rx_send(a, "done", 0, e);
    finish(a, FALSE, e, CLOSE_WAIT_MS);
    g_free(e);
  } else {
    /* The sha in the final line is the one computed here. */
    g_strlcpy(a->sha, got, sizeof a->sha);
    rx_send(a, "done", 0, NULL);
    finish(a, TRUE, NULL, CLOSE_WAIT_MS);
  }
  g_free(dest);
}

static void rx_fail(app *a, const char *why) {
  /* Protocol violation: nothing is kept (a wrong stream cannot be resumed). */
  if (a->part_fd >= 0) {
    close(a->part_fd);
    a->part_fd = -1;
    unlink(a->part_path);
  }
  rx_send(a, "done", 0, why);
  finish(a, FALSE, why, CLOSE_WAIT_MS);
}

static void rx_header(app *a, JsonObject *m) {
  const char *id = rp_json_str(m, "id");
  const char *name = rp_json_str(m, "name");
  const char *sha = rp_json_str(m, "sha256");
  gint64 size = 0;
  if (!valid_file_id(id) || !valid_name(name) || !valid_hex64(sha) ||
      !rp_json_int(m, "size", 0, MAX_FILE_SIZE, &size)) {
    say("a malformed file header ignored");
    return;
  }
  if (a->have_header)
    rx_reset(a);
  g_strlcpy(a->id, id, sizeof a->id);
  g_free(a->name);
  a->name = g_strdup(name);
  g_strlcpy(a->sha, sha, sizeof a->sha);
  a->size = size;
  g_free(a->part_path);
  char *base = g_strdup_printf(".%s.part", id);
  a->part_path = g_build_filename(a->dir, base, NULL);
  g_free(base);
  a->part_fd = open(a->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (a->part_fd < 0) {
    char *e = g_strdup_printf("opening %s: %s", a->part_path, g_strerror(errno));
    rx_send(a, "done", 0, e);
    finish(a, FALSE, e, CLOSE_WAIT_MS);
    g_free(e);
    return;
  }
  struct stat st;
  gint64 held = fstat(a->part_fd, &st) == 0 ? (gint64)st.st_size : 0;
  if (held > size) {
    held = 0;
    if (ftruncate(a->part_fd, 0) < 0)
      say("truncating %s: %s", a->part_path, g_strerror(errno));
  }
  /* The hash covers the whole file: what is already held is read back. */
  a->sum = g_checksum_new(G_CHECKSUM_SHA256);
  int error;
  held = hash_fd(a->part_fd, held, a->sum, &error);
  if (ftruncate(a->part_fd, held) < 0 || lseek(a->part_fd, held, SEEK_SET) < 0)
    say("positioning %s: %s", a->part_path, g_strerror(errno));
  a->offset = held;
  a->last_ack = held;
  a->resumed_from = held;
  if (!a->started) {
    a->started = TRUE;
    a->start_us = now_us();
    a->first_off = held;
  }
  a->have_header = TRUE;
  say("receiving %s (%" G_GINT64_FORMAT " bytes) from %s, resuming at %" G_GINT64_FORMAT, name,
      size, a->peer, held);
  ev_offset("resume", a->peer, held);
  if (a->garbage)
    send_garbage(a, a->dc);
  rx_send(a, "resume", held, NULL);
  if (held == size)
    rx_complete(a);
}

static void rx_data(app *a, const uint8_t *data, size_t size) {
  if (!a->have_header || a->part_fd < 0) {
    say("data before a file header ignored");
    return;
  }
  if ((gint64)size > a->size - a->offset) {
    rx_fail(a, "more data than announced");
    return;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(a->part_fd, data + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      char *e = g_strdup_printf("writing %s: %s", a->part_path, g_strerror(errno));
      rx_fail(a, e);
      g_free(e);
      return;
    }
    done += (size_t)n;
  }
  g_checksum_update(a->sum, data, (gssize)size);
  a->offset += (gint64)size;
  if (a->offset == a->size) {
    rx_complete(a);
    return;
  }
  if (a->offset - a->last_ack >= ACK_EVERY) {
    if (fdatasync(a->part_fd) < 0)
      say("fdatasync: %s", g_strerror(errno));
    a->last_ack = a->offset;
    rx_send(a, "ack", a->offset, NULL);
  }
}

/* ===== Channel callbacks (both sides) ===================================== */

static void on_dc_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                          void *ud) {
  app *a = ud;
  if (dc != a->dc || a->finished)
    return;
  if (type == WEFT_MSG_BINARY) {
    if (a->sender)
      say("binary data from the receiver ignored");
    else
      rx_data(a, data, size);
    return;
  }
  JsonParser *parser = NULL;
  JsonObject *m = rp_json_parse(data, size, &parser);
  if (!m) {
    say("a malformed message ignored");
  } else if (a->sender) {
    sender_message(a, m);
  } else {
    const char *t = rp_json_str(m, "type");
    if (g_strcmp0(t, "file") == 0)
      rx_header(a, m);
    else
      say("an unexpected %s message ignored", t ? t : "untyped");
  }
  g_object_unref(parser);
}

/* The file channel, or the connection under it, is gone (@why: what went). */
static void channel_gone(app *a, const char *why) {
  if (a->finished) {
    /* The other side closed after "done": nothing left to wait for. */
    release_dc(a);
    quit_after(a, 0);
  } else if (a->sender) {
    lose_attempt(a, why);
  } else {
    say("%s before the end; waiting for the sender to resume", why);
    release_dc(a);
    rx_reset(a);
  }
}

static void on_dc_close(weft_dc *dc, void *ud) {
  app *a = ud;
  if (dc == a->dc)
    channel_gone(a, "the channel closed");
}

/* ===== Room callbacks ===================================================== */

static void on_pc_state(rp_room *r, rp_peer *p, weft_pc_state st, void *ud) {
  (void)r;
  app *a = ud;
  if (a->sender && st == WEFT_PC_CONNECTED && !strcmp(rp_peer_id(p), a->to))
    start_channel(a, p);
}

static void on_data_channel(rp_room *r, rp_peer *p, weft_dc *dc, void *ud) {
  (void)r;
  app *a = ud;
  if (a->sender || a->finished || g_strcmp0(weft_dc_get_label(dc), "file") != 0) {
    weft_dc_close(dc);
    return;
  }
  if (a->dc) {
    /* A new attempt while the old channel still looks open (its close may
     * not have arrived yet): the newest wins, the partial file stays. */
    say("a new file channel from %s replaces the current one", rp_peer_id(p));
    release_dc(a);
    rx_reset(a);
  }
  g_free(a->peer);
  a->peer = g_strdup(rp_peer_id(p));
  watch_dc(a, dc); /* on_open is replayed if the channel is already open */
}

static void on_peer_closed(rp_room *r, rp_peer *p, void *ud) {
  (void)r;
  app *a = ud;
  if (!a->peer || strcmp(rp_peer_id(p), a->peer) != 0 || !a->dc)
    return;
  if (a->sender && a->in_rejoin && !a->finished)
    release_dc(a); /* our own leave: do_rejoin started the next attempt */
  else
    channel_gone(a, "the connection closed");
}

static void on_error(rp_room *r, const char *msg, void *ud) {
  (void)r;
  app *a = ud;
  if (a->finished) {
    g_main_loop_quit(a->loop);
    return;
  }
  finish(a, FALSE, msg, 0);
}

static gboolean on_timeout(gpointer ud) {
  app *a = ud;
  a->timeout_timer = 0;
  finish(a, FALSE, "timed out", 0);
  return G_SOURCE_REMOVE;
}

/* ===== Setup ============================================================== */

/* Reads the whole file once for its SHA-256 (the header carries it). */
static int hash_file(app *a, const char *path, gboolean lie) {
  a->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (a->fd < 0 || fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    say("cannot read %s: %s", path, a->fd < 0 ? g_strerror(errno) : "not a regular file");
    return -1;
  }
  a->size = (gint64)st.st_size;
  GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
  int error;
  if (hash_fd(a->fd, a->size, sum, &error) < a->size) {
    say("reading %s: %s", path, error ? g_strerror(error) : "short read");
    g_checksum_free(sum);
    return -1;
  }
  g_strlcpy(a->sha, g_checksum_get_string(sum), sizeof a->sha);
  g_checksum_free(sum);
  if (lie) /* test hook: announce a hash the data will not match */
    a->sha[0] = a->sha[0] == '0' ? '1' : '0';
  char *base = g_path_get_basename(path);
  a->name = valid_name(base) ? g_strdup(base) : g_strdup("file");
  g_free(base);
  /* ID: stable across resumes (derived from name, size and hash). */
  char *key = g_strdup_printf("%s\n%" G_GINT64_FORMAT "\n%s", a->name, a->size, a->sha);
  char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
  g_snprintf(a->id, sizeof a->id, "%.32s", h);
  g_free(h);
  g_free(key);
  return 0;
}

static gint64 parse_size(const char *s) {
  char *end = NULL;
  double v = g_ascii_strtod(s, &end);
  if (!end || end == s || v < 0)
    return -1;
  switch (g_ascii_toupper(*end)) {
  case 'K':
    v *= 1024, end++;
    break;
  case 'M':
    v *= 1024 * 1024, end++;
    break;
  case 'G':
    v *= 1024.0 * 1024 * 1024, end++;
    break;
  default:
    break;
  }
  if (*end == 'i' || *end == 'I')
    end++;
  if (*end == 'B' || *end == 'b')
    end++;
  return *end ? -1 : (gint64)v;
}

static const char *USAGE =
    "usage: file-transfer send FILE --to P --url ws://HOST:PORT/ws --room R [options]\n"
    "       file-transfer receive DIR --url ws://HOST:PORT/ws --room R [options]\n";

int main(int argc, char **argv) {
  rp_cmdline cl = {0};
  char *to = NULL, *cut = NULL;
  gboolean lie = FALSE, garbage = FALSE;
  double timeout = 0;
  GOptionEntry entries[] = {
      {"to", 0, 0, G_OPTION_ARG_STRING, &to, "send: the receiver's peer id", "P"},
      {"cut-after", 0, 0, G_OPTION_ARG_STRING, &cut,
       "send (tests): drop the connection once after BYTES (K/M/G suffixes), then resume", "BYTES"},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "give up after S seconds (0: never)", "S"},
      {"test-lie-sha256", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &lie,
       "send (tests): announce a wrong SHA-256", NULL},
      {"test-garbage", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &garbage,
       "(tests): send malformed messages before the real ones", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GOptionContext *oc = g_option_context_new("send FILE | receive DIR - doc/rooms.md");
  rp_cmdline_add(&cl, oc);
  g_option_context_add_main_entries(oc, entries, NULL);
  GError *err = NULL;
  gboolean parsed = g_option_context_parse(oc, &argc, &argv, &err);
  g_option_context_free(oc);

  app a = {0};
  a.fd = -1;
  a.part_fd = -1;
  a.garbage = garbage;
  int rc = 2;
  const char *why = err ? err->message : NULL;
  if (parsed && argc == 3 && !strcmp(argv[1], "send")) {
    a.sender = TRUE;
    if (!to || !sig_valid_id(to))
      why = "send needs --to P (a valid peer id)";
  } else if (parsed && argc == 3 && !strcmp(argv[1], "receive")) {
    if (to || cut || lie)
      why = "--to, --cut-after are for send";
    else if (!g_file_test(argv[2], G_FILE_TEST_IS_DIR))
      why = "receive needs an existing directory";
  } else if (!why) {
    why = "send FILE or receive DIR";
  }
  if (!why && (!cl.url || !cl.room))
    why = "--url and --room are required";
  if (!why && cut && (a.cut_after = parse_size(cut)) <= 0)
    why = "--cut-after: a positive byte count";
  if (!why && timeout < 0)
    why = "--timeout: seconds >= 0";
  if (why) {
    fprintf(stderr, "file-transfer: %s\n%s", why, USAGE);
    goto out;
  }
  if (a.sender) {
    a.to = g_strdup(to);
    if (hash_file(&a, argv[2], lie) < 0) {
      rc = 1;
      goto out;
    }
    say("sending %s (%" G_GINT64_FORMAT " bytes, sha256 %s, id %s) to %s", a.name, a.size, a.sha,
        a.id, a.to);
  } else {
    a.dir = g_strdup(argv[2]);
  }

  a.loop = g_main_loop_new(NULL, FALSE);
  rp_options o = rp_cmdline_options(&cl, "file-transfer");
  rp_callbacks cb = {.joined = rp_print_joined,
                     .peer_joined = rp_print_peer_joined,
                     .peer_left = rp_print_peer_left,
                     .pc_state = on_pc_state,
                     .data_channel = on_data_channel,
                     .peer_closed = on_peer_closed,
                     .error = on_error};
  a.room = rp_room_new(&o, &cb, &a, &err);
  if (!a.room) {
    fprintf(stderr, "file-transfer: %s\n", err->message);
    goto out;
  }
  if (timeout > 0)
    a.timeout_timer = g_timeout_add((guint)(timeout * 1000), on_timeout, &a);
  a.progress_timer = g_timeout_add(PROGRESS_US / 1000, on_progress, &a);
  rp_quit_on_signals(a.loop);
  g_main_loop_run(a.loop);
  if (!a.finished) /* interrupted */
    finish(&a, FALSE, "interrupted", 0);
  rc = a.ok ? 0 : 1;

  release_dc(&a);
  rp_room_free(a.room);
  rp_drain(2 * G_USEC_PER_SEC);

out:
  g_clear_error(&err);
  if (a.timeout_timer)
    g_source_remove(a.timeout_timer);
  if (a.progress_timer)
    g_source_remove(a.progress_timer);
  if (a.rejoin_timer)
    g_source_remove(a.rejoin_timer);
  if (a.finish_timer)
    g_source_remove(a.finish_timer);
  if (a.fd >= 0)
    close(a.fd);
  rx_reset(&a);
  if (a.loop)
    g_main_loop_unref(a.loop);
  g_free(a.peer), g_free(a.name), g_free(a.to), g_free(a.dir), g_free(a.part_path);
  rp_cmdline_clear(&cl);
  g_free(to), g_free(cut);
  return rc;
}

/*
 * tests/nat/nat_peer — one weft peer for the NAT traversal tests, driven by
 * tests/nat/nat_test.py. It runs inside a network namespace the fixture made.
 *
 *   nat_peer --role offer|answer [--ice-server URL[,USER,PASS]]...
 *            [--turn-rest URL,SECRET,USER] [--relay] [--messages N]
 *            [--port-range MIN-MAX] [--ice-tcp] [--no-ice-tcp] [--timeout SEC]
 *
 * stdout: one JSON object per line ("ev" says what it is); every line is
 * flushed. stdin: commands, one per line:
 *   sdp <offer|answer> <base64 sdp>   apply a remote description (an offer
 *                                      is answered: the answer is printed)
 *   restart [option]                   weft_pc_restart_ice() (or, with
 *                                      "option", the ice_restart offer
 *                                      option) and print the new offer
 *   send <n> <tag>                     send n text messages "<tag>-<i>"
 *   bulk <bytes> <chunk>               send <bytes> in binary messages of
 *                                      <chunk> bytes (a sequence number and
 *                                      a pattern), paced by bufferedAmount;
 *                                      the receiver checks every byte and the
 *                                      order, and prints "bulk_done"
 *   pair                               print the selected candidate pair
 *   quit                               close and exit 0
 * Descriptions are non-trickle: printed once gathering is complete.
 * Text messages starting with "ping-" are echoed back as "echo:<message>".
 *
 * Monotonic times ("t", ms of CLOCK_MONOTONIC) let the fixture compare them
 * with its own clock (Python's time.monotonic() is the same clock).
 */
#define _GNU_SOURCE
#include <weft/weft-glib.h>
#include <weft/weft.h>

#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct peer {
  GMainLoop *loop;
  weft_context *ctx;
  weft_pc *pc;
  weft_dc *dc;
  bool offerer;
  bool want_sdp; /* print the local description once gathering completes */
  bool restart_option;
  int messages;
  int exit_code;
  double t_start, t_remote;
  long received;
  /* bulk: sending side */
  uint32_t bulk_next, bulk_chunks;
  size_t bulk_chunk;
  bool bulk_sending;
  double bulk_t0;
  /* bulk: receiving side */
  uint32_t bulk_expect;
  uint64_t bulk_bytes;
  double bulk_rx_t0;
  bool bulk_bad;
} peer;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* JSON string body (quotes added by the caller). */
static void json_str(GString *out, const char *s) {
  g_string_append_c(out, '"');
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf(out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf(out, "\\u%04x", *p);
    else
      g_string_append_c(out, (char)*p);
  }
  g_string_append_c(out, '"');
}

/* emit("state", "s", "connected", NULL): pairs of key/value strings. */
static void emit(peer *p, const char *ev, ...) {
  GString *o = g_string_new("{\"ev\":");
  json_str(o, ev);
  g_string_append_printf(o, ",\"t\":%.3f,\"since_start\":%.3f", now_ms(), now_ms() - p->t_start);
  va_list ap;
  va_start(ap, ev);
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) {
    const char *v = va_arg(ap, const char *);
    g_string_append_c(o, ',');
    json_str(o, k);
    g_string_append_c(o, ':');
    json_str(o, v ? v : "");
  }
  va_end(ap);
  g_string_append(o, "}\n");
  fputs(o->str, stdout);
  fflush(stdout);
  g_string_free(o, TRUE);
}

static void fail(peer *p, const char *what) {
  char *m = g_strdup_printf("%s: %s (%s)", what, weft_err_name(weft_last_error()),
                            weft_last_error_message());
  emit(p, "fatal", "message", m, NULL);
  g_free(m);
  p->exit_code = 1;
  g_main_loop_quit(p->loop);
}

static void print_pair(peer *p) {
  char *l = NULL, *r = NULL;
  if (weft_pc_get_selected_candidate_pair(p->pc, &l, &r) == WEFT_OK)
    emit(p, "pair", "local", l, "remote", r, NULL);
  else
    emit(p, "pair", "error", weft_last_error_message(), NULL);
  weft_free(l);
  weft_free(r);
}

static void print_local_sdp(peer *p) {
  char *sdp = NULL;
  weft_sdp_type type = WEFT_SDP_UNSPEC;
  if (weft_pc_get_description(p->pc, WEFT_DESC_LOCAL, &type, &sdp) != WEFT_OK || !sdp) {
    fail(p, "get local description");
    return;
  }
  p->want_sdp = false;
  emit(p, "sdp", "type", weft_sdp_type_to_string(type), "sdp", sdp, NULL);
  weft_free(sdp);
}

/* ---- callbacks (main thread: the context runs on the default GMainContext) -- */

static void on_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  peer *p = ud;
  if (c)
    emit(p, "candidate", "candidate", c->candidate, NULL);
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state s, void *ud) {
  peer *p = ud;
  emit(p, "gathering", "state", weft_ice_gathering_state_to_string(s), NULL);
  if (s == WEFT_GATHERING_COMPLETE && p->want_sdp)
    print_local_sdp(p);
}

static void on_ice_state(weft_pc *pc, weft_ice_connection_state s, void *ud) {
  peer *p = ud;
  char ms[32];
  g_snprintf(ms, sizeof ms, "%.1f", p->t_remote > 0 ? now_ms() - p->t_remote : -1.0);
  emit(p, "ice", "state", weft_ice_connection_state_to_string(s), "since_remote", ms, NULL);
  if (s == WEFT_ICE_CONNECTED)
    print_pair(p);
}

static void on_state(weft_pc *pc, weft_pc_state s, void *ud) {
  peer *p = ud;
  emit(p, "pc", "state", weft_pc_state_to_string(s), NULL);
}

static void on_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  peer *p = ud;
  emit(p, "error", "detail", weft_error_detail_to_string(e->detail), "message", e->message, NULL);
}

static void send_messages(peer *p, int n, const char *tag) {
  for (int i = 0; i < n; i++) {
    char *m = g_strdup_printf("%s-%d", tag, i);
    int rc = weft_dc_send_text(p->dc, m, strlen(m));
    g_free(m);
    if (rc != WEFT_OK) {
      fail(p, "send");
      return;
    }
  }
  char nbuf[16];
  g_snprintf(nbuf, sizeof nbuf, "%d", n);
  emit(p, "sent", "n", nbuf, "tag", tag, NULL);
}

/* Bulk message: u32 sequence number, u32 number of messages (big endian),
 * then bytes (seq * 31 + k) & 0xff. */
static uint8_t bulk_byte(uint32_t seq, size_t k) { return (uint8_t)((seq * 31u + k) & 0xff); }

static void bulk_pump(peer *p) {
  /* Keep up to 1 MiB in flight; on_buffered_amount_low (threshold 256 KiB)
   * calls again. */
  uint8_t *buf = NULL;
  while (p->bulk_sending && p->bulk_next < p->bulk_chunks &&
         weft_dc_get_buffered_amount(p->dc) < 1024 * 1024) {
    if (!buf)
      buf = g_malloc(p->bulk_chunk);
    uint32_t seq = p->bulk_next, n = p->bulk_chunks;
    uint8_t hdr[8] = {(uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq,
                      (uint8_t)(n >> 24),   (uint8_t)(n >> 16),   (uint8_t)(n >> 8),   (uint8_t)n};
    memcpy(buf, hdr, sizeof hdr);
    for (size_t k = sizeof hdr; k < p->bulk_chunk; k++)
      buf[k] = bulk_byte(seq, k);
    int rc = weft_dc_send(p->dc, buf, p->bulk_chunk);
    if (rc == WEFT_ERR_AGAIN)
      break;
    if (rc != WEFT_OK) {
      g_free(buf);
      fail(p, "bulk send");
      return;
    }
    p->bulk_next++;
  }
  g_free(buf);
  if (p->bulk_sending && p->bulk_next == p->bulk_chunks) {
    p->bulk_sending = false;
    char ms[32];
    g_snprintf(ms, sizeof ms, "%.1f", now_ms() - p->bulk_t0);
    emit(p, "bulk_sent", "ms", ms, NULL);
  }
}

static void on_buffered_low(weft_dc *dc, void *ud) { bulk_pump(ud); }

static void cmd_bulk(peer *p, const char *bytes, const char *chunk) {
  size_t total = strtoull(bytes, NULL, 10), c = strtoull(chunk, NULL, 10);
  if (!p->dc || c < 8 || c > 65536 || total < c) {
    emit(p, "fatal", "message", "bulk: bad arguments or no channel", NULL);
    return;
  }
  p->bulk_chunk = c;
  p->bulk_chunks = (uint32_t)((total + c - 1) / c);
  p->bulk_next = 0;
  p->bulk_sending = true;
  p->bulk_t0 = now_ms();
  weft_dc_set_buffered_amount_low_threshold(p->dc, 256 * 1024);
  bulk_pump(p);
}

static void bulk_recv(peer *p, const uint8_t *d, size_t size) {
  if (p->bulk_bad)
    return;
  uint32_t seq = 0, n = 0;
  bool ok = size >= 8;
  if (ok) {
    seq = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    n = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    ok = seq == p->bulk_expect && seq < n;
    for (size_t k = 8; ok && k < size; k++)
      ok = d[k] == bulk_byte(seq, k);
  }
  if (!ok) {
    p->bulk_bad = true;
    char w[64];
    g_snprintf(w, sizeof w, "seq %u (expected %u), %zu bytes", seq, p->bulk_expect, size);
    emit(p, "bulk_error", "what", w, NULL);
    return;
  }
  if (seq == 0)
    p->bulk_rx_t0 = now_ms();
  p->bulk_expect++;
  p->bulk_bytes += size;
  if (seq + 1 == n) {
    char b[32], ms[32], first[32];
    g_snprintf(b, sizeof b, "%" G_GUINT64_FORMAT, p->bulk_bytes);
    g_snprintf(ms, sizeof ms, "%.1f", now_ms() - p->bulk_rx_t0);
    g_snprintf(first, sizeof first, "%.3f", p->bulk_rx_t0);
    emit(p, "bulk_done", "bytes", b, "ms", ms, "t_first", first, NULL);
    p->bulk_expect = 0;
    p->bulk_bytes = 0;
  }
}

static void on_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  peer *p = ud;
  if (type == WEFT_MSG_BINARY) {
    bulk_recv(p, data, size);
    return;
  }
  p->received++;
  char *s = g_strndup(data, size);
  emit(p, "recv", "data", s, NULL);
  if (g_str_has_prefix(s, "ping-")) {
    char *e = g_strconcat("echo:", s, NULL);
    if (weft_dc_send_text(dc, e, strlen(e)) != WEFT_OK)
      fail(p, "echo");
    g_free(e);
  }
  g_free(s);
}

static void on_open(weft_dc *dc, void *ud) {
  peer *p = ud;
  char ms[32];
  g_snprintf(ms, sizeof ms, "%.1f", p->t_remote > 0 ? now_ms() - p->t_remote : -1.0);
  emit(p, "open", "label", weft_dc_get_label(dc), "since_remote", ms, NULL);
  print_pair(p);
  if (p->messages > 0)
    send_messages(p, p->messages, p->offerer ? "from-offerer" : "from-answerer");
}

static void on_dc_close(weft_dc *dc, void *ud) { emit(ud, "dc_close", NULL); }

static void watch(peer *p, weft_dc *dc) {
  weft_dc_set_user_data(dc, p, NULL);
  weft_dc_set_on_message(dc, on_message);
  weft_dc_set_on_close(dc, on_dc_close);
  weft_dc_set_on_open(dc, on_open);
  weft_dc_set_on_buffered_amount_low(dc, on_buffered_low);
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  peer *p = ud;
  if (p->dc)
    return;
  p->dc = weft_dc_ref(dc);
  watch(p, dc);
}

/* ---- commands ---------------------------------------------------------------- */

/* After a local description was applied: print it when gathering is done. */
static void await_local_sdp(peer *p) {
  p->want_sdp = true;
  if (weft_pc_get_ice_gathering_state(p->pc) == WEFT_GATHERING_COMPLETE)
    print_local_sdp(p);
}

static void cmd_sdp(peer *p, const char *type, const char *b64) {
  gsize n = 0;
  guchar *raw = g_base64_decode(b64, &n);
  char *sdp = g_strndup((const char *)raw, n);
  g_free(raw);
  weft_sdp_type t = weft_sdp_type_from_string(type);
  p->t_remote = now_ms();
  int rc = weft_pc_set_remote_description(p->pc, t, sdp);
  g_free(sdp);
  if (rc != WEFT_OK) {
    fail(p, "set remote description");
    return;
  }
  emit(p, "remote_applied", "type", type, NULL);
  if (t == WEFT_SDP_OFFER) {
    if (weft_pc_set_local_description(p->pc, WEFT_SDP_UNSPEC, NULL) != WEFT_OK) {
      fail(p, "set local description (answer)");
      return;
    }
    await_local_sdp(p);
  }
}

static void cmd_restart(peer *p, bool option) {
  int rc;
  if (option) {
    weft_offer_options o = WEFT_OFFER_OPTIONS_INIT;
    o.ice_restart = 1;
    char *sdp = NULL;
    rc = weft_pc_create_offer(p->pc, &o, &sdp);
    if (rc == WEFT_OK)
      rc = weft_pc_set_local_description(p->pc, WEFT_SDP_OFFER, sdp);
    weft_free(sdp);
  } else {
    rc = weft_pc_restart_ice(p->pc);
    if (rc == WEFT_OK)
      rc = weft_pc_set_local_description(p->pc, WEFT_SDP_UNSPEC, NULL);
  }
  if (rc != WEFT_OK) {
    fail(p, "ICE restart");
    return;
  }
  emit(p, "restarting", NULL);
  await_local_sdp(p);
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer ud) {
  peer *p = ud;
  char *line = NULL;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, NULL);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    g_main_loop_quit(p->loop);
    return G_SOURCE_REMOVE;
  }
  if (!line)
    return G_SOURCE_CONTINUE;
  g_strchomp(line);
  char **w = g_strsplit(line, " ", 3);
  if (!w[0]) {
  } else if (strcmp(w[0], "sdp") == 0 && w[1] && w[2]) {
    cmd_sdp(p, w[1], w[2]);
  } else if (strcmp(w[0], "restart") == 0) {
    cmd_restart(p, w[1] && strcmp(w[1], "option") == 0);
  } else if (strcmp(w[0], "send") == 0 && w[1] && w[2]) {
    if (p->dc)
      send_messages(p, atoi(w[1]), w[2]);
    else
      emit(p, "fatal", "message", "send: no channel", NULL);
  } else if (strcmp(w[0], "bulk") == 0 && w[1] && w[2]) {
    cmd_bulk(p, w[1], w[2]);
  } else if (strcmp(w[0], "pair") == 0) {
    print_pair(p);
  } else if (strcmp(w[0], "quit") == 0) {
    g_main_loop_quit(p->loop);
  } else {
    emit(p, "fatal", "message", "unknown command", "line", line, NULL);
  }
  g_strfreev(w);
  g_free(line);
  return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer ud) {
  peer *p = ud;
  emit(p, "fatal", "message", "timeout", NULL);
  p->exit_code = 2;
  g_main_loop_quit(p->loop);
  return G_SOURCE_REMOVE;
}

static gboolean set_true(gpointer ud) {
  *(bool *)ud = true;
  return G_SOURCE_REMOVE;
}

static int add_server(weft_config *cfg, const char *spec) {
  char **f = g_strsplit(spec, ",", 3);
  int rc = weft_config_add_ice_server(cfg, f[0], f[1], f[1] ? f[2] : NULL);
  g_strfreev(f);
  return rc;
}

static int add_rest_server(weft_config *cfg, const char *spec) {
  char **f = g_strsplit(spec, ",", 3);
  int rc = WEFT_ERR_INVALID_ARG;
  if (f[0] && f[1] && f[2]) {
    char *user = NULL, *cred = NULL;
    rc = weft_turn_rest_credentials(f[1], f[2], 3600, &user, &cred);
    if (rc == WEFT_OK)
      rc = weft_config_add_ice_server(cfg, f[0], user, cred);
    weft_free(user);
    weft_free(cred);
  }
  g_strfreev(f);
  return rc;
}

int main(int argc, char **argv) {
  peer p = {0};
  p.t_start = now_ms();
  p.messages = 10;
  const char *role = NULL;
  double timeout_s = 120;
  weft_config *cfg = weft_config_new();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = WEFT_OK;
    if (strcmp(a, "--role") == 0 && v)
      role = argv[++i];
    else if (strcmp(a, "--ice-server") == 0 && v)
      rc = add_server(cfg, argv[++i]);
    else if (strcmp(a, "--turn-rest") == 0 && v)
      rc = add_rest_server(cfg, argv[++i]);
    else if (strcmp(a, "--ice-tcp") == 0)
      rc = weft_config_set_ice_tcp(cfg, 1);
    else if (strcmp(a, "--no-ice-tcp") == 0)
      rc = weft_config_set_ice_tcp(cfg, 0);
    else if (strcmp(a, "--relay") == 0)
      rc = weft_config_set_ice_transport_policy(cfg, WEFT_ICE_POLICY_RELAY);
    else if (strcmp(a, "--messages") == 0 && v)
      p.messages = atoi(argv[++i]);
    else if (strcmp(a, "--timeout") == 0 && v)
      timeout_s = atof(argv[++i]);
    else if (strcmp(a, "--port-range") == 0 && v) {
      unsigned lo = 0, hi = 0;
      if (sscanf(argv[++i], "%u-%u", &lo, &hi) != 2 || hi > 65535)
        rc = WEFT_ERR_INVALID_ARG;
      else
        rc = weft_config_set_port_range(cfg, (uint16_t)lo, (uint16_t)hi);
    } else {
      fprintf(stderr, "nat_peer: bad argument '%s'\n", a);
      return 64;
    }
    if (rc != WEFT_OK) {
      /* One JSON line for the fixture: it asserts on configuration errors. */
      printf("{\"ev\":\"config_error\",\"arg\":\"%s\",\"code\":\"%s\"}\n", a, weft_err_name(rc));
      fprintf(stderr, "nat_peer: %s: %s\n", a, weft_last_error_message());
      weft_config_free(cfg);
      return 3;
    }
  }
  if (!role || (strcmp(role, "offer") != 0 && strcmp(role, "answer") != 0)) {
    fprintf(stderr, "nat_peer: --role offer|answer is required\n");
    weft_config_free(cfg);
    return 64;
  }
  p.offerer = strcmp(role, "offer") == 0;
  p.loop = g_main_loop_new(NULL, FALSE);
  p.ctx = weft_context_new_for_main_context(g_main_context_default());
  p.pc = p.ctx ? weft_pc_new(p.ctx, cfg) : NULL;
  weft_config_free(cfg);
  if (!p.pc) {
    fprintf(stderr, "nat_peer: %s\n", weft_last_error_message());
    return 1;
  }
  weft_pc_set_user_data(p.pc, &p, NULL);
  weft_pc_set_on_ice_candidate(p.pc, on_candidate);
  weft_pc_set_on_ice_gathering_state_change(p.pc, on_gathering);
  weft_pc_set_on_ice_connection_state_change(p.pc, on_ice_state);
  weft_pc_set_on_connection_state_change(p.pc, on_state);
  weft_pc_set_on_error(p.pc, on_error);
  weft_pc_set_on_data_channel(p.pc, on_data_channel);

  GIOChannel *in = g_io_channel_unix_new(0);
  guint in_watch = g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &p);
  guint to = g_timeout_add((guint)(timeout_s * 1000), on_timeout, &p);

  emit(&p, "started", "role", role, NULL);
  if (p.offerer) {
    p.dc = weft_pc_create_data_channel(p.pc, "nat", NULL);
    if (!p.dc || weft_pc_set_local_description(p.pc, WEFT_SDP_UNSPEC, NULL) != WEFT_OK)
      fail(&p, "offer");
    else {
      watch(&p, p.dc);
      await_local_sdp(&p);
    }
  }
  if (p.exit_code == 0)
    g_main_loop_run(p.loop);

  g_source_remove(to);
  g_source_remove(in_watch);
  g_io_channel_unref(in);
  char rbuf[32];
  g_snprintf(rbuf, sizeof rbuf, "%ld", p.received);
  double t_close = now_ms();
  weft_pc_close(p.pc);
  weft_dc_unref(p.dc);
  weft_pc_unref(p.pc);
  weft_context_unref(p.ctx);
  /* libnice releases TURN allocations asynchronously, on this context: give
   * it a moment (coturn answers within a millisecond here). */
  bool done = false;
  g_timeout_add(300, set_true, &done);
  while (!done)
    g_main_context_iteration(NULL, TRUE);
  char cbuf[32];
  g_snprintf(cbuf, sizeof cbuf, "%.1f", now_ms() - t_close);
  emit(&p, "exit", "received", rbuf, "close_ms", cbuf, NULL);
  g_main_loop_unref(p.loop);
  return p.exit_code;
}

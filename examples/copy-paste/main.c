/*
 * examples/copy-paste — connect two weft peers by pasting SDP between terminals.
 *
 *   terminal 1: copy-paste offer      prints an offer, then waits for the answer
 *   terminal 2: copy-paste answer     paste the offer, it prints the answer
 *   terminal 1: paste the answer
 *
 * Signaling is non-trickle: each side waits until ICE gathering is complete and
 * prints its whole description (every candidate inside, a=end-of-candidates).
 * Then the offerer's channel "chat" opens on both sides and every line typed
 * on stdin is sent; received messages are printed on stdout as
 * "received: <text>". Status goes to stderr so stdout stays scriptable.
 *
 * Threading: a WEFT_CONTEXT_QUEUED context gives a file descriptor that is
 * readable while callbacks are pending, so one poll() on {weft fd, stdin}
 * drives the whole program and every callback runs on the main thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <weft/weft.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 30000.0
#define LINGER_MS 1000.0

typedef enum phase {
  PHASE_GATHERING,   /* waiting for ICE gathering to complete */
  PHASE_READ_REMOTE, /* reading the remote description from stdin */
  PHASE_CONNECTING,  /* descriptions exchanged, waiting for the channel */
  PHASE_CHAT,        /* channel open: stdin lines are sent */
  PHASE_LINGER,      /* leaving: typed lines are still sent, then let them drain */
  PHASE_DONE
} phase;

typedef struct app {
  int is_offer;
  int loopback_only;
  long exit_after; /* 0 = never */
  phase ph;
  weft_context *ctx;
  weft_pc *pc;
  weft_dc *dc;
  long received;
  double t_connect_start, t_linger_start;
  int exit_code;
  /* stdin, read with read(2) so that poll() sees everything not yet consumed */
  char *in_buf;
  size_t in_len, in_cap;
  int in_eof;
  /* the remote description being pasted */
  char *sdp;
  size_t sdp_len;
  int sdp_lines;
} app;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void status(const char *fmt, ...) {
  va_list ap;
  fputs("*** ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void finish(app *a, int code, const char *fmt, ...) {
  if (a->ph == PHASE_DONE)
    return;
  va_list ap;
  fputs(code ? "copy-paste: FAILED — " : "copy-paste: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  a->exit_code = code;
  a->ph = PHASE_DONE;
}

static void finish_weft(app *a, const char *what, int rc) {
  finish(a, 1, "%s: %s (%s)", what, weft_err_name(rc), weft_last_error_message());
}

/* ===== stdin lines ======================================================== */

/* Reads what stdin has; returns 0, or -1 on a read error. */
static int stdin_fill(app *a) {
  if (a->in_cap - a->in_len < 4096) {
    size_t cap = a->in_cap ? a->in_cap * 2 : 8192;
    char *b = realloc(a->in_buf, cap);
    if (!b)
      return -1;
    a->in_buf = b;
    a->in_cap = cap;
  }
  ssize_t n = read(STDIN_FILENO, a->in_buf + a->in_len, a->in_cap - a->in_len);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (n == 0)
    a->in_eof = 1;
  a->in_len += (size_t)n;
  return 0;
}

/* Takes the next complete line (or the unterminated tail at EOF) into @out,
 * without its line ending. Returns 1 if there was one. */
static int stdin_line(app *a, char **out) {
  char *nl = a->in_len ? memchr(a->in_buf, '\n', a->in_len) : NULL;
  size_t len, used;
  if (nl) {
    len = (size_t)(nl - a->in_buf);
    used = len + 1;
  } else if (a->in_eof && a->in_len) {
    len = used = a->in_len;
  } else {
    return 0;
  }
  while (len &&
         (a->in_buf[len - 1] == '\r' || a->in_buf[len - 1] == ' ' || a->in_buf[len - 1] == '\t'))
    len--;
  char *line = malloc(len + 1);
  if (!line)
    return 0;
  memcpy(line, a->in_buf, len);
  line[len] = '\0';
  memmove(a->in_buf, a->in_buf + used, a->in_len - used);
  a->in_len -= used;
  *out = line;
  return 1;
}

/* ===== Printing and reading descriptions ================================== */

static int is_loopback_candidate(const char *line) {
  /* a=candidate:<foundation> <component> <transport> <priority> <address> ... */
  char addr[64];
  if (sscanf(line, "a=candidate:%*s %*s %*s %*s %63s", addr) != 1)
    return 1; /* not a candidate we understand: keep it */
  return !strcmp(addr, "127.0.0.1") || !strcmp(addr, "::1");
}

/* Prints the local description with its markers. With --loopback, candidates
 * on other interfaces are left out: this program and its peer run on one
 * machine and must not depend on the machine's other addresses. */
static int print_local_description(app *a) {
  char *sdp = NULL;
  int rc = weft_pc_get_description(a->pc, WEFT_DESC_LOCAL, NULL, &sdp);
  if (rc < 0) {
    finish_weft(a, "reading the local description", rc);
    return rc;
  }
  const char *kind = a->is_offer ? "OFFER" : "ANSWER";
  printf("-----BEGIN WEFT %s-----\n", kind);
  int candidates = 0;
  for (char *line = sdp; line && *line;) {
    char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len && line[len - 1] == '\r')
      len--;
    char saved = line[len];
    line[len] = '\0';
    int keep = 1;
    if (!strncmp(line, "a=candidate:", 12)) {
      keep = !a->loopback_only || is_loopback_candidate(line);
      candidates += keep;
    }
    if (keep)
      printf("%s\n", line);
    line[len] = saved;
    line = end ? end + 1 : NULL;
  }
  printf("-----END WEFT %s-----\n", kind);
  fflush(stdout);
  weft_free(sdp);
  status("%s printed above (%d candidate%s)", a->is_offer ? "offer" : "answer", candidates,
         candidates == 1 ? "" : "s");
  if (candidates == 0)
    status("warning: no candidate in the %s", a->is_offer ? "offer" : "answer");
  return 0;
}

static void start_reading_remote(app *a) {
  a->ph = PHASE_READ_REMOTE;
  a->sdp_len = 0;
  a->sdp_lines = 0;
  status("paste the %s, then a line with only \".\" (or its END line)",
         a->is_offer ? "answer" : "offer");
}

/* Accumulates one pasted line. Returns 1 when the description is complete. */
static int take_remote_line(app *a, const char *line) {
  if (!strncmp(line, "-----BEGIN", 10)) {
    a->sdp_len = 0; /* anything before the marker was not SDP */
    a->sdp_lines = 0;
    return 0;
  }
  if (!strcmp(line, ".") || !strncmp(line, "-----END", 8))
    return a->sdp_lines > 0;
  if (!line[0])
    return 0;
  size_t n = strlen(line);
  char *s = realloc(a->sdp, a->sdp_len + n + 3);
  if (!s)
    return 0;
  a->sdp = s;
  memcpy(a->sdp + a->sdp_len, line, n);
  memcpy(a->sdp + a->sdp_len + n, "\r\n", 3);
  a->sdp_len += n + 2;
  a->sdp_lines++;
  return 0;
}

/* ===== Callbacks (main thread, inside weft_context_dispatch) ============== */

static void on_state(weft_pc *pc, weft_pc_state s, void *ud) {
  app *a = ud;
  status("connection %s", weft_pc_state_to_string(s));
  if (s == WEFT_PC_FAILED)
    finish(a, 1, "the peer connection failed");
  else if (s == WEFT_PC_CLOSED && a->ph == PHASE_CHAT)
    finish(a, a->exit_after && a->received < a->exit_after, "connection closed");
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state s, void *ud) {
  app *a = ud;
  if (s != WEFT_GATHERING_COMPLETE || a->ph != PHASE_GATHERING)
    return;
  if (print_local_description(a) < 0)
    return;
  if (a->is_offer) {
    start_reading_remote(a);
  } else {
    a->ph = PHASE_CONNECTING;
    a->t_connect_start = now_ms();
  }
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  status("error (%s): %s", weft_error_detail_to_string(e->detail), e->message);
}

static void on_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  app *a = ud;
  if (type == WEFT_MSG_TEXT)
    printf("received: %s\n", (const char *)data);
  else
    printf("received: <%zu bytes of binary>\n", size);
  fflush(stdout);
  a->received++;
  if (a->exit_after && a->received >= a->exit_after && a->ph == PHASE_CHAT) {
    status("received %ld message%s, exiting", a->received, a->received == 1 ? "" : "s");
    a->ph = PHASE_LINGER;
    a->t_linger_start = now_ms();
  }
}

static void on_open(weft_dc *dc, void *ud) {
  app *a = ud;
  if (a->ph == PHASE_GATHERING || a->ph == PHASE_READ_REMOTE || a->ph == PHASE_CONNECTING) {
    a->ph = PHASE_CHAT;
    status("channel \"%s\" open: type lines to send them", weft_dc_get_label(dc));
  }
}

static void on_close(weft_dc *dc, void *ud) {
  app *a = ud;
  if (a->ph == PHASE_LINGER)
    finish(a, 0, "done, %ld message%s received", a->received, a->received == 1 ? "" : "s");
  else
    finish(a, a->exit_after && a->received < a->exit_after, "channel closed by the peer");
}

static void watch_channel(app *a, weft_dc *dc) {
  weft_dc_set_user_data(dc, a, NULL);
  weft_dc_set_on_open(dc, on_open);
  weft_dc_set_on_message(dc, on_message);
  weft_dc_set_on_close(dc, on_close);
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  app *a = ud;
  if (a->dc || strcmp(weft_dc_get_label(dc), "chat") != 0) {
    status("ignoring channel \"%s\"", weft_dc_get_label(dc));
    return;
  }
  a->dc = weft_dc_ref(dc);
  watch_channel(a, dc);
  /* A channel surfaced by on_data_channel may already be open. */
  if (weft_dc_get_ready_state(dc) == WEFT_DC_OPEN)
    on_open(dc, a);
}

/* ===== Steps ============================================================== */

static void apply_remote(app *a) {
  weft_sdp_type type = a->is_offer ? WEFT_SDP_ANSWER : WEFT_SDP_OFFER;
  int rc = weft_pc_set_remote_description(a->pc, type, a->sdp);
  if (rc < 0) {
    finish_weft(a, a->is_offer ? "the answer was refused" : "the offer was refused", rc);
    return;
  }
  if (a->is_offer) {
    a->ph = PHASE_CONNECTING;
    a->t_connect_start = now_ms();
    status("answer applied, connecting");
    return;
  }
  /* Implicit answer: creates and applies it, and starts gathering. */
  rc = weft_pc_set_local_description(a->pc, WEFT_SDP_UNSPEC, NULL);
  if (rc < 0) {
    finish_weft(a, "creating the answer", rc);
    return;
  }
  a->ph = PHASE_GATHERING;
  status("offer applied, gathering candidates");
  if (weft_pc_get_ice_gathering_state(a->pc) == WEFT_GATHERING_COMPLETE)
    on_gathering(a->pc, WEFT_GATHERING_COMPLETE, a);
}

static void send_line(app *a, const char *line) {
  if (!line[0])
    return;
  int rc = weft_dc_send_text(a->dc, line, strlen(line));
  if (rc < 0)
    status("not sent: %s (%s)", weft_strerror(rc), weft_last_error_message());
}

/* Consumes the stdin lines the current phase wants. */
static void handle_stdin(app *a) {
  char *line = NULL;
  /* While lingering, lines already typed still go out: with --exit-after the
   * last message may arrive in the same dispatch as the channel's opening. */
  while ((a->ph == PHASE_READ_REMOTE || a->ph == PHASE_CHAT || a->ph == PHASE_LINGER) &&
         stdin_line(a, &line)) {
    if (a->ph == PHASE_READ_REMOTE) {
      if (take_remote_line(a, line))
        apply_remote(a);
    } else {
      send_line(a, line);
    }
    free(line);
  }
  if (a->in_eof && a->in_len == 0) {
    if (a->ph == PHASE_READ_REMOTE) {
      if (a->sdp_lines > 0)
        apply_remote(a);
      else
        finish(a, 1, "end of input before a description was pasted");
    } else if (a->ph == PHASE_CHAT && !a->exit_after) {
      /* Ctrl-D: leave once what was typed has gone out. */
      a->ph = PHASE_LINGER;
      a->t_linger_start = now_ms();
    }
  }
}

static void usage(FILE *f) {
  fprintf(f, "usage: copy-paste offer|answer [--loopback] [--exit-after N]\n"
             "  --loopback       gather on 127.0.0.1 too and print only loopback candidates\n"
             "  --exit-after N   exit 0 after N received messages\n");
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof a);
  int mode = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "offer")) {
      mode = 1;
    } else if (!strcmp(argv[i], "answer")) {
      mode = 0;
    } else if (!strcmp(argv[i], "--loopback")) {
      a.loopback_only = 1;
    } else if (!strcmp(argv[i], "--exit-after") && i + 1 < argc) {
      char *end = NULL;
      a.exit_after = strtol(argv[++i], &end, 10);
      if (*end || a.exit_after < 1) {
        usage(stderr);
        return 2;
      }
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (mode < 0) {
    usage(stderr);
    return 2;
  }
  a.is_offer = mode;

  weft_context_options opts = WEFT_CONTEXT_OPTIONS_INIT;
  opts.mode = WEFT_CONTEXT_QUEUED;
  a.ctx = weft_context_new(&opts);
  weft_config *cfg = weft_config_new();
  if (!a.ctx || !cfg) {
    fprintf(stderr, "copy-paste: FAILED — %s\n", weft_last_error_message());
    weft_config_free(cfg);
    weft_context_unref(a.ctx);
    return 1;
  }
  if (a.loopback_only)
    weft_config_set_enable_loopback(cfg, 1);
  a.pc = weft_pc_new(a.ctx, cfg);
  weft_config_free(cfg);
  if (!a.pc) {
    fprintf(stderr, "copy-paste: FAILED — weft_pc_new: %s\n", weft_last_error_message());
    weft_context_unref(a.ctx);
    return 1;
  }
  weft_pc_set_user_data(a.pc, &a, NULL);
  weft_pc_set_on_connection_state_change(a.pc, on_state);
  weft_pc_set_on_ice_gathering_state_change(a.pc, on_gathering);
  weft_pc_set_on_error(a.pc, on_pc_error);
  weft_pc_set_on_data_channel(a.pc, on_data_channel);

  if (a.is_offer) {
    a.dc = weft_pc_create_data_channel(a.pc, "chat", NULL);
    int rc = a.dc ? weft_pc_set_local_description(a.pc, WEFT_SDP_UNSPEC, NULL) /* implicit offer */
                  : weft_last_error();
    if (rc < 0)
      finish_weft(&a, "creating the offer", rc);
    else {
      watch_channel(&a, a.dc);
      a.ph = PHASE_GATHERING;
      status("gathering candidates");
    }
  } else {
    start_reading_remote(&a);
  }

  int weft_fd = weft_context_get_fd(a.ctx);
  while (a.ph != PHASE_DONE) {
    struct pollfd fds[2] = {{weft_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int want_stdin =
        !a.in_eof && (a.ph == PHASE_READ_REMOTE || a.ph == PHASE_CHAT || a.ph == PHASE_LINGER);
    if (poll(fds, want_stdin ? 2 : 1, 100) < 0 && errno != EINTR) {
      finish(&a, 1, "poll: %s", strerror(errno));
      break;
    }
    int rc = weft_context_dispatch(a.ctx, 0);
    if (rc < 0)
      finish_weft(&a, "dispatch", rc);
    if (want_stdin && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && stdin_fill(&a) < 0)
      finish(&a, 1, "reading stdin: %s", strerror(errno));
    handle_stdin(&a);

    double now = now_ms();
    if (a.ph == PHASE_CONNECTING && now - a.t_connect_start > CONNECT_TIMEOUT_MS)
      finish(&a, 1, "no open channel %.0f s after the descriptions were exchanged (%s, ICE %s)",
             CONNECT_TIMEOUT_MS / 1e3, weft_pc_state_to_string(weft_pc_get_connection_state(a.pc)),
             weft_ice_connection_state_to_string(weft_pc_get_ice_connection_state(a.pc)));
    /* Linger until our sends left and the peer had a moment to read them:
     * closing at once could drop messages still in flight. */
    if (a.ph == PHASE_LINGER && weft_dc_get_buffered_amount(a.dc) == 0 &&
        now - a.t_linger_start > LINGER_MS)
      finish(&a, 0, "done, %ld message%s received", a.received, a.received == 1 ? "" : "s");
  }

  weft_pc_close(a.pc);
  weft_dc_unref(a.dc);
  weft_pc_unref(a.pc);
  weft_context_unref(a.ctx);
  free(a.in_buf);
  free(a.sdp);
  return a.exit_code;
}

/*
 * A C11 program that uses weft only as an installed package would offer it:
 * <weft/weft.h> and -lweft, nothing from the source tree. Two peer
 * connections in one process, one QUEUED context pumped from main(), one
 * data channel, a text message A→B and a binary message B→A.
 * Exits 0 when both messages arrived intact and every object was freed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weft/weft.h>

#define TIMEOUT_MS 20000

static const char A_TO_B[] = "hello from the C consumer";
static const unsigned char B_TO_A[] = {0x00, 0xff, 0x10, 0x80, 0x7f};

typedef struct app {
  weft_pc *pc[2];
  weft_dc *dc[2]; /* [0] created by A, [1] surfaced on B */
  int got_on_b;
  int got_on_a;
  int failed;
} app;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(app *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("consumer-c: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  a->failed = 1;
}

static void fail_weft(app *a, const char *what) {
  fail(a, "%s: %s (%s)", what, weft_err_name(weft_last_error()), weft_last_error_message());
}

/* Trickle ICE without a signaling server: hand each candidate straight to the
 * other peer (both remote descriptions are set before the first dispatch). */
static void on_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  app *a = ud;
  weft_pc *other = pc == a->pc[0] ? a->pc[1] : a->pc[0];
  if (weft_pc_add_ice_candidate(other, c) < 0)
    fail_weft(a, "add_ice_candidate");
}

static void on_state(weft_pc *pc, weft_pc_state s, void *ud) {
  if (s == WEFT_PC_FAILED)
    fail(ud, "peer connection %s failed", pc == ((app *)ud)->pc[0] ? "A" : "B");
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  (void)pc;
  fail(ud, "pc error: %s", e->message);
}

static void on_dc_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  (void)dc;
  fail(ud, "dc error: %s", e->message);
}

static void on_a_open(weft_dc *dc, void *ud) {
  if (weft_dc_send_text(dc, A_TO_B, strlen(A_TO_B)) < 0)
    fail_weft(ud, "send A->B");
}

static void on_b_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  app *a = ud;
  if (type != WEFT_MSG_TEXT || size != strlen(A_TO_B) || memcmp(data, A_TO_B, size) != 0) {
    fail(a, "B got an unexpected message (%s, %zu bytes)",
         type == WEFT_MSG_TEXT ? "text" : "binary", size);
    return;
  }
  a->got_on_b = 1;
  if (weft_dc_send(dc, B_TO_A, sizeof B_TO_A) < 0)
    fail_weft(a, "send B->A");
}

static void on_a_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  app *a = ud;
  (void)dc;
  if (type != WEFT_MSG_BINARY || size != sizeof B_TO_A || memcmp(data, B_TO_A, size) != 0) {
    fail(a, "A got an unexpected message (%s, %zu bytes)",
         type == WEFT_MSG_TEXT ? "text" : "binary", size);
    return;
  }
  a->got_on_a = 1;
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  app *a = ud;
  (void)pc;
  if (a->dc[1]) {
    fail(a, "B got a second data channel");
    return;
  }
  a->dc[1] = weft_dc_ref(dc); /* borrowed for the callback only */
  weft_dc_set_on_message(dc, on_b_message);
  weft_dc_set_on_error(dc, on_dc_error);
}

/* Offer/answer done synchronously before any callback can run. */
static int negotiate(app *a) {
  char *offer = NULL, *answer = NULL;
  int ok = weft_pc_create_offer(a->pc[0], NULL, &offer) == WEFT_OK &&
           weft_pc_set_local_description(a->pc[0], WEFT_SDP_OFFER, offer) == WEFT_OK &&
           weft_pc_set_remote_description(a->pc[1], WEFT_SDP_OFFER, offer) == WEFT_OK &&
           weft_pc_create_answer(a->pc[1], &answer) == WEFT_OK &&
           weft_pc_set_local_description(a->pc[1], WEFT_SDP_ANSWER, answer) == WEFT_OK &&
           weft_pc_set_remote_description(a->pc[0], WEFT_SDP_ANSWER, answer) == WEFT_OK;
  if (!ok)
    fail_weft(a, "negotiation");
  weft_free(offer);
  weft_free(answer);
  return ok ? 0 : -1;
}

int main(void) {
  app a;
  memset(&a, 0, sizeof a);
  if (weft_version() != WEFT_VERSION_NUMBER) {
    fprintf(stderr, "consumer-c: FAIL: header version %u, library %u\n",
            (unsigned)WEFT_VERSION_NUMBER, weft_version());
    return 1;
  }

  weft_context_options opts = WEFT_CONTEXT_OPTIONS_INIT;
  opts.mode = WEFT_CONTEXT_QUEUED;
  weft_context *ctx = weft_context_new(&opts);
  weft_config *cfg = weft_config_new();
  if (!ctx || !cfg) {
    fail_weft(&a, "context/config");
  } else {
    weft_config_set_enable_loopback(cfg, 1);
    for (int i = 0; i < 2 && !a.failed; i++) {
      a.pc[i] = weft_pc_new(ctx, cfg);
      if (!a.pc[i]) {
        fail_weft(&a, "weft_pc_new");
        break;
      }
      weft_pc_set_user_data(a.pc[i], &a, NULL);
      weft_pc_set_on_connection_state_change(a.pc[i], on_state);
      weft_pc_set_on_error(a.pc[i], on_pc_error);
    }
  }
  weft_config_free(cfg);

  if (!a.failed) {
    weft_pc_set_on_data_channel(a.pc[1], on_data_channel);
    a.dc[0] = weft_pc_create_data_channel(a.pc[0], "consumer", NULL);
    if (!a.dc[0]) {
      fail_weft(&a, "create_data_channel");
    } else {
      weft_dc_set_user_data(a.dc[0], &a, NULL);
      weft_dc_set_on_open(a.dc[0], on_a_open);
      weft_dc_set_on_message(a.dc[0], on_a_message);
      weft_dc_set_on_error(a.dc[0], on_dc_error);
      if (negotiate(&a) == 0) {
        weft_pc_set_on_ice_candidate(a.pc[0], on_candidate);
        weft_pc_set_on_ice_candidate(a.pc[1], on_candidate);
      }
    }
  }

  double deadline = now_ms() + TIMEOUT_MS;
  while (!a.failed && !(a.got_on_a && a.got_on_b)) {
    if (now_ms() > deadline) {
      fail(&a, "timed out after %d ms (A %s, B %s, B got its message: %d)", TIMEOUT_MS,
           weft_pc_state_to_string(weft_pc_get_connection_state(a.pc[0])),
           weft_pc_state_to_string(weft_pc_get_connection_state(a.pc[1])), a.got_on_b);
      break;
    }
    int rc = weft_context_wait(ctx, 50);
    if (rc > 0)
      rc = weft_context_dispatch(ctx, 0);
    if (rc < 0)
      fail(&a, "context: %s", weft_err_name(rc));
  }

  /* Close before dropping references: no callback may run after this. */
  if (a.dc[0] && weft_dc_close(a.dc[0]) != WEFT_OK)
    fail_weft(&a, "weft_dc_close");
  for (int i = 0; i < 2; i++)
    if (a.pc[i] && weft_pc_close(a.pc[i]) != WEFT_OK)
      fail_weft(&a, "weft_pc_close");
  for (int i = 0; i < 2; i++) {
    weft_dc_unref(a.dc[i]);
    weft_pc_unref(a.pc[i]);
  }
  weft_context_unref(ctx);

  /* The engine thread frees the last objects asynchronously: allow it a moment. */
  double gone_by = now_ms() + 5000;
  while (weft_debug_live_objects() != 0 && now_ms() < gone_by) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  long live = weft_debug_live_objects();
  if (live != 0)
    fail(&a, "%ld weft objects still alive after unref", live);

  if (a.failed)
    return 1;
  printf("consumer-c: OK (weft %s)\n", weft_version_string());
  return 0;
}

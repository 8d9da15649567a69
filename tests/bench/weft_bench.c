/*
 * weft-bench — data-channel benchmarks through the public API only.
 *
 * Prints one JSON line per result (see tests/bench/README.md):
 *   setup_ms         create → channel open, p50/p90/p99 and the split
 *   goodput_64k/16k  one reliable ordered channel under back-pressure: MB/s from the
 *                    first byte handed to send to the last byte received, CPU s/GB,
 *                    peak RSS growth of the process during the transfer; a figure
 *                    above --plausible-mb-s (2000) is reported as an error
 *   rtt_100b_us      100-byte ping-pong, p50/p99 in µs
 *   rss_per_pair_kb  RSS growth per connected pair (with an open channel) at 20 and 200
 *   max_pairs        how many connected pairs the process held (capped, time-bounded)
 *
 * Both peers of a pair live in this process: peer A (offerer, creates the
 * channel) on one weft_context, peer B (answerer) on another, so each side has
 * its own engine thread as two processes would. Callbacks run on those
 * threads; the main thread does the signaling: candidates are queued by the
 * callbacks and handed to the other peer by the main thread (trickle ICE).
 * CPU time is getrusage(RUSAGE_SELF): both peers together.
 */
#define _GNU_SOURCE
#include <weft/weft.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ===== Parameters ========================================================= */

typedef struct params {
  int setup_runs;
  int setup_warmup;
  size_t goodput_bytes;
  double goodput_seconds;
  int rtt_count, rtt_warmup;
  int rss_small, rss_large;
  int max_pairs_cap;
  double max_pairs_seconds;
  int batch;
  double step_timeout_s;
  int quick;
  double plausible_mb_s;
} params;

static params P = {50, 2, 256u << 20, 5.0, 2000, 200, 20, 200, 500, 120.0, 10, 20.0, 0, 2000.0};

/* Set when a goodput figure was rejected as implausible: exit status 1. */
static int implausible;

/* Back-pressure: send while bufferedAmount <= HIGH; resume at LOW. */
#define SEND_HIGH_WATER (4u << 20)
#define SEND_LOW_THRESHOLD (1u << 20)
#define RTT_MSG_SIZE 100
/* RSS during a goodput transfer: sampled by a thread every RSS_SAMPLE_MS, by
 * the receiver every RSS_SAMPLE_BYTES received, and once at the end. */
#define RSS_SAMPLE_MS 5
#define RSS_SAMPLE_BYTES (1u << 20)

/* ===== Time, stats, JSON ================================================== */

/* "weft", or "weft-one-context" with --one-context (both peers on one context). */
static const char *IMPL = "weft";

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (!f)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Peak RSS while a goodput transfer runs: the max of every sample taken by
 * rss_note() (the sampler thread, and the receiver's callback). */
static atomic_long rss_peak;

static void rss_note(void) {
  long v = rss_kb(), cur = atomic_load(&rss_peak);
  while (v > cur && !atomic_compare_exchange_weak(&rss_peak, &cur, v)) {
  }
}

static atomic_int sampler_run;

static void *sampler_main(void *arg) {
  (void)arg;
  struct timespec ts = {0, RSS_SAMPLE_MS * 1000000L};
  while (atomic_load(&sampler_run)) {
    rss_note();
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *sorted, int n, double p) {
  if (n <= 0)
    return 0;
  int k = (int)ceil(p / 100.0 * n) - 1;
  if (k < 0)
    k = 0;
  if (k >= n)
    k = n - 1;
  return sorted[k];
}

static void json_escape(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s && o + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
}

static void emit_error(const char *metric, const char *fmt, ...) {
  char msg[512], esc[1100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_escape(esc, sizeof esc, msg);
  printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"error\":\"%s\"}\n", IMPL, metric, esc);
  fflush(stdout);
}

/* ===== Pairs and the signaling queue ====================================== */

typedef enum role { ROLE_SETUP, ROLE_GOODPUT, ROLE_RTT, ROLE_HOLD } role;

typedef struct pair pair;
typedef struct side {
  pair *p;
  int idx; /* 0 = A (offerer), 1 = B (answerer) */
} side;

struct pair {
  side sides[2];
  weft_pc *pc[2];
  weft_dc *dc[2]; /* A's own channel, B's surfaced channel */
  role role;
  /* milestones of A, ms since t0 (0 = not yet); guarded by the bench mutex */
  double t0, t_gather, t_ice, t_conn, t_open_a, t_open_b;
  int failed;
  char why[160];
  int done; /* goodput/rtt finished */

  /* goodput: sender fields touched only on A's thread, receiver on B's;
   * tx_t_first_us (0 = nothing sent yet) is published after tx_cpu_first */
  size_t msg_size;
  unsigned char *payload;
  atomic_int stop;
  int tx_started;
  double tx_cpu_first;
  atomic_llong tx_t_first_us;
  uint64_t rx_bytes, rx_rss_at;
  double rx_t_end, rx_cpu_end;
  uint64_t rx_measured;
  int send_error;

  /* rtt: A's thread only */
  int rtt_i;
  double rtt_t_sent;
  double *rtt_us;
};

typedef struct sig_msg {
  struct sig_msg *next;
  pair *p;
  int to;
  char *cand; /* NULL = end-of-candidates */
  char *mid;
  int mline;
} sig_msg;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sig_msg *head, *tail;
  weft_context *ctx[2];
  weft_config *cfg;
} B = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, {NULL, NULL}, NULL};

static void lock(void) { pthread_mutex_lock(&B.mu); }
static void unlock(void) { pthread_mutex_unlock(&B.mu); }
static void wake_locked(void) { pthread_cond_broadcast(&B.cv); }

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static void pair_fail_locked(pair *p, const char *fmt, ...) {
  if (p->failed)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why, sizeof p->why, fmt, ap);
  va_end(ap);
  p->failed = 1;
  wake_locked();
}

static double since(const pair *p) { return now_ms() - p->t0; }

static char side_name(const side *s) { return s->idx ? 'B' : 'A'; }

/* ----- callbacks (engine threads) ---------------------------------------- */

static void on_ice_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  side *s = ud;
  sig_msg *m = calloc(1, sizeof *m);
  if (!m)
    return;
  m->p = s->p;
  m->to = 1 - s->idx;
  m->cand = c ? xstrdup(c->candidate) : NULL;
  m->mid = c ? xstrdup(c->sdp_mid) : NULL;
  m->mline = c ? c->sdp_mline_index : -1;
  lock();
  if (B.tail)
    B.tail->next = m;
  else
    B.head = m;
  B.tail = m;
  wake_locked();
  unlock();
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  side *s = ud;
  if (s->idx != 0 || st != WEFT_GATHERING_COMPLETE)
    return;
  lock();
  if (!s->p->t_gather)
    s->p->t_gather = since(s->p);
  unlock();
}

static void on_ice_state(weft_pc *pc, weft_ice_connection_state st, void *ud) {
  side *s = ud;
  lock();
  if (s->idx == 0 && (st == WEFT_ICE_CONNECTED || st == WEFT_ICE_COMPLETED) && !s->p->t_ice)
    s->p->t_ice = since(s->p);
  if (st == WEFT_ICE_FAILED)
    pair_fail_locked(s->p, "ICE failed on %c", side_name(s));
  unlock();
}

static void on_pc_state(weft_pc *pc, weft_pc_state st, void *ud) {
  side *s = ud;
  lock();
  if (s->idx == 0 && st == WEFT_PC_CONNECTED && !s->p->t_conn)
    s->p->t_conn = since(s->p);
  if (st == WEFT_PC_FAILED)
    pair_fail_locked(s->p, "connection failed on %c", side_name(s));
  unlock();
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  side *s = ud;
  lock();
  pair_fail_locked(s->p, "%c: %s: %s", side_name(s), weft_error_detail_to_string(e->detail),
                   e->message);
  unlock();
}

/* A's thread: fill the channel up to the high-water mark. */
static void goodput_fill(pair *p) {
  weft_dc *dc = p->dc[0];
  while (!atomic_load(&p->stop) && weft_dc_get_buffered_amount(dc) <= SEND_HIGH_WATER) {
    if (!p->tx_started) {
      /* The clock starts when the first byte is handed to send. */
      p->tx_started = 1;
      p->tx_cpu_first = cpu_seconds();
      atomic_store(&p->tx_t_first_us, now_us());
    }
    int rc = weft_dc_send(dc, p->payload, p->msg_size);
    if (rc == WEFT_ERR_AGAIN)
      return; /* resumes on buffered-amount-low */
    if (rc < 0) {
      lock();
      p->send_error = rc;
      pair_fail_locked(p, "send: %s (%s)", weft_err_name(rc), weft_last_error_message());
      unlock();
      return;
    }
  }
}

static void rtt_send(pair *p) {
  unsigned char msg[RTT_MSG_SIZE];
  memset(msg, 0x5a, sizeof msg);
  memcpy(msg, &p->rtt_i, sizeof p->rtt_i);
  p->rtt_t_sent = now_ms();
  int rc = weft_dc_send(p->dc[0], msg, sizeof msg);
  if (rc < 0) {
    lock();
    pair_fail_locked(p, "rtt send: %s (%s)", weft_err_name(rc), weft_last_error_message());
    unlock();
  }
}

static void on_a_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  pair *p = ((side *)ud)->p;
  if (type == WEFT_MSG_TEXT && size == 2 && !memcmp(data, "go", 2)) {
    /* B is ready: start on this (A's) thread. */
    if (p->role == ROLE_GOODPUT)
      goodput_fill(p);
    else if (p->role == ROLE_RTT)
      rtt_send(p);
    return;
  }
  if (p->role != ROLE_RTT || size != RTT_MSG_SIZE)
    return;
  double rtt_ms = now_ms() - p->rtt_t_sent;
  int total = P.rtt_warmup + P.rtt_count;
  if (p->rtt_i >= P.rtt_warmup)
    p->rtt_us[p->rtt_i - P.rtt_warmup] = rtt_ms * 1e3;
  p->rtt_i++;
  if (p->rtt_i < total) {
    rtt_send(p);
  } else {
    lock();
    p->done = 1;
    wake_locked();
    unlock();
  }
}

static void on_a_low(weft_dc *dc, void *ud) {
  pair *p = ((side *)ud)->p;
  if (p->role == ROLE_GOODPUT)
    goodput_fill(p);
}

static void on_a_open(weft_dc *dc, void *ud) {
  pair *p = ((side *)ud)->p;
  lock();
  if (!p->t_open_a)
    p->t_open_a = since(p);
  wake_locked();
  unlock();
}

static void on_b_open(weft_dc *dc, void *ud) {
  pair *p = ((side *)ud)->p;
  lock();
  if (!p->t_open_b)
    p->t_open_b = since(p);
  wake_locked();
  unlock();
}

static void on_b_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  pair *p = ((side *)ud)->p;
  if (p->role == ROLE_RTT) {
    weft_dc_send(dc, data, size); /* echo */
    return;
  }
  if (p->role != ROLE_GOODPUT || p->rx_t_end)
    return;
  /* Every byte counts: the clock started at the first send (A's thread). */
  long long t0 = atomic_load(&p->tx_t_first_us);
  if (!t0) {
    lock();
    pair_fail_locked(p, "B received %zu bytes before A sent any", size);
    unlock();
    return;
  }
  p->rx_bytes += size;
  if (p->rx_bytes - p->rx_rss_at >= RSS_SAMPLE_BYTES) {
    rss_note();
    p->rx_rss_at = p->rx_bytes;
  }
  long long t = now_us();
  if (p->rx_bytes >= P.goodput_bytes || (double)(t - t0) >= P.goodput_seconds * 1e6) {
    rss_note();
    p->rx_cpu_end = cpu_seconds();
    p->rx_t_end = (double)(t - t0) / 1e3; /* ms since the first send, > 0 */
    if (p->rx_t_end <= 0)
      p->rx_t_end = 1e-3;
    p->rx_measured = p->rx_bytes;
    atomic_store(&p->stop, 1);
    lock();
    p->done = 1;
    wake_locked();
    unlock();
  }
}

static void on_dc_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  side *s = ud;
  lock();
  pair_fail_locked(s->p, "channel on %c: %s", side_name(s), e->message);
  unlock();
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  side *s = ud;
  pair *p = s->p;
  lock();
  int first = p->dc[1] == NULL;
  if (first)
    p->dc[1] = weft_dc_ref(dc);
  unlock();
  if (!first)
    return;
  weft_dc_set_user_data(dc, s, NULL);
  weft_dc_set_on_message(dc, on_b_message);
  weft_dc_set_on_error(dc, on_dc_error);
  weft_dc_set_on_open(dc, on_b_open); /* replayed if already open */
}

/* ----- main thread -------------------------------------------------------- */

static void deliver(sig_msg *m) {
  weft_ice_candidate c = {m->cand, m->mid, m->mline, NULL};
  int rc = weft_pc_add_ice_candidate(m->p->pc[m->to], m->cand ? &c : NULL);
  if (rc < 0) {
    lock();
    pair_fail_locked(m->p, "add candidate: %s (%s)", weft_err_name(rc), weft_last_error_message());
    unlock();
  }
}

static void sig_free(sig_msg *m) {
  free(m->cand);
  free(m->mid);
  free(m);
}

/* Drops the queued candidates of @p (after it is closed: none can follow). */
static void purge(pair *p) {
  lock();
  sig_msg **pp = &B.head;
  B.tail = NULL;
  while (*pp) {
    sig_msg *m = *pp;
    if (m->p == p) {
      *pp = m->next;
      sig_free(m);
    } else {
      B.tail = m;
      pp = &m->next;
    }
  }
  unlock();
}

typedef int (*pred_fn)(void *arg); /* called with the mutex held */

/* Delivers signaling until @pred holds or @deadline_ms passes. Returns 1 if
 * it holds. */
static int run_until(pred_fn pred, void *arg, double deadline_ms) {
  lock();
  for (;;) {
    if (pred(arg)) {
      unlock();
      return 1;
    }
    sig_msg *m = B.head;
    if (m) {
      B.head = m->next;
      if (!B.head)
        B.tail = NULL;
      unlock(); /* never call weft with our mutex held: callbacks take it */
      deliver(m);
      sig_free(m);
      lock();
      continue;
    }
    double left = deadline_ms - now_ms();
    if (left <= 0) {
      int ok = pred(arg);
      unlock();
      return ok;
    }
    if (left > 50)
      left = 50;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(left * 1e6);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&B.cv, &B.mu, &ts);
  }
}

static void fail_weft(pair *p, const char *what) {
  lock();
  pair_fail_locked(p, "%s: %s (%s)", what, weft_err_name(weft_last_error()),
                   weft_last_error_message());
  unlock();
}

/* Creates both peers and the channel and does the offer/answer; ICE then
 * runs while run_until() relays candidates. */
static pair *pair_start(role r) {
  pair *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->role = r;
  atomic_init(&p->stop, 0);
  p->t0 = now_ms();
  for (int i = 0; i < 2; i++) {
    p->sides[i].p = p;
    p->sides[i].idx = i;
    p->pc[i] = weft_pc_new(B.ctx[i], B.cfg);
    if (!p->pc[i]) {
      fail_weft(p, "weft_pc_new");
      return p;
    }
    weft_pc_set_user_data(p->pc[i], &p->sides[i], NULL);
    weft_pc_set_on_ice_candidate(p->pc[i], on_ice_candidate);
    weft_pc_set_on_ice_gathering_state_change(p->pc[i], on_gathering);
    weft_pc_set_on_ice_connection_state_change(p->pc[i], on_ice_state);
    weft_pc_set_on_connection_state_change(p->pc[i], on_pc_state);
    weft_pc_set_on_error(p->pc[i], on_pc_error);
  }
  weft_pc_set_on_data_channel(p->pc[1], on_data_channel);
  p->dc[0] = weft_pc_create_data_channel(p->pc[0], "bench", NULL);
  if (!p->dc[0]) {
    fail_weft(p, "create data channel");
    return p;
  }
  weft_dc_set_user_data(p->dc[0], &p->sides[0], NULL);
  weft_dc_set_on_open(p->dc[0], on_a_open);
  weft_dc_set_on_message(p->dc[0], on_a_message);
  weft_dc_set_on_error(p->dc[0], on_dc_error);
  weft_dc_set_on_buffered_amount_low(p->dc[0], on_a_low);
  weft_dc_set_buffered_amount_low_threshold(p->dc[0], SEND_LOW_THRESHOLD);

  char *offer = NULL, *answer = NULL;
  if (weft_pc_create_offer(p->pc[0], NULL, &offer) < 0)
    fail_weft(p, "create offer");
  else if (weft_pc_set_local_description(p->pc[0], WEFT_SDP_OFFER, offer) < 0)
    fail_weft(p, "A: set local offer");
  else if (weft_pc_set_remote_description(p->pc[1], WEFT_SDP_OFFER, offer) < 0)
    fail_weft(p, "B: set remote offer");
  else if (weft_pc_create_answer(p->pc[1], &answer) < 0)
    fail_weft(p, "create answer");
  else if (weft_pc_set_local_description(p->pc[1], WEFT_SDP_ANSWER, answer) < 0)
    fail_weft(p, "B: set local answer");
  else if (weft_pc_set_remote_description(p->pc[0], WEFT_SDP_ANSWER, answer) < 0)
    fail_weft(p, "A: set remote answer");
  weft_free(offer);
  weft_free(answer);
  return p;
}

static void pair_free(pair *p) {
  if (!p)
    return;
  for (int i = 0; i < 2; i++)
    if (p->pc[i])
      weft_pc_close(p->pc[i]); /* no callback after this returns */
  purge(p);
  for (int i = 0; i < 2; i++) {
    weft_dc_unref(p->dc[i]);
    weft_pc_unref(p->pc[i]);
  }
  free(p->payload);
  free(p->rtt_us);
  free(p);
}

typedef struct pair_set {
  pair **v;
  int n;
} pair_set;

/* All open (both ends) or one failed. */
static int pred_open(void *arg) {
  pair_set *s = arg;
  for (int i = 0; i < s->n; i++) {
    if (s->v[i]->failed)
      return 1;
    if (!s->v[i]->t_open_a || !s->v[i]->t_open_b)
      return 0;
  }
  return 1;
}

static int pred_done(void *arg) {
  pair *p = arg;
  return p->done || p->failed;
}

/* Starts a pair and waits until its channel is open on both ends. */
static pair *pair_connect(role r, char *why, size_t why_cap) {
  pair *p = pair_start(r);
  if (!p) {
    snprintf(why, why_cap, "out of memory");
    return NULL;
  }
  pair_set s = {&p, 1};
  int ok = run_until(pred_open, &s, now_ms() + P.step_timeout_s * 1e3);
  lock();
  int failed = p->failed || !ok || !p->t_open_a || !p->t_open_b;
  if (failed)
    snprintf(why, why_cap, "%s", p->failed ? p->why : "timed out waiting for the channel");
  unlock();
  if (failed) {
    pair_free(p);
    return NULL;
  }
  return p;
}

static int kick(pair *p) {
  /* B tells A to start; A then runs the test on its own thread. */
  return weft_dc_send_text(p->dc[1], "go", 2);
}

/* ===== Metrics ============================================================ */

static void bench_setup(void) {
  int n = P.setup_runs;
  double *tot = calloc((size_t)n, sizeof *tot), *ph[4];
  for (int k = 0; k < 4; k++)
    ph[k] = calloc((size_t)n, sizeof(double));
  char why[200];
  int got = 0, failed = 0;
  for (int run = 0; got < n; run++) {
    pair *p = pair_connect(ROLE_SETUP, why, sizeof why);
    if (!p) {
      /* A failed run is counted, not timed; too many end the metric. */
      if (++failed > n / 5) {
        emit_error("setup_ms", "%d runs failed, last: %s", failed, why);
        goto out;
      }
      continue;
    }
    if (run >= P.setup_warmup) {
      lock();
      /* Phase boundaries: each milestone, made monotonic (with trickle ICE
       * connectivity may come before gathering is complete). */
      double m[5] = {0, p->t_gather, p->t_ice, p->t_conn, p->t_open_a};
      for (int k = 1; k < 5; k++) {
        if (m[k] < m[k - 1] || m[k] == 0)
          m[k] = m[k - 1];
      }
      unlock();
      for (int k = 0; k < 4; k++)
        ph[k][got] = m[k + 1] - m[k];
      tot[got] = p->t_open_a;
      got++;
    }
    pair_free(p);
  }
  qsort(tot, (size_t)got, sizeof *tot, cmp_double);
  for (int k = 0; k < 4; k++)
    qsort(ph[k], (size_t)got, sizeof(double), cmp_double);
  printf("{\"impl\":\"%s\",\"metric\":\"setup_ms\",\"min\":%.2f,\"p50\":%.2f,\"p90\":%.2f,"
         "\"p99\":%.2f,\"n\":%d,\"failed\":%d,\"split\":{\"gathering\":%.2f,\"ice\":%.2f,"
         "\"dtls\":%.2f,\"sctp\":%.2f}}\n",
         IMPL, got ? tot[0] : 0.0, pct(tot, got, 50), pct(tot, got, 90), pct(tot, got, 99), got,
         failed, pct(ph[0], got, 50), pct(ph[1], got, 50), pct(ph[2], got, 50),
         pct(ph[3], got, 50));
  fflush(stdout);
out:
  free(tot);
  for (int k = 0; k < 4; k++)
    free(ph[k]);
}

static void bench_goodput(size_t msg_size, const char *metric) {
  char why[200];
  pair *p = pair_connect(ROLE_GOODPUT, why, sizeof why);
  if (!p) {
    emit_error(metric, "%s", why);
    return;
  }
  size_t max = 0;
  if (weft_pc_get_max_message_size(p->pc[0], &max) == 0 && max < msg_size) {
    emit_error(metric, "remote max-message-size %zu < %zu", max, msg_size);
    pair_free(p);
    return;
  }
  p->msg_size = msg_size;
  p->payload = malloc(msg_size);
  for (size_t i = 0; p->payload && i < msg_size; i++)
    p->payload[i] = (unsigned char)(i * 13);
  /* RSS baseline: the connected pair, before anything is sent. */
  long rss_base = rss_kb();
  atomic_store(&rss_peak, rss_base);
  atomic_store(&sampler_run, 1);
  pthread_t sampler;
  int have_sampler = pthread_create(&sampler, NULL, sampler_main, NULL) == 0;
  int rc = p->payload ? kick(p) : WEFT_ERR_NO_MEMORY;
  int ok =
      rc == 0 && run_until(pred_done, p, now_ms() + (P.goodput_seconds + P.step_timeout_s) * 1e3);
  atomic_store(&sampler_run, 0);
  if (have_sampler)
    pthread_join(sampler, NULL);
  rss_note();
  long rss_peak_kb = atomic_load(&rss_peak) - rss_base;
  if (rc < 0) {
    emit_error(metric, "go: %s (%s)", weft_err_name(rc), weft_last_error_message());
    pair_free(p);
    return;
  }
  lock();
  int failed = p->failed || !ok || !p->done;
  if (failed)
    snprintf(why, sizeof why, "%s", p->failed ? p->why : "timed out");
  unlock();
  if (failed) {
    emit_error(metric, "%s (received %llu bytes)", why, (unsigned long long)p->rx_bytes);
  } else {
    double secs = p->rx_t_end / 1e3; /* first byte sent → last byte received */
    double bytes = (double)p->rx_measured;
    double mbps = bytes / 1e6 / secs;
    double cpu_gb = bytes > 0 ? (p->rx_cpu_end - p->tx_cpu_first) / (bytes / 1e9) : 0;
    if (mbps > P.plausible_mb_s) {
      /* Beyond what this machine's loopback can carry: the bench measured
       * something else (e.g. dispatch of data already received). */
      implausible = 1;
      printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"error\":\"implausible: %.2f MB/s (%.0f bytes "
             "in %.6f s) is above the %.0f MB/s bound\",\"rejected_mb_per_s\":%.2f,"
             "\"bytes\":%.0f,\"seconds\":%.6f,\"rss_peak_kb\":%ld,\"msg_size\":%zu}\n",
             IMPL, metric, mbps, bytes, secs, P.plausible_mb_s, mbps, bytes, secs, rss_peak_kb,
             msg_size);
    } else {
      printf("{\"impl\":\"%s\",\"metric\":\"%s\",\"mb_per_s\":%.2f,\"cpu_s_per_gb\":%.3f,"
             "\"bytes\":%.0f,\"seconds\":%.3f,\"msg_size\":%zu,\"rss_peak_kb\":%ld,"
             "\"rss_base_kb\":%ld}\n",
             IMPL, metric, mbps, cpu_gb, bytes, secs, msg_size, rss_peak_kb, rss_base);
    }
    fflush(stdout);
  }
  pair_free(p);
}

static void bench_rtt(void) {
  char why[200];
  pair *p = pair_connect(ROLE_RTT, why, sizeof why);
  if (!p) {
    emit_error("rtt_100b_us", "%s", why);
    return;
  }
  p->rtt_us = calloc((size_t)P.rtt_count, sizeof(double));
  int rc = p->rtt_us ? kick(p) : WEFT_ERR_NO_MEMORY;
  int ok = rc == 0 && run_until(pred_done, p, now_ms() + 60e3);
  lock();
  int failed = rc < 0 || p->failed || !ok || !p->done;
  if (failed)
    snprintf(why, sizeof why, "%s",
             p->failed ? p->why
             : rc < 0  ? weft_last_error_message()
                       : "timed out");
  unlock();
  if (failed) {
    emit_error("rtt_100b_us", "%s after %d round trips", why, p->rtt_i);
  } else {
    qsort(p->rtt_us, (size_t)P.rtt_count, sizeof(double), cmp_double);
    printf("{\"impl\":\"%s\",\"metric\":\"rtt_100b_us\",\"p50\":%.1f,\"p99\":%.1f,\"n\":%d}\n",
           IMPL, pct(p->rtt_us, P.rtt_count, 50), pct(p->rtt_us, P.rtt_count, 99), P.rtt_count);
    fflush(stdout);
  }
  pair_free(p);
}

/* Opens up to @want more pairs in batches; returns how many are held. Pairs
 * that fail are closed and counted in *@failures; the ramp stops (reason in
 * @why) once *@failures exceeds @tolerate. */
static int open_pairs(pair **held, int have, int want, double deadline, int tolerate, int *failures,
                      char *why, size_t cap) {
  while (have < want) {
    if (now_ms() > deadline) {
      snprintf(why, cap, "time bound");
      return have;
    }
    int n = want - have < P.batch ? want - have : P.batch;
    pair_set s = {held + have, 0};
    for (int i = 0; i < n; i++) {
      pair *p = pair_start(ROLE_HOLD);
      if (!p) {
        snprintf(why, cap, "out of memory");
        break;
      }
      held[have + s.n++] = p;
      if (p->failed)
        break;
    }
    int ok = run_until(pred_open, &s, now_ms() + P.step_timeout_s * 1e3);
    int good = 0;
    lock();
    for (int i = 0; i < s.n; i++) {
      pair *p = s.v[i];
      if (!p->failed && p->t_open_a && p->t_open_b)
        good++;
      else if (!why[0])
        snprintf(why, cap, "%s", p->failed ? p->why : "timed out waiting for the channel");
    }
    unlock();
    if (!ok && !why[0])
      snprintf(why, cap, "timed out waiting for the channel");
    if (good < s.n || s.n < n) {
      /* Keep the good ones: the failed batch members are freed. */
      int k = have;
      for (int i = 0; i < s.n; i++) {
        pair *p = s.v[i];
        if (!p->failed && p->t_open_a && p->t_open_b)
          held[k++] = p;
        else
          pair_free(p);
      }
      *failures += s.n - good;
      if (*failures > tolerate || s.n < n)
        return k;
      why[0] = '\0';
      have = k;
      continue;
    }
    have += s.n;
  }
  return have;
}

static void bench_rss_and_max(int do_rss, int do_max) {
  int cap = P.max_pairs_cap > P.rss_large ? P.max_pairs_cap : P.rss_large;
  pair **held = calloc((size_t)cap, sizeof *held);
  char why[200] = "";
  int have = 0;
  /* One pair opened and closed first, so one-time initialisation (certificate,
   * library state) is not counted as per-pair memory. */
  pair_free(pair_connect(ROLE_HOLD, why, sizeof why));
  why[0] = '\0';
  long base = rss_kb();
  double t_start = now_ms();
  int failures = 0;
  if (do_rss) {
    /* Tolerate a few failed pairs (closed and replaced): the metric is memory. */
    int tolerate = P.rss_large / 20;
    have =
        open_pairs(held, have, P.rss_small, t_start + 600e3, tolerate, &failures, why, sizeof why);
    long at_small = rss_kb();
    if (have == P.rss_small)
      have = open_pairs(held, have, P.rss_large, t_start + 600e3, tolerate, &failures, why,
                        sizeof why);
    long at_large = rss_kb();
    if (have < P.rss_large) {
      emit_error("rss_per_pair_kb", "only %d pairs connected (%d failed): %s", have, failures, why);
    } else {
      printf("{\"impl\":\"%s\",\"metric\":\"rss_per_pair_kb\",\"at_%d\":%.1f,\"at_%d\":%.1f,"
             "\"base_kb\":%ld,\"failed\":%d}\n",
             IMPL, P.rss_small, (double)(at_small - base) / P.rss_small, P.rss_large,
             (double)(at_large - base) / P.rss_large, base, failures);
      fflush(stdout);
    }
  }
  if (do_max && have >= (do_rss ? P.rss_large : 0)) {
    /* Until the first failure (or the cap, or the time bound). */
    int max_failures = 0;
    why[0] = '\0';
    have = open_pairs(held, have, P.max_pairs_cap, t_start + P.max_pairs_seconds * 1e3, 0,
                      &max_failures, why, sizeof why);
    char esc[420];
    json_escape(esc, sizeof esc, why[0] ? why : "cap");
    printf("{\"impl\":\"%s\",\"metric\":\"max_pairs\",\"held\":%d,\"cap\":%d,\"seconds\":%.1f,"
           "\"stopped\":\"%s\",\"rss_kb\":%ld}\n",
           IMPL, have, P.max_pairs_cap, (now_ms() - t_start) / 1e3, esc, rss_kb());
    fflush(stdout);
  } else if (do_max) {
    emit_error("max_pairs", "not run: %s", why);
  }
  for (int i = 0; i < have; i++)
    pair_free(held[i]);
  free(held);
}

/* ===== main =============================================================== */

static void usage(FILE *f) {
  fprintf(f, "usage: weft-bench [--quick] [--only setup,goodput,rtt,rss,max]\n"
             "                  [--runs N] [--max-pairs N] [--max-pairs-seconds S]\n"
             "                  [--goodput-mb N] [--goodput-seconds S] [--plausible-mb-s N]\n"
             "Prints one JSON line per result on stdout.\n");
}

static int only_has(const char *only, const char *name) {
  if (!only)
    return 1;
  size_t n = strlen(name);
  for (const char *s = only; (s = strstr(s, name)) != NULL; s += n) {
    if ((s == only || s[-1] == ',') && (s[n] == ',' || s[n] == '\0'))
      return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *only = NULL;
  int one_context = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--quick")) {
      P.quick = 1;
      P.setup_runs = 5;
      P.setup_warmup = 1;
      P.goodput_bytes = 16u << 20;
      P.goodput_seconds = 1.0;
      P.rtt_count = 100;
      P.rtt_warmup = 10;
      P.rss_small = 5;
      P.rss_large = 20;
      P.max_pairs_cap = 30;
      P.max_pairs_seconds = 30;
    } else if (!strcmp(a, "--one-context")) {
      one_context = 1;
      IMPL = "weft-one-context";
    } else if (!strcmp(a, "--only") && v) {
      only = v;
      i++;
    } else if (!strcmp(a, "--runs") && v) {
      P.setup_runs = atoi(v);
      i++;
    } else if (!strcmp(a, "--max-pairs") && v) {
      P.max_pairs_cap = atoi(v);
      i++;
    } else if (!strcmp(a, "--max-pairs-seconds") && v) {
      P.max_pairs_seconds = atof(v);
      i++;
    } else if (!strcmp(a, "--goodput-mb") && v) {
      P.goodput_bytes = (size_t)atol(v) << 20;
      i++;
    } else if (!strcmp(a, "--goodput-seconds") && v) {
      P.goodput_seconds = atof(v);
      i++;
    } else if (!strcmp(a, "--plausible-mb-s") && v) {
      P.plausible_mb_s = atof(v);
      i++;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (P.setup_runs < 1 || P.max_pairs_cap < 1 || P.goodput_bytes == 0 || !(P.plausible_mb_s > 0)) {
    usage(stderr);
    return 2;
  }

  /* Hundreds of peer connections need more descriptors than the usual 1024. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  for (int i = 0; i < 2; i++) {
    weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
    o.thread_name = i ? "weft-B" : "weft-A";
    B.ctx[i] = i && one_context ? weft_context_ref(B.ctx[0]) : weft_context_new(&o);
  }
  B.cfg = weft_config_new();
  if (!B.ctx[0] || !B.ctx[1] || !B.cfg) {
    emit_error("init", "%s", weft_last_error_message());
    return 1;
  }
  weft_config_set_enable_loopback(B.cfg, 1);

  if (only_has(only, "setup"))
    bench_setup();
  if (only_has(only, "goodput")) {
    bench_goodput(64 * 1024, "goodput_64k");
    bench_goodput(16 * 1024, "goodput_16k");
  }
  if (only_has(only, "rtt"))
    bench_rtt();
  if (only_has(only, "rss") || only_has(only, "max"))
    bench_rss_and_max(only_has(only, "rss"), only_has(only, "max"));

  weft_config_free(B.cfg);
  weft_context_unref(B.ctx[0]);
  weft_context_unref(B.ctx[1]);
  return implausible ? 1 : 0;
}

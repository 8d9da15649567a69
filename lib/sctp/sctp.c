/*
 * SCTP over DTLS with usrsctp in AF_CONN mode.
 *
 * Threads and locks
 * -----------------
 * usrsctp is one process-wide state machine. Every usrsctp_* call runs under
 * g_usr_lock. usrsctp calls us back (packet output, socket upcalls) from inside
 * those calls, possibly on the thread of ANOTHER context (its timer tick fires
 * every association's timers). Callbacks therefore never touch an association
 * directly: they find its `assoc_src` by integer id in a registry (an id that
 * is gone is dropped: usrsctp calls back after close, usrsctp#405), append to
 * its locked outbox or set its `work` flag, and note it in a thread-local
 * "dirty" list. When the usrsctp call returns and the lock is released, the
 * dirty list is drained: an association whose GMainContext the calling thread
 * owns is processed at once; any other gets its assoc_src (a GSource attached
 * to its owner context) woken, and is processed there. Processing (reading
 * with usrsctp_recvv, flushing weft's send FIFO, sending packets through the
 * sink, invoking callbacks) thus only ever happens on the owner thread and
 * outside usrsctp callbacks.
 *
 * Lock order: g_usr_lock -> g_reg_lock -> assoc_src.lock.
 */
#include "sctp/sctp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <usrsctp.h>

enum {
  TICK_MS = 10,
  /* RFC 8261 §5: without PMTUD, 1200 bytes is a safe SCTP packet size.
   * usrsctp 0.9.5 adds the 12-byte common header on top of spp_pathmtu for
   * AF_CONN (seen on the wire: 1212-byte packets with 1200), hence the -12. */
  SCTP_PACKET_MAX = 1200,
  PATH_MTU = SCTP_PACKET_MAX - 12,
  MIN_SOCKBUF = 1024 * 1024,
  /* The receive buffer, so the window we advertise (a_rwnd). usrsctp 0.9.5
   * tracks received TSNs in a bitmap of at most 4096 past the cumulative ack
   * (SCTP_MAPPING_ARRAY, 512 bytes) and silently tosses any chunk beyond it.
   * After a loss, a peer may fill the whole window past the hole: a 16 MiB
   * window (what sizing it like the send buffer gave a peer allowing 1 GiB
   * messages) let Firefox send 6,880 TSNs past it, 1,614 of them tossed, and
   * its recovery from the resends took over 30 s. 1 MiB holds about 900
   * full chunks, and a usrsctp sender's per-chunk charge (256 bytes) keeps
   * even 1-byte messages under 4096. */
  RECV_WINDOW = 1024 * 1024,
  /* Largest message kept when the caller sets no receive cap (0). */
  MAX_RECV_ANY = 256 * 1024 * 1024,
  /* usrsctp's getsockopt for the bytes an association holds (queued or sent
   * and not yet acknowledged); FreeBSD's sctp.h value, which usrsctp shares
   * but does not export in usrsctp.h. */
  WEFT_SCTP_GET_SNDBUF_USE = 0x00001101,
  RECV_CHUNK = 64 * 1024,
  MAX_EARLY_PACKETS = 32,
  MAX_DIRTY = 32,
  DEFAULT_MAX_RECV = 16 * 1024 * 1024,
  SCTP_HEADER_LEN = 12,
  MAX_PROCESS_ROUNDS = 64,
};

/* ---- Process-wide state ------------------------------------------------- */

static GRecMutex g_usr_lock; /* around every usrsctp_* call */
static int g_usr_users;      /* live associations; guarded by g_usr_lock */
static bool g_usr_running;   /* usrsctp initialized; guarded by g_usr_lock */
static int64_t g_last_tick_us;
static atomic_int g_live_count;
static atomic_bool g_running_flag;
static atomic_uint g_finish_count;
static uint8_t g_recv_buf[RECV_CHUNK]; /* usrsctp_recvv target; guarded by g_usr_lock */

static GMutex g_reg_lock;    /* the two tables and g_next_id */
static GHashTable *g_assocs; /* id -> assoc_src* (a reference) */
static GHashTable *g_ticks;  /* GMainContext* -> tick_entry* */
static uint32_t g_next_id;

typedef struct tick_entry {
  GSource *src;
  int refs;
} tick_entry;

/* The part of an association that usrsctp callbacks may reach from any
 * thread. A GSource on the owner context, so posting to the owner thread is
 * g_source_set_ready_time(…, 0). Refcounted by GLib. */
typedef struct assoc_src {
  GSource base;
  GMutex lock;       /* guards outbox, work and dead */
  GQueue outbox;     /* GBytes*: packets usrsctp produced, for out.send */
  bool work;         /* a socket upcall happened (readable/writable/error) */
  bool dead;         /* weft__sctp_free started: no more processing */
  GMainContext *ctx; /* owner context (a reference) */
  uint32_t id;
  weft__sctp *owner; /* only dereferenced on the owner thread while !dead */
} assoc_src;

/* One message waiting in weft's FIFO (or a deferred stream reset). */
typedef struct qmsg {
  struct qmsg *next;
  uint8_t *data; /* g_malloc'd wire payload (>= 1 byte); NULL for a reset */
  size_t len;
  size_t counted; /* bytes it adds to buffered_amount */
  uint32_t ppid;
  uint16_t stream;
  bool reset;
  weft__sctp_send_opts opts;
} qmsg;

/* FreeBSD's struct sctp_sockstat (the result of SCTP_GET_SNDBUF_USE). */
struct weft_sctp_sockstat {
  sctp_assoc_t ss_assoc_id;
  uint32_t ss_total_sndbuf;
  uint32_t ss_total_recv_buf;
};

/* Bytes handed to usrsctp on one stream, in handing order (coalesced). */
typedef struct inflight_rec {
  uint16_t stream;
  size_t bytes;
} inflight_rec;

typedef enum { EV_CONNECTED, EV_MESSAGE, EV_RESET, EV_CLOSED, EV_OVERSIZE } ev_type;
typedef struct event {
  ev_type type;
  uint16_t stream;
  uint32_t ppid;
  bool incoming;
  int cause;
  uint8_t *data; /* message bytes or close reason (g_malloc'd) */
  size_t len;
} event;

struct weft__sctp {
  GMainContext *ctx;
  weft__dgram_sink out;
  weft__sctp_callbacks cb;
  assoc_src *src;
  struct socket *sock;
  uint32_t id;
  uint16_t local_port, remote_port;
  size_t max_message_size, sndbuf, max_recv;

  bool connect_called, connected, closed, close_reported;
  bool processing;
  GQueue early; /* GBytes*: input before connect */

  /* Send side (owner thread). */
  qmsg *fifo_head, *fifo_tail;
  size_t buffered[WEFT__SCTP_MAX_STREAMS];
  uint8_t low_pending[WEFT__SCTP_MAX_STREAMS / 8];
  bool any_low_pending;
  GArray *pending_resets; /* uint16_t: to send as soon as usrsctp takes them */

  /* Bytes usrsctp still holds (queued or unacknowledged), attributed to
   * streams in the order they were handed over. */
  size_t inflight[WEFT__SCTP_MAX_STREAMS];
  size_t inflight_total;
  GArray *inflight_recs; /* inflight_rec, oldest at inflight_head */
  guint inflight_head;

  /* Receive side (owner thread, filled under g_usr_lock). */
  weft__rx_budget *budget; /* NULL: read everything usrsctp has */
  GByteArray *msg;         /* message being reassembled until MSG_EOR */
  uint16_t msg_sid;
  uint32_t msg_ppid;
  bool msg_started, msg_discarding;
  GByteArray *notif;   /* notification being reassembled */
  GQueue events;       /* event*: to deliver outside usrsctp */
  GSource *status_src; /* WEFT_DEBUG sctp:debug: the state every 2 s */
};

static void process(weft__sctp *s, bool allow_cb);
static void inflight_add(weft__sctp *s, uint16_t stream, size_t bytes);

/* ---- Small helpers ------------------------------------------------------ */

static void *id_addr(uint32_t id) { return (void *)(uintptr_t)id; }

static void usr_lock(void) { g_rec_mutex_lock(&g_usr_lock); }
static void usr_unlock(void) { g_rec_mutex_unlock(&g_usr_lock); }

static void debug_printf(const char *format, ...) WEFT__PRINTF(1, 2);
static void debug_printf(const char *format, ...) {
  if (!weft__log_enabled(WEFT_LOG_TRACE, "usrsctp"))
    return;
  char buf[512];
  va_list ap;
  va_start(ap, format);
  vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n')
    buf[n - 1] = '\0';
  weft__log(WEFT_LOG_TRACE, "usrsctp", "%s", buf);
}

static void event_free(gpointer p) {
  event *e = p;
  g_free(e->data);
  g_free(e);
}

static void push_event(weft__sctp *s, ev_type type, uint16_t stream, uint32_t ppid, bool incoming,
                       int cause, uint8_t *data, size_t len) {
  event *e = g_new0(event, 1);
  e->type = type;
  e->stream = stream;
  e->ppid = ppid;
  e->incoming = incoming;
  e->cause = cause;
  e->data = data;
  e->len = len;
  g_queue_push_tail(&s->events, e);
}

static void push_closed(weft__sctp *s, int cause, const char *fmt, ...) WEFT__PRINTF(3, 4);
static void push_closed(weft__sctp *s, int cause, const char *fmt, ...) {
  if (s->closed)
    return;
  s->closed = true;
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  WLOG_I("sctp", "association %u closed: %s", s->id, msg);
  push_event(s, EV_CLOSED, 0, 0, false, cause, (uint8_t *)msg, strlen(msg));
}

/* ---- Registry and the thread-local dirty list ---------------------------- */

static assoc_src *lookup_ref(uint32_t id) {
  assoc_src *a = NULL;
  g_mutex_lock(&g_reg_lock);
  if (g_assocs)
    a = g_hash_table_lookup(g_assocs, GUINT_TO_POINTER(id));
  if (a)
    g_source_ref(&a->base);
  g_mutex_unlock(&g_reg_lock);
  return a;
}

static void kick(assoc_src *a) {
  g_mutex_lock(&a->lock);
  if (!a->dead)
    g_source_set_ready_time(&a->base, 0);
  g_mutex_unlock(&a->lock);
}

static _Thread_local assoc_src *t_dirty[MAX_DIRTY];
static _Thread_local int t_ndirty;

/* Takes over the caller's reference to @a. */
static void mark_dirty(assoc_src *a) {
  for (int i = 0; i < t_ndirty; i++) {
    if (t_dirty[i] == a) {
      g_source_unref(&a->base);
      return;
    }
  }
  if (t_ndirty < MAX_DIRTY) {
    t_dirty[t_ndirty++] = a;
    return;
  }
  kick(a); /* list full: let the owner context pick it up */
  g_source_unref(&a->base);
}

/* Called after g_usr_lock was released. @self: the association the caller is
 * working for (NULL from the tick); @allow_cb: the caller is at a point where
 * user callbacks may run (input from the lower layer, a source dispatch). */
static void drain_dirty(weft__sctp *self, bool allow_cb) {
  while (t_ndirty > 0) {
    assoc_src *a = t_dirty[0];
    memmove(t_dirty, t_dirty + 1, sizeof(t_dirty[0]) * (size_t)(t_ndirty - 1));
    t_ndirty--;
    g_mutex_lock(&a->lock);
    bool dead = a->dead;
    g_mutex_unlock(&a->lock);
    if (!dead) {
      /* Rule: only the owner thread processes an association. */
      if (g_main_context_is_owner(a->ctx) && (allow_cb || a->owner == self))
        process(a->owner, allow_cb);
      else
        kick(a);
    }
    g_source_unref(&a->base);
  }
}

/* ---- usrsctp callbacks (inside usrsctp, under g_usr_lock, any thread) ---- */

static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df) {
  assoc_src *a = lookup_ref((uint32_t)(uintptr_t)addr);
  if (!a)
    return 0; /* association freed meanwhile (usrsctp#405): drop */
  /* usrsctp frees @buffer when we return: copy. The checksum is ours to
   * compute (crc32c offload): peers such as Chrome verify it. usrsctp_crc32c
   * is a pure function and does not re-enter the stack. */
  uint8_t *p = g_memdup2(buffer, length);
  if (length >= SCTP_HEADER_LEN) {
    memset(p + 8, 0, 4);
    uint32_t crc = usrsctp_crc32c(p, length);
    memcpy(p + 8, &crc, 4);
  }
  g_mutex_lock(&a->lock);
  g_queue_push_tail(&a->outbox, g_bytes_new_take(p, length));
  g_mutex_unlock(&a->lock);
  mark_dirty(a);
  return 0;
}

static void sock_upcall(struct socket *sock, void *arg, int flags) {
  assoc_src *a = lookup_ref((uint32_t)(uintptr_t)arg);
  if (!a)
    return;
  g_mutex_lock(&a->lock);
  a->work = true;
  g_mutex_unlock(&a->lock);
  mark_dirty(a);
}

/* ---- usrsctp start / stop (under g_usr_lock) ----------------------------- */

static void usr_start(void) {
  usrsctp_init_nothreads(0, conn_output, debug_printf);
  /* DTLS protects integrity, so incoming checksums are not verified; the
   * outgoing one is computed in conn_output. */
  usrsctp_enable_crc32c_offload();
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_pr_enable(1); /* RFC 8831 §6.1: PR-SCTP is required */
  usrsctp_sysctl_set_sctp_nr_outgoing_streams_default(WEFT__SCTP_MAX_STREAMS);
  usrsctp_sysctl_set_sctp_nr_incoming_streams_default(WEFT__SCTP_MAX_STREAMS);
  usrsctp_sysctl_set_sctp_blackhole(2); /* no ABORT for out-of-the-blue packets */
  usrsctp_sysctl_set_sctp_sendspace(MIN_SOCKBUF);
  usrsctp_sysctl_set_sctp_recvspace(MIN_SOCKBUF);
  /* Throughput tuning as in libdatachannel (stack-notes §3.1): the defaults
   * (cwnd 3 MTUs, 200 ms delayed SACK, RTO 1..60 s) collapse over real RTTs. */
  usrsctp_sysctl_set_sctp_initial_cwnd(10);
  usrsctp_sysctl_set_sctp_max_burst_default(10);
  usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
  usrsctp_sysctl_set_sctp_rto_min_default(200);
  usrsctp_sysctl_set_sctp_rto_max_default(10000);
  usrsctp_sysctl_set_sctp_rto_initial_default(1000);
  usrsctp_sysctl_set_sctp_init_rto_max_default(10000);
  usrsctp_sysctl_set_sctp_init_rtx_max_default(5);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default(5);
  usrsctp_sysctl_set_sctp_path_rtx_max_default(5);
  usrsctp_sysctl_set_sctp_heartbeat_interval_default(10000);
  usrsctp_sysctl_set_sctp_default_cc_module(SCTP_CC_RFC2581);
  g_last_tick_us = g_get_monotonic_time();
  g_usr_running = true;
  atomic_store(&g_running_flag, true);
  WLOG_D("sctp", "usrsctp initialized (no threads)");
}

static void usr_stop(void) {
  /* Sockets closed with SO_LINGER 0 are freed by usrsctp's own timers, which
   * only advance when we call usrsctp_handle_timers (no usrsctp threads). */
  for (int i = 0; i < 500; i++) {
    if (usrsctp_finish() == 0) {
      g_usr_running = false;
      atomic_store(&g_running_flag, false);
      atomic_fetch_add(&g_finish_count, 1);
      WLOG_D("sctp", "usrsctp finished");
      return;
    }
    usrsctp_handle_timers(TICK_MS);
    if (i > 100)
      g_usleep(1000);
  }
  WLOG_W("sctp", "usrsctp_finish() still refuses; usrsctp stays initialized");
}

/* ---- Timer tick, one per context with live associations ------------------ */

static gboolean tick_cb(gpointer user) {
  usr_lock();
  if (g_usr_running) {
    int64_t now = g_get_monotonic_time();
    int64_t ms = (now - g_last_tick_us) / 1000;
    if (ms > 0) {
      g_last_tick_us += ms * 1000;
      usrsctp_handle_timers((uint32_t)MIN(ms, (int64_t)G_MAXUINT32));
    }
  }
  usr_unlock();
  drain_dirty(NULL, true);
  return G_SOURCE_CONTINUE;
}

static void tick_acquire(GMainContext *ctx) {
  g_mutex_lock(&g_reg_lock);
  if (!g_ticks)
    g_ticks = g_hash_table_new(g_direct_hash, g_direct_equal);
  tick_entry *t = g_hash_table_lookup(g_ticks, ctx);
  if (!t) {
    t = g_new0(tick_entry, 1);
    t->src = g_timeout_source_new(TICK_MS);
    g_source_set_callback(t->src, tick_cb, NULL, NULL);
    g_source_attach(t->src, ctx);
    g_hash_table_insert(g_ticks, ctx, t);
  }
  t->refs++;
  g_mutex_unlock(&g_reg_lock);
}

static void tick_release(GMainContext *ctx) {
  GSource *dead = NULL;
  g_mutex_lock(&g_reg_lock);
  tick_entry *t = g_ticks ? g_hash_table_lookup(g_ticks, ctx) : NULL;
  if (t && --t->refs == 0) {
    dead = t->src;
    g_hash_table_remove(g_ticks, ctx);
    g_free(t);
    if (g_hash_table_size(g_ticks) == 0)
      g_clear_pointer(&g_ticks, g_hash_table_unref);
  }
  g_mutex_unlock(&g_reg_lock);
  if (dead) {
    g_source_destroy(dead);
    g_source_unref(dead);
  }
}

/* ---- The per-association source ------------------------------------------ */

static gboolean assoc_dispatch(GSource *base, GSourceFunc cb, gpointer user) {
  assoc_src *a = (assoc_src *)base;
  g_source_set_ready_time(base, -1);
  g_mutex_lock(&a->lock);
  bool dead = a->dead;
  g_mutex_unlock(&a->lock);
  if (!dead)
    process(a->owner, true);
  return G_SOURCE_CONTINUE;
}

static void assoc_finalize(GSource *base) {
  assoc_src *a = (assoc_src *)base;
  g_queue_clear_full(&a->outbox, (GDestroyNotify)g_bytes_unref);
  g_mutex_clear(&a->lock);
  g_main_context_unref(a->ctx);
}

static GSourceFuncs assoc_funcs = {NULL, NULL, assoc_dispatch, assoc_finalize, NULL, NULL};

/* ---- Sending ------------------------------------------------------------ */

/* Under g_usr_lock. Returns 0 when usrsctp took the message, 1 when it would
 * block, or a negative errno. */
static int usr_sendv(weft__sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                     const weft__sctp_send_opts *o) {
  struct sctp_sendv_spa spa;
  memset(&spa, 0, sizeof spa);
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = stream;
  spa.sendv_sndinfo.snd_ppid = htonl(ppid); /* PPIDs travel in network order */
  if (o->unordered)
    spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
  /* RFC 8831 §6.1: partial reliability per message (RFC 3758 policies). */
  if (o->max_retransmits >= 0) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
    spa.sendv_prinfo.pr_value = (uint32_t)o->max_retransmits;
  } else if (o->max_packet_life_time >= 0) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = (uint32_t)o->max_packet_life_time;
  }
  ssize_t n =
      usrsctp_sendv(s->sock, data, len, NULL, 0, &spa, (socklen_t)sizeof spa, SCTP_SENDV_SPA, 0);
  if (n >= 0) {
    if ((size_t)n != len)
      WLOG_W("sctp", "usrsctp_sendv took %zd of %zu bytes", n, len);
    inflight_add(s, stream, len);
    return 0;
  }
  int err = errno;
  if (err == EWOULDBLOCK || err == EAGAIN)
    return 1;
  return -err;
}

static void note_low(weft__sctp *s, uint16_t stream) {
  s->low_pending[stream / 8] |= (uint8_t)(1u << (stream % 8));
  s->any_low_pending = true;
}

/* A message of @bytes went into usrsctp on @stream. */
static void inflight_add(weft__sctp *s, uint16_t stream, size_t bytes) {
  s->inflight[stream] += bytes;
  s->inflight_total += bytes;
  guint n = s->inflight_recs->len;
  if (n > s->inflight_head) {
    inflight_rec *last = &g_array_index(s->inflight_recs, inflight_rec, n - 1);
    if (last->stream == stream) {
      last->bytes += bytes;
      return;
    }
  }
  inflight_rec r = {stream, bytes};
  g_array_append_val(s->inflight_recs, r);
}

/* Under g_usr_lock: usrsctp released what it no longer holds (acknowledged
 * or abandoned); take it off the oldest records. */
static void inflight_update(weft__sctp *s) {
  if (!s->inflight_total)
    return;
  struct weft_sctp_sockstat ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = (socklen_t)sizeof ss;
  size_t held;
  if (s->closed)
    held = 0;
  else if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, WEFT_SCTP_GET_SNDBUF_USE, &ss, &len) == 0)
    held = ss.ss_total_sndbuf;
  else
    return;
  if (held >= s->inflight_total)
    return;
  size_t gone = s->inflight_total - held;
  while (gone && s->inflight_head < s->inflight_recs->len) {
    inflight_rec *r = &g_array_index(s->inflight_recs, inflight_rec, s->inflight_head);
    size_t take = MIN(gone, r->bytes);
    r->bytes -= take;
    gone -= take;
    s->inflight[r->stream] -= take;
    s->inflight_total -= take;
    note_low(s, r->stream);
    if (!r->bytes)
      s->inflight_head++;
  }
  if (s->inflight_head == s->inflight_recs->len) {
    g_array_set_size(s->inflight_recs, 0);
    s->inflight_head = 0;
  } else if (s->inflight_head > 1024 && s->inflight_head > s->inflight_recs->len / 2) {
    g_array_remove_range(s->inflight_recs, 0, s->inflight_head);
    s->inflight_head = 0;
  }
}

/* Under g_usr_lock: hands pending stream resets to usrsctp. */
static void try_resets(weft__sctp *s) {
  if (!s->pending_resets->len || s->closed)
    return;
  guint n = s->pending_resets->len;
  size_t sz = sizeof(struct sctp_reset_streams) + n * sizeof(uint16_t);
  struct sctp_reset_streams *r = g_malloc0(sz);
  r->srs_assoc_id = SCTP_ALL_ASSOC;
  r->srs_flags = SCTP_STREAM_RESET_OUTGOING;
  r->srs_number_streams = (uint16_t)n;
  memcpy(r->srs_stream_list, s->pending_resets->data, n * sizeof(uint16_t));
  int rc = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, r, (socklen_t)sz);
  int err = errno;
  g_free(r);
  if (rc == 0) {
    g_array_set_size(s->pending_resets, 0);
    return;
  }
  if (err == EALREADY || err == EBUSY || err == EAGAIN)
    return; /* a reset is outstanding; retried when its result arrives */
  /* The peer cannot reset streams (no RE-CONFIG, RFC 6525) or refused the
   * ids: the streams are unusable anyway, so report them as done. */
  WLOG_W("sctp", "association %u: stream reset refused: %s", s->id, g_strerror(err));
  for (guint i = 0; i < n; i++)
    push_event(s, EV_RESET, g_array_index(s->pending_resets, uint16_t, i), 0, false, 0, NULL, 0);
  g_array_set_size(s->pending_resets, 0);
}

static void add_reset(weft__sctp *s, uint16_t stream) {
  for (guint i = 0; i < s->pending_resets->len; i++)
    if (g_array_index(s->pending_resets, uint16_t, i) == stream)
      return;
  g_array_append_val(s->pending_resets, stream);
}

/* Under g_usr_lock: moves FIFO entries into usrsctp until it would block. */
static void flush_fifo(weft__sctp *s) {
  while (s->fifo_head && !s->closed) {
    qmsg *m = s->fifo_head;
    if (m->reset) {
      add_reset(s, m->stream);
    } else {
      int rc = usr_sendv(s, m->stream, m->ppid, m->data, m->len, &m->opts);
      if (rc == 1)
        break;
      if (rc < 0) /* the association is going away; its close event follows */
        WLOG_W("sctp", "association %u: dropping queued message on stream %u: %s", s->id, m->stream,
               g_strerror(-rc));
    }
    s->fifo_head = m->next;
    if (!s->fifo_head)
      s->fifo_tail = NULL;
    if (m->counted) {
      s->buffered[m->stream] -= m->counted;
      note_low(s, m->stream);
    }
    g_free(m->data);
    g_free(m);
  }
  try_resets(s);
}

static void fifo_push(weft__sctp *s, qmsg *m) {
  if (s->fifo_tail)
    s->fifo_tail->next = m;
  else
    s->fifo_head = m;
  s->fifo_tail = m;
  s->buffered[m->stream] += m->counted;
}

static void fifo_clear(weft__sctp *s) {
  while (s->fifo_head) {
    qmsg *m = s->fifo_head;
    s->fifo_head = m->next;
    g_free(m->data);
    g_free(m);
  }
  s->fifo_tail = NULL;
}

/* ---- Receiving (under g_usr_lock) ---------------------------------------- */

static void log_status(weft__sctp *s, const char *why);

static void handle_notification(weft__sctp *s, const uint8_t *buf, size_t len) {
  if (len < 8)
    return;
  uint16_t type;
  memcpy(&type, buf, 2);
  switch (type) {
  case SCTP_ASSOC_CHANGE: {
    struct sctp_assoc_change sac;
    if (len < sizeof sac)
      return;
    memcpy(&sac, buf, sizeof sac);
    int cause = sac.sac_error ? sac.sac_error : -1;
    switch (sac.sac_state) {
    case SCTP_COMM_UP:
      if (!s->connected && !s->closed) {
        s->connected = true;
        WLOG_D("sctp", "association %u up (%u out / %u in streams)", s->id,
               sac.sac_outbound_streams, sac.sac_inbound_streams);
        push_event(s, EV_CONNECTED, 0, 0, false, 0, NULL, 0);
      }
      break;
    case SCTP_COMM_LOST: {
      /* A peer's ABORT comes with its chunk in sac_info (its first cause in
       * sac_error, 0 when it has none: how aiortc closes, a close). When
       * usrsctp itself ended the association — a protocol violation by the
       * peer (it sent an ABORT with cause 13), retransmissions exhausted —
       * there is no chunk: report cause 0, an error. */
      size_t info = offsetof(struct sctp_assoc_change, sac_info);
      size_t alen = (size_t)MIN((size_t)sac.sac_length, len);
      if (cause == -1 && alen <= info) {
        push_closed(s, 0,
                    "SCTP association lost (ended by weft's SCTP stack: a protocol "
                    "violation by the peer, or no acknowledgement after retransmissions)");
        break;
      }
      push_closed(s, cause, "SCTP association lost or aborted (cause %d)", cause);
      break;
    }
    case SCTP_SHUTDOWN_COMP:
      push_closed(s, -1, "SCTP association shut down");
      break;
    case SCTP_CANT_STR_ASSOC:
      push_closed(s, cause, "SCTP association setup failed (cause %d)", cause);
      break;
    case SCTP_RESTART:
      WLOG_W("sctp", "association %u restarted by the peer", s->id);
      break;
    default:
      break;
    }
    break;
  }
  case SCTP_STREAM_RESET_EVENT: {
    log_status(s, "stream reset");
    struct sctp_stream_reset_event ev;
    if (len < sizeof ev)
      return;
    memcpy(&ev, buf, sizeof ev);
    size_t total = MIN((size_t)ev.strreset_length, len);
    if (total < sizeof ev) /* a length that does not even cover the header */
      return;
    size_t n = (total - sizeof ev) / sizeof(uint16_t);
    bool incoming = (ev.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) != 0;
    bool outgoing = (ev.strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN) != 0;
    if (ev.strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED))
      WLOG_W("sctp", "association %u: stream reset %s by the peer", s->id,
             (ev.strreset_flags & SCTP_STREAM_RESET_DENIED) ? "denied" : "failed");
    for (size_t i = 0; i < n; i++) {
      uint16_t sid;
      memcpy(&sid, buf + sizeof ev + i * sizeof(uint16_t), sizeof sid);
      if (sid >= WEFT__SCTP_MAX_STREAMS)
        continue;
      /* RFC 8831 §6.7: an incoming reset means the remote closed its side. */
      if (incoming)
        push_event(s, EV_RESET, sid, 0, true, 0, NULL, 0);
      else if (outgoing ||
               (ev.strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)))
        push_event(s, EV_RESET, sid, 0, false, 0, NULL, 0);
    }
    break;
  }
  case SCTP_SENDER_DRY_EVENT:
    break;
  default:
    WLOG_T("sctp", "association %u: notification 0x%04x ignored", s->id, type);
    break;
  }
}

static void finish_message(weft__sctp *s) {
  uint32_t ppid = s->msg_ppid;
  size_t len = s->msg->len;
  /* RFC 8831 §6.6: empty messages carry one padding byte. */
  if (ppid == 56 || ppid == 57)
    len = 0;
  uint8_t *data = g_byte_array_free(s->msg, FALSE);
  s->msg = g_byte_array_new();
  if (s->budget)
    weft__rx_budget_add(s->budget, weft__rx_cost(len));
  push_event(s, EV_MESSAGE, s->msg_sid, ppid, false, 0, data, len);
}

/* Bytes weft queued that usrsctp has not taken yet (debug only). */
static size_t queued_bytes(const weft__sctp *s) {
  size_t n = 0;
  for (const qmsg *m = s->fifo_head; m; m = m->next)
    n += m->len;
  return n;
}

/* One line of what usrsctp holds for the association (WEFT_DEBUG sctp:debug):
 * enough to tell a stalled transfer's side (who has data queued, whose window
 * is closed, whether our reading stopped). Under the usrsctp lock. */
static void log_status(weft__sctp *s, const char *why) {
  if (!weft__log_enabled(WEFT_LOG_DEBUG, "sctp"))
    return;
  struct sctp_status st;
  socklen_t len = (socklen_t)sizeof st;
  memset(&st, 0, sizeof st);
  if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_STATUS, &st, &len) != 0) {
    WLOG_D("sctp", "association %u: %s: SCTP_STATUS: %s", s->id, why, g_strerror(errno));
    return;
  }
  WLOG_D("sctp",
         "association %u: %s: state %d, peer rwnd %u, unacked %u, pending %u, cwnd %u, srtt %u ms, "
         "rto %u ms, held by usrsctp (ours) %zu, queued before it %zu; receive budget %zu used%s, "
         "message being read %u bytes",
         s->id, why, st.sstat_state, st.sstat_rwnd, st.sstat_unackdata, st.sstat_penddata,
         st.sstat_primary.spinfo_cwnd, st.sstat_primary.spinfo_srtt, st.sstat_primary.spinfo_rto,
         s->inflight_total, queued_bytes(s), s->budget ? weft__rx_budget_used(s->budget) : 0,
         s->budget && atomic_load(&s->budget->stopped) ? " (reading stopped)" : "",
         s->msg ? s->msg->len : 0);
}

static gboolean status_tick(gpointer user) {
  weft__sctp *s = user;
  usr_lock();
  log_status(s, "every 2 s");
  usr_unlock();
  return G_SOURCE_CONTINUE;
}

static void do_recv(weft__sctp *s) {
  for (;;) {
    /* Receive back-pressure: what is not read stays in usrsctp's receive
     * buffer, whose free space is the window SCTP advertises (RFC 4960
     * §6.2), so a full budget closes the window and the remote stops. */
    if (s->budget && !weft__rx_budget_admit(s->budget, s->msg->len)) {
      log_status(s, "receive budget full, reading stops");
      return;
    }
    struct sctp_rcvinfo rcv;
    socklen_t infolen = (socklen_t)sizeof rcv;
    unsigned int infotype = 0;
    int flags = 0;
    struct sockaddr_conn from;
    socklen_t fromlen = (socklen_t)sizeof from;
    memset(&rcv, 0, sizeof rcv);
    ssize_t n = usrsctp_recvv(s->sock, g_recv_buf, sizeof g_recv_buf, (struct sockaddr *)&from,
                              &fromlen, &rcv, &infolen, &infotype, &flags);
    if (n < 0) {
      int err = errno;
      if (err != EWOULDBLOCK && err != EAGAIN && err != ENOTCONN)
        WLOG_D("sctp", "association %u: usrsctp_recvv: %s", s->id, g_strerror(err));
      return;
    }
    if (n == 0) {
      if (s->connect_called && !(flags & MSG_NOTIFICATION))
        push_closed(s, -1, "SCTP association closed by the peer");
      return;
    }
    if (flags & MSG_NOTIFICATION) {
      /* Notifications may arrive in pieces too; keep them apart from data. */
      g_byte_array_append(s->notif, g_recv_buf, (guint)n);
      if (flags & MSG_EOR) {
        handle_notification(s, s->notif->data, s->notif->len);
        g_byte_array_set_size(s->notif, 0);
      }
      continue;
    }
    if (!s->msg_started) {
      s->msg_started = true;
      s->msg_discarding = false;
      s->msg_sid = infotype == SCTP_RECVV_RCVINFO ? rcv.rcv_sid : 0;
      s->msg_ppid = infotype == SCTP_RECVV_RCVINFO ? ntohl(rcv.rcv_ppid) : 0;
    }
    if (!s->msg_discarding) {
      size_t cap = s->max_recv ? s->max_recv : MAX_RECV_ANY;
      if (s->msg->len + (size_t)n > cap) {
        WLOG_W("sctp", "association %u: a message over %zu bytes on stream %u: discarded", s->id,
               cap, s->msg_sid);
        s->msg_discarding = true;
        g_byte_array_set_size(s->msg, 0);
        /* Reliable data cannot just vanish: the owner closes the channel. */
        push_event(s, EV_OVERSIZE, s->msg_sid, s->msg_ppid, false, 0, NULL, cap);
      } else {
        g_byte_array_append(s->msg, g_recv_buf, (guint)n);
      }
    }
    if (flags & MSG_EOR) {
      if (!s->msg_discarding && s->msg_sid < WEFT__SCTP_MAX_STREAMS)
        finish_message(s);
      else
        g_byte_array_set_size(s->msg, 0);
      s->msg_started = false;
    }
  }
}

/* ---- Processing on the owner thread -------------------------------------- */

static void flush_outbox(weft__sctp *s) {
  for (;;) {
    g_mutex_lock(&s->src->lock);
    GBytes *b = g_queue_pop_head(&s->src->outbox);
    g_mutex_unlock(&s->src->lock);
    if (!b)
      return;
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    s->out.send(s->out.ctx, p, len);
    g_bytes_unref(b);
  }
}

static bool take_work(weft__sctp *s) {
  g_mutex_lock(&s->src->lock);
  bool w = s->src->work;
  s->src->work = false;
  g_mutex_unlock(&s->src->lock);
  return w;
}

static void deliver(weft__sctp *s) {
  event *e;
  while ((e = g_queue_pop_head(&s->events))) {
    switch (e->type) {
    case EV_CONNECTED:
      if (s->cb.on_connected)
        s->cb.on_connected(s->cb.ud);
      break;
    case EV_MESSAGE:
      if (s->cb.on_message)
        s->cb.on_message(s->cb.ud, e->stream, e->ppid, e->data ? e->data : (const uint8_t *)"",
                         e->len);
      else if (s->budget)
        weft__rx_budget_release(s->budget, weft__rx_cost(e->len));
      break;
    case EV_OVERSIZE:
      if (s->cb.on_oversize)
        s->cb.on_oversize(s->cb.ud, e->stream, e->len);
      break;
    case EV_RESET:
      if (s->cb.on_stream_reset)
        s->cb.on_stream_reset(s->cb.ud, e->stream, e->incoming);
      break;
    case EV_CLOSED:
      if (!s->close_reported) {
        s->close_reported = true;
        if (s->cb.on_closed)
          s->cb.on_closed(s->cb.ud, e->cause, (const char *)e->data);
      }
      break;
    }
    event_free(e);
  }
  if (s->any_low_pending) {
    s->any_low_pending = false;
    for (unsigned i = 0; i < WEFT__SCTP_MAX_STREAMS / 8; i++) {
      while (s->low_pending[i]) {
        unsigned bit = (unsigned)__builtin_ctz(s->low_pending[i]);
        s->low_pending[i] &= (uint8_t) ~(1u << bit);
        uint16_t stream = (uint16_t)(i * 8 + bit);
        if (s->cb.on_buffered_amount_low)
          s->cb.on_buffered_amount_low(s->cb.ud, stream, weft__sctp_buffered_amount(s, stream));
      }
    }
  }
}

/* Owner thread only. @allow_cb false: only push packets out (the caller is in
 * weft__sctp_send & co., where user callbacks must not run); the rest is
 * posted to the owner context. */
static void process(weft__sctp *s, bool allow_cb) {
  flush_outbox(s);
  if (s->processing) /* re-entered from our own drain or a callback: the loop below goes on */
    return;
  if (!allow_cb) {
    g_mutex_lock(&s->src->lock);
    bool w = s->src->work;
    g_mutex_unlock(&s->src->lock);
    if (w || s->events.length || s->any_low_pending)
      kick(s->src);
    return;
  }
  s->processing = true;
  for (int round = 0;; round++) {
    bool work = take_work(s);
    if (work || s->fifo_head || s->pending_resets->len) {
      usr_lock();
      do_recv(s);
      flush_fifo(s);
      inflight_update(s);
      usr_unlock();
      /* Upcalls raised by these very calls are covered by what they did. */
      take_work(s);
      drain_dirty(s, true);
    }
    deliver(s);
    flush_outbox(s);
    /* Callbacks may have sent, reset or read: another round if usrsctp
     * signalled anything meanwhile. */
    g_mutex_lock(&s->src->lock);
    bool more = s->src->work;
    g_mutex_unlock(&s->src->lock);
    if (!more && !s->events.length && !s->any_low_pending)
      break;
    if (round == MAX_PROCESS_ROUNDS) {
      kick(s->src); /* stay fair to the rest of the loop: go on in the next dispatch */
      break;
    }
  }
  s->processing = false;
}

/* ---- Public functions --------------------------------------------------- */

static int set_opt(struct socket *sock, int level, int opt, const void *v, size_t len,
                   const char *name) {
  if (usrsctp_setsockopt(sock, level, opt, v, (socklen_t)len) != 0)
    return weft__error(WEFT_ERR_OPERATION, "SCTP: setsockopt %s failed: %s", name,
                       g_strerror(errno));
  return 0;
}

static int configure_socket(weft__sctp *s) {
  struct socket *so = s->sock;
  if (usrsctp_set_non_blocking(so, 1) != 0)
    return weft__error(WEFT_ERR_OPERATION, "SCTP: cannot make the socket non-blocking: %s",
                       g_strerror(errno));
  if (usrsctp_set_upcall(so, sock_upcall, id_addr(s->id)) != 0)
    return weft__error(WEFT_ERR_OPERATION, "SCTP: cannot set the socket upcall: %s",
                       g_strerror(errno));
  /* Close = ABORT, so free never waits for a graceful shutdown. */
  struct linger lg = {1, 0};
  int rc = set_opt(so, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "SO_LINGER");
  /* RFC 8831 §6.7: channels close by resetting their streams (RFC 6525). */
  struct sctp_assoc_value av = {SCTP_ALL_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av,
                 "SCTP_ENABLE_STREAM_RESET");
  int on = 1, off = 0;
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on, "SCTP_RECVRCVINFO");
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_SENDER_DRY_EVENT,
                                    SCTP_STREAM_RESET_EVENT};
  for (size_t i = 0; !rc && i < G_N_ELEMENTS(events); i++) {
    struct sctp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.se_assoc_id = SCTP_ALL_ASSOC;
    ev.se_type = events[i];
    ev.se_on = 1;
    rc = set_opt(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev, "SCTP_EVENT");
  }
  /* RFC 8831 §6.6: no Nagle, messages go out at once. */
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on, "SCTP_NODELAY");
  /* usrsctp has no PMTUD over AF_CONN (usrsctp#205): fix the path MTU. */
  struct sctp_paddrparams pp;
  memset(&pp, 0, sizeof pp);
  pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
  pp.spp_flags = SPP_PMTUD_DISABLE;
  pp.spp_pathmtu = PATH_MTU;
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp, "SCTP_PEER_ADDR_PARAMS");
  /* Interleaving off: a partially delivered message is never interleaved with
   * another, so one reassembly buffer suffices (we still accumulate until
   * MSG_EOR ourselves: usrsctp delivers big messages in pieces). */
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &off, sizeof off,
                 "SCTP_FRAGMENT_INTERLEAVE");
  int buf = (int)MIN(s->sndbuf, (size_t)G_MAXINT);
  if (!rc)
    rc = set_opt(so, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf, "SO_SNDBUF");
  int rcvbuf = RECV_WINDOW;
  if (!rc)
    rc = set_opt(so, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf, "SO_RCVBUF");
  struct sctp_initmsg im;
  memset(&im, 0, sizeof im);
  im.sinit_num_ostreams = WEFT__SCTP_MAX_STREAMS;
  im.sinit_max_instreams = WEFT__SCTP_MAX_STREAMS;
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im, "SCTP_INITMSG");
  if (!rc)
    rc = set_opt(so, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &off, sizeof off, "SCTP_EXPLICIT_EOR");
  if (rc)
    return rc;
  struct sockaddr_conn sc;
  memset(&sc, 0, sizeof sc);
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(s->local_port);
  sc.sconn_addr = id_addr(s->id);
  if (usrsctp_bind(so, (struct sockaddr *)&sc, (socklen_t)sizeof sc) != 0)
    return weft__error(WEFT_ERR_OPERATION, "SCTP: bind to port %u failed: %s", s->local_port,
                       g_strerror(errno));
  return 0;
}

static void unregister_id(uint32_t id) {
  assoc_src *a = NULL;
  g_mutex_lock(&g_reg_lock);
  if (g_assocs) {
    a = g_hash_table_lookup(g_assocs, GUINT_TO_POINTER(id));
    g_hash_table_remove(g_assocs, GUINT_TO_POINTER(id));
    if (g_hash_table_size(g_assocs) == 0)
      g_clear_pointer(&g_assocs, g_hash_table_unref);
  }
  g_mutex_unlock(&g_reg_lock);
  if (a)
    g_source_unref(&a->base);
}

weft__sctp *weft__sctp_new(GMainContext *ctx, weft__dgram_sink out, uint16_t local_port,
                           uint16_t remote_port, size_t max_message_size,
                           const weft__sctp_callbacks *cb) {
  if (!ctx || !out.send || !cb) {
    weft__error(WEFT_ERR_INVALID_ARG, "SCTP: NULL context, sink or callbacks");
    return NULL;
  }
  weft__sctp *s = g_new0(weft__sctp, 1);
  s->ctx = g_main_context_ref(ctx);
  s->out = out;
  s->cb = *cb;
  s->local_port = local_port;
  s->remote_port = remote_port;
  s->max_message_size = max_message_size;
  s->sndbuf = MAX((size_t)MIN_SOCKBUF, max_message_size);
  s->inflight_recs = g_array_new(FALSE, FALSE, sizeof(inflight_rec));
  s->max_recv = DEFAULT_MAX_RECV;
  s->msg = g_byte_array_new();
  s->notif = g_byte_array_new();
  s->pending_resets = g_array_new(FALSE, FALSE, sizeof(uint16_t));
  g_queue_init(&s->events);
  g_queue_init(&s->early);

  assoc_src *a = (assoc_src *)g_source_new(&assoc_funcs, sizeof(assoc_src));
  g_mutex_init(&a->lock);
  g_queue_init(&a->outbox);
  a->ctx = g_main_context_ref(ctx);
  a->owner = s;
  s->src = a;
  g_source_set_name(&a->base, "weft sctp");

  usr_lock();
  if (g_usr_users++ == 0 && !g_usr_running)
    usr_start();
  g_mutex_lock(&g_reg_lock);
  if (!g_assocs)
    g_assocs = g_hash_table_new(g_direct_hash, g_direct_equal);
  do {
    if (++g_next_id == 0)
      g_next_id = 1;
  } while (g_hash_table_contains(g_assocs, GUINT_TO_POINTER(g_next_id)));
  s->id = a->id = g_next_id;
  g_hash_table_insert(g_assocs, GUINT_TO_POINTER(s->id), g_source_ref(&a->base));
  g_mutex_unlock(&g_reg_lock);
  usrsctp_register_address(id_addr(s->id));
  s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  int rc = s->sock ? configure_socket(s)
                   : weft__error(WEFT_ERR_OPERATION, "SCTP: usrsctp_socket failed: %s",
                                 g_strerror(errno));
  if (rc) {
    if (s->sock)
      usrsctp_close(s->sock);
    usrsctp_deregister_address(id_addr(s->id));
    unregister_id(s->id);
    if (--g_usr_users == 0)
      usr_stop();
    usr_unlock();
    g_mutex_lock(&a->lock);
    a->dead = true;
    g_mutex_unlock(&a->lock);
    drain_dirty(NULL, false);
    g_source_unref(&a->base);
    g_main_context_unref(s->ctx);
    g_byte_array_unref(s->msg);
    g_byte_array_unref(s->notif);
    g_array_unref(s->pending_resets);
    g_array_unref(s->inflight_recs);
    g_free(s);
    return NULL;
  }
  usr_unlock();
  g_source_attach(&a->base, ctx);
  tick_acquire(ctx);
  atomic_fetch_add(&g_live_count, 1);
  WLOG_D("sctp", "association %u created (port %u -> %u)", s->id, local_port, remote_port);
  return s;
}

int weft__sctp_connect(weft__sctp *s) {
  if (!s)
    return weft__error(WEFT_ERR_INVALID_ARG, "SCTP: NULL association");
  if (s->connect_called || s->closed)
    return weft__error(WEFT_ERR_INVALID_STATE, "SCTP: connect called twice or after close");
  s->connect_called = true;
  struct sockaddr_conn sc;
  memset(&sc, 0, sizeof sc);
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(s->remote_port);
  sc.sconn_addr = id_addr(s->id);
  usr_lock();
  int rc = usrsctp_connect(s->sock, (struct sockaddr *)&sc, (socklen_t)sizeof sc);
  int err = errno;
  usr_unlock();
  if (rc != 0 && err != EINPROGRESS) {
    drain_dirty(s, false);
    return weft__error(WEFT_ERR_OPERATION, "SCTP: usrsctp_connect failed: %s", g_strerror(err));
  }
  if (weft__log_enabled(WEFT_LOG_DEBUG, "sctp")) {
    s->status_src = g_timeout_source_new(2000);
    g_source_set_callback(s->status_src, status_tick, s, NULL);
    g_source_attach(s->status_src, s->ctx);
  }
  /* Our INIT goes out before the peer's early packets are fed: feeding the
   * remote INIT first races with our own (libdatachannel saw aborts). */
  drain_dirty(s, false);
  GBytes *b;
  if (s->early.length) {
    usr_lock();
    while ((b = g_queue_pop_head(&s->early))) {
      gsize len;
      const void *p = g_bytes_get_data(b, &len);
      usrsctp_conninput(id_addr(s->id), p, len, 0);
      g_bytes_unref(b);
    }
    usr_unlock();
    drain_dirty(s, false);
  }
  return 0;
}

void weft__sctp_input(weft__sctp *s, const uint8_t *data, size_t len) {
  if (!s || !data || len < SCTP_HEADER_LEN)
    return; /* not even an SCTP common header (RFC 4960 §3.1) */
  if (!s->connect_called) {
    if (s->early.length < MAX_EARLY_PACKETS)
      g_queue_push_tail(&s->early, g_bytes_new(data, len));
    return;
  }
  usr_lock();
  usrsctp_conninput(id_addr(s->id), data, len, 0);
  usr_unlock();
  drain_dirty(s, true);
}

static int check_send(weft__sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data,
                      size_t len) {
  if (!s)
    return weft__error(WEFT_ERR_INVALID_ARG, "SCTP: NULL association");
  if (stream >= WEFT__SCTP_MAX_STREAMS)
    return weft__error(WEFT_ERR_RANGE, "SCTP: stream %u out of range (max %d)", stream,
                       WEFT__SCTP_MAX_STREAMS - 1);
  if (s->closed)
    return weft__error(WEFT_ERR_INVALID_STATE, "SCTP: association closed");
  if (!s->connected)
    return weft__error(WEFT_ERR_INVALID_STATE, "SCTP: association not connected");
  if (len == 0 && ppid != 56 && ppid != 57)
    return weft__error(WEFT_ERR_INVALID_ARG, "SCTP: empty message with PPID %u", ppid);
  if (len && !data)
    return weft__error(WEFT_ERR_INVALID_ARG, "SCTP: NULL data");
  if (s->max_message_size && len > s->max_message_size)
    return weft__error(WEFT_ERR_TOO_BIG, "SCTP: message of %zu bytes exceeds max-message-size %zu",
                       len, s->max_message_size);
  if (len > s->sndbuf)
    return weft__error(WEFT_ERR_TOO_BIG,
                       "SCTP: message of %zu bytes exceeds the %zu-byte send "
                       "buffer",
                       len, s->sndbuf);
  return 0;
}

static const weft__sctp_send_opts default_opts = {false, -1, -1};

/* @owned: @data is g_malloc'd and ours. */
static int do_send(weft__sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                   const weft__sctp_send_opts *opts, bool owned) {
  const weft__sctp_send_opts *o = opts ? opts : &default_opts;
  static const uint8_t pad = 0;
  const uint8_t *wire = data;
  size_t wire_len = len;
  if (len == 0) { /* RFC 8831 §6.6: an empty message is sent as one 0x00 byte */
    wire = &pad;
    wire_len = 1;
  }
  int rc = 1;
  if (!s->fifo_head) { /* nothing ahead of it: straight to usrsctp, no copy */
    usr_lock();
    rc = usr_sendv(s, stream, ppid, wire, wire_len, o);
    usr_unlock();
  }
  if (rc == 0 || rc < 0) {
    if (owned)
      g_free((void *)data);
    process(s, false);
    drain_dirty(s, false);
    if (rc == -EMSGSIZE)
      return weft__error(WEFT_ERR_TOO_BIG, "SCTP: message of %zu bytes refused by usrsctp", len);
    if (rc < 0) {
      if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN)
        return weft__error(WEFT_ERR_INVALID_STATE, "SCTP: association is closing: %s",
                           g_strerror(-rc));
      return weft__error(WEFT_ERR_OPERATION, "SCTP: usrsctp_sendv failed: %s", g_strerror(-rc));
    }
    return 0;
  }
  qmsg *m = g_new0(qmsg, 1);
  if (len == 0) {
    m->data = g_malloc0(1);
    if (owned)
      g_free((void *)data);
  } else {
    m->data = owned ? (uint8_t *)data : g_memdup2(data, len);
  }
  m->len = wire_len;
  m->counted = len;
  m->ppid = ppid;
  m->stream = stream;
  m->opts = *o;
  fifo_push(s, m);
  drain_dirty(s, false);
  return 0;
}

int weft__sctp_send(weft__sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                    const weft__sctp_send_opts *opts) {
  int rc = check_send(s, stream, ppid, data, len);
  if (rc)
    return rc;
  return do_send(s, stream, ppid, data, len, opts, false);
}

int weft__sctp_send_owned(weft__sctp *s, uint16_t stream, uint32_t ppid, uint8_t *data, size_t len,
                          const weft__sctp_send_opts *opts) {
  int rc = check_send(s, stream, ppid, data, len);
  if (rc) {
    g_free(data);
    return rc;
  }
  return do_send(s, stream, ppid, data, len, opts, true);
}

size_t weft__sctp_buffered_amount(const weft__sctp *s, uint16_t stream) {
  if (!s || stream >= WEFT__SCTP_MAX_STREAMS)
    return 0;
  return s->buffered[stream] + s->inflight[stream];
}

size_t weft__sctp_inflight_total(const weft__sctp *s) { return s ? s->inflight_total : 0; }

void weft__sctp_set_receive_budget(weft__sctp *s, weft__rx_budget *b) {
  if (s)
    s->budget = b;
}

void weft__sctp_resume_receive(weft__sctp *s) {
  if (!s || s->closed)
    return;
  g_mutex_lock(&s->src->lock);
  s->src->work = true;
  g_mutex_unlock(&s->src->lock);
  kick(s->src);
}

int weft__sctp_reset_stream(weft__sctp *s, uint16_t stream) {
  if (!s)
    return weft__error(WEFT_ERR_INVALID_ARG, "SCTP: NULL association");
  if (stream >= WEFT__SCTP_MAX_STREAMS)
    return weft__error(WEFT_ERR_RANGE, "SCTP: stream %u out of range", stream);
  if (s->closed || !s->connected)
    return weft__error(WEFT_ERR_INVALID_STATE, "SCTP: association not connected");
  if (s->fifo_head) {
    /* Queued data of the stream must reach usrsctp first (RFC 8831 §6.7: the
     * reset follows the last message). */
    qmsg *m = g_new0(qmsg, 1);
    m->stream = stream;
    m->reset = true;
    fifo_push(s, m);
    return 0;
  }
  add_reset(s, stream);
  usr_lock();
  try_resets(s);
  usr_unlock();
  process(s, false);
  drain_dirty(s, false);
  if (s->events.length)
    kick(s->src); /* a refused reset is reported from the owner context */
  return 0;
}

bool weft__sctp_is_connected(const weft__sctp *s) { return s && s->connected && !s->closed; }

void weft__sctp_set_max_receive_size(weft__sctp *s, size_t max) {
  if (s)
    s->max_recv = max;
}

void weft__sctp_free(weft__sctp *s) {
  if (!s)
    return;
  assoc_src *a = s->src;
  if (s->status_src) {
    g_source_destroy(s->status_src);
    g_source_unref(s->status_src);
  }
  usr_lock();
  log_status(s, "closing");
  /* SO_LINGER {1,0}: close sends an ABORT (through conn_output, still
   * registered) and frees the association. */
  usrsctp_close(s->sock);
  usrsctp_deregister_address(id_addr(s->id));
  unregister_id(s->id); /* from here on, callbacks for this id are dropped */
  if (--g_usr_users == 0)
    usr_stop();
  usr_unlock();
  g_mutex_lock(&a->lock);
  a->dead = true;
  GQueue out = a->outbox;
  g_queue_init(&a->outbox);
  g_mutex_unlock(&a->lock);
  /* Let the peer learn about the abort (and anything still unsent). */
  GBytes *b;
  while ((b = g_queue_pop_head(&out))) {
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    s->out.send(s->out.ctx, p, len);
    g_bytes_unref(b);
  }
  drain_dirty(NULL, false);
  tick_release(s->ctx);
  g_source_destroy(&a->base);
  g_source_unref(&a->base);
  fifo_clear(s);
  event *e;
  while ((e = g_queue_pop_head(&s->events))) {
    if (e->type == EV_MESSAGE && s->budget)
      weft__rx_budget_release(s->budget, weft__rx_cost(e->len));
    event_free(e);
  }
  g_queue_clear_full(&s->early, (GDestroyNotify)g_bytes_unref);
  g_byte_array_unref(s->msg);
  g_byte_array_unref(s->notif);
  g_array_unref(s->pending_resets);
  g_array_unref(s->inflight_recs);
  g_main_context_unref(s->ctx);
  atomic_fetch_sub(&g_live_count, 1);
  WLOG_D("sctp", "association %u freed", s->id);
  g_free(s);
}

int weft__sctp_debug_live_count(void) { return atomic_load(&g_live_count); }
bool weft__sctp_debug_usrsctp_running(void) { return atomic_load(&g_running_flag); }
unsigned weft__sctp_debug_finish_count(void) { return atomic_load(&g_finish_count); }

/* Tests and fuzzing (tests/fuzz/fuzz_sctp.c): @buf as one notification read
 * from the socket, then the events it produced delivered. Owner thread. */
void weft__sctp_test_notification(weft__sctp *s, const uint8_t *buf, size_t len) {
  usr_lock();
  handle_notification(s, buf, len);
  usr_unlock();
  deliver(s);
}

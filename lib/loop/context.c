/*
 * The weft_context: a private (or the caller's) GMainContext, the engine
 * thread, marshalling and the event queue. See loop.h and doc/threading.md.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/weft-glib.h>

#include "loop/loop.h"

/* An event whose run() is executing: on the context's running list (under
 * qlock) from the moment it leaves the queue until run() returns, so that a
 * close on another thread can wait for it (weft__context_wait_idle). */
typedef struct running_ev {
  const void *owner;
  const void *thread; /* &tl_thread_token of the thread running it */
  struct running_ev *next;
} running_ev;

struct weft_context {
  weft__refcount refs;
  weft__ctx_kind kind;
  GMainContext *gctx;
  GMainLoop *mainloop;
  GThread *thread;
  atomic_bool stopping;
  atomic_bool detached;        /* last unref ran on the engine thread: it frees itself */
  atomic_bool release_pending; /* last unref happened inside a dispatch */
  bool is_default;

  /* Event queue (user-visible callbacks). */
  GMutex qlock;
  weft__event *qhead, *qtail;
  uint32_t qlen, qmax;
  bool dispatch_scheduled; /* THREAD/GLIB: an idle source is pending */
  GSource *dispatch_src;
  int efd;             /* QUEUED: eventfd, readable while events are pending */
  running_ev *running; /* events being run (one per callback thread) */
  GCond idle_cond;     /* broadcast when a running event ends and someone waits */
  unsigned idle_waiters;

  /* Shared certificate slots (pc/). */
  GMutex cert_lock;
  void *cert[WEFT__CONTEXT_CERT_SLOTS];
  void (*cert_destroy[WEFT__CONTEXT_CERT_SLOTS])(void *);
};

static _Thread_local const weft_context *tl_callback_ctx;
static _Thread_local char tl_thread_token; /* its address names the thread */
typedef int (*pending_fn)(GMainContext *ctx);
static _Atomic(pending_fn) pending_hook; /* set by every weft__pc_new, any thread */

void weft__loop_set_pending_hook(int (*pending)(GMainContext *ctx)) {
  atomic_store(&pending_hook, pending);
}

GMainContext *weft__context_gctx(const weft_context *ctx) { return ctx->gctx; }
weft__ctx_kind weft__context_kind(const weft_context *ctx) { return ctx->kind; }

bool weft__context_in_callback(const weft_context *ctx) { return tl_callback_ctx == ctx; }

/* ---- Engine thread -------------------------------------------------------- */

static void context_free(weft_context *ctx);

static gpointer engine_thread(gpointer data) {
  weft_context *ctx = data;
  g_main_context_push_thread_default(ctx->gctx);
  g_main_loop_run(ctx->mainloop);
  /* Let asynchronous closes (libnice's close_async) finish: bounded. */
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  pending_fn pending = atomic_load(&pending_hook);
  while (pending && pending(ctx->gctx) > 0 && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(ctx->gctx, FALSE))
      g_usleep(1000);
  }
  g_main_context_pop_thread_default(ctx->gctx);
  if (atomic_load(&ctx->detached))
    context_free(ctx);
  return NULL;
}

static gboolean quit_cb(gpointer data) {
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

weft_context *weft_context_new(const weft_context_options *opts) {
  weft_context_options o = WEFT_CONTEXT_OPTIONS_INIT;
  if (opts) {
    if (opts->struct_size < offsetof(weft_context_options, mode) + sizeof(opts->mode)) {
      weft__error(WEFT_ERR_INVALID_ARG, "weft_context_options.struct_size is %u",
                  (unsigned)opts->struct_size);
      return NULL;
    }
    size_t n = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
    memcpy(&o, opts, n);
  }
  if (o.mode != WEFT_CONTEXT_THREAD && o.mode != WEFT_CONTEXT_QUEUED) {
    weft__error(WEFT_ERR_INVALID_ARG, "unknown context mode %d", (int)o.mode);
    return NULL;
  }
  weft_context *ctx = g_new0(weft_context, 1);
  weft__ref_init(&ctx->refs);
  ctx->kind = o.mode == WEFT_CONTEXT_QUEUED ? WEFT__CTX_QUEUED : WEFT__CTX_THREAD;
  ctx->qmax = o.max_queued_events ? o.max_queued_events : 65536;
  ctx->efd = -1;
  g_mutex_init(&ctx->qlock);
  g_cond_init(&ctx->idle_cond);
  g_mutex_init(&ctx->cert_lock);
  if (ctx->kind == WEFT__CTX_QUEUED) {
    ctx->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->efd < 0) {
      weft__error(WEFT_ERR_OPERATION, "eventfd: %s", strerror(errno));
      g_mutex_clear(&ctx->qlock);
      g_cond_clear(&ctx->idle_cond);
      g_mutex_clear(&ctx->cert_lock);
      g_free(ctx);
      return NULL;
    }
  }
  ctx->gctx = g_main_context_new();
  ctx->mainloop = g_main_loop_new(ctx->gctx, FALSE);
  ctx->thread = g_thread_new(o.thread_name ? o.thread_name : "weft", engine_thread, ctx);
  weft__live_inc();
  weft__error_clear();
  return ctx;
}

weft_context *weft_context_new_for_main_context(GMainContext *main_context) {
  if (!main_context) {
    weft__error(WEFT_ERR_INVALID_ARG, "main_context is NULL");
    return NULL;
  }
  weft_context *ctx = g_new0(weft_context, 1);
  weft__ref_init(&ctx->refs);
  ctx->kind = WEFT__CTX_GLIB;
  ctx->qmax = 65536;
  ctx->efd = -1;
  g_mutex_init(&ctx->qlock);
  g_cond_init(&ctx->idle_cond);
  g_mutex_init(&ctx->cert_lock);
  ctx->gctx = g_main_context_ref(main_context);
  weft__live_inc();
  weft__error_clear();
  return ctx;
}

GMainContext *weft_context_get_main_context(weft_context *ctx) { return ctx ? ctx->gctx : NULL; }

/* Under a plain mutex rather than GOnce: GOnce publishes through an atomic
 * inside libglib that ThreadSanitizer cannot see (scripts/test, TSan stage). */
static GMutex default_lock;
static weft_context *default_ctx;

weft_context *weft__context_default_ref(void) {
  g_mutex_lock(&default_lock);
  if (!default_ctx) {
    default_ctx = weft_context_new(NULL);
    if (default_ctx) {
      default_ctx->is_default = true;
      weft__live_dec(); /* process-lifetime: not a leak to report */
    }
  }
  weft_context *ctx = default_ctx ? weft_context_ref(default_ctx) : NULL;
  g_mutex_unlock(&default_lock);
  return ctx;
}

weft_context *weft_context_ref(weft_context *ctx) {
  if (ctx)
    weft__ref_inc(&ctx->refs);
  return ctx;
}

static void free_event_list(weft__event *ev) {
  while (ev) {
    weft__event *next = ev->next;
    ev->free(ev);
    ev = next;
  }
}

static void context_free(weft_context *ctx) {
  g_mutex_lock(&ctx->qlock);
  weft__event *list = ctx->qhead;
  ctx->qhead = ctx->qtail = NULL;
  ctx->qlen = 0;
  GSource *src = ctx->dispatch_src;
  ctx->dispatch_src = NULL;
  g_mutex_unlock(&ctx->qlock);
  free_event_list(list);
  if (src) {
    g_source_destroy(src);
    g_source_unref(src);
  }
  for (unsigned i = 0; i < WEFT__CONTEXT_CERT_SLOTS; i++)
    if (ctx->cert[i] && ctx->cert_destroy[i])
      ctx->cert_destroy[i](ctx->cert[i]);
  if (ctx->mainloop)
    g_main_loop_unref(ctx->mainloop);
  g_main_context_unref(ctx->gctx);
  if (ctx->efd >= 0)
    close(ctx->efd);
  g_mutex_clear(&ctx->qlock);
  g_cond_clear(&ctx->idle_cond);
  g_mutex_clear(&ctx->cert_lock);
  bool counted = !ctx->is_default;
  g_free(ctx);
  if (counted)
    weft__live_dec();
}

static void context_release(weft_context *ctx) {
  atomic_store(&ctx->stopping, true);
  if (ctx->kind == WEFT__CTX_GLIB) {
    context_free(ctx);
    return;
  }
  GSource *q = g_idle_source_new();
  g_source_set_callback(q, quit_cb, ctx->mainloop, NULL);
  g_source_attach(q, ctx->gctx);
  g_source_unref(q);
  if (g_thread_self() == ctx->thread) {
    /* Dropped from one of its own callbacks: the thread frees the context
     * once its loop returns. */
    atomic_store(&ctx->detached, true);
    g_thread_unref(ctx->thread);
    return;
  }
  g_thread_join(ctx->thread);
  context_free(ctx);
}

void weft_context_unref(weft_context *ctx) {
  if (!ctx || !weft__ref_dec(&ctx->refs))
    return;
  if (ctx->kind != WEFT__CTX_THREAD && tl_callback_ctx == ctx) {
    /* Inside this context's dispatch loop (QUEUED or GLib mode): freeing
     * now would pull the queue out from under it; it finishes the release. */
    atomic_store(&ctx->release_pending, true);
    return;
  }
  context_release(ctx);
}

int weft_context_is_current(const weft_context *ctx) {
  if (!ctx)
    return 0;
  if (ctx->kind == WEFT__CTX_GLIB)
    return g_main_context_is_owner(ctx->gctx) ? 1 : 0;
  return g_thread_self() == ctx->thread ? 1 : 0;
}

bool weft__context_on_engine(weft_context *ctx) { return weft_context_is_current(ctx) != 0; }

/* ---- Marshalling ---------------------------------------------------------- */

typedef struct {
  void (*fn)(void *);
  void *data;
  GMutex lock;
  GCond cond;
  bool done;
  int err_code;
  char err_msg[512];
} sync_job;

static gboolean sync_job_cb(gpointer p) {
  sync_job *job = p;
  /* The caller holds the lock from before it attached the job until it
   * waits: taking it orders its writes (the job, the call's arguments)
   * before ours in a way ThreadSanitizer sees too; GLib's own locking inside
   * g_source_attach is invisible to it. */
  g_mutex_lock(&job->lock);
  g_mutex_unlock(&job->lock);
  weft__error_clear();
  job->fn(job->data);
  job->err_code = weft_last_error();
  g_strlcpy(job->err_msg, weft_last_error_message(), sizeof job->err_msg);
  g_mutex_lock(&job->lock);
  job->done = true;
  g_cond_signal(&job->cond);
  g_mutex_unlock(&job->lock);
  return G_SOURCE_REMOVE;
}

int weft__context_invoke_sync(weft_context *ctx, void (*fn)(void *), void *data) {
  if (weft_context_is_current(ctx)) {
    fn(data);
    return WEFT_OK;
  }
  if (ctx->kind == WEFT__CTX_GLIB && g_main_context_acquire(ctx->gctx)) {
    /* Nobody iterates it right now: run here (GLib's invoke semantics). */
    fn(data);
    g_main_context_release(ctx->gctx);
    return WEFT_OK;
  }
  if (atomic_load(&ctx->stopping))
    return weft__error(WEFT_ERR_CLOSED, "context is shutting down");
  sync_job job = {.fn = fn, .data = data};
  g_mutex_init(&job.lock);
  g_cond_init(&job.cond);
  GSource *src = g_idle_source_new();
  g_source_set_priority(src, G_PRIORITY_HIGH);
  g_source_set_callback(src, sync_job_cb, &job, NULL);
  g_mutex_lock(&job.lock);
  g_source_attach(src, ctx->gctx);
  g_source_unref(src);
  while (!job.done)
    g_cond_wait(&job.cond, &job.lock);
  g_mutex_unlock(&job.lock);
  g_mutex_clear(&job.lock);
  g_cond_clear(&job.cond);
  weft__error_set_raw(job.err_code, job.err_msg);
  return WEFT_OK;
}

typedef struct {
  void (*fn)(void *);
  void *data;
  void (*destroy)(void *);
} post_job;

/* Handing a post_job (and what its data points at) to the engine through a
 * GSource is ordered by GLib's locks, which ThreadSanitizer cannot see in an
 * uninstrumented libglib: tell it. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#endif

static gboolean post_job_cb(gpointer p) {
  post_job *job = p;
  TSAN_ACQUIRE(job);
  job->fn(job->data);
  return G_SOURCE_REMOVE;
}

static void post_job_free(gpointer p) {
  post_job *job = p;
  TSAN_ACQUIRE(job); /* also when the context is destroyed before it ran */
  if (job->destroy)
    job->destroy(job->data);
  g_free(job);
}

void weft__context_post(weft_context *ctx, void (*fn)(void *), void *data,
                        void (*destroy)(void *)) {
  post_job *job = g_new(post_job, 1);
  job->fn = fn;
  job->data = data;
  job->destroy = destroy;
  TSAN_RELEASE(job);
  GSource *src = g_idle_source_new();
  g_source_set_priority(src, G_PRIORITY_HIGH);
  g_source_set_callback(src, post_job_cb, job, post_job_free);
  g_source_attach(src, ctx->gctx);
  g_source_unref(src);
}

/* ---- Events --------------------------------------------------------------- */

/* Runs @ev, which dispatch_events put on the running list as @r. */
static void run_event(weft_context *ctx, weft__event *ev, running_ev *r) {
  const weft_context *saved = tl_callback_ctx;
  tl_callback_ctx = ctx;
  ev->run(ev);
  g_mutex_lock(&ctx->qlock);
  running_ev **pp = &ctx->running;
  while (*pp != r)
    pp = &(*pp)->next;
  *pp = r->next;
  if (ctx->idle_waiters)
    g_cond_broadcast(&ctx->idle_cond);
  g_mutex_unlock(&ctx->qlock);
  ev->free(ev); /* may drop the last reference of the context: still marked */
  tl_callback_ctx = saved;
}

static bool running_elsewhere(const weft_context *ctx, const void *owner) {
  for (const running_ev *r = ctx->running; r; r = r->next)
    if (r->owner == owner && r->thread != &tl_thread_token)
      return true;
  return false;
}

void weft__context_wait_idle(weft_context *ctx, const void *owner) {
  g_mutex_lock(&ctx->qlock);
  while (running_elsewhere(ctx, owner)) {
    ctx->idle_waiters++;
    g_cond_wait(&ctx->idle_cond, &ctx->qlock);
    ctx->idle_waiters--;
  }
  g_mutex_unlock(&ctx->qlock);
}

/* Pops up to @max events (all if <= 0) and runs them; returns the count.
 * Stops early if the last reference was dropped by a callback (*released). */
static int dispatch_events(weft_context *ctx, int max, bool *released) {
  int n = 0;
  *released = false;
  while (max <= 0 || n < max) {
    if (atomic_load(&ctx->release_pending)) {
      *released = true;
      break;
    }
    running_ev self = {NULL, &tl_thread_token, NULL};
    g_mutex_lock(&ctx->qlock);
    weft__event *ev = ctx->qhead;
    if (ev) {
      ctx->qhead = ev->next;
      if (!ctx->qhead)
        ctx->qtail = NULL;
      ctx->qlen--;
      /* Running from here on, before run() looks at its object: a closer
       * that marks the object closed and then finds it not running knows
       * that run() will see the mark (both sides go through qlock). */
      self.owner = ev->owner;
      self.next = ctx->running;
      ctx->running = &self;
    }
    if (!ctx->qhead && ctx->efd >= 0) {
      uint64_t v;
      ssize_t r = read(ctx->efd, &v, sizeof v); /* reset readability */
      (void)r;
    }
    g_mutex_unlock(&ctx->qlock);
    if (!ev)
      break;
    ev->next = NULL;
    run_event(ctx, ev, &self);
    n++;
  }
  if (!*released && atomic_load(&ctx->release_pending))
    *released = true;
  return n;
}

static gboolean dispatch_cb(gpointer data) {
  weft_context *ctx = data;
  /* A bounded batch keeps protocol work (timers, packets) flowing under a
   * flood of events. */
  bool released;
  dispatch_events(ctx, 256, &released);
  if (released) {
    g_mutex_lock(&ctx->qlock);
    if (ctx->dispatch_src) { /* this source: GLib still holds its own ref */
      g_source_unref(ctx->dispatch_src);
      ctx->dispatch_src = NULL;
    }
    g_mutex_unlock(&ctx->qlock);
    context_release(ctx);
    return G_SOURCE_REMOVE;
  }
  g_mutex_lock(&ctx->qlock);
  gboolean again = ctx->qhead != NULL;
  if (!again) {
    ctx->dispatch_scheduled = false;
    if (ctx->dispatch_src) {
      g_source_unref(ctx->dispatch_src);
      ctx->dispatch_src = NULL;
    }
  }
  g_mutex_unlock(&ctx->qlock);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void weft__context_emit(weft_context *ctx, weft__event *ev) {
  ev->next = NULL;
  g_mutex_lock(&ctx->qlock);
  if (ctx->qlen == ctx->qmax) /* never dropped: that would lose data silently */
    WLOG_W("loop", "%u undelivered events queued: the application dispatches too slowly",
           ctx->qmax);
  bool was_empty = ctx->qhead == NULL;
  if (ctx->qtail)
    ctx->qtail->next = ev;
  else
    ctx->qhead = ev;
  ctx->qtail = ev;
  ctx->qlen++;
  if (ctx->kind == WEFT__CTX_QUEUED) {
    if (was_empty) {
      uint64_t one = 1;
      ssize_t r = write(ctx->efd, &one, sizeof one);
      (void)r;
    }
  } else if (!ctx->dispatch_scheduled) {
    ctx->dispatch_scheduled = true;
    GSource *src = g_idle_source_new();
    /* Same priority as packet I/O, so a receive flood cannot starve the
     * callbacks that drain it. */
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, dispatch_cb, ctx, NULL);
    ctx->dispatch_src = src; /* the queue lock makes this ref safe to drop later */
    g_source_attach(src, ctx->gctx);
  }
  g_mutex_unlock(&ctx->qlock);
}

void weft__context_purge(weft_context *ctx, const void *owner) {
  weft__event *dropped = NULL, **tail = &dropped;
  g_mutex_lock(&ctx->qlock);
  weft__event **pp = &ctx->qhead;
  ctx->qtail = NULL;
  while (*pp) {
    weft__event *ev = *pp;
    if (ev->owner == owner) {
      *pp = ev->next;
      ev->next = NULL;
      *tail = ev;
      tail = &ev->next;
      ctx->qlen--;
    } else {
      ctx->qtail = ev;
      pp = &ev->next;
    }
  }
  g_mutex_unlock(&ctx->qlock);
  free_event_list(dropped);
}

/* ---- QUEUED mode API ------------------------------------------------------ */

int weft_context_get_fd(weft_context *ctx) {
  if (!ctx)
    return weft__error(WEFT_ERR_INVALID_ARG, "ctx is NULL");
  if (ctx->kind != WEFT__CTX_QUEUED)
    return weft__error(WEFT_ERR_INVALID_STATE, "weft_context_get_fd: not a QUEUED context");
  weft__error_clear();
  return ctx->efd;
}

static int check_queued(weft_context *ctx, const char *what) {
  if (!ctx)
    return weft__error(WEFT_ERR_INVALID_ARG, "ctx is NULL");
  if (ctx->kind != WEFT__CTX_QUEUED)
    return weft__error(WEFT_ERR_INVALID_STATE, "%s: not a QUEUED context", what);
  if (tl_callback_ctx == ctx)
    return weft__error(WEFT_ERR_WRONG_THREAD, "%s called from inside a callback", what);
  return WEFT_OK;
}

int weft_context_dispatch(weft_context *ctx, int max) {
  int rc = check_queued(ctx, "weft_context_dispatch");
  if (rc < 0)
    return rc;
  weft__error_clear();
  bool released;
  int n = dispatch_events(ctx, max, &released);
  if (released)
    context_release(ctx);
  return n;
}

int weft_context_wait(weft_context *ctx, int timeout_ms) {
  int rc = check_queued(ctx, "weft_context_wait");
  if (rc < 0)
    return rc;
  struct pollfd p = {.fd = ctx->efd, .events = POLLIN};
  int n;
  do {
    n = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
  } while (n < 0 && errno == EINTR);
  weft__error_clear();
  return n > 0 ? 1 : 0;
}

/* ---- Certificate slot ----------------------------------------------------- */

void *weft__context_get_cert(weft_context *ctx, unsigned slot, void *(*create)(void),
                             void (*destroy)(void *)) {
  g_return_val_if_fail(slot < WEFT__CONTEXT_CERT_SLOTS, NULL);
  g_mutex_lock(&ctx->cert_lock);
  if (!ctx->cert[slot]) {
    ctx->cert[slot] = create();
    ctx->cert_destroy[slot] = destroy;
  }
  void *c = ctx->cert[slot];
  g_mutex_unlock(&ctx->cert_lock);
  return c;
}

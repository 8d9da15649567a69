/*
 * loop/ — the weft_context: one GMainContext that every protocol layer of its
 * peer connections runs on, the thread that iterates it (THREAD and QUEUED
 * modes; none in GLib mode), marshalling of public calls onto it, and the
 * per-context FIFO of user-visible events (DESIGN §3, api-sketch §4.4).
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <glib.h>

#include "core/core.h"

typedef enum weft__ctx_kind {
  WEFT__CTX_THREAD = 0, /* own thread, callbacks on it */
  WEFT__CTX_QUEUED,     /* own thread, callbacks via weft_context_dispatch() */
  WEFT__CTX_GLIB        /* caller's GMainContext, no thread */
} weft__ctx_kind;

GMainContext *weft__context_gctx(const weft_context *ctx);
weft__ctx_kind weft__context_kind(const weft_context *ctx);
/* The process-wide default context (THREAD mode), created on first use; a
 * new reference. */
weft_context *weft__context_default_ref(void);

/* True if the caller may touch engine state of @ctx right now: it is the
 * engine thread, or (GLib mode) it owns or could acquire the GMainContext. */
bool weft__context_on_engine(weft_context *ctx);

/* Runs @fn(@data) on the engine and returns when it has run. Runs inline when
 * the caller is already on the engine. The engine never waits for another
 * thread, so no cycle can form inside weft. Returns WEFT_ERR_CLOSED if the
 * context is shutting down (fn not run). */
int weft__context_invoke_sync(weft_context *ctx, void (*fn)(void *data), void *data);
/* Runs @fn(@data) on the engine later (never inline); @destroy(@data) runs
 * after it, or instead of it if the context is gone. */
void weft__context_post(weft_context *ctx, void (*fn)(void *data), void *data,
                        void (*destroy)(void *data));

/* A user-visible event. run() is called on the callback thread; free() after
 * it (or instead, when the context is destroyed with events pending). */
typedef struct weft__event {
  void (*run)(struct weft__event *ev);
  void (*free)(struct weft__event *ev);
  const void *owner;        /* for weft__context_purge (the pc it belongs to) */
  struct weft__event *next; /* queue link, owned by loop/ */
} weft__event;
/* Queues @ev for the callback thread. Any thread. */
void weft__context_emit(weft_context *ctx, weft__event *ev);
/* Drops (frees without running) every queued event whose owner is @owner: a
 * closed pc's events must not keep references alive (rule 3 of weft.h). */
void weft__context_purge(weft_context *ctx, const void *owner);
/* Waits until no event of @owner is running on a thread other than the
 * caller's: the caller has just marked @owner (or something only its events
 * look at) closed, and returns knowing that no callback that could have
 * missed the mark is still running (rule 3 of weft.h). An event the calling
 * thread itself is running (a close from inside the object's own callback)
 * is not waited for. Any thread (in THREAD mode only the engine thread runs
 * events, so there it never waits). */
void weft__context_wait_idle(weft_context *ctx, const void *owner);
/* Called by the engine thread before it exits while it returns > 0 (bounded
 * wait): lets ice/ finish asynchronous closes. Set once by pc/. */
void weft__loop_set_pending_hook(int (*pending)(GMainContext *ctx));
/* True while the calling thread runs a callback of @ctx. */
bool weft__context_in_callback(const weft_context *ctx);

/* Slots of module data with a destroy notify (pc/ keeps the shared
 * certificates here, one per key type). Each slot (< WEFT__CONTEXT_CERT_SLOTS)
 * is made by @create on first use, then returned as is; NULL if @create
 * failed (tried again next time). Any thread. */
enum { WEFT__CONTEXT_CERT_SLOTS = 2 };
void *weft__context_get_cert(weft_context *ctx, unsigned slot, void *(*create)(void),
                             void (*destroy)(void *));

#endif

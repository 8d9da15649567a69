/*
 * ThreadSanitizer stage of scripts/test only (LD_PRELOAD): GMutex and GCond
 * on pthreads, which TSan understands.
 *
 * GLib implements GMutex and GCond with raw futexes, which TSan cannot see
 * as synchronization unless GLib itself is instrumented: every access weft
 * guards with a GMutex would be reported as a race. Preloaded, these
 * definitions take the place of GLib's for every library that calls them
 * through the dynamic linker (weft, libnice, GIO, GObject, the tests). GLib's
 * own internal calls bind inside libglib (-Bsymbolic-functions) and keep
 * GLib's implementation; no GMutex is shared between the two sides, since
 * outside code can only reach a GLib-internal mutex through a GLib function.
 * GRecMutex and GRWLock are pthread objects in GLib already.
 *
 * Each GMutex / GCond holds a pointer to its pthread object, made on first
 * use (statically allocated ones are never initialized).
 */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t *mutex_impl(GMutex *m) {
  pthread_mutex_t *p = __atomic_load_n((pthread_mutex_t **)&m->p, __ATOMIC_ACQUIRE);
  if (p)
    return p;
  pthread_mutex_t *n = malloc(sizeof *n);
  if (!n)
    abort();
  pthread_mutex_init(n, NULL);
  if (__atomic_compare_exchange_n((pthread_mutex_t **)&m->p, &p, n, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return n;
  pthread_mutex_destroy(n);
  free(n);
  return p;
}

static pthread_cond_t *cond_impl(GCond *c) {
  pthread_cond_t *p = __atomic_load_n((pthread_cond_t **)&c->p, __ATOMIC_ACQUIRE);
  if (p)
    return p;
  pthread_cond_t *n = malloc(sizeof *n);
  if (!n)
    abort();
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* g_get_monotonic_time() */
  pthread_cond_init(n, &attr);
  pthread_condattr_destroy(&attr);
  if (__atomic_compare_exchange_n((pthread_cond_t **)&c->p, &p, n, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return n;
  pthread_cond_destroy(n);
  free(n);
  return p;
}

void g_mutex_init(GMutex *m) {
  m->p = NULL;
  mutex_impl(m);
}

void g_mutex_clear(GMutex *m) {
  pthread_mutex_t *p = m->p;
  m->p = NULL;
  if (p) {
    pthread_mutex_destroy(p);
    free(p);
  }
}

void g_mutex_lock(GMutex *m) {
  if (pthread_mutex_lock(mutex_impl(m)) != 0)
    abort();
}

void g_mutex_unlock(GMutex *m) {
  if (pthread_mutex_unlock(mutex_impl(m)) != 0)
    abort();
}

gboolean g_mutex_trylock(GMutex *m) { return pthread_mutex_trylock(mutex_impl(m)) == 0; }

GMutex *g_mutex_new(void) {
  GMutex *m = malloc(sizeof *m);
  if (!m)
    abort();
  g_mutex_init(m);
  return m;
}

void g_mutex_free(GMutex *m) {
  g_mutex_clear(m);
  free(m);
}

void g_cond_init(GCond *c) {
  c->p = NULL;
  cond_impl(c);
}

void g_cond_clear(GCond *c) {
  pthread_cond_t *p = c->p;
  c->p = NULL;
  if (p) {
    pthread_cond_destroy(p);
    free(p);
  }
}

void g_cond_wait(GCond *c, GMutex *m) {
  if (pthread_cond_wait(cond_impl(c), mutex_impl(m)) != 0)
    abort();
}

gboolean g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time) {
  struct timespec ts = {(time_t)(end_time / 1000000), (long)((end_time % 1000000) * 1000)};
  int rc = pthread_cond_timedwait(cond_impl(c), mutex_impl(m), &ts);
  if (rc != 0 && rc != ETIMEDOUT)
    abort();
  return rc == 0;
}

void g_cond_signal(GCond *c) { pthread_cond_signal(cond_impl(c)); }
void g_cond_broadcast(GCond *c) { pthread_cond_broadcast(cond_impl(c)); }

GCond *g_cond_new(void) {
  GCond *c = malloc(sizeof *c);
  if (!c)
    abort();
  g_cond_init(c);
  return c;
}

void g_cond_free(GCond *c) {
  g_cond_clear(c);
  free(c);
}

/* g_once_init_enter/leave: GLib publishes the value with an atomic store TSan
 * cannot see (libglib is not instrumented), so a reader taking the fast path
 * would not be ordered after the initialization. Same protocol, visible. */
typedef struct once_busy {
  const volatile void *location;
  struct once_busy *next;
} once_busy;
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t once_cond = PTHREAD_COND_INITIALIZER;
static once_busy *once_list;

gboolean(g_once_init_enter)(volatile void *location) {
  gboolean mine = FALSE;
  pthread_mutex_lock(&once_lock);
  for (;;) {
    if (__atomic_load_n((gsize *)location, __ATOMIC_ACQUIRE))
      break;
    once_busy *b = once_list;
    while (b && b->location != location)
      b = b->next;
    if (!b) {
      b = malloc(sizeof *b);
      if (!b)
        abort();
      b->location = location;
      b->next = once_list;
      once_list = b;
      mine = TRUE;
      break;
    }
    pthread_cond_wait(&once_cond, &once_lock);
  }
  pthread_mutex_unlock(&once_lock);
  return mine;
}

void(g_once_init_leave)(volatile void *location, gsize result) {
  pthread_mutex_lock(&once_lock);
  __atomic_store_n((gsize *)location, result, __ATOMIC_RELEASE);
  for (once_busy **pp = &once_list; *pp; pp = &(*pp)->next) {
    if ((*pp)->location == location) {
      once_busy *b = *pp;
      *pp = b->next;
      free(b);
      break;
    }
  }
  pthread_cond_broadcast(&once_cond);
  pthread_mutex_unlock(&once_lock);
}

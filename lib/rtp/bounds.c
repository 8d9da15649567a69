/*
 * rtp/ — bounds on what a remote makes us do: retransmission budget, keyframe
 * request throttle, learnt-SSRC table (see rtp.h, issue 12). Pure:
 * the time is an argument, no clock, no I/O, no allocation.
 */
#include "rtp/rtp.h"

/* ---- retransmissions --------------------------------------------------------- */

int64_t weft__rtx_window_us(int64_t rtt_us) {
  if (rtt_us < 0)
    return WEFT__RTX_WINDOW_DEFAULT_US;
  if (rtt_us < WEFT__RTX_WINDOW_MIN_US)
    return WEFT__RTX_WINDOW_MIN_US;
  if (rtt_us > WEFT__RTX_WINDOW_MAX_US)
    return WEFT__RTX_WINDOW_MAX_US;
  return rtt_us;
}

/* Moves the window on to cover @now_us. The length is fixed when a window
 * opens (the RTT of that moment). */
static void rtx_roll(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us) {
  if (!l->started) {
    l->started = true;
    l->window_start_us = now_us;
    l->window_us = weft__rtx_window_us(rtt_us);
    l->sent_cur = l->sent_prev = l->rtx_cur = 0;
    return;
  }
  int64_t el = now_us - l->window_start_us;
  if (el < l->window_us && el >= 0)
    return;
  /* A clock that went backwards opens a new window too. */
  l->sent_prev = el >= 0 && el < 2 * l->window_us ? l->sent_cur : 0;
  l->sent_cur = 0;
  l->rtx_cur = 0;
  l->window_start_us = now_us;
  l->window_us = weft__rtx_window_us(rtt_us);
}

static uint32_t rtx_budget(const weft__rtx_limiter *l) {
  uint64_t b = (uint64_t)WEFT__RTX_BUDGET_FLOOR + l->sent_cur + l->sent_prev;
  return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

void weft__rtx_limiter_on_send(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us) {
  rtx_roll(l, now_us, rtt_us);
  if (l->sent_cur < UINT32_MAX)
    l->sent_cur++;
}

weft__rtx_verdict weft__rtx_limiter_admit(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us,
                                          int64_t *last_rtx_us) {
  rtx_roll(l, now_us, rtt_us);
  /* One answer per sequence number per window: the first is still in
   * flight (a receiver re-NACKs after about 1.5 RTT). */
  if (*last_rtx_us != WEFT__RTX_NEVER && now_us >= *last_rtx_us &&
      now_us - *last_rtx_us < l->window_us) {
    l->duplicates++;
    return WEFT__RTX_DUPLICATE;
  }
  if (l->rtx_cur >= rtx_budget(l)) {
    l->over_budget++;
    return WEFT__RTX_OVER_BUDGET;
  }
  l->rtx_cur++;
  *last_rtx_us = now_us;
  return WEFT__RTX_SEND;
}

uint32_t weft__rtx_limiter_left(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us) {
  rtx_roll(l, now_us, rtt_us);
  uint32_t b = rtx_budget(l);
  return l->rtx_cur >= b ? 0 : b - l->rtx_cur;
}

/* ---- keyframe requests -------------------------------------------------------- */

static bool keyframe_pass(weft__keyframe_throttle *k, int64_t now_us) {
  if (k->have_last && now_us >= k->last_us &&
      now_us - k->last_us < WEFT__KEYFRAME_MIN_INTERVAL_US) {
    k->throttled++;
    return false;
  }
  k->have_last = true;
  k->last_us = now_us;
  return true;
}

bool weft__keyframe_throttle_pli(weft__keyframe_throttle *k, int64_t now_us) {
  return keyframe_pass(k, now_us);
}

bool weft__keyframe_throttle_fir(weft__keyframe_throttle *k, int64_t now_us, uint8_t seq_nr) {
  /* RFC 5104 §4.3.1.2: the sender increments the number for each new
   * request; the same number again is a retransmission of one already
   * answered (or throttled), so never a new keyframe. */
  if (k->have_fir_seq && k->fir_seq == seq_nr) {
    k->fir_repeats++;
    return false;
  }
  k->have_fir_seq = true;
  k->fir_seq = seq_nr;
  return keyframe_pass(k, now_us);
}

/* ---- learnt SSRCs ----------------------------------------------------------------- */

static weft__ssrc_learnt *ssrc_find(weft__ssrc_table *t, uint32_t ssrc) {
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].ssrc == ssrc)
      return &t->e[i];
  return NULL;
}

static void ssrc_drop_at(weft__ssrc_table *t, size_t i) { t->e[i] = t->e[--t->n]; }

const void *weft__ssrc_table_touch(weft__ssrc_table *t, uint32_t ssrc, int64_t now_us) {
  weft__ssrc_learnt *e = ssrc_find(t, ssrc);
  if (!e)
    return NULL;
  e->last_us = now_us;
  return e->owner;
}

const void *weft__ssrc_table_owner(const weft__ssrc_table *t, uint32_t ssrc) {
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].ssrc == ssrc)
      return t->e[i].owner;
  return NULL;
}

size_t weft__ssrc_table_count(const weft__ssrc_table *t, const void *owner) {
  if (!owner)
    return t->n;
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++)
    n += t->e[i].owner == owner;
  return n;
}

/* Index of the least recently seen entry idle for WEFT__SSRC_IDLE_US (of
 * @owner, or any when NULL), or -1. */
static long ssrc_idle_victim(const weft__ssrc_table *t, const void *owner, int64_t now_us) {
  long best = -1;
  for (size_t i = 0; i < t->n; i++) {
    const weft__ssrc_learnt *e = &t->e[i];
    if ((owner && e->owner != owner) || now_us - e->last_us < WEFT__SSRC_IDLE_US)
      continue;
    if (best < 0 || e->last_us < t->e[best].last_us)
      best = (long)i;
  }
  return best;
}

weft__ssrc_verdict weft__ssrc_table_admit(weft__ssrc_table *t, uint32_t ssrc, const void *owner,
                                          int64_t now_us, weft__ssrc_learnt *evicted,
                                          bool *did_evict) {
  if (did_evict)
    *did_evict = false;
  weft__ssrc_learnt *cur = ssrc_find(t, ssrc);
  if (cur && cur->owner == owner) {
    cur->last_us = now_us;
    return WEFT__SSRC_KNOWN;
  }
  /* Room for @owner: its own cap first, then the table's. A move from
   * another owner takes no new slot in the table. */
  long victim = -1;
  if (weft__ssrc_table_count(t, owner) >= WEFT__SSRC_LEARNT_PER_OWNER) {
    victim = ssrc_idle_victim(t, owner, now_us);
    if (victim < 0) {
      t->refused++;
      return WEFT__SSRC_REFUSED;
    }
  } else if (!cur && t->n >= WEFT__SSRC_LEARNT_MAX) {
    victim = ssrc_idle_victim(t, NULL, now_us);
    if (victim < 0) {
      t->refused++;
      return WEFT__SSRC_REFUSED;
    }
  }
  if (victim >= 0) {
    if (evicted)
      *evicted = t->e[victim];
    if (did_evict)
      *did_evict = true;
    t->evicted++;
    ssrc_drop_at(t, (size_t)victim);
    cur = ssrc_find(t, ssrc); /* the swap may have moved it */
  }
  if (cur) {
    cur->owner = owner;
    cur->last_us = now_us;
  } else {
    t->e[t->n].ssrc = ssrc;
    t->e[t->n].owner = owner;
    t->e[t->n].last_us = now_us;
    t->n++;
  }
  t->admitted++;
  return WEFT__SSRC_ADMITTED;
}

bool weft__ssrc_table_remove(weft__ssrc_table *t, uint32_t ssrc) {
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].ssrc == ssrc) {
      ssrc_drop_at(t, i);
      return true;
    }
  return false;
}

size_t weft__ssrc_table_remove_owner(weft__ssrc_table *t, const void *owner, uint32_t *out) {
  size_t k = 0;
  for (size_t i = 0; i < t->n;) {
    if (t->e[i].owner == owner) {
      if (k < WEFT__SSRC_LEARNT_PER_OWNER)
        out[k] = t->e[i].ssrc;
      k++;
      ssrc_drop_at(t, i);
    } else {
      i++;
    }
  }
  return k < WEFT__SSRC_LEARNT_PER_OWNER ? k : WEFT__SSRC_LEARNT_PER_OWNER;
}

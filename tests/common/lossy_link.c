#include "lossy_link.h"

#include <string.h>

typedef struct {
  lossy_link *link;
  lossy_side from;
} side_ref;

struct lossy_link {
  GMainContext *ctx;
  GRand *rand;
  lossy_params p;
  lossy_recv_fn recv[2];
  void *recv_user[2];
  lossy_filter_fn filter;
  void *filter_user;
  side_ref sides[2];
  GQueue held[2]; /* reordered datagrams waiting behind the next one */
  GList *pending; /* GSource* of scheduled deliveries */
  guint sent[2], dropped[2], drops_total;
};

typedef struct {
  lossy_link *link;
  lossy_side to;
  GByteArray *data;
  GSource *src;
} delivery;

static gboolean deliver_cb(gpointer p) {
  delivery *d = p;
  lossy_link *l = d->link;
  l->pending = g_list_remove(l->pending, d->src);
  if (l->recv[d->to])
    l->recv[d->to](l->recv_user[d->to], d->data->data, d->data->len);
  return G_SOURCE_REMOVE;
}

static void delivery_free(gpointer p) {
  delivery *d = p;
  g_byte_array_unref(d->data);
  g_source_unref(d->src);
  g_free(d);
}

static void schedule(lossy_link *l, lossy_side to, GByteArray *data) {
  delivery *d = g_new0(delivery, 1);
  d->link = l;
  d->to = to;
  d->data = g_byte_array_ref(data);
  d->src = l->p.delay_ms ? g_timeout_source_new(l->p.delay_ms) : g_idle_source_new();
  g_source_set_callback(d->src, deliver_cb, d, delivery_free);
  l->pending = g_list_prepend(l->pending, d->src);
  g_source_attach(d->src, l->ctx);
}

static int link_send(void *ctx, const uint8_t *data, size_t len) {
  side_ref *s = ctx;
  lossy_link *l = s->link;
  lossy_side to = s->from == LOSSY_A ? LOSSY_B : LOSSY_A;
  GByteArray *dg = g_byte_array_sized_new((guint)len);
  g_byte_array_append(dg, data, (guint)len);
  l->sent[s->from]++;
  if (l->filter && !l->filter(l->filter_user, s->from, dg)) {
    g_byte_array_unref(dg);
    return 0;
  }
  if (l->p.loss > 0 && (!l->p.max_drops || l->drops_total < l->p.max_drops) &&
      g_rand_double(l->rand) < l->p.loss) {
    l->dropped[s->from]++;
    l->drops_total++;
    g_byte_array_unref(dg);
    return 0;
  }
  if (l->p.reorder > 0 && g_rand_double(l->rand) < l->p.reorder) {
    g_queue_push_tail(&l->held[to], dg); /* goes out after the next datagram */
    return 0;
  }
  schedule(l, to, dg);
  if (l->p.duplicate > 0 && g_rand_double(l->rand) < l->p.duplicate)
    schedule(l, to, dg);
  g_byte_array_unref(dg);
  while (!g_queue_is_empty(&l->held[to])) {
    GByteArray *h = g_queue_pop_head(&l->held[to]);
    schedule(l, to, h);
    g_byte_array_unref(h);
  }
  return 0;
}

lossy_link *lossy_link_new(GMainContext *ctx, guint32 seed) {
  lossy_link *l = g_new0(lossy_link, 1);
  l->ctx = g_main_context_ref(ctx);
  l->rand = g_rand_new_with_seed(seed);
  for (int i = 0; i < 2; i++) {
    l->sides[i].link = l;
    l->sides[i].from = (lossy_side)i;
    g_queue_init(&l->held[i]);
  }
  return l;
}

void lossy_link_free(lossy_link *l) {
  if (!l)
    return;
  while (l->pending) {
    GSource *src = l->pending->data;
    l->pending = g_list_delete_link(l->pending, l->pending);
    g_source_destroy(src); /* frees the delivery through its destroy notify */
  }
  for (int i = 0; i < 2; i++)
    g_queue_clear_full(&l->held[i], (GDestroyNotify)g_byte_array_unref);
  g_rand_free(l->rand);
  g_main_context_unref(l->ctx);
  g_free(l);
}

void lossy_link_set_params(lossy_link *l, const lossy_params *p) { l->p = *p; }

void lossy_link_set_receiver(lossy_link *l, lossy_side side, lossy_recv_fn fn, void *user) {
  l->recv[side] = fn;
  l->recv_user[side] = user;
}

weft__dgram_sink lossy_link_sink(lossy_link *l, lossy_side side) {
  weft__dgram_sink s = {link_send, &l->sides[side]};
  return s;
}

void lossy_link_set_filter(lossy_link *l, lossy_filter_fn fn, void *user) {
  l->filter = fn;
  l->filter_user = user;
}

guint lossy_link_sent(lossy_link *l, lossy_side from) { return l->sent[from]; }
guint lossy_link_dropped(lossy_link *l, lossy_side from) { return l->dropped[from]; }

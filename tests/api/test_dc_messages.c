/*
 * Data channel messages through the public API: echo of text and binary
 * messages of several sizes, UTF-8, empty messages, invalid input, message
 * size limits, several channels and their stream ids, negotiated channels,
 * channel parameters, unreliable channels and zero-copy sends.
 */
#include <string.h>

#include "pair.h"

static const size_t sizes[] = {1, 1024, 16 * 1024, 64 * 1024, 256 * 1024};
#define N_SIZES G_N_ELEMENTS(sizes)

static void assert_msg(pair_msg *m, weft_msg_type type, const void *data, size_t size) {
  g_assert_nonnull(m);
  g_assert_cmpint(m->type, ==, type);
  g_assert_cmpuint(m->size, ==, size);
  if (size)
    g_assert_true(memcmp(m->data, data, size) == 0);
}

/* Sends text and binary messages of every size from A, B echoes them back;
 * both directions are verified byte for byte and in order. */
static void echo_sizes(pair_mode mode) {
  pair_opts o = PAIR_OPTS_INIT;
  o.mode = mode;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "echo", &a, &b);
  g_test_message("mode %d: time to channel open %.1f ms", mode,
                 (double)(p->t_open_us - p->t_start_us) / 1000.0);

  size_t max = 0;
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[0].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, >=, 256 * 1024);

  GPtrArray *sent = g_ptr_array_new_with_free_func(g_free);
  int n = 0;
  for (guint i = 0; i < N_SIZES; i++) {
    char *t = text_pattern_new(sizes[i], 100 + i);
    g_assert_cmpint(weft_dc_send_text(a->dc, t, sizes[i]), ==, WEFT_OK);
    g_ptr_array_add(sent, t);
    guint8 *bin = pattern_new(sizes[i], 200 + i);
    g_assert_cmpint(weft_dc_send(a->dc, bin, sizes[i]), ==, WEFT_OK);
    g_ptr_array_add(sent, bin);
    n += 2;
  }
  g_assert_true(probe_wait_msgs(a, n, 15000));
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, n);
  g_assert_cmpint(g_atomic_int_get(&b->echo_failed), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&a->bad_text), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&b->bad_text), ==, 0);
  for (guint i = 0; i < N_SIZES; i++) {
    assert_msg(probe_msg(b, 2 * i), WEFT_MSG_TEXT, sent->pdata[2 * i], sizes[i]);
    assert_msg(probe_msg(b, 2 * i + 1), WEFT_MSG_BINARY, sent->pdata[2 * i + 1], sizes[i]);
    assert_msg(probe_msg(a, 2 * i), WEFT_MSG_TEXT, sent->pdata[2 * i], sizes[i]);
    assert_msg(probe_msg(a, 2 * i + 1), WEFT_MSG_BINARY, sent->pdata[2 * i + 1], sizes[i]);
  }
  g_ptr_array_unref(sent);
  pair_free(p);
}

static void test_echo_thread(void) { echo_sizes(PAIR_THREAD); }
static void test_echo_queued(void) { echo_sizes(PAIR_QUEUED); }
static void test_echo_glib(void) { echo_sizes(PAIR_GLIB); }

static void test_send_before_open(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a = pair_create_dc(p, 0, "early", NULL);
  g_assert_cmpint(weft_dc_get_ready_state(a->dc), ==, WEFT_DC_CONNECTING);
  g_assert_cmpint(weft_dc_send(a->dc, "x", 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_dc_send_text(a->dc, "x", 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpuint(weft_dc_get_buffered_amount(a->dc), ==, 0);
  pair_free(p);
}

static void test_utf8(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "utf8", &a, &b);
  /* 2-, 3- and 4-byte sequences. */
  static const char *texts[] = {"h\xc3\xa9llo w\xc3\xb6rld", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                "party \xf0\x9f\x8e\x89 time",
                                "\xe2\x80\x94 \xc2\xa9 \xe2\x82\xac"};
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
    g_assert_cmpint(weft_dc_send_text(a->dc, texts[i], strlen(texts[i])), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, G_N_ELEMENTS(texts), 5000));
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
    assert_msg(probe_msg(b, i), WEFT_MSG_TEXT, texts[i], strlen(texts[i]));
    pair_msg *m = probe_msg(a, i);
    assert_msg(m, WEFT_MSG_TEXT, texts[i], strlen(texts[i]));
    g_assert_cmpstr((const char *)m->data, ==, texts[i]);
  }
  g_assert_cmpint(g_atomic_int_get(&a->bad_text), ==, 0);
  pair_free(p);
}

static void test_empty(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "empty", &a, &b);
  g_assert_cmpint(weft_dc_send_text(a->dc, "", 0), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send(a->dc, "", 0), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send_text(a->dc, "after", 5), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send(a->dc, "\0\1", 2), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 4, 5000));
  for (int side = 0; side < 2; side++) {
    dc_probe *pr = side ? b : a;
    pair_msg *m = probe_msg(pr, 0);
    g_assert_cmpint(m->type, ==, WEFT_MSG_TEXT);
    g_assert_cmpuint(m->size, ==, 0);
    g_assert_cmpint(m->data[0], ==, 0);
    m = probe_msg(pr, 1);
    g_assert_cmpint(m->type, ==, WEFT_MSG_BINARY);
    g_assert_cmpuint(m->size, ==, 0);
    assert_msg(probe_msg(pr, 2), WEFT_MSG_TEXT, "after", 5);
    assert_msg(probe_msg(pr, 3), WEFT_MSG_BINARY, "\0\1", 2);
  }
  g_assert_cmpint(g_atomic_int_get(&b->echo_failed), ==, 0);
  pair_free(p);
}

static void test_invalid_utf8(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "bad-utf8", &a, &b);
  static const struct {
    const char *s;
    size_t n;
  } bad[] = {
      {"\xff", 1},                  /* never valid */
      {"ok\xc3", 3},                /* truncated 2-byte sequence */
      {"\xc0\xaf", 2},              /* overlong '/' */
      {"\xed\xa0\x80", 3},          /* UTF-16 surrogate */
      {"\xf4\x90\x80\x80", 4},      /* above U+10FFFF */
      {"abc\x80xyz", 7},            /* stray continuation byte */
      {"\xe2\x82", 2},              /* truncated 3-byte */
      {"ok\xc3\xa9\xf0\x9f\x8e", 7} /* truncated 4-byte at the end */
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_cmpint(weft_dc_send_text(a->dc, bad[i].s, bad[i].n), ==, WEFT_ERR_INVALID_ARG);
    g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
    g_assert_cmpstr(weft_last_error_message(), !=, "");
  }
  /* An embedded NUL is valid UTF-8; a size that stops before an invalid byte
   * is valid too. */
  g_assert_cmpint(weft_dc_send_text(a->dc, "a\0b", 3), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send_text(a->dc, "ok\xff", 2), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 2, 5000));
  assert_msg(probe_msg(a, 0), WEFT_MSG_TEXT, "a\0b", 3);
  assert_msg(probe_msg(a, 1), WEFT_MSG_TEXT, "ok", 2);
  pair_pump(p, 100);
  g_assert_cmpint(g_atomic_int_get(&b->n_msgs), ==, 2);
  pair_free(p);
}

static void too_big(size_t advertise) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  o.max_message_size = advertise;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "big", &a, &b);
  size_t max = 0;
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[0].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, ==, advertise ? advertise : 262144);
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[1].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, ==, advertise ? advertise : 262144);

  guint8 *buf = pattern_new(max + 1, 7);
  char *txt = text_pattern_new(max + 1, 8);
  g_assert_cmpint(weft_dc_send(a->dc, buf, max + 1), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpstr(weft_last_error_message(), !=, "");
  g_assert_cmpint(weft_dc_send_text(a->dc, txt, max + 1), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpstr(weft_last_error_message(), !=, "");
  /* Exactly the maximum is allowed, and the channel still works. */
  g_assert_cmpint(weft_dc_send(a->dc, buf, max), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send_text(a->dc, "still works", 11), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 2, 10000));
  assert_msg(probe_msg(a, 0), WEFT_MSG_BINARY, buf, max);
  assert_msg(probe_msg(a, 1), WEFT_MSG_TEXT, "still works", 11);
  g_assert_cmpint(g_atomic_int_get(&b->echo_failed), ==, 0);
  g_free(buf);
  g_free(txt);
  pair_free(p);
}

static void test_too_big_default(void) { too_big(0); }
static void test_too_big_1k(void) { too_big(1024); }

/* No a=max-message-size in the answer: 65536 (RFC 8841 §6). */
static char *strip_mms(pair *p, int from, const char *sdp) {
  if (from != 1)
    return g_strdup(sdp);
  GString *out = g_string_new(NULL);
  gchar **lines = g_strsplit(sdp, "\r\n", -1);
  for (gchar **l = lines; *l; l++)
    if (**l && !g_str_has_prefix(*l, "a=max-message-size:"))
      g_string_append_printf(out, "%s\r\n", *l);
  g_strfreev(lines);
  return g_string_free(out, FALSE);
}

static void test_no_mms_attribute(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  p->sdp_hook = strip_mms;
  dc_probe *a, *b;
  pair_connect(p, "no-mms", &a, &b);
  g_assert_null(strstr(p->answer, "a=max-message-size"));
  size_t max = 0;
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[0].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, ==, 65536);
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[1].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, ==, 262144);
  guint8 *buf = pattern_new(65537, 5);
  g_assert_cmpint(weft_dc_send(a->dc, buf, 65537), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpint(weft_dc_send(a->dc, buf, 65536), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  assert_msg(probe_msg(a, 0), WEFT_MSG_BINARY, buf, 65536);
  g_free(buf);
  pair_free(p);
}

/* Both advertise a=max-message-size:0 ("any size", RFC 8841 §6). */
static void test_any_size(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  o.max_message_size = (size_t)-1;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "any", &a, &b);
  g_assert_nonnull(strstr(p->offer, "a=max-message-size:0\r\n"));
  size_t max = 0;
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[0].pc, &max), ==, WEFT_OK);
  g_assert_cmpuint(max, ==, SIZE_MAX);
  const size_t big = 1024 * 1024;
  guint8 *buf = pattern_new(big, 11);
  g_assert_cmpint(weft_dc_send(a->dc, buf, big), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 15000));
  assert_msg(probe_msg(b, 0), WEFT_MSG_BINARY, buf, big);
  assert_msg(probe_msg(a, 0), WEFT_MSG_BINARY, buf, big);
  g_free(buf);
  pair_free(p);
}

/* 4 channels created on each side at once after the association is up. */
static void test_many_channels(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *ctl_a, *ctl_b;
  pair_connect(p, "ctl", &ctl_a, &ctl_b);
  enum { N = 4 };
  dc_probe *loc[2][N], *rem[2][N];
  for (int i = 0; i < N; i++) {
    char la[16], lb[16];
    g_snprintf(la, sizeof la, "a%d", i);
    g_snprintf(lb, sizeof lb, "b%d", i);
    loc[0][i] = pair_create_dc(p, 0, la, NULL);
    loc[1][i] = pair_create_dc(p, 1, lb, NULL);
  }
  for (int i = 0; i < N; i++) {
    char la[16], lb[16];
    g_snprintf(la, sizeof la, "a%d", i);
    g_snprintf(lb, sizeof lb, "b%d", i);
    rem[1][i] = pair_wait_remote_dc(p, 1, la, 10000); /* A's channel seen by B */
    rem[0][i] = pair_wait_remote_dc(p, 0, lb, 10000); /* B's channel seen by A */
    g_assert_nonnull(rem[1][i]);
    g_assert_nonnull(rem[0][i]);
    g_assert_true(pair_wait_ge(p, &loc[0][i]->opened, 1, 5000));
    g_assert_true(pair_wait_ge(p, &loc[1][i]->opened, 1, 5000));
    g_assert_true(pair_wait_ge(p, &rem[0][i]->opened, 1, 5000));
    g_assert_true(pair_wait_ge(p, &rem[1][i]->opened, 1, 5000));
  }
  GHashTable *ids = g_hash_table_new(NULL, NULL);
  int32_t ctl_id = weft_dc_get_id(ctl_a->dc);
  g_assert_cmpint(ctl_id, ==, weft_dc_get_id(ctl_b->dc));
  g_hash_table_add(ids, GINT_TO_POINTER(ctl_id + 1));
  for (int i = 0; i < N; i++) {
    /* A offered actpass, B answered active: B is the DTLS client (even ids),
     * A the server (odd ids), RFC 8832 §6. */
    int32_t ida = weft_dc_get_id(loc[0][i]->dc), idb = weft_dc_get_id(loc[1][i]->dc);
    g_assert_cmpint(ida % 2, ==, 1);
    g_assert_cmpint(idb % 2, ==, 0);
    g_assert_cmpint(ida, ==, weft_dc_get_id(rem[1][i]->dc));
    g_assert_cmpint(idb, ==, weft_dc_get_id(rem[0][i]->dc));
    g_assert_cmpstr(weft_dc_get_label(loc[0][i]->dc), ==, weft_dc_get_label(rem[1][i]->dc));
    g_assert_cmpstr(weft_dc_get_label(loc[1][i]->dc), ==, weft_dc_get_label(rem[0][i]->dc));
    g_assert_false(g_hash_table_contains(ids, GINT_TO_POINTER(ida + 1)));
    g_hash_table_add(ids, GINT_TO_POINTER(ida + 1));
    g_assert_false(g_hash_table_contains(ids, GINT_TO_POINTER(idb + 1)));
    g_hash_table_add(ids, GINT_TO_POINTER(idb + 1));
  }
  g_assert_cmpint(ctl_id % 2, ==, 1);
  g_hash_table_unref(ids);
  /* Every channel echoes its own traffic. */
  for (int s = 0; s < 2; s++)
    for (int i = 0; i < N; i++) {
      char *m = g_strdup_printf("side %d channel %d", s, i);
      g_assert_cmpint(weft_dc_send_text(loc[s][i]->dc, m, strlen(m)), ==, WEFT_OK);
      g_free(m);
    }
  for (int s = 0; s < 2; s++)
    for (int i = 0; i < N; i++) {
      char *m = g_strdup_printf("side %d channel %d", s, i);
      g_assert_true(probe_wait_msgs(loc[s][i], 1, 5000));
      assert_msg(probe_msg(loc[s][i], 0), WEFT_MSG_TEXT, m, strlen(m));
      assert_msg(probe_msg(rem[1 - s][i], 0), WEFT_MSG_TEXT, m, strlen(m));
      g_assert_cmpint(g_atomic_int_get(&loc[s][i]->n_msgs), ==, 1);
      g_free(m);
    }
  g_assert_cmpint(g_atomic_int_get(&p->side[0].n_remote_dcs), ==, N);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].n_remote_dcs), ==, N + 1);
  pair_free(p);
}

/* Eight channels created at once on the offerer before negotiation. */
static void test_eight_before_connect(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  enum { N = 8 };
  dc_probe *loc[N], *rem[N];
  for (int i = 0; i < N; i++) {
    char l[16];
    g_snprintf(l, sizeof l, "ch%d", i);
    loc[i] = pair_create_dc(p, 0, l, NULL);
    g_assert_cmpint(weft_dc_get_id(loc[i]->dc), ==, -1); /* DTLS role unknown yet */
  }
  pair_negotiate(p);
  for (int i = 0; i < N; i++) {
    char l[16];
    g_snprintf(l, sizeof l, "ch%d", i);
    rem[i] = pair_wait_remote_dc(p, 1, l, 10000);
    g_assert_nonnull(rem[i]);
    g_assert_true(pair_wait_ge(p, &loc[i]->opened, 1, 5000));
    g_assert_true(pair_wait_ge(p, &rem[i]->opened, 1, 5000));
  }
  for (int i = 0; i < N; i++) {
    int32_t id = weft_dc_get_id(loc[i]->dc);
    g_assert_cmpint(id, >=, 0);
    g_assert_cmpint(id % 2, ==, 1);
    g_assert_cmpint(id, ==, weft_dc_get_id(rem[i]->dc));
    for (int j = 0; j < i; j++)
      g_assert_cmpint(id, !=, weft_dc_get_id(loc[j]->dc));
    char *m = g_strdup_printf("msg %d", i);
    g_assert_cmpint(weft_dc_send(loc[i]->dc, m, strlen(m)), ==, WEFT_OK);
    g_free(m);
  }
  for (int i = 0; i < N; i++) {
    char *m = g_strdup_printf("msg %d", i);
    g_assert_true(probe_wait_msgs(loc[i], 1, 5000));
    assert_msg(probe_msg(loc[i], 0), WEFT_MSG_BINARY, m, strlen(m));
    g_free(m);
  }
  pair_free(p);
}

static void test_negotiated(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  weft_dc_init init = WEFT_DC_INIT;
  init.negotiated = 1;
  init.id = 5;
  init.protocol = "neg-proto";
  dc_probe *a = pair_create_dc(p, 0, "neg", &init);
  dc_probe *b = pair_create_dc(p, 1, "neg", &init);
  g_assert_cmpint(weft_dc_get_id(a->dc), ==, 5);
  g_assert_cmpint(weft_dc_get_negotiated(a->dc), ==, 1);
  g_assert_cmpint(weft_dc_get_negotiated(b->dc), ==, 1);
  /* The same id again on one side: in use. */
  g_assert_null(weft_pc_create_data_channel(p->side[0].pc, "dup", &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_OPERATION);
  pair_negotiate(p);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  g_assert_true(pair_wait_ge(p, &b->opened, 1, 10000));
  g_assert_cmpint(weft_dc_get_id(b->dc), ==, 5);
  g_assert_cmpint(weft_dc_send_text(a->dc, "from a", 6), ==, WEFT_OK);
  g_assert_cmpint(weft_dc_send_text(b->dc, "from b", 6), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 1, 5000));
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  assert_msg(probe_msg(b, 0), WEFT_MSG_TEXT, "from a", 6);
  assert_msg(probe_msg(a, 0), WEFT_MSG_TEXT, "from b", 6);
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&p->side[0].n_remote_dcs), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].n_remote_dcs), ==, 0);
  pair_free(p);
}

/* Negotiated ids and automatic ids never collide. */
static void test_id_collisions(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a, *b;
  pair_connect(p, "auto", &a, &b);
  int32_t used = weft_dc_get_id(a->dc);
  weft_dc_init neg = WEFT_DC_INIT;
  neg.negotiated = 1;
  neg.id = used;
  g_assert_null(weft_pc_create_data_channel(p->side[0].pc, "clash", &neg));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_OPERATION);
  g_assert_null(weft_pc_create_data_channel(p->side[1].pc, "clash", &neg));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_OPERATION);
  /* Reserve the next odd ids by negotiation: new automatic ids skip them. */
  dc_probe *n1, *n2;
  neg.id = used + 2;
  n1 = pair_create_dc(p, 0, "n1", &neg);
  neg.id = used + 4;
  n2 = pair_create_dc(p, 0, "n2", &neg);
  dc_probe *c = pair_create_dc(p, 0, "auto2", NULL);
  g_assert_true(pair_wait_ge(p, &c->opened, 1, 5000));
  int32_t id = weft_dc_get_id(c->dc);
  g_assert_cmpint(id % 2, ==, 1);
  g_assert_cmpint(id, !=, used);
  g_assert_cmpint(id, !=, used + 2);
  g_assert_cmpint(id, !=, used + 4);
  dc_probe *rc = pair_wait_remote_dc(p, 1, "auto2", 5000);
  g_assert_nonnull(rc);
  g_assert_cmpint(weft_dc_send_text(c->dc, "x", 1), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(c, 1, 5000));
  (void)n1;
  (void)n2;
  pair_free(p);
}

static void check_params(weft_dc *dc, const char *label, const char *proto, int ordered, int rtx,
                         int life) {
  g_assert_cmpstr(weft_dc_get_label(dc), ==, label);
  g_assert_cmpstr(weft_dc_get_protocol(dc), ==, proto);
  g_assert_cmpint(weft_dc_get_ordered(dc), ==, ordered);
  g_assert_cmpint(weft_dc_get_max_retransmits(dc), ==, rtx);
  g_assert_cmpint(weft_dc_get_max_packet_life_time(dc), ==, life);
  g_assert_cmpint(weft_dc_get_negotiated(dc), ==, 0);
}

static void test_params(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  const char *l1 = "label with spaces \xc3\xbc"
                   "n\xc3\xaf"
                   "code";
  weft_dc_init i1 = WEFT_DC_INIT;
  i1.protocol = "chat-v1";
  weft_dc_init i2 = WEFT_DC_INIT;
  i2.ordered = 0;
  i2.max_retransmits = 3;
  weft_dc_init i3 = WEFT_DC_INIT;
  i3.max_packet_life_time = 500;
  i3.protocol = "";
  /* Both reliability limits at once: invalid (W3C createDataChannel). */
  weft_dc_init bad = WEFT_DC_INIT;
  bad.max_retransmits = 1;
  bad.max_packet_life_time = 1;
  g_assert_null(weft_pc_create_data_channel(p->side[0].pc, "bad", &bad));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);

  dc_probe *a1 = pair_create_dc(p, 0, l1, &i1);
  dc_probe *a2 = pair_create_dc(p, 0, "unordered-rtx3", &i2);
  dc_probe *a3 = pair_create_dc(p, 0, "", &i3); /* empty label is allowed */
  check_params(a1->dc, l1, "chat-v1", 1, -1, -1);
  check_params(a2->dc, "unordered-rtx3", "", 0, 3, -1);
  check_params(a3->dc, "", "", 1, -1, 500);
  pair_negotiate(p);
  dc_probe *b1 = pair_wait_remote_dc(p, 1, l1, 10000);
  dc_probe *b2 = pair_wait_remote_dc(p, 1, "unordered-rtx3", 10000);
  dc_probe *b3 = pair_wait_remote_dc(p, 1, "", 10000);
  g_assert_nonnull(b1);
  g_assert_nonnull(b2);
  g_assert_nonnull(b3);
  check_params(b1->dc, l1, "chat-v1", 1, -1, -1);
  check_params(b2->dc, "unordered-rtx3", "", 0, 3, -1);
  check_params(b3->dc, "", "", 1, -1, 500);
  g_assert_true(pair_wait_ge(p, &a1->opened, 1, 5000));
  check_params(a1->dc, l1, "chat-v1", 1, -1, -1);
  check_params(a2->dc, "unordered-rtx3", "", 0, 3, -1);
  g_assert_cmpint(weft_dc_get_ready_state(b1->dc), ==, WEFT_DC_OPEN);
  pair_free(p);
}

static void test_unordered_unreliable(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  weft_dc_init init = WEFT_DC_INIT;
  init.ordered = 0;
  init.max_retransmits = 0;
  dc_probe *a = pair_create_dc(p, 0, "lossy", &init);
  pair_negotiate(p);
  dc_probe *b = pair_wait_remote_dc(p, 1, "lossy", 10000);
  g_assert_nonnull(b);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  g_assert_cmpint(weft_dc_get_ordered(b->dc), ==, 0);
  g_assert_cmpint(weft_dc_get_max_retransmits(b->dc), ==, 0);
  enum { N = 300, SZ = 1000 };
  int sent = 0;
  for (int i = 0; i < N; i++) {
    guint8 *m = pattern_new(SZ, (guint32)i);
    memcpy(m, &i, sizeof i);
    int rc = weft_dc_send(a->dc, m, SZ);
    g_free(m);
    if (rc == WEFT_ERR_AGAIN) {
      pair_pump(p, 5);
      continue;
    }
    g_assert_cmpint(rc, ==, WEFT_OK);
    sent++;
  }
  pair_wait_ge(p, &b->n_msgs, sent, 3000);
  pair_pump(p, 200);
  int got = g_atomic_int_get(&b->n_msgs);
  g_test_message("unreliable unordered: %d of %d sent messages arrived", got, sent);
  g_assert_cmpint(got, >, 0);
  g_assert_cmpint(got, <=, sent);
  gboolean *seen = g_new0(gboolean, N);
  for (int k = 0; k < got; k++) {
    pair_msg *m = probe_msg(b, k);
    g_assert_cmpint(m->type, ==, WEFT_MSG_BINARY);
    g_assert_cmpuint(m->size, ==, SZ);
    int i;
    memcpy(&i, m->data, sizeof i);
    g_assert_cmpint(i, >=, 0);
    g_assert_cmpint(i, <, N);
    g_assert_false(seen[i]); /* no duplicates */
    seen[i] = TRUE;
    guint8 *ref = pattern_new(SZ, (guint32)i);
    memcpy(ref, &i, sizeof i);
    g_assert_true(memcmp(ref, m->data, SZ) == 0);
    g_free(ref);
  }
  g_free(seen);
  pair_free(p);
}

static gint owned_frees;
static void owned_free(void *d) {
  g_atomic_int_inc(&owned_frees);
  g_free(d);
}

static void test_send_owned(void) {
  pair *p = pair_new_mode(PAIR_THREAD);
  dc_probe *a, *b;
  pair_connect(p, "owned", &a, &b);
  g_atomic_int_set(&owned_frees, 0);

  /* Success: freed exactly once, content delivered. */
  guint8 *d = pattern_new(50000, 3);
  guint8 *copy = g_memdup2(d, 50000);
  g_assert_cmpint(weft_dc_send_owned(a->dc, WEFT_MSG_BINARY, d, 50000, owned_free), ==, WEFT_OK);
  char *t = g_strdup("owned text");
  g_assert_cmpint(weft_dc_send_owned(a->dc, WEFT_MSG_TEXT, t, 10, owned_free), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 2, 5000));
  assert_msg(probe_msg(b, 0), WEFT_MSG_BINARY, copy, 50000);
  assert_msg(probe_msg(b, 1), WEFT_MSG_TEXT, "owned text", 10);
  g_assert_true(pair_wait_ge(p, &owned_frees, 2, 2000));
  g_free(copy);

  /* Errors: freed exactly once too. */
  size_t max = 0;
  g_assert_cmpint(weft_pc_get_max_message_size(p->side[0].pc, &max), ==, WEFT_OK);
  d = g_malloc0(max + 1);
  g_assert_cmpint(weft_dc_send_owned(a->dc, WEFT_MSG_BINARY, d, max + 1, owned_free), ==,
                  WEFT_ERR_TOO_BIG);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 3);
  t = g_strdup("bad \xff utf8");
  g_assert_cmpint(weft_dc_send_owned(a->dc, WEFT_MSG_TEXT, t, strlen(t), owned_free), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 4);
  d = g_malloc0(16);
  g_assert_cmpint(weft_dc_send_owned(a->dc, (weft_msg_type)7, d, 16, owned_free), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 5);
  d = g_malloc0(16);
  g_assert_cmpint(weft_dc_send_owned(NULL, WEFT_MSG_BINARY, d, 16, owned_free), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 6);

  /* NULL free_fn: the caller keeps the buffer. */
  static const char keep[] = "static";
  g_assert_cmpint(weft_dc_send_owned(a->dc, WEFT_MSG_TEXT, (void *)keep, 6, NULL), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(b, 3, 5000));
  assert_msg(probe_msg(b, 2), WEFT_MSG_TEXT, "static", 6);

  /* On a closed channel. */
  g_assert_cmpint(weft_dc_close(a->dc), ==, WEFT_OK);
  d = g_malloc0(16);
  int rc = weft_dc_send_owned(a->dc, WEFT_MSG_BINARY, d, 16, owned_free);
  g_assert_true(rc == WEFT_ERR_INVALID_STATE || rc == WEFT_ERR_CLOSED);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 7);
  pair_pump(p, 200);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 7);
  pair_free(p);
  g_assert_cmpint(g_atomic_int_get(&owned_frees), ==, 7);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/dc/echo-thread", test_echo_thread);
  g_test_add_func("/api/dc/echo-queued", test_echo_queued);
  g_test_add_func("/api/dc/echo-glib", test_echo_glib);
  g_test_add_func("/api/dc/send-before-open", test_send_before_open);
  g_test_add_func("/api/dc/utf8", test_utf8);
  g_test_add_func("/api/dc/empty", test_empty);
  g_test_add_func("/api/dc/invalid-utf8", test_invalid_utf8);
  g_test_add_func("/api/dc/too-big-default", test_too_big_default);
  g_test_add_func("/api/dc/too-big-1k", test_too_big_1k);
  g_test_add_func("/api/dc/any-size", test_any_size);
  g_test_add_func("/api/dc/no-mms-attribute", test_no_mms_attribute);
  g_test_add_func("/api/dc/many-channels", test_many_channels);
  g_test_add_func("/api/dc/eight-before-connect", test_eight_before_connect);
  g_test_add_func("/api/dc/negotiated", test_negotiated);
  g_test_add_func("/api/dc/params", test_params);
  g_test_add_func("/api/dc/id-collisions", test_id_collisions);
  g_test_add_func("/api/dc/unordered-unreliable", test_unordered_unreliable);
  g_test_add_func("/api/dc/send-owned", test_send_owned);
  return g_test_run();
}

/*
 * Fuzz target: the signaling code that reads remote bytes, in
 * examples/signaling (the weft_signaling library, compiled in here so
 * libFuzzer sees its coverage):
 *   - the room server's message validation (examples/signaling-server
 *     main.c handle_text/handle_join/handle_relay, whose handler needs a live
 *     WebSocket; the same calls are made here): a JSON object with a string
 *     "type", sig_valid_id for "room"/"peer"/"to", the candidate members,
 *     and the relayed copy written by sig_json_to_string;
 *   - the WHIP-shaped HTTP server's bodies: sig_sdpfrag_parse (RFC 8840
 *     trickle fragments of PATCH) and sig_sdp_check (the offer of POST);
 *   - sig_sdp_info_parse + sig_sdpfrag_format, whose output the other side
 *     parses with sig_sdpfrag_parse.
 *
 * Input: the text (a JSON message, a fragment and an SDP body at once).
 *
 * Invariants:
 * - sig_valid_id is exactly "1-64 of [A-Za-z0-9_.-]";
 * - a relayed message (the input object plus "from") is written as one line
 *   with no control character, and parses back to an equal object;
 * - a fragment is accepted only if it is UTF-8 text without NUL; each
 *   resulting message is a candidate ("candidate:..." with exactly one of
 *   sdpMid / sdpMLineIndex, the index >= 0) or one final end-of-candidates;
 *   a refusal gives a reason and no message;
 * - an accepted SDP body starts with "v=0"; a refusal gives a reason;
 * - for every section of an accepted body with a non-empty mid, the
 *   fragment sig_sdpfrag_format writes is accepted by sig_sdpfrag_parse and
 *   carries the same candidate and mid.
 * Three json-glib 1.6 defects are tolerated meanwhile: KNOWN_JSON_GLIB_BUGS.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig_private.h"

/* Set to 0 once sig_json_to_string escapes U+001F, the server refuses
 * strings that are not UTF-8 and avoids json-glib's leak on trailing text
 * (see check_message). */
#ifndef KNOWN_JSON_GLIB_BUGS
#define KNOWN_JSON_GLIB_BUGS 1
#endif

/* LeakSanitizer's interface, when linked in. */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static bool my_valid_id(const char *s) {
  if (!s)
    return false;
  size_t n = strlen(s);
  if (n < 1 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

/* Whether every string (member names included) under @n is UTF-8. */
static bool all_utf8(JsonNode *n) {
  if (JSON_NODE_HOLDS_OBJECT(n)) {
    JsonObjectIter it;
    const char *name;
    JsonNode *v;
    json_object_iter_init(&it, json_node_get_object(n));
    while (json_object_iter_next(&it, &name, &v))
      if (!g_utf8_validate(name, -1, NULL) || !all_utf8(v))
        return false;
    return true;
  }
  if (JSON_NODE_HOLDS_ARRAY(n)) {
    JsonArray *a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++)
      if (!all_utf8(json_array_get_element(a, i)))
        return false;
    return true;
  }
  if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
    return g_utf8_validate(json_node_get_string(n), -1, NULL);
  return true;
}

/* The server's checks on one message, and the relayed copy. */
static void check_message(const char *text, size_t len) {
  JsonParser *parser = json_parser_new();
  JsonNode *root = NULL;
  /* Known, reported (KNOWN_JSON_GLIB_BUGS): json-glib 1.6 leaks what it
   * parsed when a value is followed by more text ('{"a":"b"} x': 418 bytes
   * per message, on the server too). Its allocations are not leak-checked
   * here until the server works around it. */
  if (KNOWN_JSON_GLIB_BUGS && __lsan_disable)
    __lsan_disable();
  gboolean parsed = json_parser_load_from_data(parser, text, (gssize)len, NULL);
  if (KNOWN_JSON_GLIB_BUGS && __lsan_enable)
    __lsan_enable();
  if (parsed)
    root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_object_unref(parser);
    return;
  }
  JsonObject *msg = json_node_get_object(root);
  const char *type = sig_msg_string(msg, "type");
  FUZZ_CHECK(type == sig_msg_type(msg));
  static const char *const ids[] = {"room", "peer", "to", "name", "type"};
  for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
    const char *v = sig_msg_string(msg, ids[i]);
    FUZZ_CHECK(sig_valid_id(v) == my_valid_id(v));
  }
  gint64 idx;
  if (sig_msg_int(msg, "sdpMLineIndex", &idx))
    FUZZ_CHECK(json_node_get_value_type(json_object_get_member(msg, "sdpMLineIndex")) ==
               G_TYPE_INT64);
  /* handle_relay: the message as received plus "from", written out. */
  json_object_set_string_member(msg, "from", "fuzz-peer");
  char *out = sig_json_to_string(msg);
  FUZZ_CHECK(out);
  /* Every control character is escaped (RFC 8259 §7; json-glib 1.6 left
   * U+001F raw, sig_json_to_string now escapes it). A json-glib 1.6 defect,
   * known and reported (KNOWN_JSON_GLIB_BUGS): its scanner takes non-JSON
   * escapes ("\300", octal) that decode to bytes which are not UTF-8; the
   * room server's strict pre-scan refuses them before json-glib sees them,
   * here such messages skip the checks that follow. */
  bool known_bad = false;
  for (const char *p = out; *p; p++)
    FUZZ_CHECK((unsigned char)*p >= 0x20);
  if (!g_utf8_validate(out, -1, NULL)) {
    FUZZ_CHECK(KNOWN_JSON_GLIB_BUGS && !all_utf8(root));
    known_bad = true;
  }
  if (known_bad) {
    g_free(out);
    g_object_unref(parser);
    return;
  }
  JsonNode *back = json_from_string(out, NULL);
  FUZZ_CHECK(back && JSON_NODE_HOLDS_OBJECT(back));
  FUZZ_CHECK(json_node_equal(back, root));
  JsonObject *copy = sig_json_copy(msg);
  FUZZ_CHECK(copy && json_object_get_size(copy) == json_object_get_size(msg));
  json_object_unref(copy);
  json_node_unref(back);
  g_free(out);
  g_object_unref(parser);
}

static void check_fragment_messages(GPtrArray *out) {
  for (guint i = 0; i < out->len; i++) {
    JsonObject *m = g_ptr_array_index(out, i);
    const char *type = sig_msg_type(m);
    FUZZ_CHECK(type);
    if (strcmp(type, "end-of-candidates") == 0) {
      FUZZ_CHECK(i + 1 == out->len);
      continue;
    }
    FUZZ_CHECK(strcmp(type, "candidate") == 0);
    const char *c = sig_msg_string(m, "candidate");
    FUZZ_CHECK(c && g_str_has_prefix(c, "candidate:"));
    gint64 idx = -1;
    bool has_mid = sig_msg_string(m, "sdpMid") != NULL;
    bool has_idx = sig_msg_int(m, "sdpMLineIndex", &idx);
    FUZZ_CHECK(has_mid != has_idx);
    FUZZ_CHECK(!has_idx || idx >= 0);
  }
}

static void check_fragment(const char *text, size_t len) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  char *reason = NULL;
  gboolean ok = sig_sdpfrag_parse(text, len, out, &reason);
  if (ok) {
    FUZZ_CHECK(!reason);
    FUZZ_CHECK(!memchr(text, '\0', len) && g_utf8_validate(text, (gssize)len, NULL));
    check_fragment_messages(out);
  } else {
    FUZZ_CHECK(reason && reason[0]);
    FUZZ_CHECK(out->len == 0);
  }
  g_free(reason);
  g_ptr_array_unref(out);
}

static void check_sdp(const char *text, size_t len) {
  char *reason = NULL;
  gboolean ok = sig_sdp_check(text, len, &reason);
  if (!ok) {
    FUZZ_CHECK(reason && reason[0]);
    g_free(reason);
    return;
  }
  FUZZ_CHECK(!reason);
  FUZZ_CHECK(len >= 3 && memcmp(text, "v=0", 3) == 0);
  FUZZ_CHECK(!memchr(text, '\0', len));
  char *z = g_strndup(text, len);
  sig_sdp_info *info = sig_sdp_info_parse(z);
  FUZZ_CHECK(info && info->sections);
  static const char cand[] = "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host";
  for (guint i = 0; i < info->sections->len && i < 64; i++) {
    const sig_sdp_section *s = g_ptr_array_index(info->sections, i);
    if (!s->mid || !s->mid[0])
      continue;
    char *frag = sig_sdpfrag_format(info, cand, s->mid, (int)i);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
    char *why = NULL;
    FUZZ_CHECK(sig_sdpfrag_parse(frag, strlen(frag), out, &why));
    FUZZ_CHECK(out->len == 1);
    JsonObject *m = g_ptr_array_index(out, 0);
    FUZZ_CHECK(g_strcmp0(sig_msg_string(m, "candidate"), cand) == 0);
    FUZZ_CHECK(g_strcmp0(sig_msg_string(m, "sdpMid"), s->mid) == 0);
    g_ptr_array_unref(out);
    g_free(frag);
  }
  sig_sdp_info_free(info);
  g_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  check_message(text, size);
  check_fragment(text, size);
  check_sdp(text, size);
  return 0;
}

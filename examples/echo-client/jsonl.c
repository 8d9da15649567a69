/* examples/echo-client — one-line JSON objects (see jsonl.h). */
#include "jsonl.h"

#include <math.h>

GString *jl_new(void) { return g_string_new("{"); }

static void sep(GString *s) {
  char last = s->len ? s->str[s->len - 1] : '\0';
  if (last != '{' && last != '[')
    g_string_append_c(s, ',');
}

static void put_string(GString *s, const char *v) {
  char *valid = g_utf8_make_valid(v, -1);
  g_string_append_c(s, '"');
  for (const unsigned char *p = (const unsigned char *)valid; *p; p++) {
    switch (*p) {
    case '"':
      g_string_append(s, "\\\"");
      break;
    case '\\':
      g_string_append(s, "\\\\");
      break;
    case '\n':
      g_string_append(s, "\\n");
      break;
    case '\r':
      g_string_append(s, "\\r");
      break;
    case '\t':
      g_string_append(s, "\\t");
      break;
    default:
      if (*p < 0x20)
        g_string_append_printf(s, "\\u%04x", *p);
      else
        g_string_append_c(s, (char)*p);
    }
  }
  g_string_append_c(s, '"');
  g_free(valid);
}

static void key(GString *s, const char *k) {
  sep(s);
  put_string(s, k);
  g_string_append_c(s, ':');
}

void jl_str(GString *s, const char *k, const char *value) {
  key(s, k);
  if (value)
    put_string(s, value);
  else
    g_string_append(s, "null");
}

void jl_int(GString *s, const char *k, long long value) {
  key(s, k);
  g_string_append_printf(s, "%lld", value);
}

void jl_uint(GString *s, const char *k, unsigned long long value) {
  key(s, k);
  g_string_append_printf(s, "%llu", value);
}

static void put_num(GString *s, double value, int decimals) {
  if (!isfinite(value)) {
    g_string_append(s, "null");
    return;
  }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char fmt[16];
  g_snprintf(fmt, sizeof fmt, "%%.%df", decimals);
  g_string_append(s, g_ascii_formatd(buf, sizeof buf, fmt, value));
}

void jl_num(GString *s, const char *k, double value, int decimals) {
  key(s, k);
  put_num(s, value, decimals);
}

void jl_bool(GString *s, const char *k, int value) {
  key(s, k);
  g_string_append(s, value ? "true" : "false");
}

void jl_null(GString *s, const char *k) {
  key(s, k);
  g_string_append(s, "null");
}

void jl_raw(GString *s, const char *k, GString *json) {
  key(s, k);
  g_string_append_len(s, json->str, (gssize)json->len);
  g_string_free(json, TRUE);
}

char *jl_finish(GString *s) {
  g_string_append_c(s, '}');
  return g_string_free(s, FALSE);
}

void jl_print(GString *s, FILE *f) {
  char *line = jl_finish(s);
  fprintf(f, "%s\n", line);
  fflush(f);
  g_free(line);
}

GString *jl_array_new(void) { return g_string_new("["); }

void jl_array_num(GString *a, double value, int decimals) {
  sep(a);
  put_num(a, value, decimals);
}

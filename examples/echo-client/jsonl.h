/*
 * examples/echo-client — one-line JSON objects built on a GString.
 *
 * json-glib could do this, but the log lines need a fixed key order (t, ev
 * first) and compact numbers, which is simpler to write directly.
 */
#ifndef ECHO_CLIENT_JSONL_H
#define ECHO_CLIENT_JSONL_H

#include <glib.h>
#include <stdio.h>

/* A new object: "{". Add members, then jl_finish(). */
GString *jl_new(void);
/* @value NULL writes null. Invalid UTF-8 is repaired (U+FFFD). */
void jl_str(GString *s, const char *key, const char *value);
void jl_int(GString *s, const char *key, long long value);
void jl_uint(GString *s, const char *key, unsigned long long value);
/* A finite double with @decimals digits after the point (NaN/inf: null). */
void jl_num(GString *s, const char *key, double value, int decimals);
void jl_bool(GString *s, const char *key, int value);
void jl_null(GString *s, const char *key);
/* @json is already serialized (an object or array); it is consumed. */
void jl_raw(GString *s, const char *key, GString *json);
/* Closes the object and returns its text (g_free). */
char *jl_finish(GString *s);
/* Closes the object and writes it as one line to @f, flushed. */
void jl_print(GString *s, FILE *f);

/* Arrays of numbers: "[" ... "]". */
GString *jl_array_new(void);
void jl_array_num(GString *a, double value, int decimals);

#endif

/*
 * weft-glib.h — run a weft_context on a GMainContext the application owns.
 * pkg-config module: weft-glib (adds glib-2.0).
 */
#ifndef WEFT_GLIB_H
#define WEFT_GLIB_H

#include <glib.h>
#include <weft/weft.h>

G_BEGIN_DECLS

/** Creates a context whose engine and callbacks run wherever @main_context is
 *  iterated (usually the application's main thread); weft starts no thread.
 *  @main_context is referenced, never iterated by weft. Every GSource weft
 *  attached is removed once the last peer connection and the context are
 *  released, leaving @main_context as it was found. Calls made from a thread
 *  other than the one iterating @main_context wait until it is iterated.
 *  Returns a new reference or NULL (WEFT_ERR_INVALID_ARG). */
WEFT_API weft_context *weft_context_new_for_main_context(GMainContext *main_context);
/** The GMainContext the context runs on (transfer none). */
WEFT_API GMainContext *weft_context_get_main_context(weft_context *ctx);

G_END_DECLS
#endif

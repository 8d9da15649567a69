/*
 * examples/echo-client — the --media part (doc/interop.md, "echo-client"):
 * an audio (Opus) and a video (VP8) track, a paced test pattern and tone sent
 * once the connection is up, and whatever comes back decoded and counted.
 *
 * Runs on the thread of the default GMainContext (as the rest of
 * echo-client): its pacing timer and weft's callbacks both run there.
 */
#ifndef ECHO_CLIENT_MEDIA_H
#define ECHO_CLIENT_MEDIA_H

#include <weft/weft.h>

#include <glib.h>

typedef struct ec_media ec_media;

/* Called once when the media run is over: after --media-seconds of sending
 * and the tail, or at the first error. @error is NULL on success (enough
 * frames decoded, no decode error), else the reason (borrowed). */
typedef void (*ec_media_done_fn)(void *user_data, const char *error);

/** Adds the audio and video tracks to @pc (before the offer). @t0_us is the
 *  time origin of the stderr event lines. NULL on failure, with the reason in
 *  *@error (g_free). */
ec_media *ec_media_new(weft_pc *pc, gint64 t0_us, double seconds, long min_decoded,
                       ec_media_done_fn done, void *user_data, char **error);

/** The connection is up: start sending (idempotent). */
void ec_media_start(ec_media *m);

/** 1 once done has been called. */
int ec_media_finished(const ec_media *m);

/** A short description of the progress, for timeouts. */
void ec_media_describe(const ec_media *m, GString *out);

/** Appends the result's "media" member to @result (a jl_new() object). */
void ec_media_result(ec_media *m, GString *result);

/** Stops the timer and every callback; call before closing the pc. */
void ec_media_stop(ec_media *m);

void ec_media_free(ec_media *m);

#endif

/*
 * examples/common/media_codec — the encoders and decoders the examples use to
 * give weft real media: weft itself neither captures nor encodes (it sends and
 * delivers encoded frames), so echo-client and loopback bring libvpx (VP8) and
 * libopus here.
 *
 * What is sent is synthetic and recognisable: a moving test pattern (colour
 * bars, a box that moves with the frame index, a band of noise that changes
 * every frame, the frame index as a row of black and white blocks) and a
 * 440 Hz tone. The decoder reads the index back from the blocks, so a
 * receiver can tell that what it decoded is the picture that was sent, not
 * just any picture.
 *
 * Plain C, no GLib: the loopback example links it without GLib. Not thread
 * safe; each object belongs to one thread.
 */
#ifndef EXAMPLES_MEDIA_CODEC_H
#define EXAMPLES_MEDIA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  MC_VIDEO_WIDTH = 320,
  MC_VIDEO_HEIGHT = 240,
  MC_VIDEO_FPS = 30,
  MC_VIDEO_KBPS = 500,
  MC_AUDIO_RATE = 48000,
  MC_AUDIO_CHANNELS = 2,  /* opus/48000/2 in SDP; the tone is the same on both */
  MC_AUDIO_FRAME_MS = 20, /* 960 samples per channel */
  MC_AUDIO_TONE_HZ = 440,
  MC_VIDEO_RTP_CLOCK = 90000,
  MC_AUDIO_RTP_CLOCK = 48000
};

/* ---- VP8 encoder ------------------------------------------------------ */

typedef struct mc_video_enc mc_video_enc;

/** A realtime VP8 encoder for the test pattern (MC_VIDEO_* size, rate and
 *  bitrate). NULL on failure, with the reason in @err (static, may be NULL). */
mc_video_enc *mc_video_enc_new(const char **err);
void mc_video_enc_free(mc_video_enc *e);

/** Draws test pattern frame @index and encodes it; a keyframe when
 *  @force_key (or when the encoder decides to). On success *@data / *@size
 *  point into the encoder (valid until the next call) and *@is_key tells
 *  whether it is a keyframe; *@size may be 0 when the encoder dropped the
 *  frame (rate control). Returns 0, or -1 with the reason in @err. */
int mc_video_enc_encode(mc_video_enc *e, uint32_t index, int force_key, const uint8_t **data,
                        size_t *size, int *is_key, const char **err);

/* ---- VP8 decoder ------------------------------------------------------ */

typedef struct mc_video_dec mc_video_dec;

mc_video_dec *mc_video_dec_new(const char **err);
void mc_video_dec_free(mc_video_dec *d);

typedef struct mc_video_frame_info {
  int width, height;
  int pattern_index; /* the index read back from the pattern's blocks, -1 if unreadable */
} mc_video_frame_info;

/** Decodes one VP8 frame. Returns the number of pictures it produced (0 or
 *  1), or -1 for a decode error (reason in @err). @info (may be NULL)
 *  describes the last picture produced. */
int mc_video_dec_decode(mc_video_dec *d, const uint8_t *data, size_t size,
                        mc_video_frame_info *info, const char **err);

/* ---- Opus ----------------------------------------------------------------- */

typedef struct mc_audio_enc mc_audio_enc;

mc_audio_enc *mc_audio_enc_new(const char **err);
void mc_audio_enc_free(mc_audio_enc *e);

/** Encodes 20 ms of the tone (frame @index: the phase continues across
 *  frames). *@data / *@size as for video. Returns 0 or -1 (@err). */
int mc_audio_enc_encode(mc_audio_enc *e, uint32_t index, const uint8_t **data, size_t *size,
                        const char **err);

typedef struct mc_audio_dec mc_audio_dec;

mc_audio_dec *mc_audio_dec_new(const char **err);
void mc_audio_dec_free(mc_audio_dec *d);

/** Decodes one Opus packet: returns the samples per channel it produced, or
 *  -1 for a decode error (@err). @rms (may be NULL) gets the level of what
 *  was decoded, 0..1 (a full-scale sine is ~0.71, the test tone ~0.14). */
int mc_audio_dec_decode(mc_audio_dec *d, const uint8_t *data, size_t size, double *rms,
                        const char **err);

#ifdef __cplusplus
}
#endif
#endif /* EXAMPLES_MEDIA_CODEC_H */

/*
 * examples/common/media_codec — libvpx VP8 and libopus around a synthetic
 * test pattern and tone (see media_codec.h).
 */
#include "media_codec.h"

#include <opus.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ===== The test pattern ==================================================== */

/* The bottom band carries the frame index: COUNTER_BITS blocks, most
 * significant first, white for 1 and black for 0. The blocks are big (20x32
 * pixels) so that even a coarse VP8 picture keeps them far apart in luma. */
#define COUNTER_BITS 16
#define COUNTER_TOP 208
/* Above the counter, a band of noise that changes every frame: it costs
 * bits, so the encoder works at its target bitrate and frames span several
 * RTP packets, as real video does. */
#define NOISE_TOP 168
#define BLOCK_W (MC_VIDEO_WIDTH / COUNTER_BITS)
#define BOX 48
#define Y_WHITE 235
#define Y_BLACK 16

/* 75 % colour bars in BT.601 limited range: Y, U, V. */
static const uint8_t BARS[8][3] = {{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
                                   {84, 184, 198},  {65, 100, 212}, {35, 212, 114}, {16, 128, 128}};

static void set_px(vpx_image_t *img, int x, int y, uint8_t yv, uint8_t u, uint8_t v) {
  img->planes[VPX_PLANE_Y][y * img->stride[VPX_PLANE_Y] + x] = yv;
  if (!(x & 1) && !(y & 1)) {
    img->planes[VPX_PLANE_U][(y / 2) * img->stride[VPX_PLANE_U] + x / 2] = u;
    img->planes[VPX_PLANE_V][(y / 2) * img->stride[VPX_PLANE_V] + x / 2] = v;
  }
}

/* Cheap deterministic noise (an integer hash of position and frame). */
static uint8_t noise(int x, int y, uint32_t index) {
  uint32_t h = (uint32_t)x * 374761393u + (uint32_t)y * 668265263u + index * 2246822519u;
  h = (h ^ (h >> 13)) * 1274126177u;
  return (uint8_t)(16 + (h ^ (h >> 16)) % 220);
}

static void draw_pattern(vpx_image_t *img, uint32_t index) {
  const int w = MC_VIDEO_WIDTH, h = MC_VIDEO_HEIGHT;
  /* The box bounces around the bars area so that every frame differs (the
   * encoder has motion to code, the decoder a picture that changes). */
  int span_x = w - BOX, span_y = NOISE_TOP - BOX;
  int px = (int)((index * 4u) % (uint32_t)(2 * span_x));
  int py = (int)((index * 3u) % (uint32_t)(2 * span_y));
  int bx = px < span_x ? px : 2 * span_x - px;
  int by = py < span_y ? py : 2 * span_y - py;
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      if (y >= COUNTER_TOP) {
        int bit = (int)((index >> (COUNTER_BITS - 1 - x / BLOCK_W)) & 1u);
        set_px(img, x, y, bit ? Y_WHITE : Y_BLACK, 128, 128);
      } else if (y >= NOISE_TOP) {
        set_px(img, x, y, noise(x / 2, y / 2, index), 128, 128);
      } else if (x >= bx && x < bx + BOX && y >= by && y < by + BOX) {
        set_px(img, x, y, 235, 128, 128);
      } else {
        const uint8_t *c = BARS[x * 8 / w];
        set_px(img, x, y, c[0], c[1], c[2]);
      }
    }
  }
}

/* The index from a decoded picture: the mean luma of each block's centre. */
static int read_pattern(const vpx_image_t *img) {
  if ((int)img->d_w != MC_VIDEO_WIDTH || (int)img->d_h != MC_VIDEO_HEIGHT)
    return -1;
  int index = 0;
  for (int b = 0; b < COUNTER_BITS; b++) {
    unsigned sum = 0;
    int x0 = b * BLOCK_W + BLOCK_W / 2 - 4, y0 = COUNTER_TOP + 12;
    for (int y = y0; y < y0 + 8; y++)
      for (int x = x0; x < x0 + 8; x++)
        sum += img->planes[VPX_PLANE_Y][y * img->stride[VPX_PLANE_Y] + x];
    unsigned mean = sum / 64;
    if (mean > 90 && mean < 160)
      return -1; /* neither black nor white: not our pattern */
    index = (index << 1) | (mean >= 160);
  }
  return index;
}

/* The reason of a failure into *@err, when the caller asked for one. */
static void set_err(const char **err, const char *msg) {
  if (err)
    *err = msg;
}

/* ===== VP8 encoder ========================================================== */

struct mc_video_enc {
  vpx_codec_ctx_t codec;
  vpx_image_t *img;
  uint8_t *out;
  size_t out_cap;
};

mc_video_enc *mc_video_enc_new(const char **err) {
  mc_video_enc *e = calloc(1, sizeof *e);
  vpx_codec_enc_cfg_t cfg;
  if (!e) {
    set_err(err, "out of memory");
    return NULL;
  }
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
    set_err(err, "libvpx: no default VP8 encoder configuration");
    free(e);
    return NULL;
  }
  cfg.g_w = MC_VIDEO_WIDTH;
  cfg.g_h = MC_VIDEO_HEIGHT;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = MC_VIDEO_FPS;
  cfg.g_threads = 1;
  /* Realtime, as a call would: no look-ahead (each frame leaves at once),
   * constant bitrate, error resilient (a lost frame does not poison the
   * probabilities of the next ones). */
  cfg.g_lag_in_frames = 0;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_target_bitrate = MC_VIDEO_KBPS;
  cfg.rc_min_quantizer = 4;
  cfg.rc_max_quantizer = 56;
  cfg.rc_undershoot_pct = 100;
  cfg.rc_overshoot_pct = 15;
  cfg.rc_buf_sz = 1000;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  /* Keyframes on demand (the remote's PLI/FIR) and every 10 s regardless. */
  cfg.kf_mode = VPX_KF_AUTO;
  cfg.kf_min_dist = 0;
  cfg.kf_max_dist = 10 * MC_VIDEO_FPS;
  if (vpx_codec_enc_init(&e->codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
    set_err(err, "libvpx: cannot initialise the VP8 encoder");
    free(e);
    return NULL;
  }
  /* Fastest realtime speed: the examples encode on their main thread. */
  vpx_codec_control(&e->codec, VP8E_SET_CPUUSED, -12);
  vpx_codec_control(&e->codec, VP8E_SET_NOISE_SENSITIVITY, 0);
  vpx_codec_control(&e->codec, VP8E_SET_STATIC_THRESHOLD, 1);
  e->img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, MC_VIDEO_WIDTH, MC_VIDEO_HEIGHT, 16);
  if (!e->img) {
    set_err(err, "libvpx: cannot allocate a picture");
    mc_video_enc_free(e);
    return NULL;
  }
  return e;
}

void mc_video_enc_free(mc_video_enc *e) {
  if (!e)
    return;
  vpx_codec_destroy(&e->codec);
  vpx_img_free(e->img);
  free(e->out);
  free(e);
}

int mc_video_enc_encode(mc_video_enc *e, uint32_t index, int force_key, const uint8_t **data,
                        size_t *size, int *is_key, const char **err) {
  draw_pattern(e->img, index);
  vpx_enc_frame_flags_t flags = force_key ? VPX_EFLAG_FORCE_KF : 0;
  if (vpx_codec_encode(&e->codec, e->img, (vpx_codec_pts_t)index, 1, flags, VPX_DL_REALTIME) !=
      VPX_CODEC_OK) {
    set_err(err, vpx_codec_error(&e->codec));
    return -1;
  }
  /* Without lag one picture gives at most one frame packet; gather whatever
   * came anyway, so that nothing is lost if libvpx ever splits it. */
  size_t n = 0;
  int key = 0;
  vpx_codec_iter_t it = NULL;
  const vpx_codec_cx_pkt_t *pkt;
  while ((pkt = vpx_codec_get_cx_data(&e->codec, &it)) != NULL) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
      continue;
    size_t need = n + pkt->data.frame.sz;
    if (need > e->out_cap) {
      uint8_t *nb = realloc(e->out, need * 2);
      if (!nb) {
        set_err(err, "out of memory");
        return -1;
      }
      e->out = nb;
      e->out_cap = need * 2;
    }
    memcpy(e->out + n, pkt->data.frame.buf, pkt->data.frame.sz);
    n = need;
    key |= (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
  }
  *data = e->out;
  *size = n;
  *is_key = key;
  return 0;
}

/* ===== VP8 decoder ========================================================== */

struct mc_video_dec {
  vpx_codec_ctx_t codec;
};

mc_video_dec *mc_video_dec_new(const char **err) {
  mc_video_dec *d = calloc(1, sizeof *d);
  if (!d) {
    set_err(err, "out of memory");
    return NULL;
  }
  vpx_codec_dec_cfg_t cfg = {1, MC_VIDEO_WIDTH, MC_VIDEO_HEIGHT};
  if (vpx_codec_dec_init(&d->codec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
    set_err(err, "libvpx: cannot initialise the VP8 decoder");
    free(d);
    return NULL;
  }
  return d;
}

void mc_video_dec_free(mc_video_dec *d) {
  if (!d)
    return;
  vpx_codec_destroy(&d->codec);
  free(d);
}

int mc_video_dec_decode(mc_video_dec *d, const uint8_t *data, size_t size,
                        mc_video_frame_info *info, const char **err) {
  if (size > UINT32_MAX) {
    set_err(err, "frame too large");
    return -1;
  }
  if (vpx_codec_decode(&d->codec, data, (unsigned)size, NULL, 0) != VPX_CODEC_OK) {
    if (err) {
      const char *detail = vpx_codec_error_detail(&d->codec);
      *err = detail ? detail : vpx_codec_error(&d->codec);
    }
    return -1;
  }
  int n = 0;
  vpx_codec_iter_t it = NULL;
  vpx_image_t *img;
  while ((img = vpx_codec_get_frame(&d->codec, &it)) != NULL) {
    n++;
    if (info) {
      info->width = (int)img->d_w;
      info->height = (int)img->d_h;
      info->pattern_index = read_pattern(img);
    }
  }
  return n;
}

/* ===== Opus ================================================================= */

#define AUDIO_SAMPLES (MC_AUDIO_RATE / 1000 * MC_AUDIO_FRAME_MS)
#define MAX_OPUS_PACKET 1500
#define MAX_DECODED (MC_AUDIO_RATE * 120 / 1000) /* Opus's longest packet, 120 ms */

struct mc_audio_enc {
  OpusEncoder *enc;
  int16_t pcm[AUDIO_SAMPLES * MC_AUDIO_CHANNELS];
  uint8_t out[MAX_OPUS_PACKET];
};

mc_audio_enc *mc_audio_enc_new(const char **err) {
  mc_audio_enc *e = calloc(1, sizeof *e);
  int rc = OPUS_OK;
  if (!e) {
    set_err(err, "out of memory");
    return NULL;
  }
  e->enc = opus_encoder_create(MC_AUDIO_RATE, MC_AUDIO_CHANNELS, OPUS_APPLICATION_AUDIO, &rc);
  if (!e->enc || rc != OPUS_OK) {
    set_err(err, opus_strerror(rc));
    free(e);
    return NULL;
  }
  opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(64000));
  return e;
}

void mc_audio_enc_free(mc_audio_enc *e) {
  if (!e)
    return;
  opus_encoder_destroy(e->enc);
  free(e);
}

int mc_audio_enc_encode(mc_audio_enc *e, uint32_t index, const uint8_t **data, size_t *size,
                        const char **err) {
  /* 440 Hz has a whole number of periods per second, so the phase of sample
   * n only depends on n modulo the rate: no drift however long it runs. */
  uint64_t first = (uint64_t)index * AUDIO_SAMPLES;
  for (int i = 0; i < AUDIO_SAMPLES; i++) {
    uint64_t n = (first + (uint64_t)i) % MC_AUDIO_RATE;
    double s = 0.2 * sin(2.0 * M_PI * MC_AUDIO_TONE_HZ * (double)n / MC_AUDIO_RATE);
    int16_t v = (int16_t)lrint(s * 32767.0);
    for (int c = 0; c < MC_AUDIO_CHANNELS; c++)
      e->pcm[i * MC_AUDIO_CHANNELS + c] = v;
  }
  opus_int32 n = opus_encode(e->enc, e->pcm, AUDIO_SAMPLES, e->out, MAX_OPUS_PACKET);
  if (n < 0) {
    set_err(err, opus_strerror((int)n));
    return -1;
  }
  *data = e->out;
  *size = (size_t)n;
  return 0;
}

struct mc_audio_dec {
  OpusDecoder *dec;
  int16_t pcm[MAX_DECODED * MC_AUDIO_CHANNELS];
};

mc_audio_dec *mc_audio_dec_new(const char **err) {
  mc_audio_dec *d = calloc(1, sizeof *d);
  int rc = OPUS_OK;
  if (!d) {
    set_err(err, "out of memory");
    return NULL;
  }
  d->dec = opus_decoder_create(MC_AUDIO_RATE, MC_AUDIO_CHANNELS, &rc);
  if (!d->dec || rc != OPUS_OK) {
    set_err(err, opus_strerror(rc));
    free(d);
    return NULL;
  }
  return d;
}

void mc_audio_dec_free(mc_audio_dec *d) {
  if (!d)
    return;
  opus_decoder_destroy(d->dec);
  free(d);
}

int mc_audio_dec_decode(mc_audio_dec *d, const uint8_t *data, size_t size, double *rms,
                        const char **err) {
  if (size > INT32_MAX) {
    set_err(err, "packet too large");
    return -1;
  }
  int n = opus_decode(d->dec, data, (opus_int32)size, d->pcm, MAX_DECODED, 0);
  if (n < 0) {
    set_err(err, opus_strerror(n));
    return -1;
  }
  if (rms) {
    double sum = 0;
    for (int i = 0; i < n * MC_AUDIO_CHANNELS; i++)
      sum += (double)d->pcm[i] * (double)d->pcm[i];
    *rms = n ? sqrt(sum / (double)(n * MC_AUDIO_CHANNELS)) / 32768.0 : 0;
  }
  return n;
}

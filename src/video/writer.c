// Video writer of gesture/video.h: RGB24 frames encoded with libavcodec and muxed by libavformat
// into "<path>.tmp", renamed to path on close. Encoders and pixel formats per extension:
//   .mp4 .mkv  libx264 crf 18, yuv420p (yuv444p when a side is odd: 4:2:0 needs even sides)
//   .mkv + lossless  FFV1 in bgr0: decodes back to the exact RGB
//   .avi  MJPEG (yuvj420p, q 3)     .webm  libvpx-vp9 crf 30 (yuv420p)     .gif  GIF (rgb8 palette)
// Encoders run single-threaded and bit-exact, so a file is a function of its frames.
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "video_internal.h"

struct gs_video_writer {
    char *path, *tmp;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *frame;  // in the encoder's pixel format
    uint8_t *staged;  // the caller's RGB rows at an aligned line size with padding: swscale's SIMD
    int staged_ls;    // reads past the end of a row, so it never reads the caller's buffer
    AVPacket *pkt;
    int width, height;
    int64_t next_pts;
    int header_written;
};

typedef struct {
    const char *codec;
    enum AVPixelFormat pix;
} enc_choice;

static int pick_encoder(enc_choice *e, const char *path, int w, int h, int lossless) {
    const char *dot = strrchr(path, '.');
    const char *ext = dot && !strchr(dot, '/') ? dot + 1 : "";
    int mkv = !strcasecmp(ext, "mkv");
    if (lossless && !mkv) return gs_error("%s: lossless video needs .mkv (FFV1)", path);
    if (mkv && lossless) *e = (enc_choice){"ffv1", AV_PIX_FMT_BGR0};
    else if (mkv || !strcasecmp(ext, "mp4"))
        *e = (enc_choice){"libx264", (w % 2 || h % 2) ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P};
    else if (!strcasecmp(ext, "avi")) *e = (enc_choice){"mjpeg", AV_PIX_FMT_YUVJ420P};
    else if (!strcasecmp(ext, "webm")) *e = (enc_choice){"libvpx-vp9", AV_PIX_FMT_YUV420P};
    else if (!strcasecmp(ext, "gif")) *e = (enc_choice){"gif", AV_PIX_FMT_RGB8};
    else return gs_error("%s: unknown video extension '.%s' (mp4, mkv, avi, webm or gif)", path, ext);
    return 0;
}

// Encoder settings of each codec (see the top of the file).
static void configure_encoder(AVCodecContext *c, const char *codec) {
    c->thread_count = 1;
    c->flags |= AV_CODEC_FLAG_BITEXACT;
    c->colorspace = AVCOL_SPC_SMPTE170M;  // what swscale's default (BT.601) matrix wrote
    c->color_range = AVCOL_RANGE_MPEG;
    if (!strcmp(codec, "libx264")) {
        av_opt_set(c->priv_data, "crf", "18", 0);
        av_opt_set(c->priv_data, "preset", "fast", 0);
    } else if (!strcmp(codec, "libvpx-vp9")) {
        c->bit_rate = 0;
        av_opt_set(c->priv_data, "crf", "30", 0);
        av_opt_set(c->priv_data, "deadline", "good", 0);
        av_opt_set(c->priv_data, "cpu-used", "4", 0);
    } else if (!strcmp(codec, "mjpeg")) {
        c->color_range = AVCOL_RANGE_JPEG;
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 3;
    } else if (!strcmp(codec, "ffv1")) {
        c->colorspace = AVCOL_SPC_RGB;
        c->color_range = AVCOL_RANGE_UNSPECIFIED;
        c->gop_size = 1;
        c->level = 3;  // version 3: per-slice CRCs, so damage is detected on decoding
        av_opt_set(c->priv_data, "slicecrc", "1", 0);
    } else {
        c->colorspace = AVCOL_SPC_UNSPECIFIED;
        c->color_range = AVCOL_RANGE_UNSPECIFIED;
    }
}

static int av_fail(gs_video_writer *w, const char *what, int err) {
    char d[512];
    return gs_error("%s: %s: %s", w->path, what, av_describe(d, sizeof d, err));
}

static int open_encoder(gs_video_writer *w, const enc_choice *e, double fps) {
    const AVCodec *codec = avcodec_find_encoder_by_name(e->codec);
    if (!codec) return gs_error("%s: this FFmpeg has no %s encoder", w->path, e->codec);
    w->st = avformat_new_stream(w->oc, NULL);
    w->enc = avcodec_alloc_context3(codec);
    GS_ASSERT(w->st && w->enc);
    AVRational rate = av_d2q(fps, 100000);
    w->enc->width = w->width;
    w->enc->height = w->height;
    w->enc->pix_fmt = e->pix;
    w->enc->framerate = rate;
    w->enc->time_base = av_inv_q(rate);
    configure_encoder(w->enc, e->codec);
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int rc = avcodec_open2(w->enc, codec, NULL);
    if (rc < 0) return av_fail(w, "cannot open the encoder", rc);
    if ((rc = avcodec_parameters_from_context(w->st->codecpar, w->enc)) < 0) return av_fail(w, "encoder parameters", rc);
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    GS_ASSERT(w->frame && w->pkt);
    w->frame->format = e->pix;
    w->frame->width = w->width;
    w->frame->height = w->height;
    if ((rc = av_frame_get_buffer(w->frame, 0)) < 0) return av_fail(w, "frame buffer", rc);
    w->sws = sws_getContext(w->width, w->height, AV_PIX_FMT_RGB24, w->width, w->height, e->pix,
                            SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
    if (!w->sws) return gs_error("%s: cannot convert RGB to %s", w->path, av_get_pix_fmt_name(e->pix));
    w->staged_ls = (w->width * 3 + 63) & ~63;
    w->staged = av_mallocz((size_t)w->staged_ls * (w->height + 1) + 64);
    GS_ASSERT(w->staged);
    return 0;
}

static void writer_free(gs_video_writer *w, int remove_tmp) {
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    if (remove_tmp && w->tmp) unlink(w->tmp);
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    sws_freeContext(w->sws);
    av_free(w->staged);
    free(w->path);
    free(w->tmp);
    free(w);
}

int video_writer_open(gs_video_writer **out, const char *path, int width, int height, double fps, int lossless) {
    *out = NULL;
    av_log_capture();
    av_clear_message();
    if (width < 1 || height < 1 || width > 16384 || height > 16384 || !(fps > 0 && fps <= 1000))
        return gs_error("%s: bad video size %dx%d or rate %g", path, width, height, fps);
    enc_choice e = {0};
    if (pick_encoder(&e, path, width, height, lossless) != 0) return -1;
    gs_video_writer *w = gs_calloc(1, sizeof *w);
    w->path = strdup(path);
    w->tmp = gs_malloc(strlen(path) + 5);
    sprintf(w->tmp, "%s.tmp", path);
    w->width = width;
    w->height = height;
    const AVOutputFormat *ofmt = av_guess_format(NULL, path, NULL);  // from the real name, not .tmp
    int rc = ofmt ? avformat_alloc_output_context2(&w->oc, ofmt, NULL, w->tmp) : AVERROR_MUXER_NOT_FOUND;
    if (rc < 0 || !w->oc) {
        av_fail(w, "no muxer", rc < 0 ? rc : AVERROR_MUXER_NOT_FOUND);
        writer_free(w, 0);
        return -1;
    }
    w->oc->flags |= AVFMT_FLAG_BITEXACT;
    if (open_encoder(w, &e, fps) != 0 || (rc = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE)) < 0 ||
        (rc = avformat_write_header(w->oc, NULL)) < 0) {
        if (rc < 0) av_fail(w, "cannot write", rc);
        writer_free(w, 1);
        return -1;
    }
    w->header_written = 1;
    *out = w;
    return 0;
}

// Send a frame (NULL: the end) and write every packet the encoder has ready.
static int encode(gs_video_writer *w, AVFrame *fr) {
    int rc = avcodec_send_frame(w->enc, fr);
    if (rc < 0) return av_fail(w, "encoding failed", rc);
    for (;;) {
        rc = avcodec_receive_packet(w->enc, w->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0) return av_fail(w, "encoding failed", rc);
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        rc = av_interleaved_write_frame(w->oc, w->pkt);  // takes the packet's data
        if (rc < 0) return av_fail(w, "write error", rc);
    }
}

int video_writer_write(gs_video_writer *w, const uint8_t *rgb) {
    int rc = av_frame_make_writable(w->frame);
    if (rc < 0) return av_fail(w, "frame buffer", rc);
    for (int y = 0; y < w->height; y++)
        memcpy(w->staged + (size_t)y * w->staged_ls, rgb + (size_t)y * w->width * 3, (size_t)w->width * 3);
    const uint8_t *src[4] = {w->staged, NULL, NULL, NULL};
    int src_ls[4] = {w->staged_ls, 0, 0, 0};
    sws_scale(w->sws, src, src_ls, 0, w->height, w->frame->data, w->frame->linesize);
    w->frame->pts = w->next_pts++;
    return encode(w, w->frame);
}

int video_writer_close(gs_video_writer *w) {
    int rc = encode(w, NULL);
    if (rc == 0 && (rc = av_write_trailer(w->oc)) < 0) rc = av_fail(w, "cannot finish the file", rc);
    if (rc == 0 && (rc = avio_closep(&w->oc->pb)) < 0) rc = av_fail(w, "write error", rc);
    if (rc == 0 && rename(w->tmp, w->path) != 0) rc = gs_error("%s: cannot rename %s: %s", w->path, w->tmp, strerror(errno));
    writer_free(w, rc != 0);
    return rc;
}

void video_writer_abort(gs_video_writer *w) {
    if (w) writer_free(w, 1);
}

// Video files and V4L2 cameras through libavformat + libavcodec, converted to packed RGB24 with
// libswscale at the frame's own size. Decoding is strict: corrupt or truncated data is an error
// naming the frame, never concealed (err_recognition explode, corrupt packets and frames refused).
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gesture/errors.h"
#include "video_internal.h"

// A camera that delivers nothing for this long is lost (the first frame may take longer: devices
// need a moment to start streaming).
static const double CAMERA_TIMEOUT_S = 5.0, CAMERA_START_S = 15.0;

struct av_reader {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    uint8_t *tmp;           // swscale output with an aligned line size
    int tmp_linesize;
    size_t tmp_cap;
    int stream;
    AVRational tb;
    int64_t pts0;           // first frame's timestamp (AV_NOPTS_VALUE until seen)
    int draining;           // the end of the input was sent to the decoder
    int sws_space, sws_range;  // colour details applied to sws (-1: none yet)
    double last_frame_at;   // camera: monotonic time of the last frame
    char demux_note[256];   // the first demuxer warning while reading: the end was not clean
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Time the next frame would have: where an error is reported.
static double next_time(const gs_source *s) {
    return s->index == 0 ? 0.0 : s->t_prev + (s->fps > 0 ? 1.0 / s->fps : 0.0);
}

static int frame_error(const gs_source *s, const char *what, int err) {
    char d[512];
    if (s->kind == GS_SOURCE_CAMERA)
        return gs_error("%s: camera lost at frame %ld (%.3f s): %s", s->name, s->index, next_time(s), av_describe(d, sizeof d, err));
    return gs_error("%s: %s at frame %ld (%.3f s): %s", s->name, what, s->index, next_time(s), av_describe(d, sizeof d, err));
}

static int open_error(const gs_source *s, int err) {
    char d[512];
    av_describe(d, sizeof d, err);
    if (s->kind == GS_SOURCE_CAMERA) return gs_error("%s: cannot open the camera: %s", s->name, d);
    if (err == AVERROR_INVALIDDATA) return gs_error("%s: not a video file, or a damaged one: %s", s->name, d);
    return gs_error("%s: cannot open: %s", s->name, d);
}

// Camera input format and options; the device must exist (a clearer message than V4L2's).
static int camera_setup(const gs_source *s, const gs_source_args *a, const char **url, const AVInputFormat **ifmt,
                        AVDictionary **opts) {
    if (!strncmp(*url, "v4l2:", 5)) *url += 5;
    struct stat st;
    if (stat(*url, &st) != 0) return gs_error("%s: no such camera (%s)", s->name, strerror(errno));
    avdevice_register_all();
    *ifmt = av_find_input_format("video4linux2");
    if (!*ifmt) return gs_error("%s: this FFmpeg has no video4linux2 input (libavdevice)", s->name);
    char v[64];
    if (a->width > 0 && a->height > 0) {
        snprintf(v, sizeof v, "%dx%d", a->width, a->height);
        av_dict_set(opts, "video_size", v, 0);
    }
    if (a->fps > 0) {
        snprintf(v, sizeof v, "%g", a->fps);
        av_dict_set(opts, "framerate", v, 0);
    }
    return 0;
}

// The best video stream and its decoder (single-threaded: callers run sources on their own thread).
static int open_decoder(gs_source *s, av_reader *r) {
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) return gs_error("%s: no video stream", s->name);
    if (idx < 0 || !codec) {
        for (unsigned i = 0; i < r->fmt->nb_streams; i++) {
            const AVCodecParameters *p = r->fmt->streams[i]->codecpar;
            if (p->codec_type != AVMEDIA_TYPE_VIDEO) continue;
            char tag[AV_FOURCC_MAX_STRING_SIZE] = "";
            if (p->codec_tag) av_fourcc_make_string(tag, p->codec_tag);
            return gs_error("%s: no decoder for codec %s%s%s%s", s->name, avcodec_get_name(p->codec_id),
                            tag[0] ? " (tag " : "", tag, tag[0] ? ")" : "");
        }
        return gs_error("%s: no decodable video stream", s->name);
    }
    AVStream *st = r->fmt->streams[idx];
    r->stream = idx;
    r->tb = st->time_base;
    r->dec = avcodec_alloc_context3(codec);
    GS_ASSERT(r->dec);
    int rc = avcodec_parameters_to_context(r->dec, st->codecpar);
    if (rc < 0) return frame_error(s, "cannot set up the decoder", rc);
    r->dec->thread_count = 1;
    r->dec->pkt_timebase = st->time_base;
    r->dec->err_recognition = AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE;
    r->dec->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;  // corrupt frames come out flagged, not silently dropped
    if ((rc = avcodec_open2(r->dec, codec, NULL)) < 0) {
        char d[512];
        return gs_error("%s: cannot open the %s decoder: %s", s->name, codec->name, av_describe(d, sizeof d, rc));
    }
    AVRational fr = av_guess_frame_rate(r->fmt, st, NULL);
    if (fr.num > 0 && fr.den > 0) s->fps = av_q2d(fr);
    return 0;
}

int av_reader_open(gs_source *s, const gs_source_args *a) {
    av_log_capture();
    av_clear_message();
    av_reader *r = gs_calloc(1, sizeof *r);
    s->av = r;
    r->stream = -1;
    r->pts0 = AV_NOPTS_VALUE;
    r->sws_space = r->sws_range = -1;
    const char *url = s->name;
    const AVInputFormat *ifmt = NULL;
    AVDictionary *opts = NULL;
    if (s->kind == GS_SOURCE_CAMERA) {
        s->live = 1;
        if (camera_setup(s, a, &url, &ifmt, &opts) != 0) {
            av_dict_free(&opts);
            return -1;
        }
    }
    r->fmt = avformat_alloc_context();
    GS_ASSERT(r->fmt);
    r->fmt->error_recognition = AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE;
    if (s->kind == GS_SOURCE_CAMERA) r->fmt->flags |= AVFMT_FLAG_NONBLOCK;  // lets read notice a silent camera
    int rc = avformat_open_input(&r->fmt, url, ifmt, &opts);  // frees fmt on failure
    av_dict_free(&opts);
    if (rc < 0) return open_error(s, rc);
    if ((rc = avformat_find_stream_info(r->fmt, NULL)) < 0) return open_error(s, rc);
    if (open_decoder(s, r) != 0) return -1;
    if (s->fps <= 0 && a->fps > 0 && s->kind == GS_SOURCE_CAMERA) s->fps = a->fps;
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    GS_ASSERT(r->pkt && r->frame);
    r->last_frame_at = now_s();
    return 0;
}

void av_reader_close(av_reader *r) {
    if (!r) return;
    sws_freeContext(r->sws);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    av_free(r->tmp);
    free(r);
}

// A camera read that found no frame yet (non-blocking input): wait a little, unless the camera has
// been silent too long.
static int camera_wait(gs_source *s) {
    av_reader *r = s->av;
    double limit = s->index == 0 ? CAMERA_START_S : CAMERA_TIMEOUT_S;
    if (now_s() - r->last_frame_at > limit)
        return gs_error("%s: camera lost at frame %ld (%.3f s): no frame for %.0f s", s->name, s->index, next_time(s), limit);
    usleep(2000);
    return 0;
}

// Feed the decoder the next packet of the video stream (or the end of the input).
static int feed_decoder(gs_source *s) {
    av_reader *r = s->av;
    for (;;) {
        int rc = av_read_frame(r->fmt, r->pkt);
        if (rc == AVERROR(EAGAIN) && s->kind == GS_SOURCE_CAMERA) {
            if (camera_wait(s) != 0) return -1;
            continue;
        }
        if (rc == AVERROR_EOF && s->kind == GS_SOURCE_FILE) {
            r->draining = 1;
            avcodec_send_packet(r->dec, NULL);
            return 0;
        }
        if (rc < 0) return frame_error(s, "read error (truncated or damaged file)", rc);
        if (r->pkt->stream_index != r->stream) {
            av_packet_unref(r->pkt);
            continue;
        }
        int corrupt = r->pkt->flags & AV_PKT_FLAG_CORRUPT;
        rc = corrupt ? 0 : avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (corrupt) return gs_error("%s: corrupt or truncated data at frame %ld (%.3f s)", s->name, s->index, next_time(s));
        if (rc < 0 && rc != AVERROR(EAGAIN)) return frame_error(s, "corrupt data", rc);
        return 0;
    }
}

// Colour matrix and range of the frame for YUV sources (RGB sources need none).
static void apply_colour(av_reader *r, const AVFrame *fr) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fr->format);
    if (!d || (d->flags & AV_PIX_FMT_FLAG_RGB) || d->nb_components < 3) return;
    int jpeg = fr->color_range == AVCOL_RANGE_JPEG || fr->format == AV_PIX_FMT_YUVJ420P ||
               fr->format == AV_PIX_FMT_YUVJ422P || fr->format == AV_PIX_FMT_YUVJ444P ||
               fr->format == AV_PIX_FMT_YUVJ440P || fr->format == AV_PIX_FMT_YUVJ411P;
    int space = fr->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)fr->colorspace;
    if (space == r->sws_space && jpeg == r->sws_range) return;
    int *inv, *tab, src_range, dst_range, bri, con, sat;
    if (sws_getColorspaceDetails(r->sws, &inv, &src_range, &tab, &dst_range, &bri, &con, &sat) < 0) return;
    sws_setColorspaceDetails(r->sws, sws_getCoefficients(space), jpeg, tab, dst_range, bri, con, sat);
    r->sws_space = space;
    r->sws_range = jpeg;
}

// Convert the decoded frame to packed RGB24 in s->rgb and stamp its time.
static int deliver(gs_source *s, gs_frame *f) {
    av_reader *r = s->av;
    AVFrame *fr = r->frame;
    const char *logged = av_watch_message(1);
    if (fr->decode_error_flags || (fr->flags & AV_FRAME_FLAG_CORRUPT) || logged[0]) {
        av_frame_unref(fr);
        return gs_error("%s: corrupt data at frame %ld (%.3f s)%s%s", s->name, s->index, next_time(s),
                        logged[0] ? ": " : "", logged);
    }
    int w = fr->width, h = fr->height;
    struct SwsContext *prev = r->sws;
    r->sws = sws_getCachedContext(r->sws, w, h, fr->format, w, h, AV_PIX_FMT_RGB24,
                                  SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
    if (!r->sws) {
        av_frame_unref(fr);
        return gs_error("%s: frame %ld: cannot convert %s %dx%d to RGB", s->name, s->index,
                        av_get_pix_fmt_name(fr->format) ? av_get_pix_fmt_name(fr->format) : "?", w, h);
    }
    if (r->sws != prev) r->sws_space = r->sws_range = -1;
    apply_colour(r, fr);
    int ls = (w * 3 + 63) & ~63;
    if ((size_t)ls * h > r->tmp_cap) {
        av_free(r->tmp);
        r->tmp_cap = (size_t)ls * h;
        r->tmp = av_malloc(r->tmp_cap);
        GS_ASSERT(r->tmp);
    }
    uint8_t *dst[4] = {r->tmp, NULL, NULL, NULL};
    int dst_ls[4] = {ls, 0, 0, 0};
    sws_scale(r->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, h, dst, dst_ls);
    source_reserve(s, (size_t)w * h * 3);
    for (int y = 0; y < h; y++) memcpy(s->rgb + (size_t)y * w * 3, r->tmp + (size_t)y * ls, (size_t)w * 3);
    // Times from the stream's clock, relative to the first frame; a frame without a timestamp (or
    // one going backwards) is placed one nominal interval after the previous one.
    int64_t ts = fr->best_effort_timestamp;
    double step = s->fps > 0 ? 1.0 / s->fps : 1e-3, t;
    if (ts != AV_NOPTS_VALUE && r->pts0 == AV_NOPTS_VALUE) r->pts0 = ts;
    if (ts == AV_NOPTS_VALUE) t = next_time(s);
    else t = (double)(ts - r->pts0) * av_q2d(r->tb);
    if (s->index > 0 && !(t > s->t_prev)) t = s->t_prev + step;
    if (s->index == 0) t = 0;
    av_frame_unref(fr);
    f->rgb = s->rgb;
    f->w = w;
    f->h = h;
    f->t = t;
    r->last_frame_at = now_s();
    return 1;
}

// The end of a file: clean, or truncated / damaged when the demuxer complained while reading.
static int end_of_file(const gs_source *s) {
    const av_reader *r = s->av;
    if (!r->demux_note[0]) return 0;
    return gs_error("%s: truncated or damaged file after frame %ld (%.3f s): %s", s->name, s->index - 1, s->t_prev,
                    r->demux_note);
}

int av_reader_read(gs_source *s, gs_frame *f) {
    av_reader *r = s->av;
    av_clear_message();
    av_log_watch(r->fmt, r->dec);  // here, not at open: the reading thread may be another one
    for (;;) {
        int rc = avcodec_receive_frame(r->dec, r->frame);
        if (rc == 0) return deliver(s, f);
        if (rc == AVERROR_EOF) return end_of_file(s);
        if (rc != AVERROR(EAGAIN)) return frame_error(s, "corrupt data", rc);
        if (r->draining) return end_of_file(s);
        if (feed_decoder(s) != 0) return -1;
        if (!r->demux_note[0] && av_watch_message(0)[0])
            snprintf(r->demux_note, sizeof r->demux_note, "%s", av_watch_message(0));
    }
}

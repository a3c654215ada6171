// The annotated video of `gesture stream --annotate` (gesture/annotate.h).
#include "gesture/annotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/draw.h"
#include "gesture/errors.h"
#include "gesture/image.h"

int annotate_open(gs_annotator *a, const char *path, int width, int height, double fps, char *const *classes, int K) {
    memset(a, 0, sizeof *a);
    // encoders with 4:2:0 chroma want even sides
    a->width = width & ~1;
    a->height = height & ~1;
    if (a->width < 2 || a->height < 2) return gs_error("%s: frames of %dx%d are too small to annotate", path, width, height);
    if (video_writer_open(&a->w, path, a->width, a->height, fps, 0) != 0) return -1;
    a->frame = gs_malloc((size_t)a->width * a->height * 3);
    a->classes = classes;
    a->K = K;
    a->probs = gs_calloc((size_t)K, sizeof(float));
    a->last.label = -1;
    return 0;
}

static const uint32_t BAR = 0x3cb44b, BAR_TOP = 0xffd400, TEXT = 0xffffff, SHADE = 0x202020;

// One row per class at the bottom left: name, then a bar as long as its probability.
static void draw_bars(gs_annotator *a, gs_canvas *c, int scale) {
    int row = 9 * scale, name_w = 0;
    for (int k = 0; k < a->K; k++) {
        int tw = canvas_text_width(a->classes[k], scale);
        if (tw > name_w) name_w = tw;
    }
    int bar_max = c->w / 3, x0 = 4 * scale, y0 = c->h - a->K * row - 4 * scale;
    int best = 0;
    for (int k = 1; k < a->K; k++)
        if (a->probs[k] > a->probs[best]) best = k;
    canvas_fill(c, 0, y0 - 2 * scale, x0 + name_w + 4 * scale + bar_max + 4 * scale, a->K * row + 6 * scale, SHADE);
    for (int k = 0; k < a->K; k++) {
        int y = y0 + k * row;
        canvas_text(c, x0, y, scale, TEXT, a->classes[k]);
        int len = (int)(a->probs[k] * (float)bar_max + 0.5f);
        canvas_fill(c, x0 + name_w + 4 * scale, y, len, 7 * scale, k == best ? BAR_TOP : BAR);
    }
}

int annotate_frame(gs_annotator *a, const uint8_t *rgb, int w, int h, const float *probs) {
    if (w == a->width && h == a->height) memcpy(a->frame, rgb, (size_t)w * h * 3);
    else image_resize_rgb8_u8(a->frame, rgb, w, h, a->width, a->height);
    gs_canvas c = {a->width, a->height, a->frame};
    int scale = a->height >= 360 ? 2 : 1;
    if (probs) {
        memcpy(a->probs, probs, (size_t)a->K * sizeof(float));
        a->have_probs = 1;
    }
    char line[160];
    if (a->have_probs) {
        int best = 0;
        for (int k = 1; k < a->K; k++)
            if (a->probs[k] > a->probs[best]) best = k;
        snprintf(line, sizeof line, "%s %.2f", a->classes[best], (double)a->probs[best]);
        draw_bars(a, &c, scale);
    } else {
        snprintf(line, sizeof line, "filling the window...");
    }
    canvas_fill(&c, 0, 0, canvas_text_width(line, scale) + 8 * scale, 11 * scale, SHADE);
    canvas_text(&c, 4 * scale, 2 * scale, scale, TEXT, line);
    if (a->last.label >= 0) {
        snprintf(line, sizeof line, "EVENT %s %.2f at %.1fs", a->classes[a->last.label], (double)a->last.prob,
                 a->last.fired);
        int tw = canvas_text_width(line, scale);
        canvas_fill(&c, a->width - tw - 8 * scale, 0, tw + 8 * scale, 11 * scale, 0xb00020);
        canvas_text(&c, a->width - tw - 4 * scale, 2 * scale, scale, TEXT, line);
    }
    return video_writer_write(a->w, a->frame);
}

void annotate_event(gs_annotator *a, const gs_event *ev) { a->last = *ev; }

static void release(gs_annotator *a) {
    free(a->frame);
    free(a->probs);
    memset(a, 0, sizeof *a);
}

int annotate_close(gs_annotator *a) {
    int rc = video_writer_close(a->w);
    release(a);
    return rc;
}

void annotate_abort(gs_annotator *a) {
    if (a->w) video_writer_abort(a->w);
    release(a);
}

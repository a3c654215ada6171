// The synthetic gesture renderer: deterministic from the seed, and the gestures move as specified —
// the hand (found as the pixels that differ from the clip's empty scene) travels right → left in
// Left_Swipe, left → right in Right_Swipe, and stays put (small wobble) in the other classes.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/data/synth_internal.h"
#include "gesture/errors.h"
#include "gesture/synth.h"
#include "testutil.h"

// Centroid x (fraction of the width) of pixels far from the background, or -1 if none.
static double hand_x(const uint8_t *rgb, const float *bg, int w, int h, float gain) {
    double sx = 0, n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            const float *b = bg + ((size_t)y * w + x) * 3;
            double d = fabs(p[0] - b[0] * gain) + fabs(p[1] - b[1] * gain) + fabs(p[2] - b[2] * gain);
            if (d > 90) sx += x, n++;
        }
    return n > 20 ? sx / n / w : -1;
}

int main(void) {
    int w = 160, h = 120, frames = 30;
    uint8_t *a = gs_malloc((size_t)w * h * 3), *b = gs_malloc((size_t)w * h * 3);
    synth_render_frame(a, w, h, 2, 5, 7, frames, 99);
    synth_render_frame(b, w, h, 2, 5, 7, frames, 99);
    check(!memcmp(a, b, (size_t)w * h * 3), "same (seed, class, clip, frame): identical pixels");
    synth_render_frame(b, w, h, 2, 5, 7, frames, 100);
    check(memcmp(a, b, (size_t)w * h * 3) != 0, "another seed: another clip");

    float *bg = gs_malloc(sizeof(float) * (size_t)w * h * 3);
    for (int label = 0; label < GS_SYNTH_CLASSES; label++) {
        int ok = 1;
        double worst = label <= 1 ? 1 : 0;
        for (int clip = 0; clip < 6; clip++) {
            synth_clip c;
            synth_clip_init(&c, label, clip, 7, w, h);
            synth_render_background(bg, &c);
            synth_render_frame_from(a, bg, &c, 0, frames);
            double x0 = hand_x(a, bg, w, h, c.gain);
            synth_render_frame_from(a, bg, &c, frames - 1, frames);
            double x1 = hand_x(a, bg, w, h, c.gain);
            double dx = x1 - x0;
            if (x0 < 0 || x1 < 0) ok = 0;
            else if (label == 0) ok &= dx < -0.25, worst = fmin(worst, -dx);
            else if (label == 1) ok &= dx > 0.25, worst = fmin(worst, dx);
            else ok &= fabs(dx) < 0.15, worst = fmax(worst, fabs(dx));
        }
        check(ok, "%s: hand moves as specified (worst |dx| %.2f of the width)", GS_SYNTH_CLASS_NAMES[label], worst);
    }
    free(bg);
    free(a);
    free(b);
    return test_finish();
}

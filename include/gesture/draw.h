// Minimal raster drawing: an RGB8 canvas, filled rectangles, a 5x7 bitmap font, and the bar chart
// `gesture prepare` writes; `gesture stream --annotate` draws its overlay with the same canvas.
// Saved with libpng, so no Python or plotting library is needed.
#ifndef GESTURE_DATA_DRAW_H
#define GESTURE_DATA_DRAW_H

#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *px;  // (h,w,3)
} gs_canvas;

void canvas_init(gs_canvas *c, int w, int h, uint32_t rgb);
void canvas_free(gs_canvas *c);
// Colours are 0xRRGGBB. Rectangles are clipped to the canvas.
void canvas_fill(gs_canvas *c, int x, int y, int w, int h, uint32_t rgb);
// ASCII text, top-left at (x,y), each font pixel drawn as scale x scale. Width: 6*scale per char.
void canvas_text(gs_canvas *c, int x, int y, int scale, uint32_t rgb, const char *s);
int canvas_text_width(const char *s, int scale);
// Copy an RGB8 image (h,w,3) to (x,y), clipped.
void canvas_blit(gs_canvas *c, int x, int y, const uint8_t *img, int w, int h);

// Grouped bar chart: one group per class, one bar per series (split), value labels, legend.
// counts: (n_groups, n_series).
int draw_bar_chart(const char *path, const char *title, int n_groups, char *const *groups, int n_series,
                   const char *const *series, const int *counts);

#endif

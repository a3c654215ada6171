// PNG decode/encode with libpng (see gesture/png.h). libpng reports fatal problems by longjmp'ing
// out of its own code; every entry point here owns the setjmp, frees what it allocated and turns
// the message into a gs_error that names the file, so no caller ever sees a jump or a partial frame.
#include "gesture/png.h"

#include <errno.h>
#include <png.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gesture/errors.h"

// Per-call state reachable from libpng's callbacks. Everything that must survive the longjmp lives
// here (in memory, not registers), so no `volatile` juggling is needed.
typedef struct {
    FILE *f;
    const char *path;
    png_bytep *rows;
    char msg[200];   // libpng's error text
    char warn[200];  // last warning: libpng explains bad IHDR fields only in warnings
    int eof;         // the error came from our read callback running off the end
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    // Warnings are benign for the pixels (bad ancillary chunks, sRGB profile notes); keep the
    // last one only to explain a following "Invalid IHDR data" error.
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->warn, sizeof c->warn, "%s", msg);
}

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (fread(out, 1, n, c->f) != n) {
        c->eof = 1;
        png_error(png, ferror(c->f) ? "read error" : "unexpected end of file");
    }
}

// Compose the message for a libpng failure: truncation, IHDR details, or libpng's own words.
static int ctx_fail(const png_ctx *c) {
    if (c->eof && !strcmp(c->msg, "unexpected end of file"))
        return gs_error("%s: truncated PNG (unexpected end of file)", c->path);
    if (!strcmp(c->msg, "Invalid IHDR data") && c->warn[0])
        return gs_error("%s: corrupt PNG: invalid IHDR (%s)", c->path, c->warn);
    return gs_error("%s: corrupt PNG: %s", c->path, c->msg);
}

// Open and check the signature; distinct messages for the common "not a PNG at all" cases.
static FILE *open_png(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        gs_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        gs_error("%s: is a directory, not a PNG file", path);
        return NULL;
    }
    if (st.st_size == 0) {
        gs_error("%s: empty file (0 bytes)", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        gs_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, f);
    if (got < 8) {
        fclose(f);
        gs_error("%s: truncated PNG signature (%zu bytes)", path, got);
        return NULL;
    }
    if (png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        gs_error("%s: not a PNG file (bad signature)", path);
        return NULL;
    }
    return f;
}

int gs_png_read_size(int *w, int *h, const char *path) {
    FILE *f = open_png(path);
    if (!f) return -1;
    // IHDR: length(4) "IHDR"(4) width(4) height(4) depth color comp filter interlace(5) crc(4).
    unsigned char b[25];
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got < sizeof b) return gs_error("%s: truncated PNG (unexpected end of file in IHDR)", path);
    if (memcmp(b + 4, "IHDR", 4) != 0 || b[0] || b[1] || b[2] || b[3] != 13)
        return gs_error("%s: corrupt PNG: first chunk is not IHDR", path);
    uint32_t crc = (uint32_t)crc32(0, b + 4, 17);
    uint32_t want = (uint32_t)b[21] << 24 | (uint32_t)b[22] << 16 | (uint32_t)b[23] << 8 | b[24];
    if (crc != want) return gs_error("%s: corrupt PNG: IHDR: CRC error", path);
    uint32_t ww = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
    uint32_t hh = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    if (ww == 0 || hh == 0 || ww > GS_PNG_MAX_SIDE || hh > GS_PNG_MAX_SIDE)
        return gs_error("%s: corrupt PNG: invalid IHDR (size %ux%u)", path, ww, hh);
    *w = (int)ww;
    *h = (int)hh;
    return 0;
}

int gs_png_read_rgb8_into(uint8_t **buf, size_t *cap, int *w, int *h, const char *path) {
    FILE *f = open_png(path);
    if (!f) return -1;
    png_ctx c = {.f = f, .path = path};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        return gs_error("%s: libpng could not allocate its state", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(c.rows);
        fclose(f);
        return ctx_fail(&c);
    }
    png_set_read_fn(png, &c, on_read);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, GS_PNG_MAX_SIDE, GS_PNG_MAX_SIDE);
    png_read_info(png, info);

    int depth = png_get_bit_depth(png, info);
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    // A tRNS chunk becomes an alpha channel during expansion; alpha is dropped either way.
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int ww = (int)png_get_image_width(png, info), hh = (int)png_get_image_height(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)ww * 3) png_error(png, "unexpected row size after RGB8 conversion");
    size_t need = rowbytes * (size_t)hh;
    if (*cap < need) {
        uint8_t *grown = realloc(*buf, need);
        if (!grown) png_error(png, "out of memory for the decoded image");
        *buf = grown;
        *cap = need;
    }
    c.rows = malloc(sizeof(png_bytep) * (size_t)hh);
    if (!c.rows) png_error(png, "out of memory for row pointers");
    for (int y = 0; y < hh; y++) c.rows[y] = *buf + (size_t)y * rowbytes;
    png_read_image(png, c.rows);
    // Reading up to IEND catches files cut short after the pixel data.
    png_read_end(png, NULL);

    png_destroy_read_struct(&png, &info, NULL);
    free(c.rows);
    fclose(f);
    *w = ww;
    *h = hh;
    return 0;
}

int gs_png_read_rgb8(uint8_t **rgb, int *w, int *h, const char *path) {
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (gs_png_read_rgb8_into(&buf, &cap, w, h, path) != 0) {
        free(buf);
        *rgb = NULL;
        return -1;
    }
    *rgb = buf;
    return 0;
}

int gs_png_write_rgb8(const char *path, const uint8_t *rgb, int w, int h, int level) {
    GS_ASSERT(w > 0 && h > 0 && level >= 0 && level <= 9);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return gs_error("%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return gs_error("%s: cannot create: %s", tmp, strerror(errno));
    png_ctx c = {.f = f, .path = path};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        if (png) png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(tmp);
        return gs_error("%s: libpng could not allocate its state", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(c.rows);
        fclose(f);
        remove(tmp);
        return gs_error("%s: cannot write PNG: %s", path, c.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, level);
    // Adaptive filtering tries all five filters per row; for bulk data at low levels the SUB
    // filter alone is several times faster to encode and decodes cheaply.
    png_set_filter(png, 0, level <= 3 ? PNG_FILTER_SUB : PNG_ALL_FILTERS);
    png_write_info(png, info);
    c.rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!c.rows) png_error(png, "out of memory for row pointers");
    for (int y = 0; y < h; y++) c.rows[y] = (png_bytep)(rgb + (size_t)y * w * 3);
    png_write_image(png, c.rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(c.rows);
    if (fclose(f) != 0) {
        remove(tmp);
        return gs_error("%s: write failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return gs_error("%s: cannot rename from %s: %s", path, tmp, strerror(e));
    }
    return 0;
}

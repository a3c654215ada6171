// One direction of a Keras GRU (reset_after=True, sigmoid/tanh, h0 = 0) returning the final
// state: forward with the input projections of all timesteps in one GEMM and one small GEMM per
// step for the recurrent part; backward through time (BPTT) with the weight gradients and dx
// gathered into one GEMM each at the end.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/gru_cache.h"
#include "gesture/errors.h"
#include "gesture/ops.h"
#include "work.h"

// Cache layout: include/gesture/gru_cache.h ("step" s is the processing order, t the time index;
// for reverse=1, t = T-1-s; hs[s-1] is step s's h_prev, so backward needs no h0).

size_t gru_cache_floats(int B, int T, int H) { return (size_t)8 * B * T * H; }

static inline float sigmoidf(float a) { return 1.0f / (1.0f + expf(-a)); }

void gru_forward(float *out, float *cache, const float *x, const float *kernel,
                 const float *rkernel, const float *bias, int B, int T, int D, int H,
                 int out_stride, int reverse) {
    GS_ASSERT(B > 0 && T > 0 && D > 0 && H > 0 && out_stride >= H);
    const int G = 3 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G;
    gru_cache_view c = gru_cache_split(cache, B, T, H);

    // Input projections of every timestep at once: the one big GEMM of the layer.
    for (size_t row = 0; row < (size_t)B * T; row++)
        memcpy(c.xproj + row * G, bias, (size_t)G * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B * T, G, D, 1.0f, x, D, kernel, G, 1.0f,
                c.xproj, G);

    for (int s = 0; s < T; s++) {
        const int t = reverse ? T - 1 - s : s;
        float *g = c.gates + s * BG;
        const float *hprev = s > 0 ? c.hs + (s - 1) * BH : NULL;
        for (int b = 0; b < B; b++) memcpy(g + (size_t)b * G, bias + G, (size_t)G * sizeof(float));
        // h0 = 0, so the first step's recurrent term is just the recurrent bias.
        if (hprev)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, G, H, 1.0f, hprev, H, rkernel,
                        G, 1.0f, g, G);
        float *hh = c.hh + s * BH, *hs = c.hs + s * BH;
        for (int b = 0; b < B; b++) {
            const float *xp = c.xproj + ((size_t)b * T + t) * G;
            float *gb = g + (size_t)b * G;
            for (int j = 0; j < H; j++) {
                float z = sigmoidf(xp[j] + gb[j]);
                float r = sigmoidf(xp[H + j] + gb[H + j]);
                float cand = tanhf(xp[2 * H + j] + r * gb[2 * H + j]);
                float hp = hprev ? hprev[(size_t)b * H + j] : 0.0f;
                gb[j] = z;
                gb[H + j] = r;
                hh[(size_t)b * H + j] = cand;
                hs[(size_t)b * H + j] = z * hp + (1.0f - z) * cand;
            }
        }
    }
    const float *hlast = c.hs + (size_t)(T - 1) * BH;
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * out_stride, hlast + (size_t)b * H, (size_t)H * sizeof(float));
}

// Column sums of a (rows, n) matrix added to acc (double accumulation: rows = B*T can be large
// relative to float precision when gradients have mixed signs).
static void colsum_add(float *acc, const float *m, size_t rows, int n) {
    for (int j = 0; j < n; j++) {
        double sum = 0.0;
        for (size_t i = 0; i < rows; i++) sum += m[i * n + j];
        acc[j] += (float)sum;
    }
}

// Pre-activation gradients: dxproj in x's row order (b*T+t) for the dx/dkernel GEMMs, drec in
// step order (s*B+b) for the per-step dh GEMM and the drkernel GEMM, both (B*T, 3H); dh (B,H).
static float *gru_layout(work_plan *w, float **drec, float **dh, int B, int T, int H) {
    size_t BTG = (size_t)B * T * 3 * H;
    float *dxproj = work_piece(w, BTG * sizeof(float));
    *drec = work_piece(w, BTG * sizeof(float));
    *dh = work_piece(w, (size_t)B * H * sizeof(float));
    return dxproj;
}

size_t gru_work_floats(int B, int T, int H) {
    work_plan w = {0};
    float *drec, *dh;
    gru_layout(&w, &drec, &dh, B, T, H);
    return w.used;
}

void gru_backward(float *dx, float *dkernel, float *drkernel, float *dbias, const float *dout,
                  const float *cache, const float *x, const float *kernel, const float *rkernel,
                  float *work, int B, int T, int D, int H, int out_stride, int reverse) {
    GS_ASSERT(B > 0 && T > 0 && D > 0 && H > 0 && out_stride >= H && work);
    const int G = 3 * H;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G, BT = (size_t)B * T;
    // The view is only read; the cast drops const to share the layout helper.
    gru_cache_view c = gru_cache_split((float *)cache, B, T, H);

    work_plan wp = {work, 0};
    float *drec, *dh;
    float *dxproj = gru_layout(&wp, &drec, &dh, B, T, H);
    for (int b = 0; b < B; b++)
        memcpy(dh + (size_t)b * H, dout + (size_t)b * out_stride, (size_t)H * sizeof(float));

    for (int s = T - 1; s >= 0; s--) {
        const int t = reverse ? T - 1 - s : s;
        const float *g = c.gates + s * BG;
        const float *hh = c.hh + s * BH;
        const float *hprev = s > 0 ? c.hs + (s - 1) * BH : NULL;
        float *dr_s = drec + s * BG;
        for (int b = 0; b < B; b++) {
            const float *gb = g + (size_t)b * G;
            float *dxp = dxproj + ((size_t)b * T + t) * G;
            float *drb = dr_s + (size_t)b * G;
            for (int j = 0; j < H; j++) {
                float z = gb[j], r = gb[H + j], rh = gb[2 * H + j];
                float cand = hh[(size_t)b * H + j];
                float hp = hprev ? hprev[(size_t)b * H + j] : 0.0f;
                float d = dh[(size_t)b * H + j];
                float da_h = d * (1.0f - z) * (1.0f - cand * cand);
                float da_z = d * (hp - cand) * z * (1.0f - z);
                float da_r = da_h * rh * r * (1.0f - r);
                dxp[j] = da_z;
                dxp[H + j] = da_r;
                dxp[2 * H + j] = da_h;
                drb[j] = da_z;
                drb[H + j] = da_r;
                drb[2 * H + j] = da_h * r;
                dh[(size_t)b * H + j] = d * z;  // the direct h_prev path of h = z*h_prev + ...
            }
        }
        // dh_prev += drec U^T; h0 is a constant, so step 0 stops here.
        if (s > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, G, 1.0f, dr_s, G, rkernel, G,
                        1.0f, dh, H);
    }

    // Step s consumed hs[s-1]: steps 1..T-1 pair with hs[0..T-2], both contiguous.
    if (drkernel && T > 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, G, B * (T - 1), 1.0f,
                    c.hs, H, drec + BG, G, 1.0f, drkernel, G);
    if (dbias) {
        colsum_add(dbias, dxproj, BT, G);
        colsum_add(dbias + G, drec, BT, G);
    }
    if (dkernel)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, G, (int)BT, 1.0f, x, D, dxproj, G,
                    1.0f, dkernel, G);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)BT, D, G, 1.0f, dxproj, G, kernel,
                    G, 1.0f, dx, D);
}

// oneDNN (Debian's libdnnl, the CPU primitives PyTorch, TensorFlow and OpenVINO use) on the same
// convolution shapes bench_plan times, for choosing the plan's kernels: each MobileNetV2 conv of
// (alpha, size) as one oneDNN fp32 inference convolution with its fused post-op (eltwise clip 0..6
// for ReLU6), one thread, thread CPU time, best of REPS; activations in NHWC as the plan keeps them,
// and with the layout oneDNN prefers (format any: blocked nChw8c on AVX2). Built only where
// libdnnl-dev is installed; never run by ctest.
//   build/benchmarks/bench_onednn [ALPHA SIZE FRAMES REPS]   (default 1.0 224 1 5)
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gesture/errors.h"
#include "gesture/model.h"

#define CHECK(call)                                                                   \
    do {                                                                              \
        dnnl_status_t s_ = (call);                                                    \
        if (s_ != dnnl_success) gs_fatal("%s failed: status %d", #call, (int)s_);     \
    } while (0)

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static dnnl_memory_t mem_of(dnnl_engine_t eng, const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    CHECK(dnnl_memory_get_data_handle(m, &h));
    memset(h, 0, dnnl_memory_desc_get_size(md));
    return m;
}

// Seconds of node n as one oneDNN convolution on `frames` frames (blocked: format any for the
// activations); *impl gets the implementation oneDNN picked.
static double time_node(dnnl_engine_t eng, dnnl_stream_t st, const gs_model *m, const gs_node *n, int frames,
                        int blocked, int reps, const char **impl, int act) {
    const gs_node *x = &m->nodes[n->in[0]];
    int dw = n->op == NODE_DWCONV;
    dnnl_dim_t C = x->shape[3], O = n->shape[3], K = n->k;
    dnnl_dims_t src = {frames, C, x->shape[1], x->shape[2]}, dst = {frames, O, n->shape[1], n->shape[2]};
    dnnl_dims_t w4 = {O, C, K, K}, w5 = {C, 1, 1, K, K}, strides = {n->stride, n->stride};
    dnnl_dims_t pl = {n->pad_top, n->pad_left};
    dnnl_dims_t pr = {(n->shape[1] - 1) * n->stride + K - x->shape[1] - n->pad_top,
                      (n->shape[2] - 1) * n->stride + K - x->shape[2] - n->pad_left};
    dnnl_memory_desc_t sd, wd, dd;
    dnnl_format_tag_t at = blocked ? dnnl_format_tag_any : dnnl_nhwc;
    CHECK(dnnl_memory_desc_init_by_tag(&sd, 4, src, dnnl_f32, at));
    CHECK(dnnl_memory_desc_init_by_tag(&dd, 4, dst, dnnl_f32, at));
    CHECK(dnnl_memory_desc_init_by_tag(&wd, dw ? 5 : 4, dw ? w5 : w4, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &sd, &wd, NULL, &dd,
                                             strides, pl, pr));
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    if (act) {
        dnnl_post_ops_t po;
        CHECK(dnnl_post_ops_create(&po));
        CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0.0f, 6.0f));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    dnnl_primitive_attr_destroy(attr);
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl));
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_memory_t ms = mem_of(eng, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0));
    dnnl_memory_t mw = mem_of(eng, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    dnnl_memory_t md = mem_of(eng, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}};
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        CHECK(dnnl_primitive_execute(prim, st, 3, args));
        CHECK(dnnl_stream_wait(st));
        double dt = cpu_now() - t0;
        best = dt < best ? dt : best;
    }
    dnnl_memory_destroy(ms), dnnl_memory_destroy(mw), dnnl_memory_destroy(md);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return best;
}

int main(int argc, char **argv) {
    gs_model_arch a = {.alpha = argc > 1 ? (float)atof(argv[1]) : 1.0f, .size = argc > 2 ? atoi(argv[2]) : 224,
                       .frames = 1, .batch = 1, .classes = 5, .gru_units = 8, .dense_units = 8, .dropout = 0, .l2 = 0};
    int frames = argc > 3 ? atoi(argv[3]) : 1, reps = argc > 4 ? atoi(argv[4]) : 5;
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("%s", gs_last_error());
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    const gs_node_op ops[3] = {NODE_CONV, NODE_DWCONV, NODE_PWCONV};
    const char *names[3] = {"conv KxK", "depthwise", "1x1 conv"};
    printf("oneDNN %d.%d: alpha %.2f size %d, %d frame(s) per call, best of %d, thread CPU time (run with "
           "OMP_NUM_THREADS=1)\n", dnnl_version()->major, dnnl_version()->minor, (double)a.alpha, a.size, frames, reps);
    printf("%-10s %8s %14s %8s %14s %8s  implementations (nhwc | any)\n", "layers", "GMAC", "nhwc ms", "GMAC/s",
           "any ms", "GMAC/s");
    double total[2] = {0, 0};
    for (int o = 0; o < 3; o++) {
        double sec[2] = {0, 0}, macs = 0;
        const char *impl[2] = {"", ""};
        for (int i = 0; i < m.n_nodes; i++) {
            const gs_node *n = &m.nodes[i], *x = &m.nodes[n->in[0]];
            if (n->op != ops[o]) continue;
            int act = m.nodes[i + 1].act == 1;
            for (int b = 0; b < 2; b++) sec[b] += time_node(eng, st, &m, n, frames, b, reps, &impl[b], act);
            macs += (double)n->shape[1] * n->shape[2] * n->shape[3] * frames * n->k * n->k *
                    (n->op == NODE_DWCONV ? 1 : x->shape[3]);
        }
        printf("%-10s %8.3f %14.2f %8.2f %14.2f %8.2f  %s | %s\n", names[o], macs / 1e9, sec[0] * 1e3,
               macs / sec[0] / 1e9, sec[1] * 1e3, macs / sec[1] / 1e9, impl[0], impl[1]);
        total[0] += sec[0], total[1] += sec[1];
    }
    printf("%-10s %8s %14.2f %8s %14.2f\n", "all", "", total[0] * 1e3, "", total[1] * 1e3);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    model_free(&m);
    return 0;
}

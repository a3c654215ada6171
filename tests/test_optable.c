// The op table and its places (docs/adding-an-op.md): every op has a well-formed row, the test
// model uses every op (so the whole-model PyTorch reference and the per-node CUDA-vs-CPU test run
// it), each backend's kernel row calls the op's kernels, and the op tests name them: the CPU
// functions in a PyTorch-reference test and a finite-difference test, the CUDA twins in a
// CUDA-vs-CPU test. The table below is the checklist; it has a row per op (asserted), so a new op
// does not build until its tests are named here.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/model.h"
#include "gesture/optable.h"
#include "testutil.h"

typedef struct {
    gs_node_op op;
    const char *cpu[4];  // CPU functions the CPU kernel row calls (NULL-terminated)
    int n_fwd;           // cpu[0, n_fwd) are forward-only (no finite-difference check of their own)
    const char *ref;     // tests/ files (space-separated) comparing them against PyTorch
    const char *grad;    // tests/ files checking the backward ones by finite differences
    const char *twin;    // tests/ files comparing their CUDA twins (<name>_cuda) with them
} op_tests;

static const op_tests TESTS[] = {
    {NODE_INPUT, {NULL}, 0, NULL, NULL, NULL},  // no computation
    {NODE_CONV, {"conv2d_forward", "conv2d_backward"}, 0, "test_ops_cnn.c", "test_gradcheck_cnn.c",
     "test_cuda_ops.c"},
    {NODE_PWCONV, {"matmul_forward", "matmul_backward"}, 0, "test_ops_cnn.c", "test_gradcheck_cnn.c",
     "test_cuda_ops_head.c"},
    {NODE_DWCONV, {"depthwise_forward", "depthwise_backward"}, 0, "test_ops_cnn.c", "test_gradcheck_cnn.c",
     "test_cuda_ops.c"},
    {NODE_BN, {"batchnorm_forward_infer", "batchnorm_forward_train", "batchnorm_backward"}, 1, "test_ops_cnn.c",
     "test_gradcheck_cnn.c", "test_cuda_ops.c"},
    {NODE_ADD, {"add_forward", "add_backward"}, 0, "test_ops_cnn.c", "test_gradcheck_cnn.c", "test_cuda_ops.c"},
    {NODE_GAP, {"avgpool_forward", "avgpool_backward"}, 0, "test_ops_cnn.c", "test_gradcheck_cnn.c",
     "test_cuda_ops.c"},
    {NODE_BIGRU, {"gru_forward", "gru_backward"}, 0, "test_ops_head.c", "test_gradcheck_head.c",
     "test_cuda_ops_head.c"},
    {NODE_DROPOUT, {"dropout_forward", "dropout_backward"}, 0, "test_ops_head.c", "test_gradcheck_head.c",
     "test_cuda_ops.c"},
    {NODE_DENSE, {"matmul_forward", "matmul_backward", "relu_forward"}, 0, "test_ops_cnn.c",
     "test_gradcheck_cnn.c", "test_cuda_ops_head.c test_cuda_ops.c"},
    {NODE_LOSS, {"softmax_ce_forward", "softmax_ce_backward"}, 0, "test_ops_head.c", "test_gradcheck_head.c",
     "test_cuda_ops_head.c"},
};
_Static_assert(sizeof TESTS / sizeof TESTS[0] == NODE_COUNT, "test_optable: one row per gs_node_op");

static char *slurp(const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", GESTURE_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) gs_fatal("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = gs_malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) gs_fatal("%s: read failed", path);
    s[n] = 0;
    fclose(f);
    return s;
}

// `name(` appears in the file (a call or a declaration, not a longer identifier's tail).
static int calls(const char *text, const char *name) {
    size_t len = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        int starts = p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= '0' && p[-1] <= '9'));
        if (starts && p[len] == '(') return 1;
    }
    return 0;
}

// fn is called in one of the space-separated tests/ files.
static void check_files(const char *what, const char *files, const char *fn, gs_node_op op) {
    char list[256], rel[300];
    snprintf(list, sizeof list, "%s", files);
    int found = 0;
    for (char *save, *f = strtok_r(list, " ", &save); f && !found; f = strtok_r(NULL, " ", &save)) {
        snprintf(rel, sizeof rel, "tests/%s", f);
        char *t = slurp(rel);
        found = calls(t, fn);
        free(t);
    }
    check(found, "%s: %s is %s in %s", op_info(op)->name, fn, what, files);
}

static void noop(const gs_op_call *c) { (void)c; }

// A backend that lacks one op (or lists its rows out of order) is refused by exec_check, by name.
static void check_refusal(gs_model *m) {
    gs_op_kernels rows[NODE_COUNT];
    for (int i = 0; i < NODE_COUNT; i++) rows[i] = (gs_op_kernels){(gs_node_op)i, noop, noop, NULL, 0};
    gs_backend be = {.name = "test", .kernels = rows};
    gs_exec e = {.be = &be, .m = m};
    check(exec_check(&e) == 0, "a backend with every kernel is accepted");
    rows[NODE_BN].backward = NULL;
    check(exec_check(&e) == -1 && strstr(gs_last_error(), "no BatchNormalization op") &&
              strstr(gs_last_error(), "bn_Conv1"),
          "a backend without BN backward is refused, naming the op and layer: %s", gs_last_error());
    rows[NODE_BN].backward = noop;
    rows[NODE_GAP].op = NODE_ADD;
    check(exec_check(&e) == -1 && strstr(gs_last_error(), "row 6"), "a misordered kernel row is refused: %s",
          gs_last_error());
}

int main(void) {
    check(optable_check() == 0, "op table rows follow the enum");
    for (int i = 0; i < NODE_COUNT; i++) {
        const char *name = op_info((gs_node_op)i)->name;
        check(name && name[0], "op %d has a name", i);
        check(TESTS[i].op == (gs_node_op)i, "test_optable row %d is op %s", i, name ? name : "?");
    }

    // the model the PyTorch reference and the CUDA model test build uses every op
    gs_model_arch a = {.alpha = 0.35f, .size = 64, .frames = 4, .batch = 2, .classes = 5, .gru_units = 8,
                       .dense_units = 16, .dropout = 0.5f, .l2 = 1e-4f};
    gs_model m;
    if (model_init(&m, &a)) gs_fatal("model_init: %s", gs_last_error());
    int used[NODE_COUNT] = {0};
    for (int i = 0; i < m.n_nodes; i++) used[m.nodes[i].op] = 1;
    for (int i = 0; i < NODE_COUNT; i++)
        check(used[i], "the test model uses op %s (else no whole-model test runs it)", op_info((gs_node_op)i)->name);
    check_refusal(&m);
    model_free(&m);

    char *cpu_exec = slurp("src/model/exec_cpu.c"), *cuda_exec = slurp("cuda/exec_cuda.cu");
    for (int i = 0; i < NODE_COUNT; i++) {
        const op_tests *t = &TESTS[i];
        for (int k = 0; k < 4 && t->cpu[k]; k++) {
            char twin[96], state_twin[96];
            snprintf(twin, sizeof twin, "%s_cuda", t->cpu[k]);
            snprintf(state_twin, sizeof state_twin, "%s_state_cuda", t->cpu[k]);  // graph-capturable variant
            // or the op's row-layout form (batchnorm_*_rows: the op itself, which its plain name calls with
            // contiguous rows; test_bn_time checks the in-place keras3 steps against the plain op)
            char rows_form[96];
            snprintf(rows_form, sizeof rows_form, "%s_rows", t->cpu[k]);
            check(calls(cpu_exec, t->cpu[k]) || calls(cpu_exec, rows_form), "%s: the CPU kernel row calls %s",
                  op_info(t->op)->name, t->cpu[k]);
            check(calls(cuda_exec, twin) || calls(cuda_exec, state_twin), "%s: the CUDA kernel row calls %s",
                  op_info(t->op)->name, twin);
            check_files("checked against PyTorch", t->ref, t->cpu[k], t->op);
            if (k >= t->n_fwd) check_files("finite-difference checked", t->grad, t->cpu[k], t->op);
            check_files("compared with its CUDA twin", t->twin, twin, t->op);
        }
    }
    free(cpu_exec);
    free(cuda_exec);
    return test_finish();
}

// The op table (gesture/optable.h): one row per gs_node_op, in enum order.
#include "gesture/optable.h"

#include "gesture/errors.h"
#include "gesture/exec.h"
#include "gesture/ops.h"

// gesture/exec.h: the training BN's statistics groups, here beside the save size they set.
int exec_bn_steps(const gs_model_arch *a) { return a->bn_time == GS_BN_TIME_KERAS3 ? a->frames : 1; }

static size_t bn_save(const gs_model *m, const gs_node *n) {
    // batch mean, invstd; one pair per time step under model.bn_time = keras3 (gesture/exec.h)
    return 2 * (size_t)n->shape[n->ndim - 1] * (size_t)exec_bn_steps(&m->cfg);
}

static size_t bigru_save(const gs_model *m, const gs_node *n) {
    (void)n;
    return 2 * gru_cache_floats(m->cfg.batch, m->cfg.frames, m->cfg.gru_units);  // both directions
}

static size_t loss_save(const gs_model *m, const gs_node *n) {
    (void)n;
    return (size_t)m->cfg.batch;  // per-row losses
}

const gs_op_info gs_op_table[] = {
    {NODE_INPUT, "Input", NULL, NULL, GS_SHOW_IMAGES},
    {NODE_CONV, "Conv2D", NULL, "conv2d", GS_SHOW_IMAGES},
    {NODE_PWCONV, "Conv2D 1x1", NULL, "conv2d", GS_SHOW_IMAGES},
    {NODE_DWCONV, "DepthwiseConv2D", NULL, "depthwise_conv2d", GS_SHOW_IMAGES},
    {NODE_BN, "BatchNormalization", bn_save, "batch_normalization", GS_SHOW_IMAGES},
    {NODE_ADD, "Add", NULL, "add", GS_SHOW_IMAGES},
    {NODE_GAP, "GlobalAveragePooling2D", NULL, NULL, GS_SHOW_SEQUENCE},
    {NODE_BIGRU, "Bidirectional(GRU)", bigru_save, NULL, GS_SHOW_VECTOR},
    {NODE_DROPOUT, "Dropout", NULL, NULL, GS_SHOW_VECTOR},
    {NODE_DENSE, "Dense", NULL, NULL, GS_SHOW_VECTOR},
    {NODE_LOSS, "Softmax", loss_save, NULL, GS_SHOW_VECTOR},
};
_Static_assert(sizeof gs_op_table / sizeof gs_op_table[0] == NODE_COUNT,
               "gs_op_table needs exactly one row per gs_node_op (docs/adding-an-op.md)");

int optable_check(void) {
    for (int i = 0; i < NODE_COUNT; i++)
        if (gs_op_table[i].op != (gs_node_op)i)
            return gs_error("op table: row %d holds op %s (rows must follow the gs_node_op enum)", i,
                            gs_op_table[i].name);
    return 0;
}

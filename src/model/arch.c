// Maps a resolved INI config onto the model architecture description, and builds a fresh model
// from it.
#include "gesture/config.h"
#include "gesture/model.h"

void model_arch_from_config(gs_model_arch *a, const gs_config *c) {
    a->alpha = (float)c->model.alpha;
    a->size = c->data.size;
    a->frames = c->data.frames;
    a->batch = c->train.batch_size;
    a->classes = c->model.classes;
    a->gru_units = c->model.gru_units;
    a->dense_units = c->model.dense_units;
    a->dropout = (float)c->model.dropout;
    a->l2 = (float)c->train.l2;
    a->bn_momentum = (float)c->model.bn_momentum;
    a->bn_time = c->model.bn_time;
}

int model_init_from_config(gs_model *m, const gs_config *c) {
    gs_model_arch arch;
    model_arch_from_config(&arch, c);
    if (model_init(m, &arch)) return -1;
    m->reference_ops = c->runtime.training == GS_TRAINING_REFERENCE;
    model_init_weights(m, c->train.seed);
    return 0;
}

// Parameter table: every model variable (trainable weights and BN moving statistics) lives in ONE
// contiguous float buffer, trainables first, so the optimizer, checkpoints and the GPU copy each
// handle one block. Gradients and Adam moments mirror the trainable prefix. Names follow Keras
// ("block_3_depthwise/depthwise_kernel"), shapes are Keras shapes.
#ifndef GESTURE_PARAMS_H
#define GESTURE_PARAMS_H

#include <stddef.h>

#define GS_PARAM_NAME_MAX 96

typedef struct {
    char name[GS_PARAM_NAME_MAX];  // "<layer>/<var>"
    int ndim;
    int shape[4];
    size_t offset;  // in floats, into gs_params.data (and .grad/.m/.v for trainables)
    size_t numel;
    int trainable;  // 0: BN moving statistics (updated by the forward pass, not the optimizer)
    float l2;       // Keras L2 kernel regularizer coefficient (0 = none)
} gs_param;

typedef struct {
    gs_param *p;
    int n, cap;
    size_t numel;            // all floats
    size_t numel_trainable;  // trainables occupy data[0, numel_trainable)
    float *data;             // (numel)
    float *grad;             // (numel_trainable)
    float *m, *v;            // (numel_trainable) Adam moments
} gs_params;

void params_init(gs_params *ps);
// Declare a variable (before params_finalize). Returns its index.
int params_add(gs_params *ps, const char *name, int ndim, const int *shape, int trainable, float l2);
// Assign offsets (trainables first, declaration order within each group) and allocate zeroed buffers.
void params_finalize(gs_params *ps);
void params_free(gs_params *ps);
// Index of a variable by name, -1 if absent.
int params_find(const gs_params *ps, const char *name);
static inline float *params_ptr(const gs_params *ps, int i) { return ps->data + ps->p[i].offset; }
static inline float *params_grad(const gs_params *ps, int i) { return ps->grad + ps->p[i].offset; }
// "(3, 3, 32, 1)" style shape string into buf.
const char *params_shape_str(const gs_param *p, char *buf, size_t n);

#endif

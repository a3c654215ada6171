// Parameter table implementation (see gesture/params.h).
#include "gesture/params.h"

#include <stdio.h>
#include <string.h>

#include "gesture/errors.h"

void params_init(gs_params *ps) { memset(ps, 0, sizeof *ps); }

int params_add(gs_params *ps, const char *name, int ndim, const int *shape, int trainable, float l2) {
    GS_ASSERT(ps->data == NULL);  // no declarations after finalize
    GS_ASSERT(ndim >= 1 && ndim <= 4);
    GS_ASSERT(strlen(name) < GS_PARAM_NAME_MAX);
    GS_ASSERT(params_find(ps, name) < 0);
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        gs_param *np = gs_calloc((size_t)ps->cap, sizeof *np);
        if (ps->p) memcpy(np, ps->p, (size_t)ps->n * sizeof *np);
        free(ps->p);
        ps->p = np;
    }
    gs_param *p = &ps->p[ps->n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        GS_ASSERT(shape[i] > 0);
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    p->trainable = trainable;
    p->l2 = l2;
    return ps->n++;
}

void params_finalize(gs_params *ps) {
    size_t off = 0;
    for (int pass = 1; pass >= 0; pass--) {  // trainables (1) first, then the rest (0)
        for (int i = 0; i < ps->n; i++) {
            if (ps->p[i].trainable != pass) continue;
            ps->p[i].offset = off;
            off += ps->p[i].numel;
        }
        if (pass == 1) ps->numel_trainable = off;
    }
    ps->numel = off;
    ps->data = gs_aligned_alloc(ps->numel * sizeof(float));
    ps->grad = gs_aligned_alloc(ps->numel_trainable * sizeof(float));
    ps->m = gs_aligned_alloc(ps->numel_trainable * sizeof(float));
    ps->v = gs_aligned_alloc(ps->numel_trainable * sizeof(float));
    memset(ps->data, 0, ps->numel * sizeof(float));
    memset(ps->grad, 0, ps->numel_trainable * sizeof(float));
    memset(ps->m, 0, ps->numel_trainable * sizeof(float));
    memset(ps->v, 0, ps->numel_trainable * sizeof(float));
}

void params_free(gs_params *ps) {
    free(ps->p);
    free(ps->data);
    free(ps->grad);
    free(ps->m);
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

int params_find(const gs_params *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].name, name)) return i;
    return -1;
}

const char *params_shape_str(const gs_param *p, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < p->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %d" : "%d", p->shape[i]);
    if (used < n) snprintf(buf + used, n - used, p->ndim == 1 ? ",)" : ")");
    return buf;
}

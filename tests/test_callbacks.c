// Keras 3 callback decisions on scripted metric sequences. Every expectation (stop epoch, restore
// epoch, LR schedule, save epochs) is derived by hand from the Keras rules quoted in callbacks.h,
// not by re-running the implementation's formulas.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gesture/callbacks.h"
#include "gesture/config.h"
#include "gesture/errors.h"
#include "testutil.h"

// Keras logs hold float32 metrics converted to Python floats.
static double f32(double x) { return (double)(float)x; }

// A list of epochs as a bit set, for compact expectations.
typedef unsigned long long epochs_t;
#define E(e) (1ULL << (e))

static void test_early_stopping(void) {
    gs_early_stopping es;

    // Best at epoch 2, patience 10: stops at the end of epoch 12 (13 epochs run), restores epoch 2.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 10, 0.0, true);
    const double head[] = {1.0, 0.9, 0.8};
    epochs_t improved = 0, snap = 0;
    int stop_at = -1;
    for (int e = 0; e < 40 && stop_at < 0; e++) {
        gs_early_stopping_step st = early_stopping_on_epoch_end(&es, e, f32(e < 3 ? head[e] : 0.85));
        if (st.improved) improved |= E(e);
        if (st.snapshot) snap |= E(e);
        if (st.stop) stop_at = e;
    }
    int best = -1;
    check(stop_at == 12, "EarlyStopping: best at 2, patience 10 -> stops after epoch 12 (got %d)", stop_at);
    check(improved == (E(0) | E(1) | E(2)) && snap == improved, "improvements and snapshots at 0,1,2");
    bool restore = early_stopping_on_train_end(&es, &best);
    check(restore && best == 2, "restores epoch 2 (got %d)", best);

    // Ties are not improvements: 0.5 forever with patience 2 stops at epoch 2.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 2, 0.0, true);
    stop_at = -1;
    improved = 0;
    for (int e = 0; e < 10 && stop_at < 0; e++) {
        gs_early_stopping_step st = early_stopping_on_epoch_end(&es, e, 0.5);
        if (st.improved) improved |= E(e);
        if (st.stop) stop_at = e;
    }
    check(stop_at == 2 && improved == E(0), "ties: only epoch 0 improves, stop at 2 (got %d)", stop_at);

    // patience 0: the first non-improving epoch stops, but never epoch 0.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 0, 0.0, false);
    gs_early_stopping_step a = early_stopping_on_epoch_end(&es, 0, 1.0);
    gs_early_stopping_step b = early_stopping_on_epoch_end(&es, 1, 0.9);
    gs_early_stopping_step c = early_stopping_on_epoch_end(&es, 2, 0.95);
    check(!a.stop && !b.stop && c.stop && !a.snapshot && !b.snapshot, "patience 0 stops at epoch 2, no snapshots");
    check(!early_stopping_on_train_end(&es, &best), "restore_best off: nothing to restore");

    // The first epoch improves whatever its value (best is None), even NaN; NaN then stays the
    // best and nothing compares below it: patience 1 stops at epoch 1 and restores epoch 0.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 1, 0.0, true);
    a = early_stopping_on_epoch_end(&es, 0, NAN);
    b = early_stopping_on_epoch_end(&es, 1, 0.5);
    check(a.snapshot && a.improved && !a.stop && !b.improved && b.stop && !b.snapshot,
          "NaN first epoch: improves (best None), then nothing beats it; stop at 1");
    check(early_stopping_on_train_end(&es, &best) && best == 0, "NaN run restores epoch 0");
    // A later NaN is never an improvement.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 3, 0.0, false);
    early_stopping_on_epoch_end(&es, 0, 1.0);
    a = early_stopping_on_epoch_end(&es, 1, NAN);
    b = early_stopping_on_epoch_end(&es, 2, 0.9);
    check(!a.improved && b.improved, "NaN after the first epoch does not improve");

    // min_delta 0.01: 1.0 -> 0.995 is not an improvement, 0.995 -> 0.985 is (0.985 + 0.01 < 1.0).
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 5, 0.01, false);
    a = early_stopping_on_epoch_end(&es, 0, f32(1.0));
    b = early_stopping_on_epoch_end(&es, 1, f32(0.995));
    c = early_stopping_on_epoch_end(&es, 2, f32(0.985));
    check(a.improved && !b.improved && c.improved && es.state.wait == 0, "min_delta 0.01 on val_loss");
    // A negative min_delta means the same (Keras takes abs()).
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 5, -0.01, false);
    early_stopping_on_epoch_end(&es, 0, f32(1.0));
    check(!early_stopping_on_epoch_end(&es, 1, f32(0.995)).improved, "min_delta -0.01 == 0.01");

    // val_accuracy: max mode. 0.5 0.6 0.6 0.55 0.7 then 0.6: improves at 0,1,4; patience 3 -> stop 7.
    early_stopping_init(&es, GS_MONITOR_VAL_ACCURACY, 3, 0.0, true);
    const double acc[] = {0.5, 0.6, 0.6, 0.55, 0.7};
    improved = 0;
    stop_at = -1;
    for (int e = 0; e < 20 && stop_at < 0; e++) {
        gs_early_stopping_step st = early_stopping_on_epoch_end(&es, e, f32(e < 5 ? acc[e] : 0.6));
        if (st.improved) improved |= E(e);
        if (st.stop) stop_at = e;
    }
    check(improved == (E(0) | E(1) | E(4)) && stop_at == 7, "val_accuracy max mode: improves 0,1,4, stops at 7 (%d)",
          stop_at);
    check(early_stopping_on_train_end(&es, &best) && best == 4, "restores epoch 4");

    // Keras 3 restores at train end also when training ran to the last epoch without stopping.
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 10, 0.0, true);
    const double run[] = {0.9, 0.8, 0.7, 0.6, 0.65, 0.7};
    stop_at = -1;
    for (int e = 0; e < 6; e++)
        if (early_stopping_on_epoch_end(&es, e, f32(run[e])).stop) stop_at = e;
    check(stop_at < 0 && early_stopping_on_train_end(&es, &best) && best == 3,
          "no early stop, 6 epochs: restore epoch 3 anyway (Keras 3)");

    // Comparisons are float32 as keras.ops does them on the training backends: find cur = 0.7f -
    // k ulp with cur + 1e-4 < 0.7 in float64 but rounding to 0.7f in float32. EarlyStopping and
    // ReduceLROnPlateau with min_delta 1e-4 both see a tie (Keras <= 3.10's ReduceLROnPlateau,
    // np.less(cur, best - 1e-4) in float64, would have seen an improvement).
    float b7 = 0.7f, cur = b7;
    int found = 0;
    for (int k = 0; k < 5000 && !found; k++) {
        cur = nextafterf(cur, 0.0f);
        double sum = (double)cur + 1e-4;
        found = sum < (double)b7 && (float)sum == b7 && (double)cur < (double)b7 - 1e-4;
    }
    check(found, "found a value that float32 and float64 judge differently (%.9g)", cur);
    early_stopping_init(&es, GS_MONITOR_VAL_LOSS, 5, 1e-4, false);
    early_stopping_on_epoch_end(&es, 0, (double)b7);
    check(!early_stopping_on_epoch_end(&es, 1, (double)cur).improved, "EarlyStopping compares in float32");
    gs_reduce_lr r;
    reduce_lr_init(&r, GS_MONITOR_VAL_LOSS, 0.5, 1, 1e-4, 0, 0.0);
    float lr = 1e-3f;
    reduce_lr_on_epoch_end(&r, &lr, (double)b7);
    check(reduce_lr_on_epoch_end(&r, &lr, (double)cur) && lr == 5e-4f && r.state.best == (double)b7,
          "ReduceLROnPlateau compares in float32 (a tie, so patience 1 reduces)");
}

// LR used during epoch e when a plateau starts after epoch `best_epoch` with patience p, halving
// from lr0 down to min_lr: reductions at best_epoch + p, + 2p, ...; `halvings` of them halve, the
// next clamps to min_lr, then it stays.
static float expected_lr(int e, int best_epoch, int p, float lr0, int halvings, float min_lr) {
    int reductions = 0;
    for (int r = best_epoch + p; r < e; r += p) reductions++;
    if (reductions > halvings) return min_lr;
    return ldexpf(lr0, -reductions);
}

static void test_reduce_lr(void) {
    gs_reduce_lr r;
    // Seed setup from lr 1e-3: best at epoch 2, plateau: halves at 5, 8, ..., 41 (13 halvings,
    // 1e-3/8192 = 1.22e-7), clamps to 1e-7 at 44, then stays (1e-7 is not > float32(1e-7)).
    reduce_lr_init(&r, GS_MONITOR_VAL_LOSS, 0.5, 3, 1e-4, 0, 1e-7);
    float lr = 1e-3f;
    int bad = 0;
    epochs_t reduced = 0;
    const double head[] = {1.0, 0.9, 0.8};
    for (int e = 0; e < 60; e++) {
        float want = expected_lr(e, 2, 3, 1e-3f, 13, 1e-7f);
        if (lr != want) {
            if (bad++ < 5) printf("epoch %d: lr %.9g, want %.9g\n", e, lr, want);
        }
        if (reduce_lr_on_epoch_end(&r, &lr, f32(e < 3 ? head[e] : 0.85))) reduced |= E(e);
    }
    epochs_t want_red = 0;
    for (int e = 5; e <= 44; e += 3) want_red |= E(e);
    check(bad == 0 && reduced == want_red, "LR 1e-3 halves at 5,8,..,41, clamps at 44, then stays");
    check(lr == 1e-7f, "final LR is float32(1e-7) (%.9g)", lr);

    // The seed's lr 1e-4: 9 halvings (1.95e-7), clamped on the 10th.
    reduce_lr_init(&r, GS_MONITOR_VAL_LOSS, 0.5, 3, 1e-4, 0, 1e-7);
    lr = 1e-4f;
    bad = 0;
    for (int e = 0; e < 45; e++) {
        if (lr != expected_lr(e, 0, 3, 1e-4f, 9, 1e-7f)) bad++;
        reduce_lr_on_epoch_end(&r, &lr, 0.5);
    }
    check(bad == 0 && lr == 1e-7f, "LR 1e-4: 9 halvings then 1e-7");

    // Cooldown 2, patience 2, plateau from epoch 0: reduce at 2 (wait 1, 2); epoch 3 counts the
    // cooldown down to 1, epoch 4 to 0 and waits 1, epoch 5 waits 2 and reduces: 2, 5, 8, 11.
    reduce_lr_init(&r, GS_MONITOR_VAL_LOSS, 0.5, 2, 1e-4, 2, 0.0);
    lr = 1.0f;
    reduced = 0;
    for (int e = 0; e < 13; e++)
        if (reduce_lr_on_epoch_end(&r, &lr, 0.5)) reduced |= E(e);
    check(reduced == (E(2) | E(5) | E(8) | E(11)) && lr == 1.0f / 16, "cooldown 2: reductions at 2,5,8,11");

    // val_accuracy: max mode; +5e-5 is below min_delta and does not count.
    reduce_lr_init(&r, GS_MONITOR_VAL_ACCURACY, 0.5, 3, 1e-4, 0, 0.0);
    lr = 1.0f;
    const double acc[] = {0.5, 0.6, 0.60005, 0.6, 0.6};
    reduced = 0;
    for (int e = 0; e < 5; e++)
        if (reduce_lr_on_epoch_end(&r, &lr, f32(acc[e]))) reduced |= E(e);
    check(reduced == E(4) && lr == 0.5f, "val_accuracy: best at 1, reduction at 4");

    // factor 0.1 down to min_lr 1e-5: float32(1e-3)*0.1 rounds to 1.0000000475e-4, *0.1 again to
    // 1.0000000657e-05, one float32 ulp above float32(1e-5), so a third reduction clamps it to
    // exactly float32(1e-5); after that old_lr > float32(min_lr) fails and it stays.
    reduce_lr_init(&r, GS_MONITOR_VAL_LOSS, 0.1, 1, 1e-4, 0, 1e-5);
    lr = 1e-3f;
    float prev = lr;
    int monotone = 1, nred = 0;
    for (int e = 0; e < 10; e++) {
        nred += reduce_lr_on_epoch_end(&r, &lr, 1.0);
        monotone &= lr <= prev;
        prev = lr;
    }
    check(monotone && nred == 3 && lr == 1e-5f, "factor 0.1: 1e-3 -> 1e-4 -> 1e-5+ulp -> 1e-5, then stays (%d)",
          nred);
}

static void test_model_checkpoint(void) {
    gs_model_checkpoint c;
    model_checkpoint_init(&c, GS_MONITOR_VAL_ACCURACY, true);
    const double acc[] = {0.5, 0.6, 0.6, 0.55, 0.7, 0.7};
    epochs_t saved = 0;
    for (int e = 0; e < 6; e++)
        if (model_checkpoint_on_epoch_end(&c, e, f32(acc[e]))) saved |= E(e);
    check(saved == (E(0) | E(1) | E(4)) && c.state.best_epoch == 4, "best val_accuracy saves at 0,1,4 (ties skip)");

    model_checkpoint_init(&c, GS_MONITOR_VAL_LOSS, true);
    const double loss[] = {1.0, 1.0, 0.9, NAN, 0.8};
    saved = 0;
    for (int e = 0; e < 5; e++)
        if (model_checkpoint_on_epoch_end(&c, e, loss[e])) saved |= E(e);
    check(saved == (E(0) | E(2) | E(4)), "best val_loss: saves 0, 2, 4 (tie and NaN skip)");
    // First epoch always saves (best None), even NaN, which nothing beats afterwards.
    model_checkpoint_init(&c, GS_MONITOR_VAL_LOSS, true);
    saved = 0;
    for (int e = 0; e < 3; e++)
        if (model_checkpoint_on_epoch_end(&c, e, e == 0 ? NAN : 0.5)) saved |= E(e);
    check(saved == E(0), "NaN first epoch saves, then nothing beats it");

    model_checkpoint_init(&c, GS_MONITOR_VAL_ACCURACY, false);
    saved = 0;
    for (int e = 0; e < 4; e++)
        if (model_checkpoint_on_epoch_end(&c, e, 0.1)) saved |= E(e);
    check(saved == 0xF, "save_best_only off saves every epoch");
}

// Scripted run of the configured set: val_loss falls to its best at epoch 4 by more than 1e-4
// each step then creeps down by 2e-5 (EarlyStopping improvements, ReduceLROnPlateau plateau)
// until epoch 6, then flat; val_accuracy peaks at epoch 5.
static gs_epoch_logs scripted(int e) {
    static const double vl[] = {1.0, 0.9, 0.8, 0.7, 0.6, 0.59998, 0.59996};
    static const double va[] = {0.2, 0.4, 0.5, 0.5, 0.6, 0.7, 0.65};
    gs_epoch_logs l;
    l.val_loss = f32(vl[e < 7 ? e : 6]);
    l.val_accuracy = f32(va[e < 7 ? e : 6]);
    l.loss = f32(1.0 / (e + 1));
    l.accuracy = f32(0.5);
    return l;
}

static void test_set(void) {
    gs_config cfg;
    config_defaults(&cfg);
    gs_callbacks cb;
    callbacks_init(&cb, &cfg.callbacks);
    float lr = 1e-4f;
    epochs_t snap = 0, save = 0, red = 0;
    int stop_at = -1, bad_lr = 0;
    // RLR best at 4 (0.59998 is only 2e-5 better): reductions at 7, 10, 13, 16.
    // ES best at 6 (strict improvements count): stops at 16.
    for (int e = 0; e < 40 && stop_at < 0; e++) {
        gs_epoch_logs l = scripted(e);
        gs_epoch_actions a = callbacks_on_epoch_end(&cb, e, &l, &lr);
        float want_used = expected_lr(e, 4, 3, 1e-4f, 9, 1e-7f);
        if (a.lr_used != want_used || a.lr_next != lr || (a.lr_reduced != (a.lr_next != a.lr_used))) bad_lr++;
        if (a.snapshot_best) snap |= E(e);
        if (a.save_best) save |= E(e);
        if (a.lr_reduced) red |= E(e);
        if (a.stop) stop_at = e;
    }
    int best = -1;
    check(stop_at == 16, "defaults: EarlyStopping(val_loss, 10) stops after epoch 16 (got %d)", stop_at);
    check(snap == 0x7F, "defaults: snapshots at epochs 0..6");
    check(red == (E(7) | E(10) | E(13) | E(16)) && bad_lr == 0,
          "defaults: LR reduced at 7,10,13,16, logged LR pre-reduction");
    check(save == (E(0) | E(1) | E(2) | E(4) | E(5)), "defaults: best.h5 on val_accuracy at 0,1,2,4,5");
    bool restore = callbacks_on_train_end(&cb, &best);
    check(restore && best == 6, "defaults: restore epoch 6 (got %d)", best);

    // Switches off: no stop, no restore, constant LR; best.h5 still tracked.
    cfg.callbacks.early_stopping = false;
    cfg.callbacks.reduce_lr = false;
    callbacks_init(&cb, &cfg.callbacks);
    lr = 1e-4f;
    int any = 0;
    save = 0;
    for (int e = 0; e < 40; e++) {
        gs_epoch_logs l = scripted(e);
        gs_epoch_actions a = callbacks_on_epoch_end(&cb, e, &l, &lr);
        any |= a.stop || a.snapshot_best || a.lr_reduced || a.lr_used != 1e-4f;
        if (a.save_best) save |= E(e);
    }
    check(!any && !callbacks_on_train_end(&cb, &best) && save == (E(0) | E(1) | E(2) | E(4) | E(5)),
          "switches off: no stop/snapshot/LR change, best.h5 still saved");

    // Monitors from the config: EarlyStopping on val_accuracy (max), checkpoint on val_loss (min).
    config_defaults(&cfg);
    cfg.callbacks.early_stopping_monitor = GS_MONITOR_VAL_ACCURACY;
    cfg.callbacks.early_stopping_patience = 2;
    cfg.callbacks.checkpoint_monitor = GS_MONITOR_VAL_LOSS;
    callbacks_init(&cb, &cfg.callbacks);
    lr = 1e-4f;
    stop_at = -1;
    save = 0;
    for (int e = 0; e < 40 && stop_at < 0; e++) {
        gs_epoch_logs l = scripted(e);
        gs_epoch_actions a = callbacks_on_epoch_end(&cb, e, &l, &lr);
        if (a.save_best) save |= E(e);
        if (a.stop) stop_at = e;
    }
    check(stop_at == 7 && save == 0x7F && callbacks_on_train_end(&cb, &best) && best == 5,
          "val_accuracy EarlyStopping stops at 7 restoring 5; val_loss checkpoint saves 0..6");
}

static void test_state(void) {
    gs_config cfg;
    config_defaults(&cfg);
    gs_callbacks a, b;
    callbacks_init(&a, &cfg.callbacks);
    float lra = 1e-4f;
    for (int e = 0; e < 9; e++) {
        gs_epoch_logs l = scripted(e);
        callbacks_on_epoch_end(&a, e, &l, &lra);
    }
    gs_callbacks_state st;
    callbacks_state_get(&st, &a);
    callbacks_init(&b, &cfg.callbacks);
    float lrb = lra;
    check(callbacks_state_set(&b, &st) == 0, "state set");
    int same = 1;
    for (int e = 9; e < 30; e++) {
        gs_epoch_logs l = scripted(e);
        gs_epoch_actions x = callbacks_on_epoch_end(&a, e, &l, &lra);
        gs_epoch_actions y = callbacks_on_epoch_end(&b, e, &l, &lrb);
        same &= memcmp(&x, &y, sizeof x) == 0;
        if (x.stop) break;
    }
    int ba, bb;
    check(same && callbacks_on_train_end(&a, &ba) == callbacks_on_train_end(&b, &bb) && ba == bb,
          "a run resumed from saved callback state decides the same");
    gs_callbacks_state bad = st;
    bad.early_stopping.wait = -1;
    check(callbacks_state_set(&b, &bad) == -1 && strstr(gs_last_error(), "early_stopping.wait"),
          "negative wait rejected: %s", gs_last_error());
    bad = st;
    bad.reduce_lr.cooldown_counter = -1;
    check(callbacks_state_set(&b, &bad) == -1 && strstr(gs_last_error(), "reduce_lr.cooldown_counter"),
          "negative cooldown rejected: %s", gs_last_error());
    bad = st;
    bad.checkpoint.best_epoch = -2;
    check(callbacks_state_set(&b, &bad) == -1 && strstr(gs_last_error(), "checkpoint.best_epoch"),
          "checkpoint best epoch below -1 rejected: %s", gs_last_error());
    // The has_best flags are part of the state: with them dropped, the next epoch would count
    // as an improvement whatever its value (Keras' best None).
    callbacks_init(&b, &cfg.callbacks);
    bad = st;
    bad.early_stopping.has_best = bad.reduce_lr.has_best = false;
    check(callbacks_state_set(&b, &bad) == 0, "state without bests set");
    gs_epoch_logs worse = scripted(0);
    float lrc = 1e-4f;
    check(callbacks_on_epoch_end(&b, 9, &worse, &lrc).snapshot_best, "has_best false means best None");
    // a fresh state is what the callbacks start from
    gs_callbacks_state fresh;
    callbacks_state_init(&fresh);
    callbacks_init(&b, &cfg.callbacks);
    callbacks_state_get(&st, &b);
    check(same_callbacks_state(&fresh, &st) && !fresh.early_stopping.has_best && fresh.checkpoint.best_epoch == -1,
          "callbacks_state_init = the state callbacks_init sets");
}

int main(void) {
    test_early_stopping();
    test_reduce_lr();
    test_model_checkpoint();
    test_set();
    test_state();
    return test_finish();
}

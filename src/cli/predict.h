// `gesture predict` internals: printing predictions (table or JSON), filling the model's batch with
// clips and video windows, and turning a video file into them.
#ifndef GESTURE_CLI_PREDICT_H
#define GESTURE_CLI_PREDICT_H

#include "cli_checkpoint.h"
#include "gesture/loader.h"

typedef struct {
    const char *const *classes;
    int K, json, windows;  // windows: rows have a start and end time
    int n_printed, name_width;
} predict_printer;

void predict_print_header(const predict_printer *p);
// One row: name, [t0, t1,] label, probabilities (K). JSON keeps full float precision (%.9g).
void predict_print(predict_printer *p, const char *name, double t0, double t1, const float *probs);
// Closes the JSON array.
void predict_print_end(const predict_printer *p);

// The model's input batch, filled slot by slot; full batches run at once, in order, on the
// inference model's backend (cli_inference_model_open_device).
typedef struct {
    cli_inference_model *im;
    predict_printer *pr;
    int nb;                 // slots filled
    char **names;           // (B) names of the filled slots
    double *t0, *t1;        // (B) their times
    size_t clip_floats;     // T*S*S*3
    float *clips;           // (B,T,S,S,3) the input of the next forward pass
    int *labels;            // (B) zeros: eval_batch wants labels
    int frames, size;       // T, S
    FILE *save;             // --save-inputs: the .npy being written (NULL: none)
    char *save_path, *save_tmp;
    long n_saved;
    int save_failed;
} predict_batch;

void predict_batch_init(predict_batch *b, cli_inference_model *im, predict_printer *pr, const gs_loader_config *lc);
float *predict_batch_slot(predict_batch *b);  // (T,S,S,3) the next free slot
// The slot got by predict_batch_slot is filled: record it, run and print the batch if full.
void predict_batch_commit(predict_batch *b, const char *name, double t0, double t1);
void predict_batch_flush(predict_batch *b);
// --save-inputs: every clip's or window's input tensor (T,S,S,3) as it is predicted, in output order,
// into one NumPy .npy file, float32 (N,T,S,S,3) (written to path.tmp, renamed by _save_close).
// 0, or -1 + gs_error naming the file.
int predict_batch_save_open(predict_batch *b, const char *path);
int predict_batch_save_close(predict_batch *b);
void predict_batch_free(predict_batch *b);

// A video file: resampled to stream.fps and sampled like a clip folder (one prediction), or with
// windows, resampled to stream.fps / frame_step and cut into T-frame windows every `hop` frames.
// 0, or -1 + gs_error naming the file.
int predict_video(predict_batch *b, const char *path, const gs_loader_config *lc, const gs_stream_config *sc, int windows,
                  int hop);

#endif

// `gesture info`: what this binary was built with and what it finds on this machine (CUDA backend,
// CUDA devices, OpenMP threads, BLAS, HDF5, file format versions). One `key: value` per line so
// scripts and tests can grep it (tests/test_train_cuda.sh skips unless `cuda devices:` is >= 1).
#include <H5public.h>
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gesture/checkpoint.h"
#include "gesture/device.h"
#include "gesture/dist.h"
#include "gesture/errors.h"
#include "gesture/plan.h"
#include "gesture/precision.h"
#include "gesture/trainlog.h"


int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        cli_print_usage("info");
        printf("\nPrints one `key: value` line per fact; exit 0. Initializes CUDA device 0 to name it.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "gesture info: unexpected argument '%s' (see gesture info --help)\n", argv[1]);
        return 2;
    }
    printf("gesture: MobileNetV2 + BiGRU gesture classifier (C11)\n");
#if defined(__clang__)
    printf("compiler: clang %s\n", __clang_version__);
#elif defined(__GNUC__)
    printf("compiler: gcc %s\n", __VERSION__);
#endif
    printf("checkpoint format: %d\n", GS_CHECKPOINT_VERSION);
    printf("training log format: %d\n", GS_TRAINLOG_VERSION);
    printf("openmp threads: %d (of %d cores; OMP_NUM_THREADS or runtime.threads choose)\n", omp_get_max_threads(),
           omp_get_num_procs());
    printf("blas: %s\n", openblas_get_config());
    printf("cpu inference plan kernels: %s (of generic, avx2; GESTURE_PLAN_KERNELS picks a lower tier; "
           "runtime.inference = reference uses none)\n", plan_kernels_name());
    printf("cpu training fast kernels: %s (runtime.training = fast: the 1x1 and depthwise convolutions; "
           "reference uses none)\n", !strcmp(plan_kernels_name(), "avx2") ? "avx2" : "none (below the AVX2 tier)");
    int avx512_bf16, amx_bf16;
    precision_cpu_bf16(&avx512_bf16, &amx_bf16);
    printf("cpu bf16: avx512_bf16 %s, amx_bf16 %s; runtime.precision = bf16 runs fp32 on the cpu (%s)\n",
           avx512_bf16 ? "yes" : "no", amx_bf16 ? "yes" : "no", precision_cpu_reason());
    printf("hdf5: %d.%d.%d\n", H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE);
    const char *mpi;
    if (dist_have_mpi(&mpi)) printf("mpi: yes (%s): mpirun -np N gesture train runs data-parallel\n", mpi);
    else printf("mpi: no (rebuild with libopenmpi-dev installed for data-parallel gesture train)\n");
    const gs_device_backend *gpu = device_gpu();
    if (gpu) {
        printf("cuda backend: yes (runtime.precision = bf16: GEMMs on bf16 operands in training and inference, "
               "the inference plan's activations in bf16)\n");
        int n = gpu->count();
        printf("cuda devices: %d\n", n);
        if (n > 0) {
            if (gpu->open()) {
                // a device that cannot be initialized is worth knowing about, but it is a fact, not a failure
                printf("cuda device 0: unusable (%s)\n", gs_last_error());
            } else {
                printf("cuda device 0: %s\n", gpu->device_name());
                gpu->close();
            }
        }
    } else {
        printf("cuda backend: no (configure with -DGESTURE_CUDA=ON where nvcc and cuDNN are installed)\n");
        printf("cuda devices: 0 (not counted: no CUDA backend)\n");
    }
    return 0;
}

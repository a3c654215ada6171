// Small enums shared by the config, the data pipeline, the loader and the model (one definition
// project-wide).
#ifndef GESTURE_TYPES_H
#define GESTURE_TYPES_H

typedef enum { GS_SAMPLING_STRIDE = 0, GS_SAMPLING_UNIFORM = 1 } gs_sampling;       // frame selection
typedef enum { GS_NORMALIZE_UNIT = 0, GS_NORMALIZE_SYMMETRIC = 1 } gs_normalize;   // [0,1] or [-1,1]
// data.resize: gesture's float bilinear resize, or OpenCV's uint8 INTER_LINEAR (cv2.resize) then /255
typedef enum { GS_RESIZE_FLOAT = 0, GS_RESIZE_CV2 = 1 } gs_resize;
typedef enum { GS_BAD_CLIP_ERROR = 0, GS_BAD_CLIP_SKIP = 1 } gs_bad_clip;          // data.on_bad_clip
// model.bn_time: training BN statistics of TimeDistributed layers over all B*T frames at once (tf.keras 2)
// or per time step over its B frames, moving averages updated T times a step (Keras 3)
typedef enum { GS_BN_TIME_KERAS2 = 0, GS_BN_TIME_KERAS3 = 1 } gs_bn_time;

#endif

/* lt.h: the C interface to EfficientNet-B0 on libtorch: runtime, tensors, model, optimisers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Conventions (see lt-common.h): every fallible call returns an LtStatus and fills *error with
 * a message the caller frees with lt_string_free(); handles returned through out-parameters
 * belong to the caller and are released with their *_free(); arguments are borrowed. No call
 * keeps a pointer to caller memory after it returns. A model, and the optimisers made for it,
 * must be used by one thread at a time; different models may run on different threads.
 *
 * Stages are numbered as torchvision's module names: 0..8 are features.0 .. features.8 and
 * LT_STAGE_CLASSIFIER (9) is the head. A "cut" k splits the network into the prefix
 * features[0:k] and the rest features[k:] + avgpool + classifier, with 0 <= k <= 9.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lt-common.h"
#include "lt-weights.h"

LT_BEGIN_DECLS

typedef struct LtTensor LtTensor;
typedef struct LtModel  LtModel;
typedef struct LtOptim  LtOptim;

#define LT_N_FEATURES       9
#define LT_STAGE_CLASSIFIER 9
#define LT_N_STAGES         10

/* Runtime */

/* Sets the number of threads libtorch computes with: all cores when num_threads <= 0. Threads
 * take the setting when they first compute, so call it before starting work elsewhere. */
LtStatus    lt_init                     (int               num_threads,
                                         char            **error);
int         lt_get_num_threads          (void);
/* Seeds libtorch's generator (weight initialisation, dropout, stochastic depth). */
void        lt_manual_seed              (uint64_t          seed);

/* Devices: where models compute. A model stays on the device that was chosen when it was made,
 * with its optimisers' state and the activations it computes; the forward and training calls
 * take their inputs from any device, and lt_tensor_copy_f32() and lt_tensor_copy_f16() always
 * hand values back to the CPU. Until lt_set_device() is called, models run on the CPU. */

/* Chooses the device for the models made afterwards: "cpu", "cuda" (the first CUDA device),
 * "cuda:N", or "auto" (the first CUDA device when this libtorch has one, else the CPU). Fails
 * with LT_ERROR_NO_DEVICE when libtorch has no such CUDA device (it was built without CUDA, or
 * no GPU is visible) and LT_ERROR_INVALID_ARGUMENT for any other name, keeping the choice it
 * had. Models made before keep their device. */
LtStatus    lt_set_device               (const char       *name,
                                         char            **error);
/* The device chosen, resolved: "cpu" or "cuda:N". The string lives as long as the process. */
const char *lt_get_device               (void);
/* The number of CUDA devices libtorch can use: 0 when it was built without CUDA. */
int         lt_cuda_device_count        (void);

/* Tensors: float32 or float16 values, C order. */

LtStatus    lt_tensor_new_f32           (const float      *data,
                                         const int64_t    *shape,
                                         size_t            ndim,
                                         LtTensor        **out,
                                         char            **error);
/* data holds IEEE 754 binary16 values; the tensor keeps them as float16. */
LtStatus    lt_tensor_new_f16           (const uint16_t   *data,
                                         const int64_t    *shape,
                                         size_t            ndim,
                                         LtTensor        **out,
                                         char            **error);
void        lt_tensor_free              (LtTensor         *tensor);
size_t      lt_tensor_ndim              (const LtTensor   *tensor);
/* The size along axis, or -1 when axis >= ndim. */
int64_t     lt_tensor_dim               (const LtTensor   *tensor,
                                         size_t            axis);
int64_t     lt_tensor_numel             (const LtTensor   *tensor);
/* Copies all values out, converted; numel must equal lt_tensor_numel(). */
LtStatus    lt_tensor_copy_f32          (const LtTensor   *tensor,
                                         float            *data,
                                         size_t            numel,
                                         char            **error);
LtStatus    lt_tensor_copy_f16          (const LtTensor   *tensor,
                                         uint16_t         *data,
                                         size_t            numel,
                                         char            **error);
/* Joins tensors along an existing first axis (cat) or a new one (stack). Mixed float16 and
 * float32 inputs give float32. */
LtStatus    lt_tensor_cat               (const LtTensor  *const *tensors,
                                         size_t            n_tensors,
                                         LtTensor        **out,
                                         char            **error);
LtStatus    lt_tensor_stack             (const LtTensor  *const *tensors,
                                         size_t            n_tensors,
                                         LtTensor        **out,
                                         char            **error);
/* The mean of a [N, C, H, W] tensor over H and W, as float32 [N, C, 1, 1]: what the model's
 * avgpool hands its classifier, so a cut-9 input. */
LtStatus    lt_tensor_mean_spatial      (const LtTensor   *tensor,
                                         LtTensor        **out,
                                         char            **error);

/* Model: EfficientNet-B0 whose parameters and buffers carry torchvision's names. */

typedef enum
{
  LT_LOAD_STRICT = 0,
  /* Leave classifier.1 as it is when the checkpoint's head has another number of classes
   * (ImageNet's 1000, or a previous model's); a head of the right size still loads. */
  LT_LOAD_SKIP_MISMATCHED_HEAD = 1 << 0,
} LtLoadFlags;

typedef enum
{
  /* Fine-tuning a pretrained network: BatchNorm always normalises with its running statistics
   * and never updates them, even in training steps (the default). */
  LT_BATCH_NORM_FROZEN = 0,
  /* Training from scratch: BatchNorm of trainable stages uses batch statistics in training
   * steps and updates its running statistics. */
  LT_BATCH_NORM_TRAIN,
} LtBatchNormMode;

/* A new network initialised as torchvision initialises efficientnet_b0(num_classes=...), with
 * the same values whatever the device, on the device lt_set_device() chose. */
LtStatus    lt_model_new                (int64_t           num_classes,
                                         LtModel         **out,
                                         char            **error);
void        lt_model_free               (LtModel          *model);
int64_t     lt_model_num_classes        (const LtModel    *model);
/* The device the model computes on, as lt_get_device() names it ("cpu" for NULL). */
const char *lt_model_get_device         (const LtModel    *model);

/* Copies every parameter and buffer from state_dict. Fails with LT_ERROR_MISMATCH, naming the
 * missing keys, unexpected keys and shape mismatches, and then leaves the model unchanged.
 * Checkpoints without num_batches_tracked buffers (older PyTorch) load. */
LtStatus    lt_model_load_state_dict    (LtModel          *model,
                                         const LtStateDict *state_dict,
                                         LtLoadFlags       flags,
                                         char            **error);
/* Reads a torch.save() checkpoint or a safetensors file and loads it as above; metadata (may
 * be NULL) receives the string lt_model_save() stored, or NULL when the file has none. */
LtStatus    lt_model_load               (LtModel          *model,
                                         const char       *path,
                                         LtLoadFlags       flags,
                                         char            **metadata,
                                         char            **error);
/* Writes the state dict as safetensors with torchvision's names, atomically; metadata (may be
 * NULL) is stored under the key LT_MODEL_METADATA_KEY. */
#define LT_MODEL_METADATA_KEY "leafscope"
LtStatus    lt_model_save               (const LtModel    *model,
                                         const char       *path,
                                         const char       *metadata,
                                         char            **error);

/* Replaces classifier.1 by a new Linear(1280, num_classes) initialised as torchvision does
 * (uniform in +-1/sqrt(num_classes), zero bias). Optimisers made before become unusable. */
LtStatus    lt_model_reset_head         (LtModel          *model,
                                         int64_t           num_classes,
                                         char            **error);
/* A copy of the parameter or buffer with that torchvision name, on the CPU. */
LtStatus    lt_model_get_tensor         (const LtModel    *model,
                                         const char       *name,
                                         LtTensor        **out,
                                         char            **error);
/* Overwrites the parameter or buffer with that name; the shape must match. */
LtStatus    lt_model_set_tensor         (LtModel          *model,
                                         const char       *name,
                                         const LtTensor   *value,
                                         char            **error);

/* Freezes or unfreezes stages first_stage..last_stage (inclusive). Frozen stages get no
 * gradients and always run as in inference: no dropout, no stochastic depth, BatchNorm on
 * running statistics. A new model is trainable throughout. */
LtStatus    lt_model_set_trainable      (LtModel          *model,
                                         int               first_stage,
                                         int               last_stage,
                                         bool              trainable,
                                         char            **error);
bool        lt_model_get_trainable      (const LtModel    *model,
                                         int               stage);
void        lt_model_set_batch_norm_mode (LtModel         *model,
                                         LtBatchNormMode   mode);
/* The head's dropout probability in training steps (torchvision: 0.2). */
LtStatus    lt_model_set_dropout        (LtModel          *model,
                                         double            p,
                                         char            **error);

/* Inference: images is float32 [N, 3, H, W], normalised. */
LtStatus    lt_model_forward            (LtModel          *model,
                                         const LtTensor   *images,
                                         LtTensor        **logits,
                                         char            **error);
/* features[0:cut](images), the activations to cache for frozen stages. */
LtStatus    lt_model_forward_prefix     (LtModel          *model,
                                         const LtTensor   *images,
                                         int               cut,
                                         LtTensor        **activations,
                                         char            **error);
/* features[begin:end](input), where input is images (begin 0) or the activations of
 * features[0:begin]; 0 <= begin <= end <= 9. */
LtStatus    lt_model_forward_range      (LtModel          *model,
                                         const LtTensor   *input,
                                         int               begin,
                                         int               end,
                                         LtTensor        **activations,
                                         char            **error);
/* features[cut:] + avgpool + classifier on activations from lt_model_forward_prefix(). */
LtStatus    lt_model_forward_rest       (LtModel          *model,
                                         const LtTensor   *activations,
                                         int               cut,
                                         LtTensor        **logits,
                                         char            **error);

/* One optimisation step on a batch: input is images (cut 0) or prefix activations at cut;
 * labels holds N class indices; class_weights (may be NULL) holds num_classes weights.
 * Clears the gradients, computes the cross-entropy, back-propagates and steps optim.
 * loss (may be NULL) receives the batch's mean loss, n_correct (may be NULL) how many argmax
 * predictions equal their label. */
LtStatus    lt_model_train_step         (LtModel          *model,
                                         LtOptim          *optim,
                                         const LtTensor   *input,
                                         int               cut,
                                         const int64_t    *labels,
                                         double            label_smoothing,
                                         const float      *class_weights,
                                         float            *loss,
                                         int64_t          *n_correct,
                                         char            **error);
/* Inference on a labelled batch, as lt_model_forward_rest(), with the plain mean
 * cross-entropy and the number of correct predictions. logits, loss and n_correct may each
 * be NULL. */
LtStatus    lt_model_eval_step          (LtModel          *model,
                                         const LtTensor   *input,
                                         int               cut,
                                         const int64_t    *labels,
                                         LtTensor        **logits,
                                         float            *loss,
                                         int64_t          *n_correct,
                                         char            **error);

/* Grad-CAM on the output of features.8 for class_index: for each image of images [N, 3, H, W],
 * ReLU(sum_c mean(d logit / d act_c) * act_c), bilinearly resized to H x W and scaled to 0..1.
 * cam receives float32 [N, H, W]. */
LtStatus    lt_model_grad_cam           (LtModel          *model,
                                         const LtTensor   *images,
                                         int64_t           class_index,
                                         LtTensor        **cam,
                                         char            **error);

/* Optimisers over groups of stages, each group with its own learning rate. */

typedef enum
{
  LT_OPTIM_SGD = 0,   /* with momentum (0 for none) and L2 weight decay */
  LT_OPTIM_ADAM,      /* betas 0.9, 0.999, eps 1e-8, L2 weight decay */
  LT_OPTIM_ADAMW,     /* betas 0.9, 0.999, eps 1e-8, decoupled weight decay */
} LtOptimKind;

/* An optimiser for model with no groups yet; it keeps the model alive. momentum is used by
 * LT_OPTIM_SGD only. */
LtStatus    lt_optim_new                (LtModel          *model,
                                         LtOptimKind       kind,
                                         double            weight_decay,
                                         double            momentum,
                                         LtOptim         **out,
                                         char            **error);
void        lt_optim_free               (LtOptim          *optim);
/* Adds the parameters of stages first_stage..last_stage as a group with learning rate lr;
 * group (may be NULL) receives its index. A stage may belong to one group only. Parameters of
 * frozen stages are not updated while they stay frozen. */
LtStatus    lt_optim_add_group          (LtOptim          *optim,
                                         int               first_stage,
                                         int               last_stage,
                                         double            lr,
                                         size_t           *group,
                                         char            **error);
size_t      lt_optim_n_groups           (const LtOptim    *optim);
LtStatus    lt_optim_set_lr             (LtOptim          *optim,
                                         size_t            group,
                                         double            lr,
                                         char            **error);
/* The group's learning rate, or a negative value when there is no such group. */
double      lt_optim_get_lr             (const LtOptim    *optim,
                                         size_t            group);

LT_END_DECLS

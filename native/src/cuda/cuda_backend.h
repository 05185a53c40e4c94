// The CUDA backend: one Backend per visible device. Every op enqueues on the
// backend's one stream; memory comes from a stream-ordered pool (cudaMallocAsync
// with a pool that keeps what it frees), so neither allocating nor freeing a
// tensor synchronizes; only reads to the host wait. Kernels are registered per
// op family, each family in its own file.
#pragma once

#include <memory>
#include <vector>

#include "linea/backend.h"

namespace linea {

// One backend per CUDA device found; empty when there is no driver or device.
std::vector<std::unique_ptr<Backend>> make_cuda_backends();

void register_cuda_mixer_kernels(Backend& backend);        // mixer_*.cu: mixer_fwd, mixer_bwd
void register_cuda_attention_kernels(Backend& backend);    // softmax_attention.cu: fwd, bwd, decode
void register_cuda_layer_kernels(Backend& backend);        // layer_*.cu: embedding, norm, swiglu, rotary
void register_cuda_feature_map_kernels(Backend& backend);  // feature_maps.cu, short_conv.cu
void register_cuda_training_kernels(Backend& backend);     // training_*.cu: loss, rows, elementwise, adamw, cast
void register_cuda_linear_kernels(Backend& backend);       // linear_cublaslt.cu: linear_fwd, linear_bwd

}  // namespace linea

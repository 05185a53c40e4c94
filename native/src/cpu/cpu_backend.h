// The CPU backend: host memory, threaded reference kernels (float32 and float64).
#pragma once

#include <memory>

#include "linea/backend.h"

namespace linea {

std::unique_ptr<Backend> make_cpu_backend();

// Kernel families register themselves here (one function per source file).
void register_cpu_mixer_kernels(Backend& backend);             // mixer_*.cpp
void register_cpu_feature_map_kernels(Backend& backend);       // feature_maps.cpp
void register_cpu_short_conv_kernels(Backend& backend);        // short_conv.cpp
void register_cpu_attention_kernels(Backend& backend);         // softmax_attention.cpp
void register_cpu_attention_decode_kernels(Backend& backend);  // attention_decode.cpp
void register_cpu_layer_kernels(Backend& backend);             // layers.cpp
void register_cpu_training_kernels(Backend& backend);          // training.cpp

}  // namespace linea

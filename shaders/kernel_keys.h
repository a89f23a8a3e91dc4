// The keys of the generated kernel table (shaders/CMakeLists.txt writes kernel_table.h from the
// moe_kernel() lines of shaders/variants*.cmake): which shader computes a weight-reading kernel
// family for one weight type, reduction and read path. The runtime asks the table, never an id
// offset; engine/runtime/kernels_matmul.cpp checks at compile time that every key it may ask for
// has an entry.
#pragma once
#include <cstdint>

#include "shader_ids.h"

namespace moe {

enum class KernelFamily : uint32_t {
    MulMat,            // y = x · Wᵀ (mul_mat.comp MODE 0)
    MulMatMoe,         // expert-indexed, one (token, slot) per workgroup row (MODE 1)
    MulMatMoeGrouped,  // expert-grouped batches (MODE 2)
    GetRows,           // embedding rows (get_rows.comp)
};

// How a workgroup reduces a dot product: through shared memory, with subgroup arithmetic, or not
// at all (one invocation per output row, or no reduction in the kernel).
enum class KernelReduce : uint32_t { None, Shared, Subgroup };

// How the kernel reads the weights: device addresses, uniform texel views (16-byte fetches, one
// token per workgroup), or texel views with one invocation per output row (mul_mat_row.comp).
enum class KernelRead : uint32_t { Address, Texel, Rows };

struct KernelEntry {
    KernelFamily family;
    uint32_t type;  // GgmlType value
    KernelReduce reduce;
    KernelRead read;
    ShaderId id;
};

}  // namespace moe

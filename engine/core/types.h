// Tensor element types with their GGUF/GGML numeric ids and exact block layouts.
// Only the types the engine computes with are "supported"; others still get a name so errors
// can say what they met.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace moe {

enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

// Block layouts (bytes), as written by GGUF producers:
//   Q8_0: { f16 d; int8 qs[32]; }                                   34 bytes / 32 values
//   Q4_0: { f16 d; uint8 qs[16]; } v[j]=(qs[j]&15)-8, v[j+16]=(qs[j]>>4)-8   18 bytes / 32
//   Q4_K: { f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128]; }     144 bytes / 256
//   Q6_K: { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d; }  210 bytes / 256
struct TypeTraits {
    const char* name;
    uint32_t blockSize;   // values per block
    uint32_t blockBytes;  // bytes per block
    bool supported;       // the engine computes with it (CPU reference + shaders)
};

inline std::optional<TypeTraits> typeTraits(uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::F32: return TypeTraits{"F32", 1, 4, true};
        case GgmlType::F16: return TypeTraits{"F16", 1, 2, true};
        case GgmlType::BF16: return TypeTraits{"BF16", 1, 2, true};
        case GgmlType::Q8_0: return TypeTraits{"Q8_0", 32, 34, true};
        case GgmlType::Q4_0: return TypeTraits{"Q4_0", 32, 18, true};
        case GgmlType::Q4_K: return TypeTraits{"Q4_K", 256, 144, true};
        case GgmlType::Q6_K: return TypeTraits{"Q6_K", 256, 210, true};
        case GgmlType::Q4_1: return TypeTraits{"Q4_1", 32, 20, true};
        case GgmlType::Q5_0: return TypeTraits{"Q5_0", 32, 22, true};
        case GgmlType::Q5_1: return TypeTraits{"Q5_1", 32, 24, true};
        case GgmlType::Q8_1: return TypeTraits{"Q8_1", 32, 36, false};
        case GgmlType::Q2_K: return TypeTraits{"Q2_K", 256, 84, true};
        case GgmlType::Q3_K: return TypeTraits{"Q3_K", 256, 110, true};
        case GgmlType::Q5_K: return TypeTraits{"Q5_K", 256, 176, true};
        case GgmlType::Q8_K: return TypeTraits{"Q8_K", 256, 292, false};
        case GgmlType::IQ2_XXS: return TypeTraits{"IQ2_XXS", 256, 66, true};
        case GgmlType::IQ2_XS: return TypeTraits{"IQ2_XS", 256, 74, true};
        case GgmlType::IQ3_XXS: return TypeTraits{"IQ3_XXS", 256, 98, true};
        case GgmlType::IQ1_S: return TypeTraits{"IQ1_S", 256, 50, true};
        case GgmlType::IQ4_NL: return TypeTraits{"IQ4_NL", 32, 18, true};
        case GgmlType::IQ3_S: return TypeTraits{"IQ3_S", 256, 110, true};
        case GgmlType::IQ2_S: return TypeTraits{"IQ2_S", 256, 82, true};
        case GgmlType::IQ4_XS: return TypeTraits{"IQ4_XS", 256, 136, true};
        case GgmlType::I8: return TypeTraits{"I8", 1, 1, false};
        case GgmlType::I16: return TypeTraits{"I16", 1, 2, false};
        case GgmlType::I32: return TypeTraits{"I32", 1, 4, false};
        case GgmlType::I64: return TypeTraits{"I64", 1, 8, false};
        case GgmlType::F64: return TypeTraits{"F64", 1, 8, false};
        case GgmlType::IQ1_M: return TypeTraits{"IQ1_M", 256, 56, true};
        case GgmlType::TQ1_0: return TypeTraits{"TQ1_0", 256, 54, true};
        case GgmlType::TQ2_0: return TypeTraits{"TQ2_0", 256, 66, true};
        case GgmlType::MXFP4: return TypeTraits{"MXFP4", 32, 17, true};
    }
    return std::nullopt;
}

inline std::string typeName(GgmlType t) {
    auto tr = typeTraits(static_cast<uint32_t>(t));
    return tr ? tr->name : "type#" + std::to_string(static_cast<uint32_t>(t));
}

// Bytes of one row of `n` values; n must be a multiple of the block size (checked by callers).
inline uint64_t rowBytes(GgmlType t, uint64_t n) {
    auto tr = *typeTraits(static_cast<uint32_t>(t));
    return n / tr.blockSize * tr.blockBytes;
}

// The weight types the engine computes with, in a fixed order (tests iterate it).
inline constexpr GgmlType kWeightTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0,
                                            GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K,
                                            // 32-value blocks and super-blocks of dequant_legacy.glsl /
                                            // dequant_kquant.glsl
                                            GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL,
                                            GgmlType::MXFP4, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q5_K,
                                            GgmlType::IQ4_XS, GgmlType::TQ1_0, GgmlType::TQ2_0,
                                            // the IQ grid types of dequant_iq.glsl (grids from a
                                            // buffer, shaders/iq_grids.h)
                                            GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                                            GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S, GgmlType::IQ1_M};

}  // namespace moe

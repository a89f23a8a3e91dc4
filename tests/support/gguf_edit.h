// Test support: copies a GGUF file with edits (keys dropped or replaced, tensors dropped,
// retyped or reshaped with zero data, keys and tensors added). Malformed-model tests and the
// hostile corpus build their files with it; no doctest here, errors are returned.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

namespace moe::test {

// Metadata value as a writer value (scalars, strings, arrays of those).
GgufWriter::Value toWriterValue(const GgufValue& v);

// A replacement tensor: new type and shape, zero data of the new size.
struct TensorEdit {
    GgmlType type;
    std::vector<int64_t> ne;
};

struct GgufEdit {
    // Return nullopt to drop the key, or the value to write (given the original). Empty: keep all.
    std::function<std::optional<GgufWriter::Value>(std::string_view key, const GgufValue& v)> key;
    // Return false to drop the tensor; set the edit to retype/reshape it. Empty: keep all.
    std::function<bool(std::string_view name, std::optional<TensorEdit>& edit)> tensor;
    std::vector<std::pair<std::string, GgufWriter::Value>> extraKeys;
    std::vector<std::pair<std::string, TensorEdit>> extraTensors;  // zero data
};

// The edited copy of src, as file bytes.
Result<std::vector<uint8_t>> rewriteGguf(const GgufFile& src, const GgufEdit& edit);

// The common edits.
GgufEdit dropKey(std::string key);
GgufEdit setKey(std::string key, GgufWriter::Value v);  // replaces, or adds when missing
GgufEdit dropTensor(std::string name);
GgufEdit replaceTensor(std::string name, TensorEdit e);

}  // namespace moe::test

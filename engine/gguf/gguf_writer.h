// GGUF writer: builds a GGUF v3 file (metadata of every type, tensors with aligned data) in
// memory. Tests and tools use it to produce models; GgufFile reads back exactly what it wrote.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "gguf/gguf.h"

namespace moe {

class GgufWriter {
public:
    // An owned metadata value; arrays hold their elements, each encoded as elemType.
    struct Value {
        GgufType type = GgufType::U8;
        uint64_t bits = 0;  // scalars, little-endian bits
        std::string str;
        GgufType elemType = GgufType::U8;
        std::vector<Value> items;

        static Value u8(uint8_t v) { return scalar(GgufType::U8, v); }
        static Value i8(int8_t v) { return scalar(GgufType::I8, uint8_t(v)); }
        static Value u16(uint16_t v) { return scalar(GgufType::U16, v); }
        static Value i16(int16_t v) { return scalar(GgufType::I16, uint16_t(v)); }
        static Value u32(uint32_t v) { return scalar(GgufType::U32, v); }
        static Value i32(int32_t v) { return scalar(GgufType::I32, uint32_t(v)); }
        static Value u64(uint64_t v) { return scalar(GgufType::U64, v); }
        static Value i64(int64_t v) { return scalar(GgufType::I64, uint64_t(v)); }
        static Value f32(float v);
        static Value f64(double v);
        static Value boolean(bool v) { return scalar(GgufType::Bool, v ? 1 : 0); }
        static Value string(std::string v);
        static Value array(GgufType elemType, std::vector<Value> items);

    private:
        static Value scalar(GgufType t, uint64_t bits);
    };

    // Setting a key again replaces its value and keeps its first position.
    void add(std::string_view key, Value v);
    void addU8(std::string_view key, uint8_t v) { add(key, Value::u8(v)); }
    void addI8(std::string_view key, int8_t v) { add(key, Value::i8(v)); }
    void addU16(std::string_view key, uint16_t v) { add(key, Value::u16(v)); }
    void addI16(std::string_view key, int16_t v) { add(key, Value::i16(v)); }
    void addU32(std::string_view key, uint32_t v) { add(key, Value::u32(v)); }
    void addI32(std::string_view key, int32_t v) { add(key, Value::i32(v)); }
    void addU64(std::string_view key, uint64_t v) { add(key, Value::u64(v)); }
    void addI64(std::string_view key, int64_t v) { add(key, Value::i64(v)); }
    void addF32(std::string_view key, float v) { add(key, Value::f32(v)); }
    void addF64(std::string_view key, double v) { add(key, Value::f64(v)); }
    void addBool(std::string_view key, bool v) { add(key, Value::boolean(v)); }
    void addString(std::string_view key, std::string v) { add(key, Value::string(std::move(v))); }
    void addStringArray(std::string_view key, std::span<const std::string> v);
    void addStringArray(std::string_view key, std::span<const std::string_view> v);
    void addF32Array(std::string_view key, std::span<const float> v);
    void addI32Array(std::string_view key, std::span<const int32_t> v);
    void addU32Array(std::string_view key, std::span<const uint32_t> v);

    // Tensor data alignment, written as general.alignment; a non-zero power of two.
    Status setAlignment(uint32_t alignment);
    // Version written in the header (3 by default; 2 has the same layout).
    void setVersion(uint32_t version) { version_ = version; }

    // Adds a tensor; ne is fastest first (1 to 4 dims) and data holds exactly its bytes. The
    // data is copied. Errors: bad shape, unknown type, wrong byte count, duplicate name.
    Status addTensor(std::string_view name, GgmlType type, std::span<const int64_t> ne,
                     std::span<const uint8_t> data);
    Status addTensor(std::string_view name, GgmlType type, std::initializer_list<int64_t> ne,
                     std::span<const uint8_t> data) {
        return addTensor(name, type, std::span<const int64_t>(ne.begin(), ne.size()), data);
    }

    // Adds a tensor whose bytes are produced when the file is written: fill receives a zeroed
    // buffer of exactly the tensor's size (one tensor at a time), so a multi-GB model is written
    // without holding it in memory. Errors of fill abort serialize()/write().
    using TensorFill = std::function<Status(std::span<uint8_t>)>;
    Status addTensorStreamed(std::string_view name, GgmlType type, std::span<const int64_t> ne, TensorFill fill);

    size_t tensorCount() const { return tensors_.size(); }
    uint32_t alignment() const { return alignment_; }

    // The whole file: header, metadata, tensor infos, padding, each tensor's data padded to the
    // alignment. Streamed tensors are filled here (an error of their fill: empty result).
    std::vector<uint8_t> serialize() const;
    Status write(const std::string& path) const;

private:
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;
        uint64_t nBytes = 0;
        TensorFill fill;  // streamed tensors: data is empty and fill produces nBytes at write time
    };
    Status checkTensor(std::string_view name, GgmlType type, std::span<const int64_t> ne, uint64_t* bytes) const;
    std::vector<uint8_t> serializeHeader() const;
    std::vector<std::pair<std::string, Value>> kvs_;
    std::vector<Tensor> tensors_;
    uint32_t version_ = 3;
    uint32_t alignment_ = 32;
};

}  // namespace moe

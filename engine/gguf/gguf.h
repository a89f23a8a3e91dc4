// GGUF reader: maps a model file and exposes its metadata and tensor table. Files are untrusted
// input: every count, length, offset and size is checked against the file before it is used, and
// every problem comes back as a one-line Error naming the file and what is wrong.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "platform/mapped_file.h"

namespace moe {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
    U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

// "UINT32", "STRING", ... as the GGUF spec names them; "INVALID" past the last type.
const char* ggufTypeName(GgufType t);
// Bytes of one encoded value of a fixed-size type; 0 for String and Array.
uint32_t ggufTypeSize(GgufType t);

// One metadata value. Strings and packed scalar arrays point into the file (valid while the
// GgufFile lives); nested arrays are parsed into `items`.
struct GgufValue {
    GgufType type = GgufType::U8;
    uint64_t bits = 0;       // scalars: the value's little-endian bits, zero-extended
    std::string_view str;    // String
    // Array
    GgufType elemType = GgufType::U8;
    uint64_t count = 0;                      // number of elements
    const uint8_t* raw = nullptr;            // fixed-size elements, packed little-endian, unaligned
    std::vector<std::string_view> strings;   // String elements
    std::vector<GgufValue> items;            // Array elements (each an array of its own type)

    bool isArray() const { return type == GgufType::Array; }
    bool isInteger() const { return isIntegerType(type); }
    bool isFloat() const { return type == GgufType::F32 || type == GgufType::F64; }
    static bool isIntegerType(GgufType t);
    static bool isSignedType(GgufType t);

    // Scalar integer as T; nullopt if not an integer type or the value does not fit in T.
    template <class T>
    std::optional<T> toInt() const {
        if (isSignedType(type)) {
            int64_t v = signedValue();
            if (std::in_range<T>(v)) return static_cast<T>(v);
        } else if (isInteger() && std::in_range<T>(bits)) {
            return static_cast<T>(bits);
        }
        return std::nullopt;
    }
    // Any integer or float scalar as double; nullopt otherwise.
    std::optional<double> toDouble() const;
    int64_t signedValue() const;  // sign-extended bits of a signed integer scalar

    // Element i of a String or fixed-size array, as a scalar value (i < count). Elements of
    // arrays of arrays are `items[i]`.
    GgufValue element(uint64_t i) const;
    // Display form: strings quoted and escaped, long strings and arrays abbreviated.
    std::string toString(size_t maxItems = 8, size_t maxChars = 120) const;
    // "UINT32", "ARRAY of STRING", "ARRAY of ARRAY", ...
    std::string typeString() const;
};

struct GgufKv {
    std::string_view key;
    GgufValue value;
};

// One tensor of the file. Its data lies inside the file, aligned and not overlapping any other.
struct GgufTensor {
    std::string_view name;
    GgmlType type = GgmlType::F32;
    uint32_t nDims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // elements per dimension, fastest first; unused dims are 1
    uint64_t nElements = 0;        // product of ne, < 2^63
    uint64_t nBytes = 0;
    uint64_t offset = 0;           // absolute file offset of the data
    const uint8_t* data = nullptr;
};

class GgufFile {
public:
    // Maps and parses `path`; the mapping lives as long as the GgufFile.
    static Result<GgufFile> open(const std::string& path);
    // Parses caller-owned bytes, which must outlive the GgufFile; `name` prefixes messages.
    static Result<GgufFile> fromMemory(std::span<const uint8_t> bytes, std::string name = "<memory>");

    GgufFile(GgufFile&&) noexcept = default;
    GgufFile& operator=(GgufFile&&) noexcept = default;
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& name() const { return name_; }  // path, or the name given to fromMemory
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t dataOffset() const { return dataOffset_; }  // file offset of the tensor data section
    uint64_t fileSize() const { return size_; }
    const uint8_t* fileData() const { return data_; }

    // ---- metadata, in file order
    const std::vector<GgufKv>& kvs() const { return kvs_; }
    bool has(std::string_view key) const { return find(key) != nullptr; }
    const GgufValue* find(std::string_view key) const;

    // Typed lookups: an error names the key when it is missing, of another type or out of range.
    // Integer getters accept any integer type whose value fits; getF32 accepts floats and integers.
    Result<uint32_t> getU32(std::string_view key) const;
    Result<uint64_t> getU64(std::string_view key) const;
    Result<int32_t> getI32(std::string_view key) const;
    Result<int64_t> getI64(std::string_view key) const;
    Result<float> getF32(std::string_view key) const;
    Result<bool> getBool(std::string_view key) const;
    Result<std::string_view> getString(std::string_view key) const;
    Result<std::span<const std::string_view>> getStringArray(std::string_view key) const;
    Result<std::vector<float>> getF32Array(std::string_view key) const;
    Result<std::vector<int32_t>> getI32Array(std::string_view key) const;
    Result<std::vector<uint32_t>> getU32Array(std::string_view key) const;

    // Missing key: the default. Present with a wrong type or out of range: an error.
    Result<uint32_t> getU32Or(std::string_view key, uint32_t dflt) const;
    Result<float> getF32Or(std::string_view key, float dflt) const;
    Result<bool> getBoolOr(std::string_view key, bool dflt) const;

    // Missing key, wrong type or out of range: nullopt (use the get* forms to report why).
    std::optional<uint32_t> findU32(std::string_view key) const;
    std::optional<uint64_t> findU64(std::string_view key) const;
    std::optional<int32_t> findI32(std::string_view key) const;
    std::optional<float> findF32(std::string_view key) const;
    std::optional<bool> findBool(std::string_view key) const;
    std::optional<std::string_view> findString(std::string_view key) const;

    // ---- tensors, in file order
    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* tensor(std::string_view name) const;

private:
    friend struct GgufParser;
    GgufFile() = default;
    Result<const GgufValue*> lookup(std::string_view key) const;
    template <class T>
    Result<T> getInt(std::string_view key, const char* typeName) const;
    template <class T>
    Result<std::vector<T>> getIntArray(std::string_view key, const char* typeName) const;
    Error typeError(std::string_view key, const GgufValue& v, const char* expected) const;

    MappedFile file_;  // empty for fromMemory
    std::string name_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t dataOffset_ = 0;
    std::vector<GgufKv> kvs_;
    std::vector<GgufTensor> tensors_;
    std::unordered_map<std::string_view, size_t> kvIndex_;      // key -> index in kvs_
    std::unordered_map<std::string_view, size_t> tensorIndex_;  // name -> index in tensors_
};

}  // namespace moe

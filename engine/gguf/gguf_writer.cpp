// GGUF writer: serializes metadata and tensors in the layout the reader checks (v3, little-endian,
// tensor data aligned and padded with zeros).
#include "gguf/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "gguf/gguf_internal.h"

namespace moe {

using Value = GgufWriter::Value;

Value Value::scalar(GgufType t, uint64_t bits) {
    Value v;
    v.type = t;
    v.bits = bits;
    return v;
}
Value Value::f32(float v) { return scalar(GgufType::F32, std::bit_cast<uint32_t>(v)); }
Value Value::f64(double v) { return scalar(GgufType::F64, std::bit_cast<uint64_t>(v)); }

Value Value::string(std::string s) {
    Value v;
    v.type = GgufType::String;
    v.str = std::move(s);
    return v;
}

Value Value::array(GgufType elemType, std::vector<Value> items) {
    Value v;
    v.type = GgufType::Array;
    v.elemType = elemType;
    v.items = std::move(items);
    return v;
}

void GgufWriter::add(std::string_view key, Value v) {
    // general.alignment set directly also sets the padding, so the file stays consistent.
    bool isUnsigned = v.type == GgufType::U8 || v.type == GgufType::U16 || v.type == GgufType::U32 ||
                      v.type == GgufType::U64;
    if (key == "general.alignment" && isUnsigned && v.bits != 0 && v.bits <= (uint64_t(1) << 31) &&
        std::has_single_bit(v.bits))
        alignment_ = uint32_t(v.bits);
    for (auto& kv : kvs_) {
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    }
    kvs_.emplace_back(std::string(key), std::move(v));
}

void GgufWriter::addStringArray(std::string_view key, std::span<const std::string> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const auto& s : v) items.push_back(Value::string(s));
    add(key, Value::array(GgufType::String, std::move(items)));
}

void GgufWriter::addStringArray(std::string_view key, std::span<const std::string_view> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (auto s : v) items.push_back(Value::string(std::string(s)));
    add(key, Value::array(GgufType::String, std::move(items)));
}

void GgufWriter::addF32Array(std::string_view key, std::span<const float> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (float x : v) items.push_back(Value::f32(x));
    add(key, Value::array(GgufType::F32, std::move(items)));
}

void GgufWriter::addI32Array(std::string_view key, std::span<const int32_t> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (int32_t x : v) items.push_back(Value::i32(x));
    add(key, Value::array(GgufType::I32, std::move(items)));
}

void GgufWriter::addU32Array(std::string_view key, std::span<const uint32_t> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (uint32_t x : v) items.push_back(Value::u32(x));
    add(key, Value::array(GgufType::U32, std::move(items)));
}

Status GgufWriter::setAlignment(uint32_t alignment) {
    if (alignment == 0 || !std::has_single_bit(alignment))
        return makeError("GGUF alignment " + std::to_string(alignment) + " is not a non-zero power of two");
    alignment_ = alignment;
    addU32("general.alignment", alignment);
    return {};
}

Status GgufWriter::checkTensor(std::string_view name, GgmlType type, std::span<const int64_t> ne,
                               uint64_t* bytes) const {
    std::string what = "tensor '" + std::string(name) + "'";
    for (const Tensor& t : tensors_)
        if (t.name == name) return makeError("duplicate " + what);
    if (ne.empty() || ne.size() > 4)
        return makeError(what + " has " + std::to_string(ne.size()) + " dimensions; 1 to 4 are supported");
    auto traits = typeTraits(static_cast<uint32_t>(type));
    if (!traits) return makeError(what + " has unknown type id " + std::to_string(static_cast<uint32_t>(type)));
    uint64_t n = 1;
    for (int64_t d : ne) {
        if (d < 0) return makeError(what + " has a negative dimension");
        if (d != 0 && n > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(d))
            return makeError(what + " element count overflows");
        n *= uint64_t(d);
    }
    if (ne[0] % traits->blockSize != 0)
        return makeError(what + " row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                         traits->name + " block size " + std::to_string(traits->blockSize));
    *bytes = n / traits->blockSize * traits->blockBytes;
    return {};
}

Status GgufWriter::addTensor(std::string_view name, GgmlType type, std::span<const int64_t> ne,
                             std::span<const uint8_t> data) {
    uint64_t bytes = 0;
    MOE_TRY(checkTensor(name, type, ne, &bytes));
    if (data.size() != bytes)
        return makeError("tensor '" + std::string(name) + "' needs " + std::to_string(bytes) +
                         " bytes of data, got " + std::to_string(data.size()));
    tensors_.push_back({std::string(name), type, {ne.begin(), ne.end()}, {data.begin(), data.end()}, bytes, {}});
    return {};
}

Status GgufWriter::addTensorStreamed(std::string_view name, GgmlType type, std::span<const int64_t> ne,
                                     TensorFill fill) {
    uint64_t bytes = 0;
    MOE_TRY(checkTensor(name, type, ne, &bytes));
    if (!fill) return makeError("tensor '" + std::string(name) + "' has no fill function");
    tensors_.push_back({std::string(name), type, {ne.begin(), ne.end()}, {}, bytes, std::move(fill)});
    return {};
}

namespace {

void putString(std::vector<uint8_t>& out, std::string_view s) {
    appendLE(out, s.size(), 8);
    out.insert(out.end(), s.begin(), s.end());
}

// The body of v encoded as type t (for array elements t is the array's element type).
void putValue(std::vector<uint8_t>& out, GgufType t, const Value& v) {
    if (t == GgufType::String) {
        putString(out, v.str);
    } else if (t == GgufType::Array) {
        appendLE(out, uint32_t(v.elemType), 4);
        appendLE(out, v.items.size(), 8);
        for (const Value& item : v.items) putValue(out, v.elemType, item);
    } else {
        appendLE(out, v.bits, ggufTypeSize(t));
    }
}

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

// Header, metadata and tensor infos, padded to the alignment: everything before the data.
std::vector<uint8_t> GgufWriter::serializeHeader() const {
    std::vector<uint8_t> out;
    for (char c : std::string_view("GGUF")) out.push_back(uint8_t(c));
    appendLE(out, version_, 4);
    appendLE(out, tensors_.size(), 8);
    appendLE(out, kvs_.size(), 8);
    for (const auto& [key, v] : kvs_) {
        putString(out, key);
        appendLE(out, uint32_t(v.type), 4);
        putValue(out, v.type, v);
    }
    uint64_t offset = 0;  // within the data section
    for (const Tensor& t : tensors_) {
        putString(out, t.name);
        appendLE(out, t.ne.size(), 4);
        for (int64_t d : t.ne) appendLE(out, uint64_t(d), 8);
        appendLE(out, static_cast<uint32_t>(t.type), 4);
        appendLE(out, offset, 8);
        offset = alignUp(offset + t.nBytes, alignment_);
    }
    out.resize(alignUp(out.size(), alignment_), 0);
    return out;
}

std::vector<uint8_t> GgufWriter::serialize() const {
    std::vector<uint8_t> out = serializeHeader();
    for (const Tensor& t : tensors_) {
        if (t.fill) {
            const size_t at = out.size();
            out.resize(at + t.nBytes, 0);
            if (!t.fill(std::span<uint8_t>(out.data() + at, t.nBytes)).ok()) return {};
        } else {
            out.insert(out.end(), t.data.begin(), t.data.end());
        }
        out.resize(alignUp(out.size(), alignment_), 0);
    }
    return out;
}

Status GgufWriter::write(const std::string& path) const {
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    if (!fp) return makeError("cannot create '" + path + "': " + std::strerror(errno));
    auto put = [&](const uint8_t* p, size_t n) { return n == 0 || std::fwrite(p, 1, n, fp) == n; };
    std::vector<uint8_t> bytes = serializeHeader();
    bool ok = put(bytes.data(), bytes.size());
    int e = errno;
    std::string fillError;
    static const uint8_t zeros[64] = {};
    for (size_t i = 0; ok && i < tensors_.size(); ++i) {
        const Tensor& t = tensors_[i];
        if (t.fill) {
            bytes.assign(t.nBytes, 0);
            Status st = t.fill(std::span<uint8_t>(bytes.data(), bytes.size()));
            if (!st.ok()) {
                fillError = st.message();
                break;
            }
            ok = put(bytes.data(), bytes.size());
        } else {
            ok = put(t.data.data(), t.data.size());
        }
        const size_t pad = size_t(alignUp(t.nBytes, alignment_) - t.nBytes);
        for (size_t left = pad; ok && left > 0;) {
            const size_t n = std::min(left, sizeof zeros);
            ok = put(zeros, n);
            left -= n;
        }
        e = errno;
    }
    if (std::fclose(fp) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!fillError.empty()) {
        std::remove(path.c_str());
        return makeError("cannot write '" + path + "': " + fillError);
    }
    if (!ok) return makeError("cannot write '" + path + "': " + std::strerror(e));
    return {};
}

}  // namespace moe

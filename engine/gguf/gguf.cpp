// GGUF parsing: header, metadata, tensor infos, data layout. Every length read from the file is
// compared with the bytes that remain before anything is allocated or read, counts are bounded
// by the smallest encoding of what they count, and products are checked for 64-bit overflow.
#include "gguf/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "gguf/gguf_internal.h"

namespace moe {

namespace {

constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;
// Arrays of arrays cost ~100 bytes of memory per 12-byte element; no real file has many, so
// their total is capped to keep a hostile file from turning into gigabytes of allocations.
constexpr uint64_t kMaxNestedItems = uint64_t(1) << 20;
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // key length, value type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset
constexpr uint64_t kMaxI64 = uint64_t(std::numeric_limits<int64_t>::max());

// Smallest encoding of one value of type t: fixed size, or a length / array header.
uint64_t minEncodedSize(GgufType t) {
    if (t == GgufType::String) return 8;
    if (t == GgufType::Array) return 4 + 8;
    return ggufTypeSize(t);
}

bool mulOverflows(uint64_t a, uint64_t b, uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
    out = a * b;
    return false;
}

std::string str(uint64_t v) { return std::to_string(v); }

std::string dimsString(const uint64_t* ne, uint32_t n) {
    std::string s = "[";
    for (uint32_t i = 0; i < n; ++i) s += (i ? ", " : "") + str(ne[i]);
    return s + "]";
}

std::string hexBytes(const uint8_t* p, size_t n) {
    static const char* kHex = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += kHex[p[i] >> 4];
        s += kHex[p[i] & 15];
    }
    return s;
}

}  // namespace

// Fills a GgufFile from its bytes. Low-level readers return a detail message; the section loops
// prefix it with the file name and the key or tensor being read.
struct GgufParser {
    GgufFile& f;
    const uint8_t* p;
    uint64_t size;
    uint64_t pos = 0;
    uint64_t nestedItems = 0;

    uint64_t left() const { return size - pos; }

    Error fail(const std::string& detail) const { return makeError(f.name_ + ": " + detail); }

    Status need(uint64_t n, const char* what) const {
        if (n <= left()) return {};
        return makeError(std::string("file truncated: ") + what + " at offset " + str(pos) + " needs " +
                         str(n) + " bytes, only " + str(left()) + " left");
    }
    Status readU32(uint32_t& out, const char* what) {
        MOE_TRY(need(4, what));
        out = loadLE<uint32_t>(p + pos);
        pos += 4;
        return {};
    }
    Status readU64(uint64_t& out, const char* what) {
        MOE_TRY(need(8, what));
        out = loadLE<uint64_t>(p + pos);
        pos += 8;
        return {};
    }
    Status readString(std::string_view& out, const char* what) {
        uint64_t len = 0;
        uint64_t at = pos;
        MOE_TRY(readU64(len, what));
        if (len > left())
            return makeError(std::string(what) + " length " + str(len) + " at offset " + str(at) + " exceeds the " +
                             str(left()) + " bytes left in the file (truncated or corrupt)");
        out = std::string_view(reinterpret_cast<const char*>(p + pos), size_t(len));
        pos += len;
        return {};
    }

    Status readValue(GgufType t, GgufValue& v, int depth) {
        v.type = t;
        if (t == GgufType::String) return readString(v.str, "string");
        if (t != GgufType::Array) {
            uint32_t n = ggufTypeSize(t);
            MOE_TRY(need(n, "value"));
            v.bits = loadLEBits(p + pos, n);
            pos += n;
            return {};
        }
        uint32_t et = 0;
        MOE_TRY(readU32(et, "array element type"));
        if (et >= kGgufTypeCount) return makeError("unknown array element type id " + str(et));
        if (depth >= kMaxArrayDepth) return makeError("arrays nested more than " + str(kMaxArrayDepth) + " deep");
        v.elemType = GgufType(et);
        uint64_t at = pos;
        MOE_TRY(readU64(v.count, "array length"));
        uint64_t minSize = minEncodedSize(v.elemType);
        if (v.count > left() / minSize)
            return makeError("array of " + str(v.count) + " " + ggufTypeName(v.elemType) + " elements at offset " +
                             str(at) + " cannot fit in the " + str(left()) +
                             " bytes left in the file (truncated or corrupt)");
        if (v.elemType == GgufType::String) {
            // Vocabularies hold 100k+ strings; the count is bounded by the bytes left (8 per string).
            v.strings.reserve(size_t(std::min<uint64_t>(v.count, uint64_t(1) << 20)));
            for (uint64_t i = 0; i < v.count; ++i) {
                std::string_view s;
                Status st = readString(s, "string");
                if (!st) return makeError("element " + str(i) + ": " + st.message());
                v.strings.push_back(s);
            }
        } else if (v.elemType == GgufType::Array) {
            nestedItems += v.count;
            if (nestedItems > kMaxNestedItems)
                return makeError("more than " + str(kMaxNestedItems) + " nested array elements in the file");
            v.items.reserve(size_t(v.count));
            for (uint64_t i = 0; i < v.count; ++i) {
                v.items.emplace_back();
                Status st = readValue(GgufType::Array, v.items.back(), depth + 1);
                if (!st) return makeError("element " + str(i) + ": " + st.message());
            }
        } else {
            v.raw = p + pos;
            pos += v.count * minSize;  // bounded by left() above
        }
        return {};
    }

    Status header() {
        if (size == 0) return fail("empty file (0 bytes), not a GGUF model");
        if (size < 4) return fail("file too small (" + str(size) + " bytes) to be a GGUF model");
        if (std::memcmp(p, "FUGG", 4) == 0)
            return fail("big-endian GGUF file; only little-endian files are supported");
        if (std::memcmp(p, "GGUF", 4) != 0)
            return fail("not a GGUF file (starts with bytes " + hexBytes(p, 4) + ", expected 'GGUF')");
        pos = 4;
        Status st = readU32(f.version_, "version");
        if (!st) return fail(st.message());
        uint32_t v = f.version_;
        if (v == 1) return fail("GGUF version 1 is not supported (this reader reads versions 2 and 3)");
        if (v != 2 && v != 3) {
            uint32_t swapped = byteSwap32(v);
            if (swapped >= 1 && swapped <= 3)
                return fail("big-endian GGUF file (version bytes " + hexBytes(p + 4, 4) +
                            "); only little-endian files are supported");
            return fail("unsupported GGUF version " + str(v) + " (this reader reads versions 2 and 3)");
        }
        return {};
    }

    Status counts(uint64_t& nTensors, uint64_t& nKv) {
        Status st = readU64(nTensors, "tensor count");
        if (st) st = readU64(nKv, "key count");
        if (!st) return fail(st.message());
        // Each bound keeps the products below from overflowing.
        if (nKv > left() / kMinKvBytes)
            return fail("key count " + str(nKv) + " is impossible: the " + str(left()) +
                        " bytes after the header hold at most " + str(left() / kMinKvBytes) +
                        " keys (truncated or corrupt)");
        if (nTensors > left() / kMinTensorInfoBytes)
            return fail("tensor count " + str(nTensors) + " is impossible: the " + str(left()) +
                        " bytes after the header hold at most " + str(left() / kMinTensorInfoBytes) +
                        " tensor infos (truncated or corrupt)");
        uint64_t minBytes = nKv * kMinKvBytes + nTensors * kMinTensorInfoBytes;
        if (minBytes > left())
            return fail(str(nKv) + " keys and " + str(nTensors) + " tensor infos need at least " + str(minBytes) +
                        " bytes, only " + str(left()) + " follow the header (truncated or corrupt)");
        return {};
    }

    Status metadata(uint64_t nKv) {
        f.kvs_.reserve(size_t(std::min<uint64_t>(nKv, 4096)));
        for (uint64_t i = 0; i < nKv; ++i) {
            GgufKv kv;
            Status st = readString(kv.key, "key");
            if (!st) return fail("key #" + str(i) + ": " + st.message());
            std::string key = quoteForMessage(kv.key);
            auto [it, inserted] = f.kvIndex_.emplace(kv.key, f.kvs_.size());
            if (!inserted)
                return fail("duplicate key " + key + " (entries #" + str(it->second) + " and #" + str(i) + ")");
            uint32_t type = 0;
            st = readU32(type, "value type");
            if (st && type >= kGgufTypeCount) st = makeError("unknown value type id " + str(type));
            if (st) st = readValue(GgufType(type), kv.value, 0);
            if (!st) return fail("key " + key + ": " + st.message());
            f.kvs_.push_back(std::move(kv));
        }
        if (const GgufValue* a = f.find("general.alignment")) {
            auto align = a->toInt<uint32_t>();
            if (!align)
                return fail("general.alignment must be an unsigned 32-bit integer, got " + a->typeString() + " " +
                            a->toString());
            if (*align == 0) return fail("general.alignment is 0; it must be a non-zero power of two");
            if (!std::has_single_bit(*align))
                return fail("general.alignment " + str(*align) + " is not a power of two");
            f.alignment_ = *align;
        }
        return {};
    }

    // One tensor info; relOffset is the offset within the data section as stored.
    Status tensorInfo(uint64_t i, uint64_t& relOffset) {
        GgufTensor t;
        Status st = readString(t.name, "tensor name");
        if (!st) return fail("tensor info #" + str(i) + ": " + st.message());
        std::string name = "tensor " + quoteForMessage(t.name);
        auto [it, inserted] = f.tensorIndex_.emplace(t.name, f.tensors_.size());
        if (!inserted)
            return fail("duplicate tensor name " + quoteForMessage(t.name) + " (tensor infos #" + str(it->second) +
                        " and #" + str(i) + ")");
        st = readU32(t.nDims, "dimension count");
        if (!st) return fail(name + ": " + st.message());
        if (t.nDims > kMaxDims)
            return fail(name + " has " + str(t.nDims) + " dimensions; at most " + str(kMaxDims) + " are supported");
        st = need(8 * uint64_t(t.nDims), "dimensions");
        if (!st) return fail(name + ": " + st.message());
        uint64_t ne[kMaxDims] = {1, 1, 1, 1};
        for (uint32_t d = 0; d < t.nDims; ++d) {
            ne[d] = loadLE<uint64_t>(p + pos);
            pos += 8;
        }
        uint64_t nElements = 1;
        for (uint32_t d = 0; d < t.nDims; ++d) {
            if (ne[d] > kMaxI64)
                return fail(name + " dimension " + str(d) + " is " + str(ne[d]) + ", more than 2^63-1");
            if (mulOverflows(nElements, ne[d], nElements) || nElements > kMaxI64)
                return fail(name + " dimensions " + dimsString(ne, t.nDims) + " overflow 64 bits (element count)");
        }
        for (uint32_t d = 0; d < kMaxDims; ++d) t.ne[d] = int64_t(ne[d]);
        t.nElements = nElements;
        uint32_t typeId = 0;
        st = readU32(typeId, "tensor type");
        if (!st) return fail(name + ": " + st.message());
        auto traits = typeTraits(typeId);
        if (!traits) return fail(name + " has unknown type id " + str(typeId));
        t.type = GgmlType(typeId);
        if (ne[0] % traits->blockSize != 0)
            return fail(name + " row length " + str(ne[0]) + " is not a multiple of the " + traits->name +
                        " block size " + str(traits->blockSize));
        if (mulOverflows(nElements / traits->blockSize, traits->blockBytes, t.nBytes))
            return fail(name + " size (" + dimsString(ne, t.nDims) + " of " + traits->name + ") overflows 64 bits");
        st = readU64(relOffset, "data offset");
        if (!st) return fail(name + ": " + st.message());
        if (relOffset % f.alignment_ != 0)
            return fail(name + " data offset " + str(relOffset) + " is not a multiple of the alignment " +
                        str(f.alignment_));
        f.tensors_.push_back(t);
        return {};
    }

    Status tensorInfos(uint64_t nTensors) {
        if (nTensors > left() / kMinTensorInfoBytes)
            return fail("tensor count " + str(nTensors) + " is impossible: the " + str(left()) +
                        " bytes after the metadata hold at most " + str(left() / kMinTensorInfoBytes) +
                        " tensor infos (truncated or corrupt)");
        std::vector<uint64_t> rel;
        f.tensors_.reserve(size_t(nTensors));  // <= file size / 24
        rel.reserve(size_t(nTensors));
        for (uint64_t i = 0; i < nTensors; ++i) {
            uint64_t r = 0;
            MOE_TRY(tensorInfo(i, r));
            rel.push_back(r);
        }
        // pos <= size < 2^63 and alignment <= 2^31: no overflow.
        f.dataOffset_ = (pos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
        return layout(rel);
    }

    // Places every tensor's data inside the file and rejects overlaps.
    Status layout(const std::vector<uint64_t>& rel) {
        for (size_t i = 0; i < f.tensors_.size(); ++i) {
            GgufTensor& t = f.tensors_[i];
            std::string name = "tensor " + quoteForMessage(t.name);
            if (rel[i] > std::numeric_limits<uint64_t>::max() - f.dataOffset_)
                return fail(name + " data [data section offset " + str(rel[i]) + ", " + str(t.nBytes) +
                            " bytes] extends past end of file (size " + str(size) + ")");
            t.offset = f.dataOffset_ + rel[i];
            if (t.offset > size || t.nBytes > size - t.offset)
                return fail(name + " data [offset " + str(t.offset) + ", " + str(t.nBytes) +
                            " bytes] extends past end of file (size " + str(size) + ")");
            t.data = p + t.offset;
        }
        std::vector<const GgufTensor*> order;
        order.reserve(f.tensors_.size());
        for (const GgufTensor& t : f.tensors_) order.push_back(&t);
        std::sort(order.begin(), order.end(), [](const GgufTensor* a, const GgufTensor* b) {
            return a->offset != b->offset ? a->offset < b->offset : a->nBytes < b->nBytes;
        });
        for (size_t i = 1; i < order.size(); ++i) {
            const GgufTensor& a = *order[i - 1];
            const GgufTensor& b = *order[i];
            if (a.offset + a.nBytes > b.offset)
                return fail("tensors " + quoteForMessage(a.name) + " [offset " + str(a.offset) + ", " + str(a.nBytes) +
                            " bytes] and " + quoteForMessage(b.name) + " [offset " + str(b.offset) + ", " +
                            str(b.nBytes) + " bytes] overlap");
        }
        return {};
    }

    Status parse() {
        MOE_TRY(header());
        uint64_t nTensors = 0, nKv = 0;
        MOE_TRY(counts(nTensors, nKv));
        MOE_TRY(metadata(nKv));
        return tensorInfos(nTensors);
    }
};

Result<GgufFile> GgufFile::fromMemory(std::span<const uint8_t> bytes, std::string name) {
    GgufFile f;
    f.name_ = std::move(name);
    f.data_ = bytes.data();
    f.size_ = bytes.size();
    GgufParser parser{f, f.data_, f.size_};
    MOE_TRY(parser.parse());
    return f;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
    MOE_ASSIGN(MappedFile mapped, MappedFile::open(path));
    // The mapping's address survives the move into the GgufFile, so views into it stay valid.
    std::span<const uint8_t> bytes(mapped.data(), mapped.size());
    MOE_ASSIGN(GgufFile f, fromMemory(bytes, path));
    f.file_ = std::move(mapped);
    return f;
}

}  // namespace moe

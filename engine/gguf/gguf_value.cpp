// GGUF metadata values: type names, conversions, display form, and the typed lookups of GgufFile
// (which turn a missing key, a wrong type or an out-of-range value into a message naming the key).
#include <bit>
#include <charconv>

#include "gguf/gguf.h"
#include "gguf/gguf_internal.h"

namespace moe {

const char* ggufTypeName(GgufType t) {
    switch (t) {
        case GgufType::U8: return "UINT8";
        case GgufType::I8: return "INT8";
        case GgufType::U16: return "UINT16";
        case GgufType::I16: return "INT16";
        case GgufType::U32: return "UINT32";
        case GgufType::I32: return "INT32";
        case GgufType::F32: return "FLOAT32";
        case GgufType::Bool: return "BOOL";
        case GgufType::String: return "STRING";
        case GgufType::Array: return "ARRAY";
        case GgufType::U64: return "UINT64";
        case GgufType::I64: return "INT64";
        case GgufType::F64: return "FLOAT64";
    }
    return "INVALID";
}

uint32_t ggufTypeSize(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        case GgufType::String: case GgufType::Array: return 0;
    }
    return 0;
}

// ---- GgufValue

bool GgufValue::isIntegerType(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
        case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
        default: return false;
    }
}

bool GgufValue::isSignedType(GgufType t) {
    return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

int64_t GgufValue::signedValue() const {
    switch (type) {
        case GgufType::I8: return int8_t(uint8_t(bits));
        case GgufType::I16: return int16_t(uint16_t(bits));
        case GgufType::I32: return int32_t(uint32_t(bits));
        default: return int64_t(bits);
    }
}

std::optional<double> GgufValue::toDouble() const {
    if (type == GgufType::F32) return double(std::bit_cast<float>(uint32_t(bits)));
    if (type == GgufType::F64) return std::bit_cast<double>(bits);
    if (isSignedType(type)) return double(signedValue());
    if (isInteger()) return double(bits);
    return std::nullopt;
}

GgufValue GgufValue::element(uint64_t i) const {
    if (elemType == GgufType::Array) return items[size_t(i)];
    GgufValue e;
    e.type = elemType;
    if (elemType == GgufType::String) {
        e.str = strings[size_t(i)];
    } else {
        uint32_t n = ggufTypeSize(elemType);
        e.bits = loadLEBits(raw + i * n, n);
    }
    return e;
}

std::string GgufValue::typeString() const {
    if (!isArray()) return ggufTypeName(type);
    return std::string("ARRAY of ") + ggufTypeName(elemType);
}

namespace {

template <class F>
std::string shortest(F v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string quoteString(std::string_view s, size_t maxChars) {
    static const char* kHex = "0123456789abcdef";
    std::string q = "\"";
    size_t shown = 0;
    for (unsigned char c : s) {
        if (shown == maxChars) {
            q += "...\" (" + std::to_string(s.size()) + " bytes)";
            return q;
        }
        switch (c) {
            case '\n': q += "\\n"; break;
            case '\t': q += "\\t"; break;
            case '\r': q += "\\r"; break;
            case '"': q += "\\\""; break;
            case '\\': q += "\\\\"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    q += "\\x";
                    q += kHex[c >> 4];
                    q += kHex[c & 15];
                } else {
                    q += char(c);  // UTF-8 passes through
                }
        }
        ++shown;
    }
    return q + "\"";
}

}  // namespace

std::string GgufValue::toString(size_t maxItems, size_t maxChars) const {
    switch (type) {
        case GgufType::F32: return shortest(std::bit_cast<float>(uint32_t(bits)));
        case GgufType::F64: return shortest(std::bit_cast<double>(bits));
        case GgufType::Bool: return bits ? "true" : "false";
        case GgufType::String: return quoteString(str, maxChars);
        case GgufType::Array: break;
        default: return isSignedType(type) ? std::to_string(signedValue()) : std::to_string(bits);
    }
    std::string s = "[";
    uint64_t shown = std::min<uint64_t>(count, maxItems);
    for (uint64_t i = 0; i < shown; ++i) {
        if (i) s += ", ";
        if (elemType == GgufType::Array) s += items[size_t(i)].toString(maxItems, std::min<size_t>(maxChars, 32));
        else s += element(i).toString(maxItems, std::min<size_t>(maxChars, 32));
    }
    if (shown < count) s += ", ... (" + std::to_string(count) + " items)";
    return s + "]";
}

// ---- GgufFile lookups

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kvIndex_.find(key);
    return it == kvIndex_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensor* GgufFile::tensor(std::string_view name) const {
    auto it = tensorIndex_.find(name);
    return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

Result<const GgufValue*> GgufFile::lookup(std::string_view key) const {
    if (const GgufValue* v = find(key)) return v;
    return makeError(name_ + ": missing key " + quoteForMessage(key));
}

Error GgufFile::typeError(std::string_view key, const GgufValue& v, const char* expected) const {
    return makeError(name_ + ": key " + quoteForMessage(key) + " has type " + v.typeString() + ", expected " +
                     expected);
}

template <class T>
Result<T> GgufFile::getInt(std::string_view key, const char* typeName) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    if (!v->isInteger()) return typeError(key, *v, (std::string("an integer (") + typeName + ")").c_str());
    auto x = v->toInt<T>();
    if (!x)
        return makeError(name_ + ": key " + quoteForMessage(key) + " value " + v->toString() + " (" +
                         v->typeString() + ") does not fit in " + typeName);
    return *x;
}

Result<uint32_t> GgufFile::getU32(std::string_view key) const { return getInt<uint32_t>(key, "UINT32"); }
Result<uint64_t> GgufFile::getU64(std::string_view key) const { return getInt<uint64_t>(key, "UINT64"); }
Result<int32_t> GgufFile::getI32(std::string_view key) const { return getInt<int32_t>(key, "INT32"); }
Result<int64_t> GgufFile::getI64(std::string_view key) const { return getInt<int64_t>(key, "INT64"); }

Result<float> GgufFile::getF32(std::string_view key) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    auto d = v->toDouble();
    if (!d) return typeError(key, *v, "a number (FLOAT32)");
    return float(*d);
}

Result<bool> GgufFile::getBool(std::string_view key) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    if (v->type != GgufType::Bool) return typeError(key, *v, "BOOL");
    return v->bits != 0;
}

Result<std::string_view> GgufFile::getString(std::string_view key) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    if (v->type != GgufType::String) return typeError(key, *v, "STRING");
    return v->str;
}

Result<std::span<const std::string_view>> GgufFile::getStringArray(std::string_view key) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    if (!v->isArray() || v->elemType != GgufType::String) return typeError(key, *v, "ARRAY of STRING");
    return std::span<const std::string_view>(v->strings);
}

Result<std::vector<float>> GgufFile::getF32Array(std::string_view key) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    bool numeric = v->isArray() && (GgufValue::isIntegerType(v->elemType) || v->elemType == GgufType::F32 ||
                                    v->elemType == GgufType::F64);
    if (!numeric) return typeError(key, *v, "ARRAY of FLOAT32");
    std::vector<float> out(size_t(v->count));
    if (v->elemType == GgufType::F32) {
        for (size_t i = 0; i < out.size(); ++i) out[i] = loadLE<float>(v->raw + 4 * i);
    } else {
        for (size_t i = 0; i < out.size(); ++i) out[i] = float(*v->element(i).toDouble());
    }
    return out;
}

template <class T>
Result<std::vector<T>> GgufFile::getIntArray(std::string_view key, const char* typeName) const {
    MOE_ASSIGN(const GgufValue* v, lookup(key));
    if (!v->isArray() || !GgufValue::isIntegerType(v->elemType))
        return typeError(key, *v, (std::string("ARRAY of ") + typeName).c_str());
    std::vector<T> out(size_t(v->count));
    for (size_t i = 0; i < out.size(); ++i) {
        GgufValue e = v->element(i);
        auto x = e.toInt<T>();
        if (!x)
            return makeError(name_ + ": key " + quoteForMessage(key) + " element " + std::to_string(i) + " value " +
                             e.toString() + " (" + ggufTypeName(e.type) + ") does not fit in " + typeName);
        out[i] = *x;
    }
    return out;
}

Result<std::vector<int32_t>> GgufFile::getI32Array(std::string_view key) const {
    return getIntArray<int32_t>(key, "INT32");
}
Result<std::vector<uint32_t>> GgufFile::getU32Array(std::string_view key) const {
    return getIntArray<uint32_t>(key, "UINT32");
}

Result<uint32_t> GgufFile::getU32Or(std::string_view key, uint32_t dflt) const {
    return has(key) ? getU32(key) : Result<uint32_t>(dflt);
}
Result<float> GgufFile::getF32Or(std::string_view key, float dflt) const {
    return has(key) ? getF32(key) : Result<float>(dflt);
}
Result<bool> GgufFile::getBoolOr(std::string_view key, bool dflt) const {
    return has(key) ? getBool(key) : Result<bool>(dflt);
}

namespace {
template <class T>
std::optional<T> okOrNone(Result<T> r) {
    if (!r.ok()) return std::nullopt;
    return std::move(r).value();
}
}  // namespace

std::optional<uint32_t> GgufFile::findU32(std::string_view key) const { return okOrNone(getU32(key)); }
std::optional<uint64_t> GgufFile::findU64(std::string_view key) const { return okOrNone(getU64(key)); }
std::optional<int32_t> GgufFile::findI32(std::string_view key) const { return okOrNone(getI32(key)); }
std::optional<float> GgufFile::findF32(std::string_view key) const { return okOrNone(getF32(key)); }
std::optional<bool> GgufFile::findBool(std::string_view key) const { return okOrNone(getBool(key)); }
std::optional<std::string_view> GgufFile::findString(std::string_view key) const {
    return okOrNone(getString(key));
}

}  // namespace moe

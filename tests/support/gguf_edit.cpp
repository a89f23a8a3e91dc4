// Test support: edited copies of GGUF files (see gguf_edit.h).
#include "gguf_edit.h"

#include <algorithm>

namespace moe::test {

GgufWriter::Value toWriterValue(const GgufValue& v) {
    using V = GgufWriter::Value;
    if (v.type == GgufType::String) return V::string(std::string(v.str));
    if (v.type != GgufType::Array) {
        V out = V::u64(v.bits);
        out.type = v.type;
        return out;
    }
    std::vector<V> items;
    items.reserve(size_t(v.count));
    for (uint64_t i = 0; i < v.count; ++i)
        items.push_back(v.elemType == GgufType::Array ? toWriterValue(v.items[size_t(i)]) : toWriterValue(v.element(i)));
    return V::array(v.elemType, std::move(items));
}

namespace {

Status addZeroTensor(GgufWriter& w, std::string_view name, const TensorEdit& e) {
    uint64_t n = 1;
    for (int64_t d : e.ne) n *= uint64_t(d);
    std::vector<uint8_t> zeros(rowBytes(e.type, n), 0);
    return w.addTensor(name, e.type, e.ne, zeros);
}

}  // namespace

Result<std::vector<uint8_t>> rewriteGguf(const GgufFile& src, const GgufEdit& edit) {
    GgufWriter w;
    w.setVersion(src.version());
    for (const GgufKv& kv : src.kvs()) {
        std::optional<GgufWriter::Value> v = edit.key ? edit.key(kv.key, kv.value) : toWriterValue(kv.value);
        if (v) w.add(kv.key, std::move(*v));
    }
    for (const auto& [k, v] : edit.extraKeys) w.add(k, v);
    for (const GgufTensor& t : src.tensors()) {
        std::optional<TensorEdit> e;
        if (edit.tensor && !edit.tensor(t.name, e)) continue;
        if (e) {
            MOE_TRY(addZeroTensor(w, t.name, *e));
        } else {
            std::vector<int64_t> ne(t.ne, t.ne + std::max<uint32_t>(t.nDims, 1));
            MOE_TRY(w.addTensor(t.name, t.type, ne, {t.data, size_t(t.nBytes)}));
        }
    }
    for (const auto& [name, e] : edit.extraTensors) MOE_TRY(addZeroTensor(w, name, e));
    std::vector<uint8_t> bytes = w.serialize();
    if (bytes.empty()) return makeError("rewriteGguf: the writer produced no bytes");
    return bytes;
}

GgufEdit dropKey(std::string key) {
    GgufEdit e;
    e.key = [key](std::string_view k, const GgufValue& v) -> std::optional<GgufWriter::Value> {
        if (k == key) return std::nullopt;
        return toWriterValue(v);
    };
    return e;
}

GgufEdit setKey(std::string key, GgufWriter::Value value) {
    // added at the end when missing; the writer keeps the first position of a key set twice
    GgufEdit e;
    e.extraKeys.emplace_back(std::move(key), std::move(value));
    return e;
}

GgufEdit dropTensor(std::string name) {
    GgufEdit e;
    e.tensor = [name](std::string_view n, std::optional<TensorEdit>&) { return n != name; };
    return e;
}

GgufEdit replaceTensor(std::string name, TensorEdit te) {
    GgufEdit e;
    e.tensor = [name, te](std::string_view n, std::optional<TensorEdit>& out) {
        if (n == name) out = te;
        return true;
    };
    return e;
}

}  // namespace moe::test

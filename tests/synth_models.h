// Test helpers around the synthetic model generator: a per-process temp directory, generated
// models cached by name, and a rewriter that copies a GGUF file with edits (malformed cases).
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synth.h"

namespace moe::test {

inline std::filesystem::path synthDir() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("moescope_synth_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

// Removes the temp directory at exit.
struct SynthDirCleanup {
    SynthDirCleanup() { synthDir(); }  // the path is constructed first, so it is destroyed after us
    ~SynthDirCleanup() {
        std::error_code ec;
        std::filesystem::remove_all(synthDir(), ec);
    }
};
inline SynthDirCleanup synthDirCleanup;

// Writes the spec to <tmp>/<name>.gguf once per process; returns the path.
inline std::string synthModelPath(const std::string& name, const SynthSpec& spec) {
    static std::map<std::string, std::string> done;
    auto it = done.find(name);
    if (it != done.end()) return it->second;
    const std::string path = (synthDir() / (name + ".gguf")).string();
    Status st = writeSynthModel(spec, path);
    REQUIRE_MESSAGE(st.ok(), st.message());
    done[name] = path;
    return path;
}

inline std::unique_ptr<Model> loadSynth(const std::string& name, const SynthSpec& spec) {
    auto m = loadModel(synthModelPath(name, spec));
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    return std::move(m).value();
}

// Metadata value as a writer value (scalars, strings, arrays of those).
inline GgufWriter::Value toWriterValue(const GgufValue& v) {
    using V = GgufWriter::Value;
    if (v.type == GgufType::String) return V::string(std::string(v.str));
    if (v.type != GgufType::Array) {
        V out = V::u64(v.bits);
        out.type = v.type;
        return out;
    }
    std::vector<V> items;
    for (uint64_t i = 0; i < v.count; ++i)
        items.push_back(v.elemType == GgufType::Array ? toWriterValue(v.items[i]) : toWriterValue(v.element(i)));
    return V::array(v.elemType, std::move(items));
}

// A replacement tensor for GgufRewrite.
struct TensorEdit {
    GgmlType type;
    std::vector<int64_t> ne;
};

// Copies src to dst. keyEdit: return nullopt to drop the key, or a value to write (given the
// original). tensorEdit: "drop" (return false) or retype/reshape (zero data of the new size).
struct GgufRewrite {
    std::function<std::optional<GgufWriter::Value>(std::string_view, const GgufValue&)> key;
    std::function<bool(std::string_view, std::optional<TensorEdit>&)> tensor;
    std::vector<std::pair<std::string, GgufWriter::Value>> extraKeys;
    std::vector<std::pair<std::string, TensorEdit>> extraTensors;  // zero data

    void run(const std::string& src, const std::string& dst) const {
        auto f = GgufFile::open(src);
        REQUIRE(f.ok());
        GgufWriter w;
        for (const GgufKv& kv : f->kvs()) {
            std::optional<GgufWriter::Value> v = toWriterValue(kv.value);
            if (key) v = key(kv.key, kv.value);
            if (v) w.add(kv.key, *v);
        }
        for (const auto& [k, v] : extraKeys) w.add(k, v);
        for (const GgufTensor& t : f->tensors()) {
            std::optional<TensorEdit> edit;
            if (tensor && !tensor(t.name, edit)) continue;
            if (edit) {
                uint64_t n = 1;
                for (int64_t d : edit->ne) n *= uint64_t(d);
                std::vector<uint8_t> zeros(rowBytes(edit->type, n), 0);
                REQUIRE(w.addTensor(t.name, edit->type, edit->ne, zeros).ok());
            } else {
                std::vector<int64_t> ne(t.ne, t.ne + t.nDims);
                REQUIRE(w.addTensor(t.name, t.type, ne, {t.data, t.nBytes}).ok());
            }
        }
        for (const auto& [name, e] : extraTensors) {
            uint64_t n = 1;
            for (int64_t d : e.ne) n *= uint64_t(d);
            std::vector<uint8_t> zeros(rowBytes(e.type, n), 0);
            REQUIRE(w.addTensor(name, e.type, e.ne, zeros).ok());
        }
        REQUIRE(w.write(dst).ok());
    }
};

}  // namespace moe::test

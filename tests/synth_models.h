// Test helpers around the synthetic model generator: a per-process temp directory, generated
// models cached by name, and a rewriter that copies a GGUF file with edits (malformed cases).
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

#include "fixtures/synth.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "support/gguf_edit.h"

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
    REQUIRE_MESSAGE(m.ok(), (m.ok() ? std::string() : m.error().message));
    return std::move(m).value();
}

// Copies src to dst with the edits of GgufEdit (support/gguf_edit.h): keys dropped or replaced,
// tensors dropped or retyped/reshaped (zero data of the new size), keys and tensors added.
struct GgufRewrite : GgufEdit {
    void run(const std::string& src, const std::string& dst) const {
        auto f = GgufFile::open(src);
        REQUIRE(f.ok());
        auto bytes = rewriteGguf(*f, *this);
        REQUIRE_MESSAGE(bytes.ok(), (bytes.ok() ? "" : bytes.error().message));
        FILE* out = std::fopen(dst.c_str(), "wb");
        REQUIRE(out);
        const size_t n = std::fwrite(bytes->data(), 1, bytes->size(), out);
        REQUIRE(std::fclose(out) == 0);
        REQUIRE(n == bytes->size());
    }
};

}  // namespace moe::test

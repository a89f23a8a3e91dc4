// Shared CLI plumbing: the default (bundled) model, model loading with one-line errors, and the
// backend flags every model command takes (--device N | --cpu, --ctx N).
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "model/model.h"
#include "runtime/backend.h"

namespace moe::cli {

struct ModelFlags {
    std::string modelPath;  // empty: the bundled model
    rt::BackendOptions backend;
    std::string cachePolicy = "lru";  // --cache-policy
    std::string cacheStatic;          // --cache-static TRACE: hot set of the static policy
};

// cacheSlots: register --expert-cache N (bench registers its own list form instead).
void addModelFlags(CLI::App* cmd, ModelFlags& f, bool withBackend = true, bool cacheSlots = true);
// The --cache-policy / --cache-static flags resolved into `opts` (static: its hot set learned
// from the trace); false after printing the error.
bool resolveCachePolicy(const Model& m, const ModelFlags& f, rt::ExpertCacheOptions& opts);
// assets/moescope-tiny.gguf next to the executable's install or in the source tree.
std::string defaultModelPath();
// Prints "moescope: error: <message>" to stderr and sets the exit code.
void fail(const std::string& message);
// Reads a whole file into `out`; false (after fail("cannot open <what> <path>")) when it cannot.
bool readFileOrFail(const std::string& path, const char* what, std::string& out);
std::unique_ptr<Model> loadModelOrFail(const ModelFlags& f);
std::unique_ptr<rt::Backend> createBackendOrFail(const Model& m, const ModelFlags& f);
std::string jsonEscape(const std::string& s);

}  // namespace moe::cli

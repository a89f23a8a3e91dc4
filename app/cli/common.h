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

void addModelFlags(CLI::App* cmd, ModelFlags& f, bool withBackend = true);
// assets/moescope-tiny.gguf next to the executable's install or in the source tree.
std::string defaultModelPath();
// Prints "moescope: error: <message>" to stderr and sets the exit code.
void fail(const std::string& message);
std::unique_ptr<Model> loadModelOrFail(const ModelFlags& f);
std::unique_ptr<rt::Backend> createBackendOrFail(const Model& m, const ModelFlags& f);
std::string jsonEscape(const std::string& s);

}  // namespace moe::cli

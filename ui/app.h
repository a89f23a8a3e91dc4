// The desktop app: window, engine session, panels, and the unattended autorun mode used by
// tests and for screenshots.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace moe::ui {

struct AppOptions {
    std::string model;          // GGUF to load at start ("" : the last one used, else the bundled model)
    int device = -1;            // Vulkan device of the engine (-1: remembered / automatic)
    bool cpu = false;           // the CPU reference instead of Vulkan
    // expert cache of the loads, as `moescope run` takes it (the cache panel changes it live)
    int64_t expertCache = -1;   // --expert-cache N: slots per MoE layer (-1: automatic)
    uint64_t expertCacheMiB = 0;  // --expert-cache-mb M
    std::string cachePolicy;    // --cache-policy (empty: lru)
    std::string cacheStatic;    // --cache-static TRACE
    bool prefetch = false;      // --prefetch
    int width = 1280, height = 800;
    // --autorun PROMPT: load, generate greedily from PROMPT (completion mode), render every panel,
    // then write the screenshot / state dump. Settings and layout are neither read nor written.
    bool autorun = false;
    std::string prompt;
    bool chat = false;          // send PROMPT as a chat message (the model's template) instead of raw text
    int maxTokens = 64;         // as `moescope run -n`
    std::string screenshot;     // PNG of the window after the generation
    std::string dumpState;      // JSON of what the panels show
    std::string exportTrace;    // the conversation's routing trace, as File > Export routing trace
    bool quitAfterGeneration = false;
    // --then-open FILE...: after the generation, open each file in turn as File > Open does and
    // wait for it to load or fail; the state dump lists every outcome (tests of broken files).
    std::vector<std::string> thenOpen;
};

// Runs until the window closes (or the autorun finishes with --quit-after-generation).
// Returns the process exit code; errors are printed as one line on stderr.
int runApp(const AppOptions& opts);

}  // namespace moe::ui

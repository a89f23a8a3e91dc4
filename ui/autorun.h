// Unattended runs (--autorun): drive the app like a user would (load, type the prompt, send),
// wait for the reply, let every panel render, then capture the window and dump the state.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ui/app.h"
#include "ui/renderer.h"
#include "ui/state.h"

namespace moe::ui {

struct Autorun {
    enum class Phase { WaitModel, Generating, Opening, Settling, Capture, Finished };
    Phase phase = Phase::WaitModel;
    int settleFrames = 0;
    int captureAttempts = 0;
    std::string error;  // set: the run failed (exit 1 with this line)
    // --then-open: one entry per file opened after the generation
    struct LoadAttempt {
        std::string path;
        std::string error;       // the model panel's error after the attempt ("" : it loaded)
        std::string modelAfter;  // path of the model shown after the attempt
    };
    std::vector<LoadAttempt> loads;
    bool waitingLoad = false;
};

// Called once per frame before the panels act: sends the prompt once the model is loaded and
// moves through the phases. True when this frame must be captured.
bool stepAutorun(Autorun& run, AppState& s, const AppOptions& opts, UiActions& act);

// What the panels show, as JSON: model facts (the template line and warning, the reply format),
// prompt and reply (text and token ids), the messages with each reply's reasoning, answer, tool
// calls and the part of each of its tokens, routing of
// every token, expert load, routing policy, the expert cache (budget, policy, prefetch, per-layer
// hits / misses / evictions, slots, timeline, slot colours), tok/s, kernel times, memory,
// validation, and the --then-open attempts.
nlohmann::json dumpState(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                         uint32_t guiValidation, const std::string& guiDevice);

// Writes the state dump the options ask for (also when the autorun failed: it shows the error).
Status writeStateDump(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                      uint32_t guiValidation, const std::string& guiDevice);

// Writes the screenshot, the dump and the trace the options ask for.
Status finishAutorun(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                     uint32_t guiValidation, const std::string& guiDevice);

}  // namespace moe::ui

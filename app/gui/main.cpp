// moescope-gui: the desktop app (chat, live routing, expert cache, performance) on a GGUF MoE model.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "ui/app.h"

int main(int argc, char** argv) {
    moe::ui::AppOptions o;
    CLI::App app{"moescope-gui: chat with a Mixture-of-Experts model and watch its routing live"};
    app.add_option("-m,--model", o.model, "GGUF model file (default: the last one used, else the bundled model)");
    app.add_option("--device", o.device, "Vulkan device index of the engine (see 'moescope devices')");
    app.add_flag("--cpu", o.cpu, "run the CPU reference instead of Vulkan");
    auto* slots = app.add_option("--expert-cache", o.expertCache,
                                 "expert cache: device slots per MoE layer (default: every expert resident when they "
                                 "fit, else the most that fit)")
                      ->check(CLI::NonNegativeNumber);
    app.add_option("--expert-cache-mb", o.expertCacheMiB, "expert cache: MiB of device memory for the slots of all layers")
        ->excludes(slots);
    app.add_option("--cache-policy", o.cachePolicy, "expert cache eviction policy: lru, lfu, lfru, static");
    app.add_option("--cache-static", o.cacheStatic, "routing trace the static policy learns its hot set from");
    app.add_flag("--prefetch", o.prefetch,
                 "expert cache: predict the next layer's experts (cross-layer gate) and upload them ahead");
    app.add_option("--width", o.width, "window width")->check(CLI::Range(320, 16384));
    app.add_option("--height", o.height, "window height")->check(CLI::Range(240, 16384));
    auto* autorun = app.add_option("--autorun", o.prompt,
                                   "unattended: load, generate greedily from PROMPT (raw text), render every panel");
    app.add_option("-n,--n-predict", o.maxTokens, "tokens to generate in --autorun")->check(CLI::Range(1, 1 << 20));
    app.add_flag("--chat", o.chat, "--autorun: send PROMPT as a chat message with the model's chat template");
    app.add_option("--screenshot", o.screenshot, "--autorun: write a PNG of the window after the generation");
    app.add_option("--dump-state", o.dumpState, "--autorun: write what the panels show as JSON");
    app.add_option("--export-trace", o.exportTrace,
                   "--autorun: write the conversation's routing trace (.jsonl / .mstrace) as File > Export does");
    app.add_flag("--quit-after-generation", o.quitAfterGeneration, "--autorun: exit once the files are written");
    app.add_option("--then-open", o.thenOpen,
                   "--autorun: after the generation, open each FILE in turn (as File > Open); the dump lists the outcomes");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    o.autorun = autorun->count() > 0;
    if (!o.autorun && (!o.screenshot.empty() || !o.dumpState.empty() || !o.exportTrace.empty() ||
                       o.quitAfterGeneration || o.chat || !o.thenOpen.empty())) {
        std::fprintf(stderr, "moescope-gui: error: --screenshot, --dump-state, --export-trace, --chat, --then-open and "
                             "--quit-after-generation need --autorun\n");
        return 1;
    }
    return moe::ui::runApp(o);
}

// moescope CLI: a thin main that registers the subcommands (app/cli/cmd_*.cpp).
#include <cstdio>

#include "cli/commands.h"

namespace moe::cli {
int& exitCode() {
    static int code = 0;
    return code;
}
}  // namespace moe::cli

int main(int argc, char** argv) {
    CLI::App app{"moescope: run and understand Mixture-of-Experts models on any Vulkan device"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "moescope 0.1.0");
    moe::cli::registerDevices(app);
    moe::cli::registerSelftest(app);
    moe::cli::registerRun(app);
    moe::cli::registerChat(app);
    moe::cli::registerInfo(app);
    moe::cli::registerPerplexity(app);
    moe::cli::registerGenModel(app);
    moe::cli::registerTrace(app);
    moe::cli::registerStats(app);
    moe::cli::registerBench(app);
    moe::cli::registerCacheSim(app);
    moe::cli::registerTemplate(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return moe::cli::exitCode();
}

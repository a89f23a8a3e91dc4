// `moescope stats`: routing statistics of a trace file (load, imbalance, entropy, active experts,
// transitions, SRP and SCH), as a text table or JSON.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "trace/stats.h"

namespace moe::cli {

void registerStats(CLI::App& app) {
    struct Opts {
        std::string path;
        trace::StatsOptions so;
        bool json = false, transitions = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("stats", "routing statistics of a trace file (from 'moescope trace')");
    cmd->add_option("trace", o->path, "trace file (.jsonl or .mstrace)")->required();
    cmd->add_option("--segment", o->so.segment, "segment length m of SRP and SCH")->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--cache-size", o->so.cacheSize, "SCH cache size C in experts per layer (default: 2 x k)")
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_flag("--json", o->json, "print JSON (with the per-layer loads and transition matrices)");
    cmd->add_flag("--transitions", o->transitions, "also print the inter-layer transition matrices");
    cmd->callback([o] {
        auto tr = trace::readTrace(o->path);
        if (!tr.ok()) return fail(tr.error().message);
        auto s = trace::computeStats(*tr, o->so);
        if (!s.ok()) return fail(s.error().message);
        if (o->json)
            std::printf("%s\n", trace::statsJson(*s).c_str());
        else
            std::fputs(trace::formatStats(*s, o->transitions).c_str(), stdout);
    });
}

}  // namespace moe::cli

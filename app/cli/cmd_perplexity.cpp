// `moescope perplexity`: perplexity over a text file in windows of the context size, the
// llama.cpp way: each window starts with BOS (when the model adds one) and the second half of
// every window is scored, so each scored token sees at least ctx/2 tokens of context. With
// --routing, the policy's cost is reported beside it: mean active experts per token and layer,
// and the routed-expert FLOPs relative to the model's own top-k (every evaluated token counts).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/routing_flags.h"
#include "runtime/sampler.h"

namespace moe::cli {

void registerPerplexity(CLI::App& app) {
    struct Opts {
        ModelFlags mf;
        RoutingFlags rf;
        std::string file;
        bool json = false;
        int32_t maxChunks = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("perplexity", "perplexity of a model over a text file");
    addModelFlags(cmd, o->mf);
    addRoutingFlags(cmd, o->rf);
    cmd->add_option("-f,--file", o->file, "text file")->required();
    cmd->add_option("--chunks", o->maxChunks, "score at most this many windows (0: all)");
    cmd->add_flag("--json", o->json, "print the result as JSON");
    cmd->callback([o] {
        std::ifstream in(o->file, std::ios::binary);
        if (!in) return fail("cannot read '" + o->file + "'");
        std::stringstream ss;
        ss << in.rdbuf();
        auto model = loadModelOrFail(o->mf);
        if (!model) return;
        auto backend = createBackendOrFail(*model, o->mf);
        if (!backend) return;
        auto policy = applyRoutingOrFail(*backend, *model, o->rf);
        if (!policy) return;
        const Tokenizer& tok = *model->tokenizer;
        auto ids = tok.encode(ss.str(), true, false);  // [BOS] + text, as llama.cpp tokenizes it
        const uint32_t n = backend->nCtx();
        const bool bos = tok.addBos() && tok.bos();
        if (ids.size() < 2 * size_t(n))
            return fail("the text has " + std::to_string(ids.size()) + " tokens; perplexity needs at least 2 x ctx = " +
                        std::to_string(2 * n) + " (use --ctx to lower the window)");
        const size_t chunks = ids.size() / n;
        const size_t use = o->maxChunks > 0 ? std::min<size_t>(chunks, size_t(o->maxChunks)) : chunks;
        std::vector<float> logits(size_t(n) * tok.vocabSize());
        double nll = 0;
        size_t count = 0;
        uint64_t active = 0, evaluated = 0;  // selected experts summed over tokens and layers; tokens
        const uint32_t first = n / 2;
        for (size_t c = 0; c < use; ++c) {
            std::vector<int32_t> win(ids.begin() + long(c * n), ids.begin() + long((c + 1) * n));
            if (bos) win[0] = *tok.bos();
            auto st = backend->forward(win.data(), n, 0, logits.data(), true);
            if (!st.ok()) return fail(st.message());
            if (const rt::RoutingRecord* r = backend->lastRouting()) {
                for (int32_t c : r->counts) active += uint64_t(c);
                evaluated += r->nTok;
            }
            for (uint32_t i = first; i + 1 < n; ++i) {
                std::span<const float> row(logits.data() + size_t(i) * tok.vocabSize(), size_t(tok.vocabSize()));
                nll -= rt::logSoftmaxAt(row, win[i + 1]);
                ++count;
            }
            if (!o->json)
                std::fprintf(stderr, "[%zu/%zu] ppl so far %.4f\n", c + 1, use, std::exp(nll / double(count)));
        }
        const double ppl = std::exp(nll / double(count));
        const uint32_t L = model->cfg.block_count, k = model->cfg.expert_used_count;
        const double meanActive = evaluated ? double(active) / (double(evaluated) * L) : 0.0;
        const double share = k ? meanActive / k : 0.0;
        const std::string policyText = routing::toString(*policy);
        if (o->json) {
            nlohmann::json j{{"perplexity", ppl}, {"tokens_scored", count}, {"chunks", use}, {"ctx", n},
                             {"backend", backend->name()}, {"policy", policyText}, {"mean_active_experts", meanActive},
                             {"model_k", k}, {"expert_flops_share", share}};
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("perplexity %.4f over %zu tokens (%zu windows of %u, %s)\n", ppl, count, use, n,
                        backend->name().c_str());
            std::printf("routing %s: %.3f active experts per token and layer (model k %u), expert FLOPs %.1f%% of the "
                        "model's routing\n",
                        policyText.c_str(), meanActive, k, 100.0 * share);
        }
    });
}

}  // namespace moe::cli

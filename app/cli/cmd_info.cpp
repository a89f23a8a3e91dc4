// `moescope info`: what a GGUF model is (architecture, experts, parameters, types, tokenizer).
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "tokenizer/chat_template.h"

namespace moe::cli {

void registerInfo(CLI::App& app) {
    auto mf = std::make_shared<ModelFlags>();
    auto* cmd = app.add_subcommand("info", "describe a GGUF model");
    addModelFlags(cmd, *mf, false);
    cmd->callback([mf] {
        auto model = loadModelOrFail(*mf);
        if (!model) return;
        const ModelConfig& c = model->cfg;
        std::map<std::string, std::pair<int, uint64_t>> types;  // type -> (tensors, bytes)
        for (const auto& t : model->file.tensors()) {
            auto& e = types[typeName(t.type)];
            e.first++;
            e.second += t.nBytes;
        }
        auto fmt = [](uint64_t n) {
            char b[32];
            if (n >= 1000000000ull) std::snprintf(b, sizeof b, "%.2fB", n / 1e9);
            else std::snprintf(b, sizeof b, "%.2fM", n / 1e6);
            return std::string(b);
        };
        std::printf("file:               %s\n", model->file.name().c_str());
        std::printf("name:               %s\n", c.name.c_str());
        std::printf("architecture:       %s\n", archName(c.arch));
        std::printf("layers:             %u\n", c.block_count);
        std::printf("embedding:          %u\n", c.embedding_length);
        std::printf("heads:              %u (kv %u, head dim %u)\n", c.head_count, c.head_count_kv, c.head_dim);
        std::printf("context length:     %u\n", c.context_length);
        std::printf("experts:            %u routed, %u active per token, %u shared (expert FFN %u, shared FFN %u)\n",
                    c.expert_count, c.expert_used_count, c.expert_shared_feed_forward_length ? std::max(1u, c.expert_shared_count) : 0,
                    c.expert_feed_forward_length, c.expert_shared_feed_forward_length);
        std::printf("router:             softmax top-%u%s\n", c.expert_used_count,
                    c.expert_weights_norm ? ", renormalised" : ", not renormalised");
        const AttentionBlock* attn = model->plan.layers.empty() ? nullptr : model->plan.layers[0].attention();
        std::printf("rope:               %s, base %g, %u dims\n", attn && attn->rope.neox ? "NeoX" : "normal", c.rope_freq_base,
                    c.rope_dimension_count ? c.rope_dimension_count : c.head_dim);
        std::printf("parameters:         %s total, %s active per token\n", fmt(model->paramsTotal()).c_str(),
                    fmt(model->paramsActive()).c_str());
        std::printf("tensor types:      ");
        for (auto& [name, e] : types) std::printf(" %s x%d (%.1f MiB)", name.c_str(), e.first, e.second / 1048576.0);
        std::printf("\n");
        const Tokenizer& tok = *model->tokenizer;
        std::printf("vocabulary:         %d tokens, %s%s%s\n", tok.vocabSize(), tok.modelName().c_str(),
                    tok.preFamily().empty() ? "" : ", pre-tokenizer ", tok.preFamily().c_str());
        auto tmpl = ChatTemplate::forTokenizer(tok);
        std::printf("chat template:      %s%s\n", std::string(tmpl.name()).c_str(),
                    tok.chatTemplate().empty() ? " (none in file)" : "");
    });
}

}  // namespace moe::cli

// `moescope info`: what a GGUF model is (architecture, experts, parameters, types, tokenizer).
#include <cmath>
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
        uint32_t nDense = 0;
        for (const LayerPlan& l : model->plan.layers) nDense += l.moe() ? 0 : 1;
        if (nDense)
            std::printf("layers:             %u (%u dense FFN, %u MoE)\n", c.block_count, nDense, c.block_count - nDense);
        else
            std::printf("layers:             %u\n", c.block_count);
        if (c.nextn_predict_layers)
            std::printf("nextn (MTP):        %u layer(s) in the file, loaded and not run\n", c.nextn_predict_layers);
        std::printf("embedding:          %u\n", c.embedding_length);
        const AttentionBlock* attn = model->plan.layers.empty() ? nullptr : model->plan.layers[0].attention();
        if (attn && attn->mla) {
            const Mla& l = attn->mla;
            std::printf("attention:          latent (MLA), %u heads of %u (nope %u + rope %u), values %u, kv_lora_rank %u, "
                        "q_lora_rank %u%s\n",
                        attn->nHead, attn->headDim, l.nopeDim, l.ropeDim, l.valueDim, l.kvLoraRank, l.qLoraRank,
                        l.wkvB ? ", legacy attn_kv_b" : "");
        } else {
            std::printf("heads:              %u (kv %u, head dim %u)\n", c.head_count, c.head_count_kv, c.head_dim);
        }
        // the KV cache per token, and what full keys and values per head would take
        const uint64_t kv = kvBytesPerToken(model->plan);
        uint64_t full = 0;
        for (const LayerPlan& l : model->plan.layers)
            if (const AttentionBlock* a = l.attention()) full += uint64_t(a->nHead) * (a->headDim + a->headDimV()) * 4;
        if (attn && attn->mla)
            std::printf("KV cache:           %.1f KiB per token (F32 latent rows; %.1f KiB as keys and values per head: %.1fx)\n",
                        kv / 1024.0, full / 1024.0, double(full) / double(kv));
        else
            std::printf("KV cache:           %.1f KiB per token (F32)\n", kv / 1024.0);
        std::printf("context length:     %u\n", c.context_length);
        std::printf("experts:            %u routed, %u active per token, %u shared (expert FFN %u, shared FFN %u%s)\n",
                    c.expert_count, c.expert_used_count, c.expert_shared_feed_forward_length ? std::max(1u, c.expert_shared_count) : 0,
                    c.expert_feed_forward_length, c.expert_shared_feed_forward_length,
                    c.expert_shared_feed_forward_length ? (c.arch == Arch::Qwen2Moe ? ", sigmoid-gated" : ", unweighted") : "");
        const MoeBlock* moe = nullptr;
        for (const LayerPlan& l : model->plan.layers)
            if ((moe = l.moe())) break;
        if (moe) {
            const Router& r = moe->router;
            std::string extra;
            if (r.selectionBias) extra += ", exp_probs_b selection bias";
            if (r.nGroup > 1) extra += ", groups: best " + std::to_string(r.groupsUsed) + " of " + std::to_string(r.nGroup);
            char scale[32] = "";
            if (r.scale != 1.0f) std::snprintf(scale, sizeof scale, ", weights x %g", double(r.scale));
            std::printf("router:             %s top-%u%s%s%s\n", r.sigmoid ? "sigmoid" : "softmax", r.k,
                        r.normalize ? ", renormalised" : ", not renormalised", extra.c_str(), scale);
        }
        std::printf("rope:               %s, base %g, %u dims", attn && attn->rope.neox ? "NeoX" : "normal", c.rope_freq_base,
                    c.rope_dimension_count ? c.rope_dimension_count : c.head_dim);
        if (attn && attn->rope.yarn.factor != 0.0f)
            std::printf(", YaRN x%g from %u positions (attention scale %.4g)", double(attn->rope.yarn.factor),
                        attn->rope.yarn.origContext,
                        double(attn->kqScale > 0 ? attn->kqScale : 1.0f / std::sqrt(float(attn->headDim))));
        std::printf("\n");
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

// Writes the seed corpus of the model-loader fuzzer: one small generated model per architecture
// (1 layer, deepseek2 2; a 360-token vocabulary; Q8_0 and F32 weights). Usage: model_seeds OUTDIR
#include <cstdio>
#include <string>

#include "fixtures/synth.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    int n = 0;
    // the shared small shape: 32-wide, a 360-token vocabulary, one writer thread
    auto write = [&](moe::SynthSpec s, const std::string& name) {
        s.n_embd = 32;
        s.n_head = 2;
        s.n_vocab_target = 360;
        s.n_ctx = 64;
        s.threads = 1;
        const std::string path = std::string(argv[1]) + "/" + name + ".gguf";
        moe::Status st = moe::writeSynthModel(s, path);
        if (!st.ok()) std::fprintf(stderr, "%s: %s\n", path.c_str(), st.message().c_str());
        n += st.ok() ? 1 : 0;
        return st.ok();
    };
    for (moe::Arch a : {moe::Arch::Llama, moe::Arch::Qwen2Moe, moe::Arch::Qwen3Moe, moe::Arch::Olmoe}) {
        moe::SynthSpec s = moe::synthSpecFor(a);
        s.n_layer = 1;
        s.n_head_kv = 1;
        s.n_ff_shexp = 32;
        s.n_expert = 4;
        s.weightType = a == moe::Arch::Olmoe ? moe::GgmlType::F32 : moe::GgmlType::Q8_0;
        if (!write(s, moe::archName(a))) return 1;
    }
    // deepseek2, V3-like (latent attention with q LoRA, a dense layer, grouped sigmoid router)
    auto ds = moe::synthVariant(moe::Arch::Deepseek2, "v3");
    if (!ds.ok()) return 1;
    moe::SynthSpec s = ds.value();
    s.n_layer = 2;
    s.n_head_kv = 2;
    s.n_ff_dense = 32;
    s.weightType = moe::GgmlType::Q8_0;
    if (!write(s, "deepseek2")) return 1;
    std::printf("wrote %d seed models to %s\n", n, argv[1]);
    return 0;
}

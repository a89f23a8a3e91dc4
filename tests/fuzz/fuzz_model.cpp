// libFuzzer target for the model loader: GGUF bytes through GgufFile and loadModel (architecture,
// hyper-parameters, every tensor's presence, type and shape, the tokenizer metadata). Any input
// must give either a model whose tensor views lie inside the input with the size their shape
// and type give, and whose tokenizer and chat template work, or a one-line error naming it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model.h"
#include "tokenizer/chat_template.h"

namespace {

void checkError(const std::string& msg) {
    if (msg.rfind("fuzz.gguf: ", 0) != 0 || msg.find('\n') != std::string::npos) __builtin_trap();
}

void checkView(const moe::TensorView& t, const uint8_t* data, size_t size) {
    if (!t) return;
    if (t.data < data || t.data + t.nBytes > data + size) __builtin_trap();
    if (t.nBytes != uint64_t(t.rows()) * t.rowBytes()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = moe::GgufFile::fromMemory({data, size}, "fuzz.gguf");
    if (!f.ok()) {
        checkError(f.error().message);
        return 0;
    }
    auto r = moe::loadModel(std::move(f).value());
    if (!r.ok()) {
        checkError(r.error().message);
        return 0;
    }
    const moe::Model& m = **r;
    checkView(m.plan.tokenEmbd, data, size);
    checkView(m.plan.output, data, size);
    checkView(m.plan.outputNorm.w, data, size);
    if (m.plan.layers.size() != m.cfg.block_count) __builtin_trap();
    for (const moe::LayerPlan& l : m.plan.layers)
        moe::forEachTensor(l, [&](const moe::TensorView& t, moe::TensorRole) { checkView(t, data, size); });
    if (m.paramsActive() > m.paramsTotal()) __builtin_trap();
    const moe::Tokenizer& tok = *m.tokenizer;
    if (tok.vocabSize() != int32_t(m.cfg.n_vocab)) __builtin_trap();
    const auto ids = tok.encode("Hello world! <|im_start|>user\n\xC3\xA9t\xC3\xA9 123", true, true);
    for (int32_t id : ids)
        if (id < 0 || id >= tok.vocabSize()) __builtin_trap();
    volatile size_t keep = tok.decode(ids).size();
    const auto chat = moe::ChatTemplate::forTokenizer(tok).encode(tok, {{"user", "hi"}}, true);
    for (int32_t id : chat)
        if (id < 0 || id >= tok.vocabSize()) __builtin_trap();
    (void)keep;
    return 0;
}

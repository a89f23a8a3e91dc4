// Writes the seed corpus of the GGUF fuzzer: small valid files covering every value type, nested
// arrays, several tensor types, alignments and both versions. Usage: gguf_seeds OUTDIR
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"

using moe::GgmlType;
using moe::GgufType;
using moe::GgufWriter;
using V = GgufWriter::Value;

namespace {

std::vector<uint8_t> bytes(size_t n) {
    std::vector<uint8_t> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 31 + 7);
    return b;
}

GgufWriter metadataOnly() {
    GgufWriter w;
    w.addU8("u8", 1); w.addI8("i8", -1); w.addU16("u16", 2); w.addI16("i16", -2);
    w.addU32("u32", 3); w.addI32("i32", -3); w.addU64("u64", 4); w.addI64("i64", -4);
    w.addF32("f32", 0.5f); w.addF64("f64", 0.25); w.addBool("bool", true);
    w.addString("general.architecture", "llama");
    w.addStringArray("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "a", "\xE2\x96\x81" "b"});
    w.addF32Array("tokenizer.ggml.scores", std::vector<float>{0, 0, -1, -2});
    w.addI32Array("tokenizer.ggml.token_type", std::vector<int32_t>{3, 3, 1, 1});
    w.add("nested", V::array(GgufType::Array, {V::array(GgufType::U16, {V::u16(1), V::u16(2)}),
                                               V::array(GgufType::String, {V::string("x")})}));
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    std::vector<std::pair<std::string, GgufWriter>> seeds;
    seeds.emplace_back("metadata", metadataOnly());
    {
        GgufWriter w = metadataOnly();
        (void)w.addTensor("token_embd.weight", GgmlType::F32, {4, 3}, bytes(48));
        (void)w.addTensor("blk.0.ffn_gate_exps.weight", GgmlType::Q8_0, {32, 2, 2}, bytes(4 * 34));
        (void)w.addTensor("blk.0.attn_q.weight", GgmlType::F16, {3}, bytes(6));
        seeds.emplace_back("tensors", std::move(w));
    }
    {
        GgufWriter w;
        (void)w.setAlignment(64);
        (void)w.addTensor("a", GgmlType::Q4_K, {256}, bytes(144));
        (void)w.addTensor("b", GgmlType::Q6_K, {256}, bytes(210));
        (void)w.addTensor("c", GgmlType::BF16, {1, 1, 1, 2}, bytes(4));
        seeds.emplace_back("align64", std::move(w));
    }
    {
        GgufWriter w;
        w.setVersion(2);
        w.addString("general.name", "v2");
        (void)w.addTensor("t", GgmlType::Q4_0, {32}, bytes(18));
        seeds.emplace_back("v2", std::move(w));
    }
    seeds.emplace_back("empty", GgufWriter());
    for (const auto& [name, w] : seeds) {
        auto st = w.write(dir + "/" + name + ".gguf");
        if (!st) {
            std::fprintf(stderr, "%s\n", st.message().c_str());
            return 1;
        }
    }
    std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
    return 0;
}

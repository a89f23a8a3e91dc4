// Test support: the hostile model corpus (see hostile_models.h). Byte-level cases patch the
// fields of a generated file in place, at positions read from its parsed layout; model-level
// cases (missing keys and tensors, wrong shapes, bad tokenizers) rewrite it with gguf_edit.
#include "hostile_models.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "fixtures/synth.h"
#include "gguf_edit.h"

namespace moe::test {

namespace {

using Bytes = std::vector<uint8_t>;
using V = GgufWriter::Value;
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

void put32(Bytes& b, uint64_t pos, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[size_t(pos) + i] = uint8_t(v >> (8 * i));
}
void put64(Bytes& b, uint64_t pos, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[size_t(pos) + i] = uint8_t(v >> (8 * i));
}

// Where each field of a parsed file lies (absolute byte offsets).
struct KvPos {
    std::string key;
    uint64_t keyLen = 0, type = 0, value = 0;  // value: array element type / string length / scalar
    std::vector<uint64_t> stringLens;          // string arrays: the length field of each element
};
struct TensorPos {
    std::string name;
    uint64_t nameLen = 0, nDims = 0, dims = 0, type = 0, offset = 0, end = 0;  // tensor info fields
    uint64_t data = 0, nBytes = 0, rel = 0;  // data: absolute; rel: as stored (from the data section)
};
struct Layout {
    std::vector<KvPos> kvs;
    std::vector<TensorPos> tensors;
    uint64_t metaEnd = 0, dataOffset = 0;

    const KvPos& kv(std::string_view key) const {
        for (const KvPos& k : kvs)
            if (k.key == key) return k;
        return kvs.front();  // bases always have the keys asked for (checked by the callers' names)
    }
    const TensorPos& tensor(std::string_view name) const {
        for (const TensorPos& t : tensors)
            if (t.name == name) return t;
        return tensors.front();
    }
};

Layout layoutOf(const GgufFile& f) {
    const uint8_t* base = f.fileData();
    auto at = [&](const void* p) { return uint64_t(static_cast<const uint8_t*>(p) - base); };
    Layout l;
    for (const GgufKv& kv : f.kvs()) {
        KvPos k;
        k.key = std::string(kv.key);
        k.keyLen = at(kv.key.data()) - 8;
        k.type = at(kv.key.data()) + kv.key.size();
        k.value = k.type + 4;
        for (std::string_view s : kv.value.strings) k.stringLens.push_back(at(s.data()) - 8);
        l.kvs.push_back(std::move(k));
    }
    for (const GgufTensor& t : f.tensors()) {
        TensorPos p;
        p.name = std::string(t.name);
        p.nameLen = at(t.name.data()) - 8;
        p.nDims = at(t.name.data()) + t.name.size();
        p.dims = p.nDims + 4;
        p.type = p.dims + 8 * uint64_t(t.nDims);
        p.offset = p.type + 4;
        p.end = p.offset + 8;
        p.data = t.offset;
        p.nBytes = t.nBytes;
        p.rel = t.offset - f.dataOffset();
        l.tensors.push_back(std::move(p));
    }
    l.metaEnd = l.tensors.empty() ? f.dataOffset() : l.tensors.front().nameLen;
    l.dataOffset = f.dataOffset();
    return l;
}

V stringArray(const std::vector<std::string>& v) {
    std::vector<V> items;
    for (const std::string& s : v) items.push_back(V::string(s));
    return V::array(GgufType::String, std::move(items));
}

std::vector<std::string> stringsOf(const GgufFile& f, std::string_view key) {
    std::vector<std::string> out;
    if (const GgufValue* v = f.find(key))
        for (std::string_view s : v->strings) out.emplace_back(s);
    return out;
}

// A key edit that replaces some keys and drops others (nullopt values).
GgufEdit keys(std::vector<std::pair<std::string, std::optional<V>>> changes) {
    GgufEdit e;
    e.key = [changes](std::string_view k, const GgufValue& v) -> std::optional<V> {
        for (const auto& [key, nv] : changes)
            if (k == key) return nv;
        return toWriterValue(v);
    };
    for (const auto& [key, nv] : changes)
        if (nv) e.extraKeys.emplace_back(key, *nv);  // added when the base lacks it
    return e;
}

// One base model: its bytes, parsed file and layout.
struct Base {
    std::string name;
    Bytes bytes;
    std::optional<GgufFile> file;
    Layout layout;
};

Result<Base> makeBase(const std::string& dir, const std::string& name, Arch arch, const char* variant = "") {
    MOE_ASSIGN(SynthSpec spec, synthVariant(arch, variant));
    spec.weightType = GgmlType::Q8_0;
    Base b;
    b.name = name;
    const std::string path = dir + "/" + name;
    MOE_TRY(writeSynthModel(spec, path));
    std::ifstream in(path, std::ios::binary);
    b.bytes.assign(std::istreambuf_iterator<char>(in), {});
    MOE_ASSIGN(GgufFile f, GgufFile::fromMemory(b.bytes, name));
    b.layout = layoutOf(f);
    b.file.emplace(std::move(f));
    return b;
}

struct Writer {
    HostileCorpus& c;
    Status status;

    void file(const std::string& name, const Bytes& bytes, std::vector<std::string> expect) {
        if (!status.ok()) return;
        std::ofstream out(c.dir + "/" + name, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!out) status = makeError("cannot write " + c.dir + "/" + name);
        c.files.push_back({name, std::move(expect)});
    }
    // A copy of the base with fn applied to its bytes.
    template <class F>
    void patch(const Base& b, const std::string& name, F fn, std::vector<std::string> expect) {
        Bytes bytes = b.bytes;
        fn(bytes);
        file(name, bytes, std::move(expect));
    }
    void cut(const Base& b, const std::string& name, uint64_t len) {
        file(name, Bytes(b.bytes.begin(), b.bytes.begin() + ptrdiff_t(len)),
             {"truncated", "past end of file", "too small", "empty file"});
    }
    void edit(const Base& b, const std::string& name, const GgufEdit& e, std::vector<std::string> expect) {
        if (!status.ok()) return;
        auto r = rewriteGguf(*b.file, e);
        if (!r.ok()) {
            status = makeError(name + ": " + r.error().message);
            return;
        }
        file(name, *r, std::move(expect));
    }
};

std::string two(size_t i) {
    char b[24];
    std::snprintf(b, sizeof b, "%02zu", i);
    return b;
}

// Truncated at every section boundary (header fields, after each key, after each tensor info,
// the data section), inside the metadata and inside tensor data.
void truncations(Writer& w, const Base& b) {
    const Layout& l = b.layout;
    for (uint64_t len : {0, 3, 4, 8, 16, 24}) w.cut(b, "trunc_header_" + std::to_string(len) + ".gguf", len);
    for (size_t i = 0; i < l.kvs.size(); ++i) {
        const uint64_t end = i + 1 < l.kvs.size() ? l.kvs[i + 1].keyLen : l.metaEnd;
        w.cut(b, "trunc_after_kv" + two(i) + ".gguf", end);
    }
    const KvPos& tokens = l.kv("tokenizer.ggml.tokens");
    w.cut(b, "trunc_in_tokens.gguf", tokens.stringLens[tokens.stringLens.size() / 2] + 3);
    w.cut(b, "trunc_in_key.gguf", l.kvs[3].keyLen + 10);
    for (size_t i = 0; i < l.tensors.size(); ++i) w.cut(b, "trunc_after_info" + two(i) + ".gguf", l.tensors[i].end);
    w.cut(b, "trunc_in_info.gguf", l.tensors[5].dims + 3);
    w.cut(b, "trunc_data_start.gguf", l.dataOffset);
    for (size_t i = 0; i < l.tensors.size(); i += 6)
        w.cut(b, "trunc_in_tensor" + two(i) + ".gguf", l.tensors[i].data + l.tensors[i].nBytes / 2);
    const TensorPos& last = l.tensors.back();
    w.cut(b, "trunc_in_last_tensor.gguf", last.data + last.nBytes / 2);
    w.cut(b, "trunc_last_byte.gguf", last.data + last.nBytes - 1);
}

void headers(Writer& w, const Base& b) {
    w.patch(b, "header_magic_ggml.gguf", [](Bytes& x) { std::memcpy(x.data(), "GGML", 4); }, {"not a GGUF file"});
    w.patch(b, "header_magic_big_endian.gguf", [](Bytes& x) { std::memcpy(x.data(), "FUGG", 4); }, {"big-endian"});
    w.patch(b, "header_version_1.gguf", [](Bytes& x) { put32(x, 4, 1); }, {"GGUF version 1 is not supported"});
    w.patch(b, "header_version_4.gguf", [](Bytes& x) { put32(x, 4, 4); }, {"unsupported GGUF version 4 "});
    w.patch(b, "header_version_max.gguf", [](Bytes& x) { put32(x, 4, 0xFFFFFFFFu); },
            {"unsupported GGUF version 4294967295"});
    w.patch(b, "header_version_swapped.gguf", [](Bytes& x) { put32(x, 4, 0x03000000u); }, {"big-endian"});
    w.file("header_zeros.gguf", Bytes(4096, 0), {"not a GGUF file (starts with bytes 00 00 00 00"});
    const std::string text = "<html><body>404 Not Found</body></html>\n";
    w.file("header_html.gguf", Bytes(text.begin(), text.end()), {"not a GGUF file (starts with bytes 3c 68 74 6d"});
}

// Counts and lengths up to 2^64-1.
void counts(Writer& w, const Base& b) {
    const Layout& l = b.layout;
    const std::string big = std::to_string(kMax64);
    w.patch(b, "count_tensors_max.gguf", [](Bytes& x) { put64(x, 8, kMax64); }, {"tensor count " + big + " is impossible"});
    w.patch(b, "count_tensors_2p32.gguf", [](Bytes& x) { put64(x, 8, uint64_t(1) << 32); },
            {"tensor count 4294967296 is impossible"});
    w.patch(b, "count_keys_max.gguf", [](Bytes& x) { put64(x, 16, kMax64); }, {"key count " + big + " is impossible"});
    w.patch(b, "count_keys_2p63.gguf", [](Bytes& x) { put64(x, 16, uint64_t(1) << 63); },
            {"key count 9223372036854775808 is impossible"});
    const KvPos& tokens = l.kv("tokenizer.ggml.tokens");
    const KvPos& merges = l.kv("tokenizer.ggml.merges");
    const KvPos& types = l.kv("tokenizer.ggml.token_type");
    w.patch(b, "count_tokens_max.gguf", [&](Bytes& x) { put64(x, tokens.value + 4, kMax64); },
            {"array of " + big + " STRING elements"});
    w.patch(b, "count_tokens_2p32.gguf", [&](Bytes& x) { put64(x, tokens.value + 4, uint64_t(1) << 32); },
            {"array of 4294967296 STRING elements"});
    w.patch(b, "count_merges_2p63.gguf", [&](Bytes& x) { put64(x, merges.value + 4, uint64_t(1) << 63); },
            {"array of 9223372036854775808 STRING elements"});
    w.patch(b, "count_token_types_max.gguf", [&](Bytes& x) { put64(x, types.value + 4, kMax64); },
            {"array of " + big + " INT32 elements"});
    w.patch(b, "count_token_types_2p62.gguf", [&](Bytes& x) { put64(x, types.value + 4, uint64_t(1) << 62); },
            {"array of 4611686018427387904 INT32 elements"});
    w.patch(b, "len_key0_max.gguf", [&](Bytes& x) { put64(x, l.kvs[0].keyLen, kMax64); },
            {"key #0: key length " + big});
    w.patch(b, "len_key5_2p63.gguf", [&](Bytes& x) { put64(x, l.kvs[5].keyLen, uint64_t(1) << 63); },
            {"key #5: key length 9223372036854775808"});
    w.patch(b, "len_key_file_size.gguf", [&](Bytes& x) { put64(x, l.kvs[1].keyLen, x.size()); },
            {"key #1: key length " + std::to_string(b.bytes.size())});
    const KvPos& arch = l.kv("general.architecture");
    w.patch(b, "len_string_max.gguf", [&](Bytes& x) { put64(x, arch.value, kMax64); },
            {"key 'general.architecture': string length " + big});
    w.patch(b, "len_token5_max.gguf", [&](Bytes& x) { put64(x, tokens.stringLens[5], kMax64); },
            {"key 'tokenizer.ggml.tokens': element 5: string length " + big});
    w.patch(b, "len_token_last_2p32.gguf", [&](Bytes& x) { put64(x, tokens.stringLens.back(), uint64_t(1) << 32); },
            {"element " + std::to_string(tokens.stringLens.size() - 1) + ": string length 4294967296"});
    w.patch(b, "len_merge0_max.gguf", [&](Bytes& x) { put64(x, merges.stringLens[0], kMax64); },
            {"key 'tokenizer.ggml.merges': element 0: string length " + big});
    w.patch(b, "len_tensor_name0_max.gguf", [&](Bytes& x) { put64(x, l.tensors[0].nameLen, kMax64); },
            {"tensor info #0: tensor name length " + big});
    const size_t lastInfo = l.tensors.size() - 1;
    w.patch(b, "len_tensor_name_last_2p63.gguf", [&](Bytes& x) { put64(x, l.tensors[lastInfo].nameLen, uint64_t(1) << 63); },
            {"tensor info #" + std::to_string(lastInfo) + ": tensor name length 9223372036854775808"});
    w.patch(b, "count_dims_max.gguf", [&](Bytes& x) { put32(x, l.tensors[0].nDims, 0xFFFFFFFFu); },
            {"has 4294967295 dimensions"});
    w.patch(b, "count_dims_5.gguf", [&](Bytes& x) { put32(x, l.tensors[2].nDims, 5); },
            {"'" + l.tensors[2].name + "' has 5 dimensions"});
}

// Metadata and tensor info fields: types, duplicates, offsets, dimensions.
void fields(Writer& w, const Base& b) {
    const Layout& l = b.layout;
    const TensorPos& embd = l.tensor("token_embd.weight");   // Q8_0 (64, 512): ne = {64, 512}
    const TensorPos& norm = l.tensor("output_norm.weight");  // F32 (64)
    const TensorPos& exps = l.tensor("blk.0.ffn_gate_exps.weight");  // Q8_0, 3 dims
    const TensorPos& last = l.tensors.back();
    const KvPos& tokens = l.kv("tokenizer.ggml.tokens");
    // value types
    w.patch(b, "type_value_13.gguf", [&](Bytes& x) { put32(x, l.kvs[2].type, 13); },
            {"key '" + l.kvs[2].key + "': unknown value type id 13"});
    w.patch(b, "type_value_max.gguf", [&](Bytes& x) { put32(x, l.kvs[4].type, 0xFFFFFFFFu); },
            {"unknown value type id 4294967295"});
    w.patch(b, "type_array_element_13.gguf", [&](Bytes& x) { put32(x, tokens.value, 13); },
            {"key 'tokenizer.ggml.tokens': unknown array element type id 13"});
    // duplicates: the name of the next key or tensor of the same length is overwritten
    auto duplicate = [&](auto& items, auto nameOf, auto posOf, const char* what, const std::string& file) {
        for (size_t i = 0; i < items.size(); ++i)
            for (size_t j = i + 1; j < items.size(); ++j)
                if (nameOf(items[i]).size() == nameOf(items[j]).size()) {
                    const std::string n = nameOf(items[i]);
                    const uint64_t at = posOf(items[j]) + 8;
                    w.patch(b, file, [&](Bytes& x) { std::memcpy(x.data() + at, n.data(), n.size()); },
                            {std::string(what) + " '" + n + "'"});
                    return;
                }
    };
    duplicate(l.kvs, [](const KvPos& k) { return k.key; }, [](const KvPos& k) { return k.keyLen; }, "duplicate key",
              "dup_key.gguf");
    duplicate(l.tensors, [](const TensorPos& t) { return t.name; }, [](const TensorPos& t) { return t.nameLen; },
              "duplicate tensor name", "dup_tensor.gguf");
    // tensor types: unknown ids, and a known type the engine does not compute with
    for (uint32_t id : {4u, 31u, 99u, 0xFFFFFFFFu})
        w.patch(b, "type_tensor_" + std::to_string(id) + ".gguf", [&](Bytes& x) { put32(x, embd.type, id); },
                {"tensor 'token_embd.weight' has unknown type id " + std::to_string(id)});
    w.patch(b, "type_tensor_i8.gguf", [&](Bytes& x) { put32(x, embd.type, uint32_t(GgmlType::I8)); },
            {"'token_embd.weight' has unsupported type I8"});
    w.patch(b, "type_tensor_norm_i32.gguf", [&](Bytes& x) { put32(x, norm.type, uint32_t(GgmlType::I32)); },
            {"'output_norm.weight' has type I32; norm and bias vectors must be F32, F16 or BF16"});
    // offsets: out of range, misaligned, overlapping
    const uint64_t pastEnd = (b.bytes.size() - l.dataOffset + 31) / 32 * 32;
    w.patch(b, "offset_past_end.gguf", [&](Bytes& x) { put64(x, last.offset, pastEnd); },
            {"tensor '" + last.name + "' data [offset " + std::to_string(l.dataOffset + pastEnd)});
    w.patch(b, "offset_max.gguf", [&](Bytes& x) { put64(x, last.offset, kMax64 - 31); },
            {"tensor '" + last.name + "' data [data section offset 18446744073709551584"});
    w.patch(b, "offset_2p62.gguf", [&](Bytes& x) { put64(x, embd.offset, uint64_t(1) << 62); },
            {"tensor 'token_embd.weight' data [offset", "extends past end of file"});
    w.patch(b, "offset_misaligned_1.gguf", [&](Bytes& x) { put64(x, norm.offset, norm.rel + 1); },
            {"'output_norm.weight' data offset " + std::to_string(norm.rel + 1) + " is not a multiple of the alignment 32"});
    w.patch(b, "offset_misaligned_16.gguf", [&](Bytes& x) { put64(x, last.offset, last.rel + 16); },
            {"is not a multiple of the alignment 32"});
    w.patch(b, "offset_overlap_same.gguf", [&](Bytes& x) { put64(x, l.tensors[1].offset, l.tensors[0].rel); },
            {"overlap"});
    w.patch(b, "offset_overlap_partial.gguf", [&](Bytes& x) { put64(x, l.tensors[4].offset, l.tensors[3].rel + 32); },
            {"overlap"});
    // dimensions: products overflowing 64 bits, huge sizes, block multiples, zero rows
    w.patch(b, "dims_overflow_2d.gguf", [&](Bytes& x) {
        put64(x, embd.dims, uint64_t(1) << 32);
        put64(x, embd.dims + 8, uint64_t(1) << 32);
    }, {"'token_embd.weight' dimensions [4294967296, 4294967296] overflow 64 bits"});
    w.patch(b, "dims_overflow_3d.gguf", [&](Bytes& x) {
        put64(x, exps.dims, uint64_t(1) << 21);
        put64(x, exps.dims + 8, uint64_t(1) << 21);
        put64(x, exps.dims + 16, uint64_t(1) << 22);
    }, {"overflow 64 bits"});
    w.patch(b, "dims_max.gguf", [&](Bytes& x) { put64(x, embd.dims + 8, kMax64); },
            {"'token_embd.weight' dimension 1 is " + std::to_string(kMax64) + ", more than 2^63-1"});
    w.patch(b, "dims_bytes_overflow.gguf", [&](Bytes& x) { put64(x, norm.dims, uint64_t(1) << 62); },
            {"'output_norm.weight' size ([4611686018427387904] of F32) overflows 64 bits"});
    w.patch(b, "dims_huge_rows.gguf", [&](Bytes& x) { put64(x, embd.dims + 8, uint64_t(1) << 40); },
            {"'token_embd.weight' data [offset", "extends past end of file"});
    w.patch(b, "dims_row_not_block.gguf", [&](Bytes& x) { put64(x, embd.dims, 65); },
            {"'token_embd.weight' row length 65 is not a multiple of the Q8_0 block size 32"});
    w.patch(b, "dims_zero_rows.gguf", [&](Bytes& x) { put64(x, embd.dims + 8, 0); },
            {"'token_embd.weight' has 0 rows; the vocabulary size must be"});
    w.patch(b, "dims_reshaped.gguf", [&](Bytes& x) {  // same bytes, shape wrong for the model
        put64(x, embd.dims, 128);
        put64(x, embd.dims + 8, 256);
    }, {"'token_embd.weight' has shape [128, 256], expected [64, 256]"});
}

// Hyper-parameters: missing, of the wrong type, out of range, inconsistent.
void hyperParameters(Writer& w, const Base& b) {
    const std::string p = "qwen2moe.";
    auto drop = [&](const std::string& key, std::vector<std::string> expect) {
        w.edit(b, "key_missing_" + key + ".gguf", dropKey(key), std::move(expect));
    };
    auto set = [&](const std::string& file, const std::string& key, V v, std::vector<std::string> expect) {
        w.edit(b, "key_" + file + ".gguf", setKey(key, std::move(v)), std::move(expect));
    };
    drop("general.architecture", {"missing key 'general.architecture'"});
    for (const char* k : {"context_length", "embedding_length", "block_count", "attention.head_count",
                          "attention.layer_norm_rms_epsilon"})
        drop(p + k, {"missing key '" + p + k + "'"});
    drop(p + "expert_count", {"missing or zero key 'qwen2moe.expert_count'"});
    set("arch_unknown", "general.architecture", V::string("gptx"), {"unsupported architecture 'gptx'"});
    set("arch_u32", "general.architecture", V::u32(2), {"key 'general.architecture' has type UINT32, expected STRING"});
    set("arch_empty", "general.architecture", V::string(""), {"unsupported architecture ''"});
    set("block_count_string", p + "block_count", V::string("2"), {"'qwen2moe.block_count' has type STRING"});
    set("block_count_u64", p + "block_count", V::u64(uint64_t(1) << 40), {"does not fit in UINT32"});
    set("block_count_negative", p + "block_count", V::i32(-1), {"does not fit in UINT32"});
    set("block_count_max", p + "block_count", V::u32(0xFFFFFFFFu), {"block_count 4294967295 does not match"});
    set("block_count_3", p + "block_count", V::u32(3), {"missing tensor 'blk.2.attn_norm.weight'"});
    set("block_count_0", p + "block_count", V::u32(0), {"must be non-zero"});
    set("context_length_0", p + "context_length", V::u32(0), {"must be non-zero"});
    set("embedding_length_0", p + "embedding_length", V::u32(0), {"must be non-zero"});
    set("embedding_length_32", p + "embedding_length", V::u32(32), {"has shape"});
    set("embedding_length_2p31", p + "embedding_length", V::u32(0x80000000u),
        {"'token_embd.weight' has shape [64, 512], expected [2147483648, 512]"});
    set("head_count_0", p + "attention.head_count", V::u32(0), {"must be non-zero"});
    set("head_count_kv_0", p + "attention.head_count_kv", V::u32(0), {"is not a multiple of attention.head_count_kv 0"});
    set("head_count_kv_3", p + "attention.head_count_kv", V::u32(3), {"is not a multiple of attention.head_count_kv 3"});
    set("head_count_max", p + "attention.head_count", V::u32(0xFFFFFFFFu), {"has shape", "is not a multiple"});
    set("key_length_max", p + "attention.key_length", V::u32(0xFFFFFFFFu), {"rope.dimension_count 4294967295 must be even"});
    set("key_length_2p31", p + "attention.key_length", V::u32(0x80000000u),
        {"'blk.0.attn_q.weight' has shape [64, 64], expected [64, 8589934592]"});
    set("value_length_8", p + "attention.value_length", V::u32(8), {"attention.value_length 8 differs"});
    set("rope_dims_odd", p + "rope.dimension_count", V::u32(15), {"rope.dimension_count 15 must be even"});
    set("rope_dims_max", p + "rope.dimension_count", V::u32(0xFFFFFFFEu), {"must be even and at most the head size"});
    set("rms_eps_negative", p + "attention.layer_norm_rms_epsilon", V::f32(-1.0f), {"must be positive"});
    set("rms_eps_nan", p + "attention.layer_norm_rms_epsilon", V::f32(std::numeric_limits<float>::quiet_NaN()),
        {"must be positive"});
    set("rope_base_0", p + "rope.freq_base", V::f32(0.0f), {"must be positive"});
    set("rms_eps_string", p + "attention.layer_norm_rms_epsilon", V::string("1e-6"), {"expected a number"});
    set("expert_count_0", p + "expert_count", V::u32(0), {"missing or zero key 'qwen2moe.expert_count'"});
    set("expert_count_max", p + "expert_count", V::u32(0xFFFFFFFFu), {"has shape"});
    set("expert_used_0", p + "expert_used_count", V::u32(0), {"expert_used_count' = 0 must be in [1, expert_count"});
    set("expert_used_5", p + "expert_used_count", V::u32(5), {"expert_used_count' = 5 must be in [1, expert_count = 4]"});
    set("expert_ff_0", p + "expert_feed_forward_length", V::u32(0), {"expert_feed_forward_length"});
    set("expert_ff_max", p + "expert_feed_forward_length", V::u32(0xFFFFFFFFu), {"has shape"});
    set("shared_count_2", p + "expert_shared_count", V::u32(2), {"expert_shared_count 2 is not supported"});
    set("shared_ff_0", p + "expert_shared_feed_forward_length", V::u32(0), {"expert_shared_feed_forward_length"});
    set("gating_func_3", p + "expert_gating_func", V::u32(3), {"expert_gating_func 3 is not supported"});
    set("weights_norm_u8", p + "expert_weights_norm", V::u8(1), {"expert_weights_norm' has type UINT8, expected BOOL"});
    set("alignment_0", "general.alignment", V::u32(0), {"general.alignment is 0"});
    set("alignment_3", "general.alignment", V::u32(3), {"general.alignment 3 is not a power of two"});
    set("alignment_string", "general.alignment", V::string("32"), {"general.alignment must be an unsigned 32-bit integer"});
    {  // arrays nested deeper than the reader follows
        V v = V::array(GgufType::U8, {});
        for (int i = 0; i < 9; ++i) v = V::array(GgufType::Array, {v});
        set("nested_arrays", "general.deep", v, {"arrays nested more than 8 deep"});
    }
}

// Tensors: missing, wrong shape for the architecture, wrong types.
void tensors(Writer& w, const Base& q, const Base& l) {
    for (const char* t : {"token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight", "blk.1.attn_output.weight",
                          "blk.0.ffn_gate_inp.weight", "blk.1.ffn_down_exps.weight", "blk.1.ffn_gate_inp_shexp.weight",
                          "blk.0.ffn_up_shexp.weight"})
        w.edit(q, std::string("tensor_missing_") + t + ".gguf", dropTensor(t), {"missing tensor '" + std::string(t) + "'"});
    w.edit(q, "tensor_missing_one_bias.gguf", dropTensor("blk.0.attn_k.bias"), {"layer 0 has some but not all q/k/v biases"});
    w.edit(l, "tensor_missing_llama_router.gguf", dropTensor("blk.1.ffn_gate_inp.weight"),
           {"missing tensor 'blk.1.ffn_gate_inp.weight'"});
    // shapes wrong for the architecture, and types the engine does not compute with
    auto shape = [&](const Base& b, const std::string& file, const std::string& t, GgmlType type,
                     std::vector<int64_t> ne, std::string expect) {
        w.edit(b, file + ".gguf", replaceTensor(t, {type, std::move(ne)}), {std::move(expect)});
    };
    const GgmlType Q8 = GgmlType::Q8_0, F32 = GgmlType::F32;
    shape(q, "shape_attn_k", "blk.0.attn_k.weight", Q8, {64, 32}, "'blk.0.attn_k.weight' has shape [64, 32], expected [64, 64]");
    shape(q, "shape_attn_q_3d", "blk.1.attn_q.weight", Q8, {64, 32, 2},
          "'blk.1.attn_q.weight' has shape [64, 32, 2], expected [64, 64]");
    shape(q, "shape_gate_exps", "blk.0.ffn_gate_exps.weight", Q8, {64, 32, 3}, "has shape [64, 32, 3], expected [64, 32, 4]");
    shape(q, "shape_down_exps_transposed", "blk.1.ffn_down_exps.weight", Q8, {64, 32, 4},
          "has shape [64, 32, 4], expected [32, 64, 4]");
    shape(q, "shape_router", "blk.0.ffn_gate_inp.weight", Q8, {64, 3},
          "'blk.0.ffn_gate_inp.weight' has shape [64, 3], expected [64, 4]");
    shape(q, "shape_output", "output.weight", Q8, {64, 511}, "'output.weight' has shape [64, 511], expected [64, 512]");
    shape(q, "shape_output_norm", "output_norm.weight", F32, {128}, "'output_norm.weight' has shape [128], expected [64]");
    shape(q, "shape_bias", "blk.0.attn_q.bias", F32, {32}, "'blk.0.attn_q.bias' has shape [32], expected [64]");
    shape(q, "shape_shared_gate", "blk.1.ffn_gate_shexp.weight", Q8, {64, 32}, "has shape [64, 32], expected [64, 64]");
    shape(q, "shape_embd_rows", "token_embd.weight", Q8, {64, 511}, "has shape [64, 512], expected [64, 511]");
    shape(l, "shape_llama_up_exps", "blk.0.ffn_up_exps.weight", Q8, {64, 32, 7}, "has shape [64, 32, 7], expected [64, 32, 8]");
    shape(q, "type_norm_q8_0", "blk.1.ffn_norm.weight", Q8, {64},
          "'blk.1.ffn_norm.weight' has type Q8_0; norm and bias vectors must be");
    shape(q, "type_exps_i32", "blk.0.ffn_up_exps.weight", GgmlType::I32, {64, 32, 4},
          "'blk.0.ffn_up_exps.weight' has unsupported type I32");
    shape(q, "type_attn_i8", "blk.0.attn_v.weight", GgmlType::I8, {64, 64}, "'blk.0.attn_v.weight' has unsupported type I8");
    GgufEdit perExpert;
    perExpert.extraTensors.push_back({"blk.0.ffn_gate.0.weight", {F32, {64, 32}}});
    w.edit(l, "tensor_per_expert_layout.gguf", perExpert, {"per-expert tensors"});
}

// deepseek2 (V3-like base: q LoRA, sigmoid + exp_probs_b, 4 groups, a dense first layer):
// its own keys and tensors.
void deepseek2(Writer& w, const Base& d) {
    const std::string p = "deepseek2.";
    auto set = [&](const std::string& file, const std::string& key, std::optional<V> v, std::vector<std::string> expect) {
        w.edit(d, "ds2_key_" + file + ".gguf", keys({{key, std::move(v)}}), std::move(expect));
    };
    set("kv_lora_missing", p + "attention.kv_lora_rank", std::nullopt, {"missing key 'deepseek2.attention.kv_lora_rank'"});
    set("kv_lora_0", p + "attention.kv_lora_rank", V::u32(0), {"attention.kv_lora_rank must be positive"});
    set("kv_lora_16", p + "attention.kv_lora_rank", V::u32(16),
        {"'blk.0.attn_kv_a_mqa.weight' has shape [64, 48], expected [64, 32]"});
    set("rope_dims_48", p + "rope.dimension_count", V::u32(48), {"must be positive and below the query head size 48"});
    set("head_count_kv_2", p + "attention.head_count_kv", V::u32(2), {"must equal head_count (latent attention has no KV groups)"});
    set("dense_lead_3", p + "leading_dense_block_count", V::u32(3), {"leading_dense_block_count 3 leaves no MoE layer of 3"});
    set("dense_lead_2", p + "leading_dense_block_count", V::u32(2), {"missing tensor 'blk.1.ffn_gate.weight'"});
    set("groups_3", p + "expert_group_count", V::u32(3), {"expert_group_count 3 / expert_group_used_count 2 must divide the 16"});
    set("groups_used_5", p + "expert_group_used_count", V::u32(5), {"expert_group_used_count 5 must divide"});
    set("rope_scaling_longrope", p + "rope.scaling.type", V::string("longrope"),
        {"rope.scaling.type 'longrope' is not supported (none, yarn)"});
    set("rope_scaling_factor_half", p + "rope.scaling.factor", V::f32(0.5f), {"rope.scaling.factor must be at least 1"});
    set("rope_scaling_orig_0", p + "rope.scaling.original_context_length", V::u32(0),
        {"rope.scaling.original_context_length must be positive"});
    set("weights_scale_negative", p + "expert_weights_scale", V::f32(-2.5f), {"expert_weights_scale must be positive"});
    set("nextn_3", p + "nextn_predict_layers", V::u32(3), {"nextn_predict_layers 3 leaves no layer of 3"});
    for (const char* t : {"blk.1.attn_kv_a_mqa.weight", "blk.0.ffn_gate.weight", "blk.2.attn_k_b.weight",
                          "blk.2.attn_q_a_norm.weight", "blk.1.attn_kv_a_norm.weight", "blk.2.ffn_down_shexp.weight"})
        w.edit(d, std::string("ds2_tensor_missing_") + t + ".gguf", dropTensor(t), {"missing tensor '" + std::string(t) + "'"});
    auto shape = [&](const std::string& file, const std::string& t, GgmlType type, std::vector<int64_t> ne, std::string expect) {
        w.edit(d, "ds2_" + file + ".gguf", replaceTensor(t, {type, std::move(ne)}), {std::move(expect)});
    };
    shape("shape_k_b_heads", "blk.1.attn_k_b.weight", GgmlType::Q8_0, {32, 32, 3},
          "'blk.1.attn_k_b.weight' has shape [32, 32, 3], expected [32, 32, 4]");
    shape("shape_v_b", "blk.2.attn_v_b.weight", GgmlType::Q8_0, {32, 64, 4},
          "'blk.2.attn_v_b.weight' has shape [32, 64, 4], expected [32, 32, 4]");
    shape("shape_probs_b", "blk.1.exp_probs_b.bias", GgmlType::F32, {8},
          "'blk.1.exp_probs_b.bias' has shape [8], expected [16]");
    shape("shape_dense_up", "blk.0.ffn_up.weight", GgmlType::Q8_0, {64, 64},
          "'blk.0.ffn_up.weight' has shape [64, 64], expected [64, 96]");
    shape("type_kv_a_norm", "blk.1.attn_kv_a_norm.weight", GgmlType::Q8_0, {32},
          "'blk.1.attn_kv_a_norm.weight' has type Q8_0; norm and bias vectors must be");
}

// Tokenizers: out-of-range ids, bad merges, array lengths that disagree, wrong types.
void tokenizers(Writer& w, const Base& q, const Base& l) {
    const GgufFile& f = *q.file;
    const std::string tk = "tokenizer.ggml.";
    const std::vector<std::string> toks = stringsOf(f, tk + "tokens");
    const std::vector<std::string> merges = stringsOf(f, tk + "merges");
    const std::string n = std::to_string(toks.size());
    auto set = [&](const Base& b, const std::string& file, std::vector<std::pair<std::string, std::optional<V>>> c,
                   std::vector<std::string> expect) { w.edit(b, "tok_" + file + ".gguf", keys(std::move(c)), std::move(expect)); };
    // special ids
    set(q, "bos_vocab", {{tk + "bos_token_id", V::u32(uint32_t(toks.size()))}},
        {"tokenizer.ggml.bos_token_id = " + n + " is out of range (vocabulary has " + n + " tokens)"});
    set(q, "eos_i32_max", {{tk + "eos_token_id", V::u32(0x7FFFFFFFu)}}, {"eos_token_id = 2147483647 is out of range"});
    set(q, "eos_negative", {{tk + "eos_token_id", V::i32(-1)}}, {"eos_token_id = -1 is out of range"});
    set(q, "bos_u64", {{tk + "bos_token_id", V::u64(uint64_t(1) << 40)}}, {"'tokenizer.ggml.bos_token_id' value 1099511627776"});
    set(q, "unk_vocab", {{tk + "unknown_token_id", V::u32(uint32_t(toks.size()) + 7)}}, {"unknown_token_id = "});
    set(q, "pad_vocab", {{tk + "padding_token_id", V::i64(int64_t(1) << 35)}}, {"padding_token_id' value"});
    set(l, "llama_bos_vocab", {{tk + "bos_token_id", V::u32(100000)}}, {"bos_token_id = 100000 is out of range"});
    set(q, "bos_string", {{tk + "bos_token_id", V::string("<s>")}}, {"'tokenizer.ggml.bos_token_id' has type STRING"});
    set(q, "add_bos_no_id", {{tk + "bos_token_id", std::nullopt}, {tk + "add_bos_token", V::boolean(true)}},
        {"add_bos_token is true but there is no bos_token_id"});
    set(q, "add_bos_u32", {{tk + "add_bos_token", V::u32(1)}}, {"'tokenizer.ggml.add_bos_token' has type UINT32"});
    // merges
    auto withMerge = [&](size_t i, std::string m) {
        std::vector<std::string> v = merges;
        v[i] = std::move(m);
        return stringArray(v);
    };
    set(q, "merge_unknown_token", {{tk + "merges", withMerge(0, "\x01\x02 \x03\x04")}},
        {"merge #0 '\\x01\\x02 \\x03\\x04' references unknown token '\\x01\\x02'"});
    set(q, "merge_unknown_right", {{tk + "merges", withMerge(merges.size() - 1, toks[300] + " zz\xC4\xA0qq")}},
        {"references unknown token 'zz"});
    {  // two known tokens whose concatenation is not in the vocabulary
        std::set<std::string> vocab(toks.begin(), toks.end());
        std::string a, bb;
        for (size_t i = 0; i + 1 < merges.size() && a.empty(); ++i) {
            const std::string l0 = merges[i].substr(0, merges[i].find(' '));
            const std::string r1 = merges[i + 1].substr(merges[i + 1].find(' ') + 1);
            if (!vocab.count(l0 + r1) && !vocab.count(r1 + l0) && l0.size() > 1) a = l0, bb = r1;
        }
        if (a.empty()) w.status = makeError("no merge pair for tok_merge_result_unknown");
        set(q, "merge_result_unknown", {{tk + "merges", withMerge(3, a + " " + bb)}},
            {"merge #3 '" + a + " " + bb + "' produces '" + a + bb + "' which is not in the vocabulary"});
    }
    set(q, "merge_no_space", {{tk + "merges", withMerge(7, "abc")}}, {"merge #7 'abc' is not of the form 'left right'"});
    set(q, "merge_empty", {{tk + "merges", withMerge(2, "")}}, {"merge #2 '' is not of the form 'left right'"});
    set(q, "merge_trailing_space", {{tk + "merges", withMerge(2, toks[300] + " ")}}, {"is not of the form 'left right'"});
    set(q, "merges_u32", {{tk + "merges", V::array(GgufType::U32, {V::u32(1)})}},
        {"'tokenizer.ggml.merges' has type ARRAY of UINT32, expected ARRAY of STRING"});
    // array lengths and element types
    {
        std::vector<V> scores;
        for (size_t i = 0; i + 1 < toks.size(); ++i) scores.push_back(V::f32(-float(i)));
        set(q, "scores_short", {{tk + "scores", V::array(GgufType::F32, scores)}},
            {"tokenizer.ggml.scores has " + std::to_string(toks.size() - 1) + " entries but tokenizer.ggml.tokens has " + n});
    }
    {
        GgufEdit e;
        e.key = [tk](std::string_view k, const GgufValue& v) -> std::optional<V> {
            V out = toWriterValue(v);
            if (k == tk + "scores") out.items.resize(out.items.size() + 1, V::f32(0));
            return out;
        };
        const size_t ln = stringsOf(*l.file, tk + "tokens").size();
        w.edit(l, "tok_llama_scores_long.gguf", e,
               {"tokenizer.ggml.scores has " + std::to_string(ln + 1) + " entries but tokenizer.ggml.tokens has " +
                std::to_string(ln)});
    }
    set(l, "llama_scores_strings", {{tk + "scores", stringArray({"a"})}}, {"'tokenizer.ggml.scores' has type ARRAY of STRING"});
    {
        GgufEdit e;
        e.key = [tk](std::string_view k, const GgufValue& v) -> std::optional<V> {
            V out = toWriterValue(v);
            if (k == tk + "token_type") out.items.pop_back();
            return out;
        };
        w.edit(q, "tok_token_type_short.gguf", e, {"tokenizer.ggml.token_type has " + std::to_string(toks.size() - 1)});
    }
    for (int32_t bad : {7, -1}) {
        GgufEdit e;
        e.key = [tk, bad](std::string_view k, const GgufValue& v) -> std::optional<V> {
            V out = toWriterValue(v);
            if (k == tk + "token_type") out.items[100] = V::i32(bad);
            return out;
        };
        w.edit(q, "tok_token_type_" + std::string(bad < 0 ? "negative" : "7") + ".gguf", e,
               {"has invalid type " + std::to_string(bad) + " in tokenizer.ggml.token_type"});
    }
    {  // SentencePiece: a normal piece marked as a byte token
        GgufEdit e;
        e.key = [tk](std::string_view k, const GgufValue& v) -> std::optional<V> {
            V out = toWriterValue(v);
            if (k == tk + "token_type") out.items[out.items.size() - 1] = V::i32(6);
            return out;
        };
        w.edit(l, "tok_llama_byte_type.gguf", e, {"has type byte but is not of the form <0xXX>"});
    }
    {
        std::vector<std::string> fewer(toks.begin(), toks.end() - 1);
        set(q, "tokens_short", {{tk + "tokens", stringArray(fewer)}, {tk + "token_type", std::nullopt}},
            {"tokenizer has " + std::to_string(toks.size() - 1) + " tokens but token_embd.weight has " + n + " rows"});
    }
    set(q, "tokens_empty", {{tk + "tokens", stringArray({})}, {tk + "token_type", std::nullopt}, {tk + "merges", std::nullopt}},
        {"tokenizer has 0 tokens", "empty vocabulary"});
    set(q, "tokens_i32", {{tk + "tokens", V::array(GgufType::I32, {V::i32(1)})}},
        {"'tokenizer.ggml.tokens' has type ARRAY of INT32, expected ARRAY of STRING"});
    set(q, "tokens_string", {{tk + "tokens", V::string("a b c")}},
        {"'tokenizer.ggml.tokens' has type STRING, expected ARRAY of STRING"});
    set(q, "tokens_missing", {{tk + "tokens", std::nullopt}}, {"missing key 'tokenizer.ggml.tokens'"});
    set(q, "model_missing", {{tk + "model", std::nullopt}}, {"missing key 'tokenizer.ggml.model'"});
    set(q, "model_bert", {{tk + "model", V::string("bert")}}, {"unsupported tokenizer model tokenizer.ggml.model = 'bert'"});
    set(q, "pre_unknown", {{tk + "pre", V::string("no-such-pre")}}, {"unsupported pre-tokenizer tokenizer.ggml.pre = 'no-such-pre'"});
    set(q, "chat_template_u32", {{"tokenizer.chat_template", V::u32(1)}}, {"'tokenizer.chat_template' has type UINT32"});
}

}  // namespace

Result<HostileCorpus> writeHostileCorpus(const std::string& dir) {
    HostileCorpus c;
    c.dir = dir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return makeError("cannot create " + dir + ": " + ec.message());
    MOE_ASSIGN(Base q, makeBase(dir, "base_qwen2moe.gguf", Arch::Qwen2Moe));
    MOE_ASSIGN(Base l, makeBase(dir, "base_llama.gguf", Arch::Llama));
    MOE_ASSIGN(Base d, makeBase(dir, "base_deepseek2.gguf", Arch::Deepseek2, "v3"));
    c.bases = {q.name, l.name, d.name};
    Writer w{c, {}};
    truncations(w, q);
    headers(w, q);
    counts(w, q);
    fields(w, q);
    hyperParameters(w, q);
    tensors(w, q, l);
    tokenizers(w, q, l);
    deepseek2(w, d);
    w.edit(l, "key_llama_without_experts.gguf", keys({{"llama.expert_count", std::nullopt}, {"llama.expert_used_count", std::nullopt}}),
           {"llama without experts is not a MoE model"});
    // a path that is not a regular file
    std::filesystem::create_directories(dir + "/path_directory.gguf", ec);
    c.files.push_back({"path_directory.gguf", {"not a regular file"}});
    MOE_TRY(w.status);
    return c;
}

std::string hostileManifest(const HostileCorpus& c) {
    std::string s;
    for (const HostileFile& f : c.files) {
        s += f.name + "\t";
        for (size_t i = 0; i < f.expect.size(); ++i) s += (i ? "|" : "") + f.expect[i];
        s += "\n";
    }
    return s;
}

}  // namespace moe::test

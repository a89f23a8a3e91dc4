// GGUF reader and writer: round trips of every value type and of tensors of several types, and a
// generated corpus of broken and hostile files, each of which must give one clean, named error.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <random>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

using namespace moe;
using Bytes = std::vector<uint8_t>;
using V = GgufWriter::Value;

namespace {

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

// Hand-built GGUF bytes for the hostile corpus: every field is written explicitly.
struct Builder {
    Bytes b;
    Builder& u8(uint8_t v) { b.push_back(v); return *this; }
    Builder& u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); return *this; }
    Builder& u64(uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); return *this; }
    Builder& raw(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
    Builder& str(std::string_view s) { return u64(s.size()).raw(s); }
    Builder& type(GgufType t) { return u32(uint32_t(t)); }
    Builder& header(uint64_t nTensors, uint64_t nKv, uint32_t version = 3) {
        return raw("GGUF").u32(version).u64(nTensors).u64(nKv);
    }
    Builder& kvU32(std::string_view key, uint32_t v) { return str(key).type(GgufType::U32).u32(v); }
    Builder& kvString(std::string_view key, std::string_view s) { return str(key).type(GgufType::String).str(s); }
    Builder& tensorInfo(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name).u32(uint32_t(ne.size()));
        for (uint64_t d : ne) u64(d);
        return u32(type).u64(offset);
    }
    Builder& padTo(size_t a) { b.resize((b.size() + a - 1) / a * a, 0); return *this; }
    Builder& zeros(size_t n) { b.resize(b.size() + n, 0); return *this; }
};

struct TensorSpec {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    uint64_t offset;
};

// A file with only tensors (and optional leading kv bytes), data section of `dataBytes` zeros.
Bytes tensorFile(const std::vector<TensorSpec>& ts, size_t dataBytes) {
    Builder b;
    b.header(ts.size(), 0);
    for (const auto& t : ts) b.tensorInfo(t.name, t.ne, t.type, t.offset);
    return b.padTo(32).zeros(dataBytes).b;
}

std::string errorOf(const Bytes& bytes) {
    auto r = GgufFile::fromMemory(bytes, "bad.gguf");
    return r.ok() ? std::string() : r.error().message;
}

// The value of a Result that must hold one.
template <class T>
T val(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

int gRejected = 0;  // hostile files checked, reported by the corpus test cases

// One hostile file: it must be rejected with a single line that names the file and the problem.
void checkRejected(const Bytes& bytes, std::string_view expect) {
    std::string msg = errorOf(bytes);
    if (std::getenv("GGUF_SHOW_ERRORS")) std::printf("%s\n", msg.c_str());  // to review the corpus
    INFO("expected '" << std::string(expect) << "' in: " << msg);
    REQUIRE(!msg.empty());
    CHECK(msg.rfind("bad.gguf: ", 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find(expect) != std::string::npos);
    ++gRejected;
}

Bytes pattern(size_t n, uint32_t seed) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t((i * 2654435761u + seed * 40503u) >> 13);
    return b;
}

std::filesystem::path tempPath(const std::string& name) {
    static const std::string unique = std::to_string(std::random_device{}());
    auto dir = std::filesystem::temp_directory_path() / ("moescope_test_gguf_" + unique);
    std::filesystem::create_directories(dir);
    return dir / name;
}

GgufWriter everyTypeWriter() {
    GgufWriter w;
    w.addU8("u8", 255);
    w.addI8("i8", -128);
    w.addU16("u16", 65535);
    w.addI16("i16", -32768);
    w.addU32("u32", 4294967295u);
    w.addI32("i32", std::numeric_limits<int32_t>::min());
    w.addU64("u64", kMax64);
    w.addI64("i64", std::numeric_limits<int64_t>::min());
    w.addF32("f32", 3.5f);
    w.addF32("f32.negzero", -0.0f);
    w.addF32("f32.nan", std::numeric_limits<float>::quiet_NaN());
    w.addF64("f64", 1e300);
    w.addBool("bool.true", true);
    w.addBool("bool.false", false);
    w.addString("str", "hello");
    w.addString("str.empty", "");
    w.addString("str.binary", std::string("a\0b\xE2\x82\xAC\n", 7));
    w.add("arr.u8", V::array(GgufType::U8, {V::u8(0), V::u8(7), V::u8(255)}));
    w.add("arr.i8", V::array(GgufType::I8, {V::i8(-1), V::i8(127)}));
    w.add("arr.u16", V::array(GgufType::U16, {V::u16(1), V::u16(65535)}));
    w.add("arr.i16", V::array(GgufType::I16, {V::i16(-2), V::i16(300)}));
    w.addU32Array("arr.u32", std::vector<uint32_t>{1, 2, 4000000000u});
    w.addI32Array("arr.i32", std::vector<int32_t>{-5, 0, 5});
    w.add("arr.u64", V::array(GgufType::U64, {V::u64(kMax64)}));
    w.add("arr.i64", V::array(GgufType::I64, {V::i64(-9), V::i64(1ll << 40)}));
    w.addF32Array("arr.f32", std::vector<float>{0.5f, -1.25f, 1e-30f});
    w.add("arr.f64", V::array(GgufType::F64, {V::f64(-2.5), V::f64(1e-300)}));
    w.add("arr.bool", V::array(GgufType::Bool, {V::boolean(true), V::boolean(false), V::boolean(true)}));
    w.addStringArray("arr.str", std::vector<std::string>{"a", "", "\xF0\x9F\x98\x80 emoji", "x y"});
    w.add("arr.empty", V::array(GgufType::F32, {}));
    w.add("arr.nested", V::array(GgufType::Array, {V::array(GgufType::I32, {V::i32(1), V::i32(2)}),
                                                   V::array(GgufType::String, {V::string("s")}),
                                                   V::array(GgufType::U8, {})}));
    w.add("arr.deep", V::array(GgufType::Array,
                               {V::array(GgufType::Array, {V::array(GgufType::String, {V::string("deep")})})}));
    return w;
}

void checkEveryType(const GgufFile& f) {
    REQUIRE(f.kvs().size() == 32);
    CHECK(f.kvs()[0].key == "u8");
    CHECK(f.kvs()[31].key == "arr.deep");
    CHECK(f.find("u8")->type == GgufType::U8);
    CHECK(val(f.getU32("u8")) == 255);
    CHECK(val(f.getI32("i8")) == -128);
    CHECK(val(f.getU32("u16")) == 65535);
    CHECK(val(f.getI32("i16")) == -32768);
    CHECK(val(f.getU32("u32")) == 4294967295u);
    CHECK(val(f.getI32("i32")) == std::numeric_limits<int32_t>::min());
    CHECK(val(f.getU64("u64")) == kMax64);
    CHECK(val(f.getI64("i64")) == std::numeric_limits<int64_t>::min());
    CHECK(val(f.getF32("f32")) == 3.5f);
    CHECK(std::signbit(val(f.getF32("f32.negzero"))));
    CHECK(std::isnan(val(f.getF32("f32.nan"))));
    CHECK(f.find("f64")->toDouble() == 1e300);
    CHECK(val(f.getBool("bool.true")) == true);
    CHECK(val(f.getBool("bool.false")) == false);
    CHECK(val(f.getString("str")) == "hello");
    CHECK(f.getString("str.empty")->empty());
    CHECK(val(f.getString("str.binary")) == std::string_view("a\0b\xE2\x82\xAC\n", 7));
    CHECK(val(f.getU32Array("arr.u8")) == std::vector<uint32_t>{0, 7, 255});
    CHECK(val(f.getI32Array("arr.i8")) == std::vector<int32_t>{-1, 127});
    CHECK(val(f.getI32Array("arr.u16")) == std::vector<int32_t>{1, 65535});
    CHECK(val(f.getI32Array("arr.i16")) == std::vector<int32_t>{-2, 300});
    CHECK(val(f.getU32Array("arr.u32")) == std::vector<uint32_t>{1, 2, 4000000000u});
    CHECK(val(f.getI32Array("arr.i32")) == std::vector<int32_t>{-5, 0, 5});
    CHECK(f.find("arr.u64")->element(0).toInt<uint64_t>() == kMax64);
    CHECK(f.find("arr.i64")->element(1).toInt<int64_t>() == (1ll << 40));
    CHECK(val(f.getF32Array("arr.f32")) == std::vector<float>{0.5f, -1.25f, 1e-30f});
    CHECK(val(f.getF32Array("arr.f64")) == std::vector<float>{-2.5f, float(1e-300)});
    const GgufValue* b = f.find("arr.bool");
    CHECK(b->count == 3);
    CHECK(b->element(0).bits == 1);
    CHECK(b->element(1).bits == 0);
    auto strs = val(f.getStringArray("arr.str"));
    REQUIRE(strs.size() == 4);
    CHECK(strs[2] == "\xF0\x9F\x98\x80 emoji");
    CHECK(strs[1].empty());
    CHECK(f.find("arr.empty")->count == 0);
    CHECK(f.getF32Array("arr.empty")->empty());
    const GgufValue* n = f.find("arr.nested");
    REQUIRE(n->items.size() == 3);
    CHECK(n->items[0].elemType == GgufType::I32);
    CHECK(n->items[0].element(1).toInt<int>() == 2);
    CHECK(n->items[1].strings.at(0) == "s");
    CHECK(n->items[2].count == 0);
    const GgufValue* d = f.find("arr.deep");
    CHECK(d->items.at(0).items.at(0).strings.at(0) == "deep");
}

}  // namespace

TEST_CASE("gguf: every metadata value type round-trips, in memory and through a file") {
    GgufWriter w = everyTypeWriter();
    Bytes bytes = w.serialize();
    auto f = GgufFile::fromMemory(bytes, "mem.gguf");
    REQUIRE_MESSAGE(f.ok(), (f.ok() ? std::string() : f.error().message));
    CHECK(f->version() == 3);
    CHECK(f->alignment() == 32);
    CHECK(f->tensors().empty());
    checkEveryType(*f);

    auto path = tempPath("every_type.gguf");
    REQUIRE(w.write(path.string()).ok());
    auto g = GgufFile::open(path.string());
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? std::string() : g.error().message));
    CHECK(g->name() == path.string());
    CHECK(g->fileSize() == bytes.size());
    checkEveryType(*g);
    GgufFile moved = std::move(g).value();  // views into the mapping survive the move
    checkEveryType(moved);
    std::filesystem::remove(path);
}

TEST_CASE("gguf: typed getters convert what fits and name the key otherwise") {
    GgufWriter w = everyTypeWriter();
    w.addI32("neg", -1);
    w.addU64("big", uint64_t(1) << 40);
    Bytes bytes = w.serialize();
    auto r = GgufFile::fromMemory(bytes, "m.gguf");
    REQUIRE(r.ok());
    const GgufFile& f = *r;

    CHECK(val(f.getU64("u8")) == 255);
    CHECK(val(f.getI64("u32")) == 4294967295ll);
    CHECK(val(f.getF32("u16")) == 65535.0f);
    CHECK(f.getU32("neg").error().message == "m.gguf: key 'neg' value -1 (INT32) does not fit in UINT32");
    CHECK(f.getI32("big").error().message.find("does not fit in INT32") != std::string::npos);
    CHECK(f.getU32("str").error().message == "m.gguf: key 'str' has type STRING, expected an integer (UINT32)");
    CHECK(f.getU32("nope").error().message == "m.gguf: missing key 'nope'");
    CHECK(f.getBool("u8").error().message == "m.gguf: key 'u8' has type UINT8, expected BOOL");
    CHECK(f.getString("arr.str").error().message ==
          "m.gguf: key 'arr.str' has type ARRAY of STRING, expected STRING");
    CHECK(f.getF32("str").error().message.find("expected a number") != std::string::npos);
    CHECK(f.getStringArray("arr.i32").error().message.find("ARRAY of INT32, expected ARRAY of STRING") !=
          std::string::npos);
    CHECK(f.getI32Array("arr.u32").error().message ==
          "m.gguf: key 'arr.u32' element 2 value 4000000000 (UINT32) does not fit in INT32");
    CHECK(f.getF32Array("arr.str").error().message.find("expected ARRAY of FLOAT32") != std::string::npos);
    CHECK(val(f.getF32Array("arr.i32")) == std::vector<float>{-5, 0, 5});

    CHECK(f.has("u8"));
    CHECK(!f.has("nope"));
    CHECK(f.find("nope") == nullptr);
    CHECK(f.findU32("u16") == 65535u);
    CHECK(!f.findU32("nope"));
    CHECK(!f.findU32("neg"));
    CHECK(f.findU64("u64") == kMax64);
    CHECK(f.findI32("neg") == -1);
    CHECK(f.findF32("f32") == 3.5f);
    CHECK(f.findBool("bool.true") == true);
    CHECK(f.findString("str") == "hello");
    CHECK(!f.findString("u8"));
    CHECK(val(f.getU32Or("nope", 7)) == 7);
    CHECK(val(f.getU32Or("u8", 7)) == 255);
    CHECK(!f.getU32Or("str", 7).ok());
    CHECK(val(f.getF32Or("nope", 0.25f)) == 0.25f);
    CHECK(val(f.getBoolOr("nope", true)));
    CHECK(!f.getBoolOr("u8", true).ok());
}

TEST_CASE("gguf: values display for `moescope info`") {
    GgufWriter w = everyTypeWriter();
    std::vector<int32_t> many(100);
    for (int i = 0; i < 100; ++i) many[size_t(i)] = i;
    w.addI32Array("many", many);
    w.addString("long", std::string(300, 'x'));
    Bytes bytes = w.serialize();
    auto f = GgufFile::fromMemory(bytes);
    REQUIRE(f.ok());
    CHECK(f->find("i8")->toString() == "-128");
    CHECK(f->find("u64")->toString() == "18446744073709551615");
    CHECK(f->find("f32")->toString() == "3.5");
    CHECK(f->find("f64")->toString() == "1e+300");
    CHECK(f->find("bool.true")->toString() == "true");
    CHECK(f->find("str.binary")->toString() == "\"a\\x00b\xE2\x82\xAC\\n\"");
    CHECK(f->find("long")->toString() == "\"" + std::string(120, 'x') + "...\" (300 bytes)");
    CHECK(f->find("many")->toString() == "[0, 1, 2, 3, 4, 5, 6, 7, ... (100 items)]");
    CHECK(f->find("many")->toString(2) == "[0, 1, ... (100 items)]");
    CHECK(f->find("arr.str")->toString() == "[\"a\", \"\", \"\xF0\x9F\x98\x80 emoji\", \"x y\"]");
    CHECK(f->find("arr.nested")->toString() == "[[1, 2], [\"s\"], []]");
    CHECK(f->find("arr.bool")->toString() == "[true, false, true]");
    CHECK(f->find("arr.nested")->typeString() == "ARRAY of ARRAY");
    CHECK(f->find("u32")->typeString() == "UINT32");
}

TEST_CASE("gguf: tensors of several types keep shape, bytes, offsets and alignment") {
    for (uint32_t align : {0u, 1u, 64u, 256u}) {  // 0: the default (32), no general.alignment key
        CAPTURE(align);
        GgufWriter w;
        if (align) REQUIRE(w.setAlignment(align).ok());
        w.addString("general.architecture", "llama");
        struct Spec { const char* name; GgmlType type; std::vector<int64_t> ne; size_t bytes; };
        const std::vector<Spec> specs = {
            {"f32", GgmlType::F32, {3}, 12},
            {"f16", GgmlType::F16, {5, 3}, 30},
            {"q8_0", GgmlType::Q8_0, {64, 2}, 4 * 34},
            {"q4_0", GgmlType::Q4_0, {32}, 18},
            {"q4_k", GgmlType::Q4_K, {256, 1, 2}, 2 * 144},
            {"q6_k", GgmlType::Q6_K, {512}, 2 * 210},
            {"bf16", GgmlType::BF16, {2, 3, 4, 5}, 240},
            {"empty", GgmlType::F32, {0, 4}, 0},
        };
        for (size_t i = 0; i < specs.size(); ++i)
            REQUIRE(w.addTensor(specs[i].name, specs[i].type, specs[i].ne, pattern(specs[i].bytes, uint32_t(i))).ok());
        w.setVersion(align == 64 ? 2 : 3);
        Bytes bytes = w.serialize();
        auto r = GgufFile::fromMemory(bytes);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
        const GgufFile& f = *r;
        uint32_t a = align ? align : 32;
        CHECK(f.version() == (align == 64 ? 2u : 3u));
        CHECK(f.alignment() == a);
        CHECK(f.dataOffset() % a == 0);
        REQUIRE(f.tensors().size() == specs.size());
        for (size_t i = 0; i < specs.size(); ++i) {
            CAPTURE(specs[i].name);
            const GgufTensor* t = f.tensor(specs[i].name);
            REQUIRE(t != nullptr);
            CHECK(t == &f.tensors()[i]);
            CHECK(t->name == specs[i].name);
            CHECK(t->type == specs[i].type);
            CHECK(t->nDims == specs[i].ne.size());
            uint64_t n = 1;
            for (size_t d = 0; d < 4; ++d) {
                int64_t want = d < specs[i].ne.size() ? specs[i].ne[d] : 1;
                CHECK(t->ne[d] == want);
                n *= uint64_t(want);
            }
            CHECK(t->nElements == n);
            CHECK(t->nBytes == specs[i].bytes);
            CHECK(t->offset % a == 0);
            CHECK(t->offset >= f.dataOffset());
            CHECK(t->data == f.fileData() + t->offset);
            Bytes want = pattern(specs[i].bytes, uint32_t(i));
            CHECK(std::equal(want.begin(), want.end(), t->data));
        }
        CHECK(f.tensor("missing") == nullptr);
    }
}

TEST_CASE("gguf: the writer refuses inconsistent tensors") {
    GgufWriter w;
    Bytes twelve(12);
    REQUIRE(w.addTensor("a", GgmlType::F32, {3}, twelve).ok());
    CHECK(w.addTensor("a", GgmlType::F32, {3}, twelve).message().find("duplicate tensor 'a'") != std::string::npos);
    CHECK(w.addTensor("b", GgmlType::F32, {4}, twelve).message().find("needs 16 bytes of data, got 12") !=
          std::string::npos);
    CHECK(w.addTensor("c", GgmlType::F32, {1, 1, 1, 3, 1}, twelve).message().find("5 dimensions") != std::string::npos);
    CHECK(w.addTensor("d", GgmlType::Q8_0, {33}, twelve).message().find("block size 32") != std::string::npos);
    CHECK(w.addTensor("e", GgmlType(99), {3}, twelve).message().find("unknown type id 99") != std::string::npos);
    CHECK(w.setAlignment(3).message().find("power of two") != std::string::npos);
    CHECK(w.setAlignment(0).message().find("power of two") != std::string::npos);
    CHECK(w.tensorCount() == 1);
}

TEST_CASE("gguf: a 150k-token vocabulary parses quickly") {
    const size_t n = 150000;
    std::vector<std::string> tokens(n);
    std::vector<float> scores(n);
    std::vector<int32_t> types(n, 1);
    for (size_t i = 0; i < n; ++i) {
        tokens[i] = "tok" + std::to_string(i);
        scores[i] = -float(i);
    }
    GgufWriter w;
    w.addStringArray("tokenizer.ggml.tokens", tokens);
    w.addF32Array("tokenizer.ggml.scores", scores);
    w.addI32Array("tokenizer.ggml.token_type", types);
    Bytes bytes = w.serialize();
    auto t0 = std::chrono::steady_clock::now();
    auto f = GgufFile::fromMemory(bytes);
    auto t1 = std::chrono::steady_clock::now();
    REQUIRE(f.ok());
    auto toks = val(f->getStringArray("tokenizer.ggml.tokens"));
    REQUIRE(toks.size() == n);
    CHECK(toks[123456] == "tok123456");
    CHECK(f->getF32Array("tokenizer.ggml.scores")->at(n - 1) == -float(n - 1));
    CHECK(f->getI32Array("tokenizer.ggml.token_type")->size() == n);
    MESSAGE("parsed 150k tokens in " << std::chrono::duration<double, std::milli>(t1 - t0).count() << " ms");
}

TEST_CASE("gguf: truncation at every byte and inside tensor data is a clean error") {
    GgufWriter w;
    w.addString("general.architecture", "llama");
    w.addU32("llama.block_count", 2);
    w.addStringArray("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "a", "bc"});
    w.addF32Array("tokenizer.ggml.scores", std::vector<float>{0, -1, -2});
    w.add("nested", V::array(GgufType::Array, {V::array(GgufType::U16, {V::u16(1)})}));
    REQUIRE(w.addTensor("a", GgmlType::F32, {5}, pattern(20, 1)).ok());
    REQUIRE(w.addTensor("b", GgmlType::Q8_0, {32, 2}, pattern(68, 2)).ok());
    REQUIRE(w.addTensor("c", GgmlType::F16, {7}, pattern(14, 3)).ok());
    Bytes full = w.serialize();
    auto ok = GgufFile::fromMemory(full, "bad.gguf");
    REQUIRE(ok.ok());
    const GgufTensor& last = ok->tensors().back();
    uint64_t end = last.offset + last.nBytes;  // the padding after it is optional

    int cases = 0;
    for (uint64_t len = 0; len < end; ++len) {
        Bytes cut(full.begin(), full.begin() + ptrdiff_t(len));
        std::string msg = errorOf(cut);
        CAPTURE(len);
        INFO(msg);
        REQUIRE(!msg.empty());
        CHECK(msg.rfind("bad.gguf: ", 0) == 0);
        CHECK(msg.find('\n') == std::string::npos);
        bool named = msg.find("truncated") != std::string::npos || msg.find("past end of file") != std::string::npos ||
                     msg.find("empty file") != std::string::npos || msg.find("too small") != std::string::npos;
        CHECK(named);
        ++cases;
    }
    // Section boundaries and mid-tensor cuts give the specific messages.
    auto cutAt = [&](uint64_t len) { return errorOf(Bytes(full.begin(), full.begin() + ptrdiff_t(len))); };
    CHECK(cutAt(0) == "bad.gguf: empty file (0 bytes), not a GGUF model");
    CHECK(cutAt(3).find("too small (3 bytes)") != std::string::npos);
    CHECK(cutAt(4).find("truncated: version at offset 4") != std::string::npos);
    CHECK(cutAt(8).find("truncated: tensor count at offset 8") != std::string::npos);
    CHECK(cutAt(16).find("truncated: key count at offset 16") != std::string::npos);
    CHECK(cutAt(24).find("key count 5 is impossible") != std::string::npos);
    CHECK(cutAt(ok->dataOffset()).find("tensor 'a' data [offset " + std::to_string(ok->dataOffset()) +
                                       ", 20 bytes] extends past end of file") != std::string::npos);
    const GgufTensor* b = ok->tensor("b");
    CHECK(cutAt(b->offset + 34) == "bad.gguf: tensor 'b' data [offset " + std::to_string(b->offset) +
                                       ", 68 bytes] extends past end of file (size " + std::to_string(b->offset + 34) +
                                       ")");
    CHECK(cutAt(end - 1).find("tensor 'c'") != std::string::npos);
    MESSAGE(cases << " truncated files rejected");
}

TEST_CASE("gguf: hostile headers and metadata are rejected by name") {
    gRejected = 0;
    const uint32_t kStr = uint32_t(GgufType::String), kArr = uint32_t(GgufType::Array);
    // magic, version, endianness
    checkRejected(Builder().raw("GGML").u32(3).u64(0).u64(0).b, "not a GGUF file (starts with bytes 47 47 4d 4c");
    checkRejected(Builder().raw("\x7f" "ELF").zeros(60).b, "starts with bytes 7f 45 4c 46");
    checkRejected(Builder().raw("FUGG").u32(0x03000000).b, "big-endian GGUF file");
    checkRejected(Builder().raw("GGUF").u32(0x03000000).zeros(16).b, "big-endian GGUF file");
    checkRejected(Builder().header(0, 0, 1).b, "GGUF version 1 is not supported");
    checkRejected(Builder().header(0, 0, 99).b, "unsupported GGUF version 99");
    checkRejected(Builder().header(0, 0, 0).b, "unsupported GGUF version 0");
    checkRejected(Builder().raw("GG").b, "too small (2 bytes)");
    // counts far beyond the file
    checkRejected(Builder().header(0, kMax64).b, "key count 18446744073709551615 is impossible");
    checkRejected(Builder().header(kMax64, 0).b, "tensor count 18446744073709551615 is impossible");
    checkRejected(Builder().header(0, uint64_t(1) << 32).zeros(64).b, "key count 4294967296 is impossible");
    checkRejected(Builder().header(uint64_t(1) << 63, 0).zeros(64).b, "tensor count 9223372036854775808");
    checkRejected(Builder().header(1, 3).zeros(40).b, "3 keys and 1 tensor infos need at least 63 bytes");
    checkRejected(Builder().header(1, 1).kvString("general.name", std::string(20, 'x')).zeros(4).b,
                  "tensor count 1 is impossible: the 4 bytes after the metadata");
    // string lengths
    for (uint64_t len : {kMax64, uint64_t(1) << 63, uint64_t(1) << 32, uint64_t(100)}) {
        checkRejected(Builder().header(0, 1).u64(len).raw("general.name").type(GgufType::U8).zeros(40).b,
                      "key #0: key length " + std::to_string(len) + " at offset 24 exceeds the");
        checkRejected(Builder().header(0, 1).str("general.name").u32(kStr).u64(len).raw("llama").b,
                      "key 'general.name': string length " + std::to_string(len));
    }
    // array lengths: the product with the element size would overflow for 2^61 UINT64s
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).type(GgufType::U8).u64(kMax64).zeros(64).b,
                  "key 'a': array of 18446744073709551615 UINT8 elements at offset 41 cannot fit");
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).type(GgufType::U64).u64(uint64_t(1) << 61).zeros(64).b,
                  "array of 2305843009213693952 UINT64 elements");
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).type(GgufType::String).u64(kMax64).zeros(64).b,
                  "array of 18446744073709551615 STRING elements");
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).type(GgufType::Array).u64(kMax64).zeros(64).b,
                  "array of 18446744073709551615 ARRAY elements");
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).type(GgufType::F32).u64(17).zeros(64).b,
                  "array of 17 FLOAT32 elements");
    checkRejected(Builder().header(0, 1).str("tok").u32(kArr).type(GgufType::String).u64(3)
                      .str("x").u64(kMax64).zeros(16).b,
                  "key 'tok': element 1: string length 18446744073709551615");
    checkRejected(Builder().header(0, 1).str("n").u32(kArr).type(GgufType::Array).u64(2)
                      .type(GgufType::U8).u64(0).type(GgufType::I32).u64(kMax64).zeros(32).b,
                  "key 'n': element 1: array of 18446744073709551615 INT32 elements");
    {  // nesting deeper than the reader follows
        Builder b;
        b.header(0, 1).str("deep").u32(kArr);
        for (int i = 0; i < 9; ++i) b.type(GgufType::Array).u64(1);
        checkRejected(b.type(GgufType::U8).u64(0).zeros(16).b, "arrays nested more than 8 deep");
    }
    {  // arrays of arrays are capped in total, so small elements cannot become huge allocations
        Builder b;
        b.header(0, 1).str("wide").u32(kArr).type(GgufType::Array).u64((1u << 20) + 1);
        b.b.reserve(b.b.size() + 12 * ((1u << 20) + 1));
        for (uint32_t i = 0; i < (1u << 20) + 1; ++i) b.type(GgufType::U8).u64(0);
        checkRejected(b.b, "more than 1048576 nested array elements");
    }
    // types
    checkRejected(Builder().header(0, 1).str("a").u32(13).zeros(16).b, "key 'a': unknown value type id 13");
    checkRejected(Builder().header(0, 1).str("a").u32(0xFFFFFFFF).zeros(16).b, "unknown value type id 4294967295");
    checkRejected(Builder().header(0, 1).str("a").u32(kArr).u32(13).u64(1).zeros(16).b,
                  "key 'a': unknown array element type id 13");
    // duplicate keys, including names that would break a one-line message
    checkRejected(Builder().header(0, 2).kvU32("general.name", 1).kvU32("general.name", 2).b,
                  "duplicate key 'general.name' (entries #0 and #1)");
    checkRejected(Builder().header(0, 2).kvU32("x\ny", 1).kvU32("x\ny", 2).b, "duplicate key 'x\\x0ay'");
    // general.alignment
    checkRejected(Builder().header(0, 1).kvU32("general.alignment", 0).b, "general.alignment is 0");
    checkRejected(Builder().header(0, 1).kvU32("general.alignment", 3).b, "general.alignment 3 is not a power of two");
    checkRejected(Builder().header(0, 1).kvString("general.alignment", "32").b,
                  "general.alignment must be an unsigned 32-bit integer, got STRING \"32\"");
    checkRejected(Builder().header(0, 1).str("general.alignment").type(GgufType::I32).u32(uint32_t(-1)).b,
                  "got INT32 -1");
    checkRejected(Builder().header(0, 1).str("general.alignment").type(GgufType::U64).u64(uint64_t(1) << 32).b,
                  "got UINT64 4294967296");
    MESSAGE(gRejected << " hostile header/metadata files rejected");
}

TEST_CASE("gguf: hostile tensor infos and layouts are rejected by name") {
    gRejected = 0;
    const uint32_t F32 = 0, Q8_0 = 8;
    checkRejected(Builder().header(1, 0).u64(kMax64).raw("w").zeros(40).b,
                  "tensor info #0: tensor name length 18446744073709551615");
    checkRejected(tensorFile({{"w", {1, 1, 1, 1, 1}, F32, 0}}, 32), "tensor 'w' has 5 dimensions; at most 4");
    checkRejected(Builder().header(1, 0).str("w").u32(0xFFFFFFFF).zeros(40).b, "tensor 'w' has 4294967295 dimensions");
    checkRejected(Builder().header(1, 0).str("w").u32(4).u64(1).u64(1).zeros(8).b,
                  "tensor 'w': file truncated: dimensions at offset");
    checkRejected(tensorFile({{"w", {uint64_t(1) << 32, uint64_t(1) << 32}, F32, 0}}, 32),
                  "tensor 'w' dimensions [4294967296, 4294967296] overflow 64 bits");
    checkRejected(tensorFile({{"w", {(uint64_t(1) << 63) - 1, 2}, F32, 0}}, 32), "overflow 64 bits");
    checkRejected(tensorFile({{"w", {uint64_t(1) << 32, uint64_t(1) << 31}, F32, 0}}, 32), "overflow 64 bits");
    checkRejected(tensorFile({{"w", {4, kMax64}, F32, 0}}, 32), "tensor 'w' dimension 1 is 18446744073709551615");
    checkRejected(tensorFile({{"w", {uint64_t(1) << 31, uint64_t(1) << 31}, F32, 0}}, 32),
                  "tensor 'w' size ([2147483648, 2147483648] of F32) overflows 64 bits");
    checkRejected(tensorFile({{"w", {16}, 99, 0}}, 64), "tensor 'w' has unknown type id 99");
    checkRejected(tensorFile({{"w", {16}, 4, 0}}, 64), "tensor 'w' has unknown type id 4");
    checkRejected(tensorFile({{"w", {16}, 0xFFFFFFFF, 0}}, 64), "unknown type id 4294967295");
    checkRejected(tensorFile({{"w", {33}, Q8_0, 0}}, 64),
                  "tensor 'w' row length 33 is not a multiple of the Q8_0 block size 32");
    checkRejected(tensorFile({{"w", {4}, F32, 4}}, 64),
                  "tensor 'w' data offset 4 is not a multiple of the alignment 32");
    {
        Builder b;
        b.header(1, 1).kvU32("general.alignment", 64).tensorInfo("w", {4}, F32, 32);
        checkRejected(b.padTo(64).zeros(128).b, "data offset 32 is not a multiple of the alignment 64");
    }
    checkRejected(tensorFile({{"w", {8}, F32, kMax64 - 31}}, 64),
                  "tensor 'w' data [data section offset 18446744073709551584, 32 bytes] extends past end of file");
    checkRejected(tensorFile({{"w", {8}, F32, uint64_t(1) << 62}}, 64), "extends past end of file (size");
    checkRejected(tensorFile({{"w", {8}, F32, 64}}, 64),
                  "tensor 'w' data [offset 128, 32 bytes] extends past end of file (size 128)");
    checkRejected(tensorFile({{"w", {64}, F32, 0}}, 200),
                  "tensor 'w' data [offset 64, 256 bytes] extends past end of file (size 264)");
    checkRejected(tensorFile({{"w", {8}, F32, 0}}, 0),
                  "tensor 'w' data [offset 64, 32 bytes] extends past end of file (size 64)");
    // overlaps
    checkRejected(tensorFile({{"a", {16}, F32, 0}, {"b", {8}, F32, 32}}, 128),
                  "tensors 'a' [offset 96, 64 bytes] and 'b' [offset 128, 32 bytes] overlap");
    checkRejected(tensorFile({{"a", {8}, F32, 64}, {"b", {8}, F32, 64}}, 128), "overlap");
    checkRejected(tensorFile({{"a", {8}, F32, 96}, {"b", {64}, F32, 0}, {"c", {8}, F32, 320}}, 512),
                  "tensors 'b' [offset 128, 256 bytes] and 'a' [offset 224, 32 bytes] overlap");
    checkRejected(tensorFile({{"w", {8}, F32, 0}, {"w", {8}, F32, 32}}, 64),
                  "duplicate tensor name 'w' (tensor infos #0 and #1)");
    // zero-sized tensors may share an offset with others; adjacent tensors do not overlap
    CHECK(errorOf(tensorFile({{"a", {8}, F32, 0}, {"z", {0}, F32, 32}, {"b", {8}, F32, 32}}, 64)).empty());
    CHECK(errorOf(tensorFile({{"s", {}, F32, 0}}, 32)).empty());
    MESSAGE(gRejected << " hostile tensor files rejected");
}

TEST_CASE("gguf: opening paths that are not GGUF files") {
    auto missing = GgufFile::open("/nonexistent/dir/model.gguf");
    REQUIRE(!missing.ok());
    CHECK(missing.error().message.find("cannot open '/nonexistent/dir/model.gguf'") != std::string::npos);

    auto dir = tempPath("a_directory");
    std::filesystem::create_directories(dir);
    auto d = GgufFile::open(dir.string());
    REQUIRE(!d.ok());
    CHECK(d.error().message.find("not a regular file") != std::string::npos);

    auto empty = tempPath("empty.gguf");
    std::ofstream(empty).close();
    auto e = GgufFile::open(empty.string());
    REQUIRE(!e.ok());
    CHECK(e.error().message == empty.string() + ": empty file (0 bytes), not a GGUF model");

    auto text = tempPath("readme.gguf");
    std::ofstream(text) << "hello, this is not a model";
    auto t = GgufFile::open(text.string());
    REQUIRE(!t.ok());
    CHECK(t.error().message == text.string() + ": not a GGUF file (starts with bytes 68 65 6c 6c, expected 'GGUF')");
    std::filesystem::remove_all(dir.parent_path());
}

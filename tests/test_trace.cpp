// Routing traces and their statistics: building from forward steps, JSONL and binary round
// trips, bad files (clear errors, never a crash, also under random corruption), and every
// metric on hand-computed examples (load, imbalance, entropy, active experts, transitions, SRP,
// SCH).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/random.h"
#include "trace/stats.h"
#include "trace/trace.h"

using namespace moe;
using namespace moe::trace;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

// A trace of E = 4 experts, L = 2 layers, from per-layer selections (weights split evenly;
// probabilities: 0.5 on each of the first two selected, else 1 on the single one).
Trace makeTrace(const std::vector<Selections>& layers, bool pieces = true) {
    Trace tr;
    tr.info.model = "test";
    tr.info.arch = "qwen3moe";
    tr.info.policy = "topk:1";
    tr.info.nLayer = uint32_t(layers.size());
    tr.info.nExpert = 4;
    tr.info.k = 1;
    const size_t T = layers[0].size();
    for (size_t t = 0; t < T; ++t) {
        StepView v;
        v.nTok = 1, v.nLayer = tr.info.nLayer, v.nExpert = 4, v.kMax = 2;
        std::vector<int32_t> ids(v.nLayer * 2, -1), counts(v.nLayer);
        std::vector<float> w(v.nLayer * 2, 0.0f), p(v.nLayer * 4, 0.0f);
        for (uint32_t l = 0; l < v.nLayer; ++l) {
            const auto& s = layers[l][t];
            counts[l] = int32_t(s.size());
            for (size_t j = 0; j < s.size(); ++j) {
                ids[l * 2 + j] = s[j];
                w[l * 2 + j] = 1.0f / float(s.size());
                p[l * 4 + size_t(s[j])] = 1.0f / float(s.size());
            }
        }
        v.ids = ids.data(), v.weights = w.data(), v.counts = counts.data(), v.probs = p.data();
        const int32_t tok = int32_t(10 + t);
        std::vector<std::string> pc{"tok" + std::to_string(t)};
        REQUIRE(append(tr, v, &tok, uint32_t(t), pieces ? &pc : nullptr).ok());
    }
    return tr;
}

void checkEqual(const Trace& a, const Trace& b) {
    CHECK(a.info.model == b.info.model);
    CHECK(a.info.arch == b.info.arch);
    CHECK(a.info.policy == b.info.policy);
    CHECK(a.info.mode == b.info.mode);
    CHECK(a.info.backend == b.info.backend);
    CHECK(a.info.nLayer == b.info.nLayer);
    CHECK(a.info.nExpert == b.info.nExpert);
    CHECK(a.info.k == b.info.k);
    CHECK(a.info.kMax == b.info.kMax);
    CHECK(a.info.ctx == b.info.ctx);
    CHECK(a.info.hasProbs == b.info.hasProbs);
    CHECK(a.tokens == b.tokens);
    CHECK(a.positions == b.positions);
    CHECK(a.pieces == b.pieces);
    CHECK(a.counts == b.counts);
    CHECK(a.ids == b.ids);
    CHECK(a.weights == b.weights);  // bit-exact: floats are written in round-trip form
    CHECK(a.entropy == b.entropy);
    CHECK(a.probs == b.probs);
}

// A realistic trace: 3 layers x 16 experts, top-4 with uneven probabilities, odd pieces.
Trace richTrace() {
    Trace tr;
    tr.info = TraceInfo{"synth \"model\"", "olmoe", "topp:0.6:8 mask:*:3", "generated", "CPU reference", 3, 16, 4, 0, 128,
                        true, -1};
    Rng rng(7);
    for (uint32_t step = 0; step < 5; ++step) {
        const uint32_t n = step == 0 ? 7 : 1, L = 3, E = 16, K = 6;
        std::vector<int32_t> ids(L * n * K, -1), counts(L * n), toks(n);
        std::vector<float> w(L * n * K, 0.0f), p(L * n * E);
        std::vector<std::string> pieces(n);
        for (uint32_t i = 0; i < L * n; ++i) {
            float sum = 0;
            for (uint32_t e = 0; e < E; ++e) sum += (p[i * E + e] = rng.uniform() * rng.uniform());
            for (uint32_t e = 0; e < E; ++e) p[i * E + e] /= sum;
            counts[i] = int32_t(1 + rng.next32() % K);
            for (int32_t j = 0; j < counts[i]; ++j) {
                ids[i * K + uint32_t(j)] = int32_t((i + uint32_t(j) * 5) % E);
                w[i * K + uint32_t(j)] = rng.uniform();
            }
        }
        for (uint32_t t = 0; t < n; ++t) {
            toks[t] = int32_t(rng.next32() % 50000);
            pieces[t] = t % 2 ? " caf\xc3\xa9 \"q\"\n" : "\t<|im_end|>";
        }
        StepView v{n, 3, K, 16, ids.data(), w.data(), counts.data(), p.data()};
        REQUIRE(append(tr, v, toks.data(), step == 0 ? 0 : 6 + step, &pieces).ok());
    }
    REQUIRE(validate(tr).ok());
    return tr;
}

// The optional parts: 3 layers x 8 experts in steps of 3, 1, 1 and 2 tokens, with the cross-layer
// predictions (layer 0 empty), per-step cache telemetry and per-layer expert sizes.
Trace optionalTrace() {
    Trace tr;
    tr.info = TraceInfo{"opt", "qwen3moe", "model", "generated", "Vulkan", 3, 8, 2, 0, 64, false, -1};
    tr.info.expertBytes = {100, 100, 250};
    tr.info.cache = CacheSetting{"lru", 4, true};
    Rng rng(5);
    int32_t pos = 0;
    for (uint32_t n : {3u, 1u, 1u, 2u}) {
        const uint32_t L = 3, K = 2;
        std::vector<int32_t> ids(L * n * K, -1), counts(L * n, 2), pred(L * n * K, -1), toks(n, 42);
        std::vector<float> w(L * n * K, 0.5f);
        for (uint32_t i = 0; i < L * n; ++i) {
            ids[i * K] = int32_t(rng.next32() % 4), ids[i * K + 1] = int32_t(4 + rng.next32() % 4);
            if (i >= n) pred[i * K] = int32_t(rng.next32() % 8);  // rows of layer 0 come first: left empty
            if (i >= n && i % 2) pred[i * K + 1] = (pred[i * K] + 1) % 8;
        }
        std::vector<moe::cache::CacheStats> c(L);
        for (uint32_t l = 0; l < L; ++l) {
            c[l].accesses = 2 + l, c[l].hits = 1, c[l].misses = 1 + l, c[l].evictions = l, c[l].prefetches = n;
            c[l].prefetchUsed = 1, c[l].prefetchWasted = n - 1, c[l].bytesUploaded = (uint64_t(1) << 40) + l;
            c[l].waitMs = 0.1 * (l + 1) / 3.0;
        }
        StepView v{n, L, K, 8, ids.data(), w.data(), counts.data(), nullptr, pred.data(), c.data()};
        REQUIRE(append(tr, v, toks.data(), uint32_t(pos), nullptr).ok());
        pos += int32_t(n);
    }
    REQUIRE(validate(tr).ok());
    return tr;
}

void checkOptionalEqual(const Trace& a, const Trace& b) {
    checkEqual(a, b);
    CHECK(a.steps == b.steps);
    CHECK(a.pred == b.pred);
    CHECK(a.info.expertBytes == b.info.expertBytes);
    CHECK(a.info.cache.policy == b.info.cache.policy);
    CHECK(a.info.cache.slots == b.info.cache.slots);
    CHECK(a.info.cache.prefetch == b.info.cache.prefetch);
    REQUIRE(a.cache.size() == b.cache.size());
    for (size_t i = 0; i < a.cache.size(); ++i) {
        CHECK(a.cache[i].accesses == b.cache[i].accesses);
        CHECK(a.cache[i].hits == b.cache[i].hits);
        CHECK(a.cache[i].misses == b.cache[i].misses);
        CHECK(a.cache[i].evictions == b.cache[i].evictions);
        CHECK(a.cache[i].prefetches == b.cache[i].prefetches);
        CHECK(a.cache[i].prefetchUsed == b.cache[i].prefetchUsed);
        CHECK(a.cache[i].prefetchWasted == b.cache[i].prefetchWasted);
        CHECK(a.cache[i].bytesUploaded == b.cache[i].bytesUploaded);
        CHECK(a.cache[i].waitMs == b.cache[i].waitMs);  // exact: shortest round-trip form
    }
}

std::string tmpPath(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("moescope_trace_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("trace: append builds token-major rows with entropy") {
    Trace tr = makeTrace({{{0}, {1, 2}}, {{3}, {3}}});
    CHECK(tr.nTokens() == 2);
    CHECK(tr.info.kMax == 2);
    CHECK(tr.countAt(1, 0) == 2);
    CHECK(tr.idsAt(1, 0)[1] == 2);
    CHECK(tr.idsAt(0, 0)[1] == -1);
    CHECK(tr.entropy[tr.row(0, 0)] == doctest::Approx(0.0));
    CHECK(tr.entropy[tr.row(1, 0)] == doctest::Approx(std::log(2.0)));
    CHECK(tr.positions == std::vector<int32_t>{0, 1});
    // steps must agree with the trace's shape
    StepView bad{1, 3, 2, 4, nullptr, nullptr, nullptr, nullptr};
    int32_t tok = 0;
    CHECK(contains(append(tr, bad, &tok, 0).message(), "does not fit"));
}

TEST_CASE("trace: JSONL and binary round trips") {
    const Trace tr = richTrace();
    for (const char* ext : {".jsonl", ".mstrace"}) {
        CAPTURE(ext);
        const std::string path = tmpPath(std::string("rt") + ext);
        REQUIRE(writeTrace(path, tr).ok());
        auto back = readTrace(path);
        REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
        checkEqual(tr, *back);

        // rounded probabilities
        WriteOptions wo;
        wo.probDigits = 3;
        REQUIRE(writeTrace(path, tr, wo).ok());
        back = readTrace(path);
        REQUIRE(back.ok());
        CHECK(back->info.probDigits == 3);
        REQUIRE(back->probs.size() == tr.probs.size());
        for (size_t i = 0; i < tr.probs.size(); ++i) CHECK(std::fabs(back->probs[i] - tr.probs[i]) <= 5.01e-4f);
        CHECK(back->weights == tr.weights);

        // without probabilities
        wo = WriteOptions{};
        wo.probs = false;
        REQUIRE(writeTrace(path, tr, wo).ok());
        back = readTrace(path);
        REQUIRE(back.ok());
        CHECK(!back->info.hasProbs);
        CHECK(back->probs.empty());
        CHECK(back->entropy == tr.entropy);
        std::filesystem::remove(path);
    }
    // the binary form is the compact one
    CHECK(toBinary(tr).size() < toJsonl(tr).size() / 2);
}

TEST_CASE("trace: bad files give clear errors") {
    const Trace tr = makeTrace({{{0}, {1}}, {{2}, {3}}});
    const std::string good = toJsonl(tr);
    const std::string header = good.substr(0, good.find('\n') + 1);
    const std::string line1 = good.substr(header.size(), good.find('\n', header.size()) + 1 - header.size());
    auto jsonlError = [](const std::string& text) {
        auto r = parseJsonl(text, "t.jsonl");
        REQUIRE_MESSAGE(!r.ok(), "accepted: ", text.substr(0, 200));
        return r.error().message;
    };
    auto replaced = [&](std::string s, const std::string& from, const std::string& to) {
        const size_t at = s.find(from);
        REQUIRE(at != std::string::npos);
        return s.replace(at, from.size(), to);
    };
    CHECK(contains(jsonlError(""), "empty file"));
    CHECK(contains(jsonlError("hello\n"), "t.jsonl:1: the header is not valid JSON"));
    CHECK(contains(jsonlError("[1,2]\n"), "not a JSON object"));
    CHECK(contains(jsonlError(replaced(good, "moescope-trace", "other")), "not a moescope trace"));
    CHECK(contains(jsonlError(replaced(good, "\"version\":1", "\"version\":3")), "version 3 is not supported"));
    CHECK(contains(jsonlError(replaced(good, "\"n_expert\":4", "\"n_expert\":0")), "'n_expert' = 0 is out of range"));
    CHECK(contains(jsonlError(replaced(good, "\"n_layer\":2", "\"n_layer\":\"2\"")), "'n_layer' must be an integer"));
    CHECK(contains(jsonlError(replaced(good, "\"n_layer\":2", "\"n_layer\":99999999999999999999")), "n_layer"));
    CHECK(contains(jsonlError(header + line1), "ends after 1 of 2 tokens"));
    CHECK(contains(jsonlError(good + line1), "more token lines"));
    CHECK(contains(jsonlError(replaced(good, "\"ids\":[[0],[2]]", "\"ids\":[[0],[7]]")), "expert 7 out of range"));
    CHECK(contains(jsonlError(replaced(good, "\"ids\":[[0],[2]]", "\"ids\":[[0],[2,1]]")), "ids[1] must hold 1 numbers"));
    CHECK(contains(jsonlError(replaced(good, "\"active\":[1,1]", "\"active\":[1,9]")), "active[1] must be in 0..k_max"));
    CHECK(contains(jsonlError(replaced(good, "\"t\":1", "\"t\":5")), "t.jsonl:3: field 't'"));
    CHECK(contains(jsonlError(replaced(good, "\"token\":10", "\"token\":11")), "field 'token'"));
    CHECK(contains(jsonlError(replaced(good, "\"entropy\":[0,0]", "\"entropy\":[0,\"x\"]")), "entropy[1] is not a finite"));
    CHECK(contains(jsonlError(replaced(good, "\"weights\":[[1],[1]]", "\"weights\":[[1e999],[1]]")), "t.jsonl:2"));
    CHECK(contains(jsonlError(replaced(good, "\"n_tokens\":2", "\"n_tokens\":2000000000")), "file is too short"));
    {
        // a duplicated expert in one row
        Trace two = makeTrace({{{0, 1}}, {{2}}});
        std::string s = toJsonl(two);
        CHECK(contains(jsonlError(replaced(s, "\"ids\":[[0,1]", "\"ids\":[[1,1]")), "expert 1 selected twice"));
    }

    const std::vector<uint8_t> bin = toBinary(tr);
    auto binError = [](const std::vector<uint8_t>& b) {
        auto r = parseBinary(b.data(), b.size(), "t.mstrace");
        REQUIRE(!r.ok());
        return r.error().message;
    };
    CHECK(contains(binError({}), "bad magic"));
    CHECK(contains(binError(std::vector<uint8_t>(bin.begin(), bin.begin() + 20)), "exceeds the file"));
    CHECK(contains(binError(std::vector<uint8_t>(bin.begin(), bin.end() - 3)), "token piece 1 runs past the end"));
    std::vector<uint8_t> b = bin;
    b.push_back(0);
    CHECK(contains(binError(b), "1 unexpected bytes"));
    b = bin;
    b[8] = 9;  // version
    CHECK(contains(binError(b), "version 9 is not supported"));
    b = bin;
    b[12] = 0xFF, b[13] = 0xFF, b[14] = 0xFF, b[15] = 0x7F;  // header length
    CHECK(contains(binError(b), "header length"));
    CHECK(contains(readTrace(tmpPath("does-not-exist")).error().message, "cannot read"));
}

TEST_CASE("trace: corrupted files never crash the readers") {
    const Trace tr = richTrace(), opt = optionalTrace();
    Rng rng(3);
    int rejected = 0;
    for (int i = 0; i < 600; ++i) {
        const std::string text = toJsonl(i % 2 ? tr : opt);
        const std::vector<uint8_t> bin = toBinary(i % 2 ? tr : opt);
        std::string t = text;
        std::vector<uint8_t> b = bin;
        for (int k = 0; k < 1 + i % 4; ++k) {
            t[rng.next32() % t.size()] = char(rng.next32() % 128);
            b[rng.next32() % b.size()] = uint8_t(rng.next32());
        }
        t.resize(rng.next32() % 4 ? t.size() : rng.next32() % t.size());
        b.resize(rng.next32() % 4 ? b.size() : rng.next32() % b.size());
        auto rj = parseJsonl(t);
        auto rb = parseBinary(b.data(), b.size());
        rejected += !rj.ok() + !rb.ok();
        if (rj.ok()) CHECK(validate(*rj).ok());
        if (rb.ok()) CHECK(validate(*rb).ok());
    }
    CHECK(rejected > 200);  // many corruptions are caught; none may crash
}

TEST_CASE("trace: steps, predictions and cache telemetry round trip") {
    const Trace tr = optionalTrace();
    CHECK(tr.steps == std::vector<int32_t>{0, 0, 0, 1, 2, 3, 3});
    CHECK(tr.nSteps() == 4);
    CHECK(stepBegins(tr) == std::vector<size_t>{0, 3, 4, 5, 7});
    CHECK(tr.cache.size() == 4 * 3);
    CHECK(tr.predAt(0, 0)[0] == -1);
    for (const char* ext : {".jsonl", ".mstrace"}) {
        CAPTURE(ext);
        const std::string path = tmpPath(std::string("opt") + ext);
        REQUIRE(writeTrace(path, tr).ok());
        auto back = readTrace(path);
        REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
        checkOptionalEqual(tr, *back);
        std::filesystem::remove(path);
    }
    // the binary form with the sections is version 2; JSON Lines stays 1 (a version-1 reader
    // ignores the new keys); the telemetry sits on the first token line of each step only
    const std::vector<uint8_t> bin = toBinary(tr);
    CHECK(bin[8] == 2);
    const std::string text = toJsonl(tr);
    CHECK(contains(text, "\"version\":1"));
    CHECK(contains(text, "\"cache\":{\"policy\":\"lru\",\"prefetch\":true,\"slots\":4,\"telemetry\":true}"));
    CHECK(contains(text, "\"expert_bytes\":[100,100,250]"));
    size_t lines = 0;
    for (size_t at = text.find("\"cache\":[{"); at != std::string::npos; at = text.find("\"cache\":[{", at + 1)) ++lines;
    CHECK(lines == 4);
    CHECK(contains(text, "{\"t\":1,\"step\":0,"));
    CHECK(contains(text, "\"pred\":[[],["));
    // one expert size for every layer is written as one number
    Trace same = tr;
    same.info.expertBytes = {7, 7, 7};
    CHECK(contains(toJsonl(same), "\"expert_bytes\":7,"));
    auto back = parseJsonl(toJsonl(same));
    REQUIRE(back.ok());
    CHECK(back->info.expertBytes == std::vector<uint64_t>{7, 7, 7});
}

TEST_CASE("trace: traces without the additions stay version 1") {
    const Trace tr = makeTrace({{{0}, {1}}, {{2}, {3}}});
    CHECK(tr.steps.empty());  // one token per step: no step indices stored
    CHECK(tr.nSteps() == 2);
    const std::vector<uint8_t> bin = toBinary(tr);
    CHECK(bin[8] == 1);
    const std::string text = toJsonl(tr);
    for (const char* key : {"\"steps\"", "\"step\"", "\"pred\"", "\"cache\"", "\"expert_bytes\""}) CHECK(!contains(text, key));
    // a version-1 file as the previous build wrote it reads, with none of the additions
    const std::string v1 =
        "{\"format\":\"moescope-trace\",\"version\":1,\"model\":\"m\",\"arch\":\"olmoe\",\"n_layer\":1,\"n_expert\":4,"
        "\"k\":1,\"k_max\":1,\"policy\":\"model\",\"mode\":\"teacher-forced\",\"backend\":\"x\",\"ctx\":8,"
        "\"n_tokens\":2,\"probs\":\"none\",\"prob_digits\":-1,\"pieces\":false,\"tokens\":[5,6]}\n"
        "{\"t\":0,\"pos\":0,\"token\":5,\"active\":[1],\"ids\":[[2]],\"weights\":[[1]],\"entropy\":[0]}\n"
        "{\"t\":1,\"pos\":1,\"token\":6,\"active\":[1],\"ids\":[[3]],\"weights\":[[1]],\"entropy\":[0]}\n";
    auto r = parseJsonl(v1);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->steps.empty());
    CHECK(r->pred.empty());
    CHECK(r->cache.empty());
    CHECK(r->info.expertBytes.empty());
    CHECK(r->info.cache.slots == 0);
    CHECK(r->nSteps() == 2);
    // its binary form is the version-1 layout: re-written, it is byte for byte what version 1 wrote
    auto b = parseBinary(toBinary(*r).data(), toBinary(*r).size());
    REQUIRE(b.ok());
    CHECK(toBinary(*b) == toBinary(*r));
    CHECK(toBinary(*r)[8] == 1);
}

TEST_CASE("trace: bad steps, predictions and telemetry") {
    const Trace good = optionalTrace();
    auto invalid = [](Trace t) {
        Status st = validate(t);
        REQUIRE(!st.ok());
        return st.message();
    };
    Trace t = good;
    t.steps[3] = 2;  // skips step 1
    CHECK(contains(invalid(t), "token 3: step 2 does not follow step 0"));
    t = good;
    t.steps[0] = 1;
    CHECK(contains(invalid(t), "steps start at 0"));
    t = good;
    t.pred[0] = 3;  // layer 0 of token 0
    CHECK(contains(invalid(t), "token 0, layer 0: prediction of layer 0 must be empty"));
    t = good;
    t.pred[t.row(0, 1) * 2 + 0] = -1, t.pred[t.row(0, 1) * 2 + 1] = 5;
    CHECK(contains(invalid(t), "has an expert after the padding"));
    t = good;
    t.pred[t.row(1, 2) * 2 + 0] = 9;
    CHECK(contains(invalid(t), "expert 9 out of range"));
    t = good;
    t.pred[t.row(1, 1) * 2 + 0] = 4, t.pred[t.row(1, 1) * 2 + 1] = 4;
    CHECK(contains(invalid(t), "lists expert 4 twice"));
    t = good;
    t.cache[2].hits = 9;
    CHECK(contains(invalid(t), "step 0, layer 2: cache telemetry is inconsistent"));
    t = good;
    t.cache.pop_back();
    CHECK(contains(invalid(t), "one entry per step and layer"));
    t = good;
    t.info.cache.slots = 0;
    CHECK(contains(invalid(t), "without the cache setting"));
    t = good;
    t.info.expertBytes = {1, 2};
    CHECK(contains(invalid(t), "one size per layer"));

    // append: all steps or none, and telemetry needs the header setting
    Trace a = makeTrace({{{0}, {1}}}, false);
    int32_t ids[2] = {1, -1}, counts[1] = {1}, pred[2] = {-1, -1}, tok = 3;
    float w[2] = {1, 0}, p[4] = {0, 1, 0, 0};
    moe::cache::CacheStats c;
    StepView v{1, 1, 2, 4, ids, w, counts, p, pred, nullptr};
    CHECK(contains(append(a, v, &tok, 9).message(), "predictions must be given for every step or for none"));
    v.pred = nullptr, v.cache = &c;
    CHECK(contains(append(a, v, &tok, 9).message(), "telemetry must be given for every step or for none"));
    Trace e;
    e.info = a.info;
    CHECK(contains(append(e, v, &tok, 0).message(), "needs the cache setting"));
    v.cache = nullptr, v.pred = pred;
    pred[0] = 7;
    CHECK(contains(append(e, v, &tok, 0).message(), "predicts expert 7"));

    // the readers
    const std::string text = toJsonl(good);
    auto jsonlError = [](const std::string& s) {
        auto r = parseJsonl(s, "t.jsonl");
        REQUIRE_MESSAGE(!r.ok(), "accepted: ", s.substr(0, 300));
        return r.error().message;
    };
    auto replaced = [&](std::string s, const std::string& from, const std::string& to) {
        const size_t at = s.find(from);
        REQUIRE(at != std::string::npos);
        return s.replace(at, from.size(), to);
    };
    Trace noCache = good;
    noCache.cache.clear();
    noCache.info.cache = CacheSetting{};
    CHECK(contains(jsonlError(replaced(toJsonl(noCache), "{\"t\":1,\"step\":0,", "{\"t\":1,\"step\":2,")),
                   "token 1: step 2 does not follow step 0"));
    CHECK(contains(jsonlError(replaced(text, "{\"t\":1,\"step\":0,", "{\"t\":1,\"step\":1,")),
                   "t.jsonl:3: field 'cache' must be an array of 3 objects"));
    CHECK(contains(jsonlError(replaced(text, "{\"t\":1,\"step\":0,", "{\"t\":1,")), "t.jsonl:3: field 'step'"));
    CHECK(contains(jsonlError(replaced(text, "{\"t\":1,\"step\":0,", "{\"t\":1,\"step\":0,\"cache\":[],")),
                   "t.jsonl:3: field 'cache' belongs on the first token line of a step"));
    CHECK(contains(jsonlError(replaced(text, "\"cache\":[{\"accesses\":2,", "\"cache\":[{\"accesses\":-2,")),
                   "t.jsonl:2: cache[0]: 'accesses' must be an integer >= 0"));
    CHECK(contains(jsonlError(replaced(text, "\"pred\":[[],[", "\"pred\":[[],[9,")), "pred[1] must hold at most k_max"));
    CHECK(contains(jsonlError(replaced(text, "\"slots\":4", "\"slots\":9")), "'cache.slots' must be an integer in 1..8"));
    CHECK(contains(jsonlError(replaced(text, "\"expert_bytes\":[100,100,250]", "\"expert_bytes\":[1]")), "expert_bytes"));
    CHECK(contains(jsonlError(replaced(text, "\"version\":1", "\"version\":0")), "version 0 is not supported"));
    const std::vector<uint8_t> bin = toBinary(good);
    auto binError = [](const std::vector<uint8_t>& b) {
        auto r = parseBinary(b.data(), b.size(), "t.mstrace");
        REQUIRE(!r.ok());
        return r.error().message;
    };
    CHECK(contains(binError(std::vector<uint8_t>(bin.begin(), bin.end() - 8)), "cache telemetry section ends early"));
    std::vector<uint8_t> b = bin;
    b[8] = 1;  // the header says 2
    CHECK(contains(binError(b), "the header says version 2 but the file is version 1"));
}

TEST_CASE("stats: load, imbalance, entropy, active experts and transitions (hand-computed)") {
    // layer 0: 0, 0, 1, 0      layer 1: 2, 3, {2,3}, 2
    const Trace tr = makeTrace({{{0}, {0}, {1}, {0}}, {{2}, {3}, {2, 3}, {2}}});
    auto s = computeStats(tr, StatsOptions{2, 1});
    REQUIRE(s.ok());
    const LayerStats& l0 = s->layers[0];
    CHECK(l0.load == std::vector<uint64_t>{3, 1, 0, 0});
    CHECK(l0.mass == std::vector<double>{3, 1, 0, 0});
    CHECK(l0.maxOverMean == doctest::Approx(3.0));            // mean load 1
    CHECK(l0.cv == doctest::Approx(std::sqrt(6.0 / 4.0)));    // std of (3,1,0,0) around 1
    CHECK(l0.meanActive == doctest::Approx(1.0));
    CHECK(l0.meanEntropy == doctest::Approx(0.0));
    const LayerStats& l1 = s->layers[1];
    CHECK(l1.load == std::vector<uint64_t>{0, 0, 3, 2});
    CHECK(l1.mass[2] == doctest::Approx(2.5));
    CHECK(l1.meanActive == doctest::Approx(1.25));
    CHECK(l1.meanEntropy == doctest::Approx(std::log(2.0) / 4));  // one token of four splits 50/50
    // P(j at 1 | i at 0): expert 0 (tokens 0, 1, 3) -> 2 twice, 3 once; expert 1 (token 2) -> 2 and 3
    REQUIRE(l0.transition.size() == 16);
    CHECK(l0.transition[0 * 4 + 2] == doctest::Approx(2.0 / 3));
    CHECK(l0.transition[0 * 4 + 3] == doctest::Approx(1.0 / 3));
    CHECK(l0.transition[1 * 4 + 2] == doctest::Approx(1.0));
    CHECK(l0.transition[1 * 4 + 3] == doctest::Approx(1.0));
    CHECK(l0.transition[2 * 4 + 2] == 0.0);
    CHECK(l1.transition.empty());
    CHECK(s->meanActive == doctest::Approx(1.125));
    CHECK(s->activePerToken == doctest::Approx(2.25));
    CHECK(s->expertFlopsShare == doctest::Approx(1.125));  // model k = 1
    CHECK(!statsJson(*s).empty());
    CHECK(contains(formatStats(*s, true), "P(expert j at layer 1 | expert i at layer 0)"));
}

TEST_CASE("stats: SRP (hand-computed)") {
    // m = 2 over 0, 0, 1, 0: segments {0:2}, {0:1, 1:1}, {1:1, 0:1}; A = 6
    // tau 0: M 6, P 2*12 -> F1 0.4;  tau 1: M 6, P 2*5 -> 0.75;  tau 2: M 2, P 2 -> 0.5
    const Selections sel = {{0}, {0}, {1}, {0}};
    SrpTally t = srpTally(sel, 4, 2);
    CHECK(t.segments == 3);
    CHECK(t.activations == 6);
    CHECK(t.matches == std::vector<double>{6, 6, 2});
    CHECK(t.predictions == std::vector<double>{24, 10, 2});
    CHECK(t.best() == doctest::Approx(0.75));
    // perfectly consistent routing: every segment routes all tokens to the same experts
    CHECK(srpTally({{1, 2}, {2, 1}, {1, 2}}, 4, 2).best() == doctest::Approx(1.0));
    // fewer tokens than the segment: undefined
    CHECK(std::isnan(srpTally(sel, 4, 5).best()));
    // model level: tallies add before the maximum
    SrpTally sum = t;
    sum.add(srpTally({{1, 2}, {2, 1}, {1, 2}}, 4, 2));
    CHECK(sum.activations == 6 + 8);
    CHECK(sum.best() == doctest::Approx(std::max({2 * 14.0 / (40 + 14), 2 * 14.0 / (18 + 14), 2 * 10.0 / (10 + 14)})));
}

TEST_CASE("stats: SCH with a lookahead cache (hand-computed)") {
    // C = 1, m = 2 over 1-expert tokens 0, 1, 0, 0, 1:
    //  t0: 0 first use, free slot -> hit; t1: 1 first use, cache full -> miss (evicts 0)
    //  t2: 0 -> miss (evicts 1); t3: 0 -> hit; t4: 1 -> miss      => 2 / 5
    CHECK(sch({{0}, {1}, {0}, {0}, {1}}, 4, 2, 1) == doctest::Approx(0.4));
    CHECK(sch({{0}, {1}, {0}, {0}, {1}}, 4, 2, 2) == doctest::Approx(1.0));
    // the lookahead decides the victim: C = 2, m = 2 over 1, 0, 2, 1. At t2 the cache holds 1
    // (last used at t0) and 0 (t1); LRU would evict 1, but 1 is needed at t3 (inside the next 2
    // tokens) and 0 is not: 0 goes, and t3 hits => 3 / 4 (LRU: 2 / 4)
    CHECK(sch({{1}, {0}, {2}, {1}}, 4, 2, 2) == doctest::Approx(0.75));
    // ties in future uses: the least recently used goes. m = 1, C = 2, tokens {0,1}, {2,3}, {0,1}:
    //  t0: 2 hits (free slots); t1: 2 misses (0 then 1 evicted); t2: 2 misses => 2 / 6
    CHECK(sch({{0, 1}, {2, 3}, {0, 1}}, 4, 1, 2) == doctest::Approx(2.0 / 6));
    // a cache as large as the expert count never misses
    CHECK(sch({{0, 3}, {2, 1}, {1, 0}}, 4, 1, 4) == doctest::Approx(1.0));
}

TEST_CASE("stats: SCH of a static segment cache (hand-computed)") {
    // m = 2, C = 1 over 0, 0, 1, 0: best single expert per segment covers 2, 1, 1 of 2 each => 4 / 6
    CHECK(schStatic({{0}, {0}, {1}, {0}}, 4, 2, 1) == doctest::Approx(4.0 / 6));
    CHECK(schStatic({{0}, {0}, {1}, {0}}, 4, 2, 2) == doctest::Approx(1.0));
    CHECK(std::isnan(schStatic({{0}}, 4, 2, 1)));
}

// Writes seed traces for fuzz_trace into the directory given: small JSON Lines and .mstrace
// files with and without probabilities and pieces.
#include <cstdio>
#include <string>
#include <vector>

#include "trace/trace.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: trace_seeds DIR\n");
        return 1;
    }
    using namespace moe::trace;
    Trace tr;
    tr.info.model = "seed";
    tr.info.arch = "qwen2moe";
    tr.info.policy = "topp:0.5:3 mask:*:1";
    tr.info.nLayer = 2, tr.info.nExpert = 4, tr.info.k = 2;
    const std::vector<int32_t> ids = {0, 2, -1, 3, -1, -1, 2, 0, 3, 1, -1, -1};  // (L, T=2, K=3)
    const std::vector<float> w = {0.6f, 0.4f, 0, 1, 0, 0, 0.5f, 0.3f, 0.2f, 1, 0, 0};
    const std::vector<int32_t> counts = {2, 1, 3, 1};
    std::vector<float> p(2 * 2 * 4, 0.25f);
    const int32_t toks[2] = {5, 9};
    const std::vector<std::string> pieces = {"a", " b\xc3\xa9"};
    StepView v{2, 2, 3, 4, ids.data(), w.data(), counts.data(), p.data()};
    if (!append(tr, v, toks, 0, &pieces).ok()) return 1;
    const std::string dir = argv[1];
    WriteOptions none;
    none.probs = false;
    WriteOptions rounded;
    rounded.probDigits = 2;
    bool ok = writeTrace(dir + "/seed.jsonl", tr).ok() && writeTrace(dir + "/seed.mstrace", tr).ok() &&
              writeTrace(dir + "/noprobs.jsonl", tr, none).ok() && writeTrace(dir + "/noprobs.mstrace", tr, none).ok() &&
              writeTrace(dir + "/rounded.jsonl", tr, rounded).ok();
    tr.pieces.clear();
    ok = ok && writeTrace(dir + "/nopieces.mstrace", tr).ok();
    return ok ? 0 : 1;
}

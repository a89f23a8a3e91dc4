// Test support: the hostile model corpus. Broken and hostile variants of two generated models
// (qwen2moe with a byte-level BPE tokenizer, llama with SentencePiece), written at test time:
// truncations at every section boundary and inside tensor data, bad magic and versions, counts
// and lengths up to 2^64-1, tensor offsets out of range / overlapping / misaligned, dimension
// products overflowing 64 bits, unknown tensor types, missing keys and tensors, shapes wrong for
// the architecture, tokenizers with out-of-range ids or bad merges. Every file must be refused
// by loadModel with one line that contains one of its `expect` texts.
// tests/test_hostile_models.cpp loads each in process; tests/cli runs every model command of
// `moescope` on each and ui/ opens each in moescope-gui.
#pragma once
#include <string>
#include <vector>

#include "core/result.h"

namespace moe::test {

struct HostileFile {
    std::string name;                 // file name in the corpus directory ("<group>_<what>.gguf")
    std::vector<std::string> expect;  // the error contains at least one of these
};

struct HostileCorpus {
    std::string dir;
    std::vector<std::string> bases;   // the valid models the cases derive from (they must load)
    std::vector<HostileFile> files;
};

// Generates the two base models and every case into dir (created if needed).
Result<HostileCorpus> writeHostileCorpus(const std::string& dir);

// "name<TAB>expect1|expect2..." per line: the manifest the CLI and GUI tests read.
std::string hostileManifest(const HostileCorpus& c);

}  // namespace moe::test

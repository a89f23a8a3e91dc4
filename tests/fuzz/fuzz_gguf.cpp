// libFuzzer target for the GGUF reader: any input must give either a parsed file whose every
// value and tensor byte can be read in bounds, or a one-line error naming the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = moe::GgufFile::fromMemory({data, size}, "fuzz.gguf");
    if (!r.ok()) {
        const std::string& msg = r.error().message;
        if (msg.rfind("fuzz.gguf: ", 0) != 0 || msg.find('\n') != std::string::npos) __builtin_trap();
        return 0;
    }
    const moe::GgufFile& f = *r;
    size_t sink = 0;
    for (const moe::GgufKv& kv : f.kvs()) {
        sink += kv.value.toString().size();
        if (kv.value.isArray() && kv.value.count > 0) sink += kv.value.toString(1u << 20).size();
        sink += f.getU32(kv.key).ok() + f.getF32(kv.key).ok() + f.getString(kv.key).ok();
        sink += f.getStringArray(kv.key).ok() + f.getF32Array(kv.key).ok() + f.getI32Array(kv.key).ok();
    }
    // Every tensor's first and last byte lie inside the input (ASan checks the reads).
    for (const moe::GgufTensor& t : f.tensors()) {
        if (t.nBytes == 0) continue;
        sink += t.data[0] + t.data[t.nBytes - 1];
        if (t.data < data || t.data + t.nBytes > data + size) __builtin_trap();
    }
    volatile size_t keep = sink;
    (void)keep;
    return 0;
}

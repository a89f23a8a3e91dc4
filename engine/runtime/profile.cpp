// Kernel families of a step profile.
#include "runtime/profile.h"

#include <algorithm>

namespace moe::rt {

std::string kernelFamily(const std::string& shaderName) {
    std::string s = shaderName;
    // weight type suffix (variants.cmake), then the texel-read, subgroup-reduction and
    // row-per-invocation markers
    for (const char* t : {"_f32", "_f16", "_bf16", "_q8_0", "_q4_0", "_q4_k", "_q6_k"}) {
        const std::string suf = t;
        if (s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0) {
            s.resize(s.size() - suf.size());
            break;
        }
    }
    for (const std::string m : {"_row", "_tx", "_sg"})
        if (s.size() > m.size() && s.compare(s.size() - m.size(), m.size(), m) == 0) s.resize(s.size() - m.size());
    return s;
}

std::vector<FamilyTime> timeByFamily(const std::vector<vk::KernelTime>& times) {
    std::vector<FamilyTime> out;
    for (const vk::KernelTime& k : times) {
        const std::string f = kernelFamily(k.name);
        auto it = std::find_if(out.begin(), out.end(), [&](const FamilyTime& e) { return e.family == f; });
        if (it == out.end()) it = out.insert(out.end(), FamilyTime{f});
        it->ms += k.ms;
        ++it->dispatches;
    }
    std::stable_sort(out.begin(), out.end(), [](const FamilyTime& a, const FamilyTime& b) { return a.ms > b.ms; });
    return out;
}

}  // namespace moe::rt

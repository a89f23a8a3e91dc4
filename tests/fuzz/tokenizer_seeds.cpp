// Writes the seed corpus of the tokenizer fuzzer, one or more inputs per mode of fuzz_tokenizer.cpp
// (first byte % 4): texts to round-trip, id sequences to decode, vocabularies with merges and
// special ids, chat templates with messages. Usage: tokenizer_seeds OUTDIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::string ids(std::initializer_list<int32_t> v) {
    std::string s(1, '\x01');
    for (int32_t x : v)
        for (int i = 0; i < 4; ++i) s += char(uint32_t(x) >> (8 * i));
    return s;
}

// One chat message of mode 3: role byte (0 system, 1 user, 2 assistant, 3 tool) and text.
std::string msg(char role, const std::string& text) { return std::string(1, '\0') + role + text; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const std::vector<std::pair<std::string, std::string>> seeds = {
        // mode 0: flags byte, then text
        {"text_plain", std::string("\x00\x03", 2) + "Hello world, this is a test. 12345 abab"},
        {"text_special", std::string("\x00\x01", 2) + "<|im_start|>user\nhi<|im_end|><t> a\xE2\x96\x81" "b"},
        {"text_unicode", std::string("\x00\x00", 2) + "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80\n\n\t  end"},
        {"text_invalid_utf8", std::string("\x00\x02", 2) + "\xFF\xFE\xC3 \xE2\x82 \xF0\x9F\x98"},
        // mode 1: little-endian int32 ids, including negative and out-of-range ones
        {"ids", ids({1, 2, 3, 259, 260, 270, -1, 100000, 0x7FFFFFFF, 262, 263})},
        // mode 2: control bytes, token texts, empty line, merges
        {"spec_bpe", std::string("\x02\x01\x04\x03\x05\x05\x00\x03", 8) + "\na\nb\nab\nc\nabc\n<|endoftext|>\n\na b\nab c"},
        {"spec_spm", std::string("\x02\x00\x01\x03\x02\x03\x00\x02\x01", 9) + "\n<unk>\n<s>\n</s>\n\xE2\x96\x81" "a\na\nb\n<0x41>\n\n"},
        {"spec_bad_merges", std::string("\x02\x01\x02\x00", 4) + "\nx\ny\n\nx z\nxy\n x"},
        // mode 3: template source, NUL, then messages (role byte + text, NUL separated)
        {"chat_chatml", "\x03{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
                        "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                        "{% endif %}" + msg(0, "system prompt") + msg(1, "hello") + msg(2, "hi there")},
        {"chat_llama3", std::string("\x03{{ bos_token }}<|start_header_id|>{{ message['role'] }}<|end_header_id|><|eot_id|>") +
                            msg(1, "question") + msg(2, "") + msg(1, "again")},
        {"chat_unknown", std::string("\x03just some text {{ nonsense") + msg(1, "x")},
    };
    for (const auto& [name, bytes] : seeds) {
        std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
        out.write(bytes.data(), std::streamsize(bytes.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s/%s\n", argv[1], name.c_str());
            return 1;
        }
    }
    std::printf("wrote %zu seeds to %s\n", seeds.size(), argv[1]);
    return 0;
}

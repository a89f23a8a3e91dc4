// `moescope devices`: every Vulkan device with its probed capabilities (text or --json).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/device_report.h"
#include "vk/instance.h"

namespace moe::cli {

void registerDevices(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("devices", "list the Vulkan devices and their capabilities");
    cmd->add_flag("--json", *json, "print JSON instead of text");
    cmd->callback([json] {
        auto inst = vk::Instance::create();
        if (!inst.ok()) return fail(inst.error().message);
        const vk::Instance& instance = *inst.value();
        auto chosen = instance.chooseDevice(-1);  // what --device would default to
        const int def = chosen.ok() ? int(chosen.value()) : -1;
        if (*json) {
            nlohmann::ordered_json out = {{"default", def}, {"devices", nlohmann::ordered_json::array()}};
            for (auto& c : instance.devices()) out["devices"].push_back(capsJson(c));
            std::printf("%s\n", out.dump(2).c_str());
            return;
        }
        for (auto& c : instance.devices()) {
            std::printf("device %u: %s%s\n", c.index, c.name.c_str(), int(c.index) == def ? "  [default]" : "");
            std::printf("%s", capsText(c, "  ").c_str());
        }
        if (def < 0) std::printf("no usable device: %s\n", chosen.error().message.c_str());
    });
}

}  // namespace moe::cli

// Subcommands of the moescope CLI. Each register* adds its CLI11 subcommand and callback;
// callbacks print one-line errors to stderr and set the process exit code through exitCode().
#pragma once
#include <CLI/CLI.hpp>

namespace moe::cli {

int& exitCode();  // set by a subcommand's callback; returned by main

void registerDevices(CLI::App& app);
void registerSelftest(CLI::App& app);
void registerRun(CLI::App& app);
void registerChat(CLI::App& app);
void registerInfo(CLI::App& app);
void registerPerplexity(CLI::App& app);
void registerGenModel(CLI::App& app);
void registerTrace(CLI::App& app);
void registerStats(CLI::App& app);
void registerBench(CLI::App& app);
void registerCacheSim(CLI::App& app);
void registerTemplate(CLI::App& app);

}  // namespace moe::cli

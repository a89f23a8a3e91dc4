// The hostile model corpus (tests/support/hostile_models.h) for the CLI and GUI tests.
//   hostile_corpus write DIR
//       writes the corpus, DIR/manifest.tsv (name, expected texts) and DIR/files.txt (paths)
//   hostile_corpus check-cli DIR [--timeout S] [--limit-mb N [--sanitized]] [--stdin FILE] -- CMD ARGS...
//       runs CMD once per file ("{}" in ARGS is the file's path) and requires of each run: a
//       normal exit with a non-zero status within S seconds, and stderr exactly one line
//       "moescope: error: ..." naming the file and containing one of the expected texts. --limit-mb caps the
//       address space (RLIMIT_AS), or with --sanitized the largest allocation (ASan's
//       max_allocation_size_mb, as RLIMIT_AS and ASan's shadow memory do not mix).
//   hostile_corpus check-gui DIR STATE.json GOOD_MODEL
//       checks a moescope-gui --dump-state written after --then-open of every file: each load
//       failed with an expected message, and the model loaded first is still the one shown.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/hostile_models.h"

namespace {

struct Entry {
    std::string name;
    std::vector<std::string> expect;
};

std::vector<Entry> readManifest(const std::string& dir) {
    std::vector<Entry> out;
    std::ifstream in(dir + "/manifest.tsv");
    for (std::string line; std::getline(in, line);) {
        const size_t tab = line.find('\t');
        if (tab == std::string::npos) continue;
        Entry e{line.substr(0, tab), {}};
        std::stringstream ex(line.substr(tab + 1));
        for (std::string s; std::getline(ex, s, '|');) e.expect.push_back(s);
        out.push_back(std::move(e));
    }
    return out;
}

bool writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return bool(out);
}

int write(const std::string& dir) {
    auto c = moe::test::writeHostileCorpus(dir);
    if (!c.ok()) {
        std::fprintf(stderr, "hostile_corpus: %s\n", c.error().message.c_str());
        return 1;
    }
    std::string files;
    for (const auto& f : c->files) files += dir + "/" + f.name + "\n";
    if (!writeText(dir + "/manifest.tsv", moe::test::hostileManifest(*c)) || !writeText(dir + "/files.txt", files)) {
        std::fprintf(stderr, "hostile_corpus: cannot write the manifest in %s\n", dir.c_str());
        return 1;
    }
    std::printf("wrote %zu hostile files to %s\n", c->files.size(), dir.c_str());
    return 0;
}

struct RunResult {
    bool timedOut = false;
    int status = 0;  // waitpid status
    std::string out, err;
    double seconds = 0;
};

struct RunOptions {
    double timeout = 60;
    long limitMb = 0;
    bool sanitized = false;
    std::string stdinPath = "/dev/null";
};

// Runs argv with stdout and stderr captured, killed after the timeout.
RunResult run(const std::vector<std::string>& argv, const RunOptions& o) {
    RunResult r;
    int outPipe[2], errPipe[2];
    if (pipe(outPipe) != 0 || pipe(errPipe) != 0) {
        r.err = "pipe failed";
        r.status = -1;
        return r;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        const int in = open(o.stdinPath.c_str(), O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(outPipe[1], 1);
        dup2(errPipe[1], 2);
        close(outPipe[0]);
        close(errPipe[0]);
        if (o.limitMb > 0 && o.sanitized) {
            const char* a = std::getenv("ASAN_OPTIONS");
            std::string opts = std::string(a ? a : "") + (a && *a ? ":" : "") +
                               "max_allocation_size_mb=" + std::to_string(o.limitMb) + ":allocator_may_return_null=0";
            setenv("ASAN_OPTIONS", opts.c_str(), 1);
        } else if (o.limitMb > 0) {
            rlimit lim{rlim_t(o.limitMb) << 20, rlim_t(o.limitMb) << 20};
            setrlimit(RLIMIT_AS, &lim);
        }
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    close(outPipe[1]);
    close(errPipe[1]);
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    int openFds = 2;
    while (openFds > 0) {
        const double left = o.timeout - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (left <= 0) {
            r.timedOut = true;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(fds, 2, int(left * 1000) + 1) < 0 && errno != EINTR) break;
        for (pollfd& p : fds) {
            if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            const ssize_t n = read(p.fd, buf, sizeof buf);
            if (n > 0) {
                (&p == &fds[0] ? r.out : r.err).append(buf, size_t(n));
            } else {
                close(p.fd);
                p.fd = -1;
                --openFds;
            }
        }
    }
    for (pollfd& p : fds)
        if (p.fd >= 0) close(p.fd);
    waitpid(pid, &r.status, 0);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

// Empty when the run is a clean refusal naming the problem, else what is wrong.
std::string judgeRun(const RunResult& r, const std::string& path, const Entry& e) {
    if (r.timedOut) return "did not finish in time (hang?)";
    if (WIFSIGNALED(r.status)) return std::string("killed by signal ") + strsignal(WTERMSIG(r.status)) + " (crash)";
    if (!WIFEXITED(r.status)) return "did not exit normally";
    if (WEXITSTATUS(r.status) == 0) return "exit status 0";
    if (r.err.rfind("moescope: error: ", 0) != 0) return "stderr does not start with 'moescope: error: '";
    if (r.err.find(path) == std::string::npos) return "the error does not name the file";
    if (r.err.find('\n') != r.err.size() - 1) return "stderr is not exactly one line";
    for (const std::string& x : e.expect)
        if (r.err.find(x) != std::string::npos) return {};
    return "the error does not name the expected problem ('" + e.expect.front() + "')";
}

int checkCli(const std::string& dir, const RunOptions& o, const std::vector<std::string>& cmd) {
    const std::vector<Entry> entries = readManifest(dir);
    if (entries.empty()) {
        std::fprintf(stderr, "hostile_corpus: no manifest in %s\n", dir.c_str());
        return 1;
    }
    size_t bad = 0;
    double slowest = 0, total = 0;
    for (const Entry& e : entries) {
        const std::string path = dir + "/" + e.name;
        std::vector<std::string> argv = cmd;
        for (std::string& a : argv)
            if (a == "{}") a = path;
        const RunResult r = run(argv, o);
        slowest = std::max(slowest, r.seconds);
        total += r.seconds;
        const std::string why = judgeRun(r, path, e);
        if (!why.empty()) {
            ++bad;
            std::printf("FAIL %s: %s\n  stderr: %s\n", e.name.c_str(), why.c_str(), r.err.substr(0, 2000).c_str());
        }
    }
    const std::string name = cmd.size() > 1 ? cmd[1] : cmd[0];
    std::printf("moescope %s: %zu of %zu hostile files refused cleanly (one-line error naming the problem, "
                "non-zero exit); %.1f s in all, slowest %.2f s\n",
                name.c_str(), entries.size() - bad, entries.size(), total, slowest);
    return bad ? 1 : 0;
}

int checkGui(const std::string& dir, const std::string& statePath, const std::string& good) {
    const std::vector<Entry> entries = readManifest(dir);
    std::ifstream in(statePath);
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    if (s.is_discarded()) {
        std::fprintf(stderr, "hostile_corpus: %s is not JSON\n", statePath.c_str());
        return 1;
    }
    size_t bad = 0;
    const nlohmann::json& loads = s["load_attempts"];
    if (!loads.is_array() || loads.size() != entries.size()) {
        std::printf("FAIL: the state lists %zu load attempts, expected %zu\n", loads.is_array() ? loads.size() : 0,
                    entries.size());
        return 1;
    }
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        const std::string path = dir + "/" + e.name;
        const std::string gotPath = loads[i].value("path", "");
        const std::string err = loads[i].value("error", "");
        std::string why;
        if (gotPath != path) why = "load attempt " + std::to_string(i) + " is of '" + gotPath + "'";
        else if (err.find(path) == std::string::npos || err.find('\n') != std::string::npos)
            why = "the error is not one line naming the file";
        else {
            why = "the error does not name the expected problem ('" + e.expect.front() + "')";
            for (const std::string& x : e.expect)
                if (err.find(x) != std::string::npos) why.clear();
        }
        if (loads[i].value("model_after", "") != good) why += (why.empty() ? "" : "; ") + std::string("the previous model was not kept");
        if (!why.empty()) {
            ++bad;
            std::printf("FAIL %s: %s\n  error: %s\n", e.name.c_str(), why.c_str(), err.c_str());
        }
    }
    const bool kept = s["model"].is_object() && s["model"].value("path", "") == good;
    if (!kept) std::printf("FAIL: the model shown at the end is not %s\n", good.c_str());
    std::printf("moescope-gui: %zu of %zu hostile files refused with the error shown and the previous model kept\n",
                entries.size() - bad, entries.size());
    return bad || !kept ? 1 : 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: hostile_corpus write DIR\n"
                 "       hostile_corpus check-cli DIR [--timeout S] [--limit-mb N [--sanitized]] [--stdin FILE] -- CMD ARGS...\n"
                 "       hostile_corpus check-gui DIR STATE.json GOOD_MODEL\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 2 && a[0] == "write") return write(a[1]);
    if (a.size() == 4 && a[0] == "check-gui") return checkGui(a[1], a[2], a[3]);
    if (a.size() >= 4 && a[0] == "check-cli") {
        RunOptions o;
        size_t i = 2;
        for (; i < a.size() && a[i] != "--"; ++i) {
            if (a[i] == "--timeout" && i + 1 < a.size()) o.timeout = std::atof(a[++i].c_str());
            else if (a[i] == "--limit-mb" && i + 1 < a.size()) o.limitMb = std::atol(a[++i].c_str());
            else if (a[i] == "--sanitized") o.sanitized = true;
            else if (a[i] == "--stdin" && i + 1 < a.size()) o.stdinPath = a[++i];
            else return usage();
        }
        if (i + 1 >= a.size()) return usage();
        return checkCli(a[1], o, std::vector<std::string>(a.begin() + ptrdiff_t(i) + 1, a.end()));
    }
    return usage();
}

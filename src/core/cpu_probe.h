// Which instruction sets this process may execute: what the CPU advertises
// (cpuid), what the OS has enabled (XCR0, Linux's extended-state features and
// the AMX permission), and, because hypervisors can advertise what they do not
// run, one instruction of each set executed in a short-lived child process.
//
// The decision is a pure function of `CpuFacts` (check_isa), so tests can hand
// it any machine; read_cpu_facts() and run_live_checks() gather the facts of
// this one.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace resident::internal {

// The instruction-set groups that ggml's CPU variants are built with.
enum class Isa : uint8_t {
    kSse42,
    kAvx,
    kF16c,
    kFma,
    kAvx2,
    kBmi2,
    kAvxVnni,
    kAvx512,  // F, CD, VL, DQ and BW together, as ggml compiles them
    kAvx512Vbmi,
    kAvx512Vnni,
    kAvx512Bf16,
    kAmxTile,
    kAmxInt8,
};
inline constexpr size_t kIsaCount = 13;

// A short name such as "AVX-512" or "AMX-INT8".
std::string_view isa_name(Isa isa);

// What happened when a child process executed one instruction of a set.
enum class LiveResult : uint8_t {
    kNotRun,             // not tried (not advertised, not enabled, or no child could run)
    kPassed,             // the child executed it and went on
    kTrapped,            // the child took a signal (SIGILL, SIGSEGV, ...) on it
    kPermissionRefused,  // AMX: the kernel refused the tile-data permission
};

struct CpuFacts {
    std::string vendor;  // e.g. "GenuineIntel"
    std::string brand;   // e.g. "Intel(R) Xeon(R) Processor"
    // cpuid feature words: leaf 1 ecx, leaf 7 sub-leaf 0 ebx/ecx/edx, sub-leaf 1 eax.
    uint32_t leaf1_ecx = 0;
    uint32_t leaf7_ebx = 0;
    uint32_t leaf7_ecx = 0;
    uint32_t leaf7_edx = 0;
    uint32_t leaf7_1_eax = 0;
    // XCR0 as xgetbv reads it; meaningful only when cpuid says OSXSAVE.
    uint64_t xcr0 = 0;
    // Linux's ARCH_GET_XCOMP_SUPP: the extended states the kernel supports and
    // would grant; unknown on kernels before 5.16 (then AMX is unusable).
    bool xcomp_supp_known = false;
    uint64_t xcomp_supp = 0;
    // What the child process found, per Isa; all kNotRun until run_live_checks.
    std::array<LiveResult, kIsaCount> live{};
    // Why the live checks could not run at all (empty when they ran).
    std::string live_unavailable;
};

// Whether code of `isa` may run here, and if not, why, e.g.
// "AMX advertised, not enabled by the OS (the kernel does not offer tile data)".
struct IsaCheck {
    bool usable = false;
    std::string reason;  // empty when usable
};

// Advertised by cpuid, enabled by the OS, and not failed live. When the live
// checks did not run (live_unavailable set), the first two decide.
IsaCheck check_isa(const CpuFacts& facts, Isa isa);

// cpuid, xgetbv and ARCH_GET_XCOMP_SUPP of this machine. Executes no
// instruction of an optional set and changes nothing in the process.
CpuFacts read_cpu_facts();

// Forks a child that executes one instruction of each set that `facts`
// advertises and enables (requesting the AMX permission for itself), and
// records what it survived. The parent's state is untouched. Thread-safe; the
// child runs only async-signal-safe code, so a multithreaded host (a JVM) is
// fine. On failure to fork, sets facts.live_unavailable.
void run_live_checks(CpuFacts& facts);

}  // namespace resident::internal

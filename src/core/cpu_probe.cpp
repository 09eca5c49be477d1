#include "core/cpu_probe.h"

#include <fmt/format.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>
#endif

namespace resident::internal {
namespace {

constexpr uint32_t bit(int n) { return 1u << n; }

// XCR0 state components (Intel SDM vol. 1, 13.1).
constexpr uint64_t kXcr0Avx = (1u << 1) | (1u << 2);                 // SSE + YMM upper halves
constexpr uint64_t kXcr0Avx512 = (1u << 5) | (1u << 6) | (1u << 7);  // opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kXcr0Tile = (1u << 17) | (1u << 18);              // XTILECFG, XTILEDATA
constexpr int kXfeatureTileData = 18;
constexpr uint32_t kOsxsave = bit(27);  // leaf 1 ecx: the OS uses XSAVE, xgetbv works

bool advertised(const CpuFacts& f, Isa isa) {
    switch (isa) {
        case Isa::kSse42:
            return f.leaf1_ecx & bit(20);
        case Isa::kAvx:
            return f.leaf1_ecx & bit(28);
        case Isa::kF16c:
            return f.leaf1_ecx & bit(29);
        case Isa::kFma:
            return f.leaf1_ecx & bit(12);
        case Isa::kAvx2:
            return f.leaf7_ebx & bit(5);
        case Isa::kBmi2:
            return f.leaf7_ebx & bit(8);
        case Isa::kAvxVnni:
            return f.leaf7_1_eax & bit(4);
        case Isa::kAvx512: {
            // F, DQ, CD, BW, VL: ggml's AVX-512 variants are compiled with all five.
            const uint32_t all = bit(16) | bit(17) | bit(28) | bit(30) | bit(31);
            return (f.leaf7_ebx & all) == all;
        }
        case Isa::kAvx512Vbmi:
            return f.leaf7_ecx & bit(1);
        case Isa::kAvx512Vnni:
            return f.leaf7_ecx & bit(11);
        case Isa::kAvx512Bf16:
            return f.leaf7_1_eax & bit(5);
        case Isa::kAmxTile:
            return f.leaf7_edx & bit(24);
        case Isa::kAmxInt8:
            return f.leaf7_edx & bit(25);
    }
    return false;
}

// Empty when the OS has enabled the state the set needs, else why not.
std::string os_refusal(const CpuFacts& f, Isa isa) {
    const bool osxsave = f.leaf1_ecx & kOsxsave;
    auto needs = [&](uint64_t mask, std::string_view what) -> std::string {
        if (!osxsave) return "the OS has not enabled XSAVE, so no AVX state";
        if ((f.xcr0 & mask) != mask) {
            return fmt::format("XCR0 {:#x} lacks the {} state", f.xcr0, what);
        }
        return {};
    };
    switch (isa) {
        case Isa::kSse42:
        case Isa::kBmi2:
            return {};  // SSE state is always on in 64-bit mode; BMI2 uses general registers
        case Isa::kAvx:
        case Isa::kF16c:
        case Isa::kFma:
        case Isa::kAvx2:
        case Isa::kAvxVnni:
            return needs(kXcr0Avx, "AVX");
        case Isa::kAvx512:
        case Isa::kAvx512Vbmi:
        case Isa::kAvx512Vnni:
        case Isa::kAvx512Bf16:
            return needs(kXcr0Avx | kXcr0Avx512, "AVX-512 opmask/ZMM");
        case Isa::kAmxTile:
        case Isa::kAmxInt8: {
            if (std::string why = needs(kXcr0Tile, "tile"); !why.empty()) return why;
            if (!f.xcomp_supp_known) {
                return "the kernel cannot grant tile data (no ARCH_GET_XCOMP_SUPP: Linux < 5.16)";
            }
            if ((f.xcomp_supp & (1ull << kXfeatureTileData)) == 0) {
                return fmt::format("the kernel does not offer tile data (XCOMP_SUPP {:#x})",
                                   f.xcomp_supp);
            }
            return {};
        }
    }
    return "unknown instruction set";
}

}  // namespace

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::kSse42:
            return "SSE4.2";
        case Isa::kAvx:
            return "AVX";
        case Isa::kF16c:
            return "F16C";
        case Isa::kFma:
            return "FMA";
        case Isa::kAvx2:
            return "AVX2";
        case Isa::kBmi2:
            return "BMI2";
        case Isa::kAvxVnni:
            return "AVX-VNNI";
        case Isa::kAvx512:
            return "AVX-512";
        case Isa::kAvx512Vbmi:
            return "AVX-512-VBMI";
        case Isa::kAvx512Vnni:
            return "AVX-512-VNNI";
        case Isa::kAvx512Bf16:
            return "AVX-512-BF16";
        case Isa::kAmxTile:
            return "AMX-TILE";
        case Isa::kAmxInt8:
            return "AMX-INT8";
    }
    return "?";
}

IsaCheck check_isa(const CpuFacts& f, Isa isa) {
    const std::string_view name = isa_name(isa);
    if (!advertised(f, isa)) return {false, fmt::format("{} not advertised by the CPU", name)};
    if (std::string why = os_refusal(f, isa); !why.empty()) {
        return {false, fmt::format("{} advertised, not enabled by the OS ({})", name, why)};
    }
    if (!f.live_unavailable.empty()) return {true, {}};
    switch (f.live[static_cast<size_t>(isa)]) {
        case LiveResult::kPassed:
            return {true, {}};
        case LiveResult::kTrapped:
            return {false, fmt::format("{} advertised and enabled, but its test instruction "
                                       "trapped in a child process",
                                       name)};
        case LiveResult::kPermissionRefused:
            return {false, fmt::format("{} advertised, the kernel refused the tile-data "
                                       "permission (arch_prctl ARCH_REQ_XCOMP_PERM)",
                                       name)};
        case LiveResult::kNotRun:
            break;
    }
    return {false,
            fmt::format("{} advertised and enabled, but its test instruction was not run", name)};
}

#if defined(__x86_64__)
namespace {

constexpr int kArchGetXcompSupp = 0x1021;
constexpr int kArchReqXcompPerm = 0x1023;

uint64_t read_xcr0() {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

// The upper 16 registers (Hi16_ZMM), a 512-bit op (ZMM_Hi256), an opmask
// move (BW), a conflict op (CD), a 256-bit EVEX op (VL) and a 512-bit float
// logic op (DQ). The target attribute only lets the clobbers be named.
__attribute__((target("avx512f,avx512bw"))) void exercise_avx512() {
    __asm__ volatile(
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
        "vpconflictd %%zmm16, %%zmm0\n\t"
        "vpxord %%ymm17, %%ymm17, %%ymm17\n\t"
        "vxorpd %%zmm0, %%zmm0, %%zmm0\n\t"
        "kmovq %%k1, %%rax" ::
            : "xmm0", "xmm16", "xmm17", "rax", "k1");
}

// One instruction of each set; run only in the child.
void exercise(Isa isa) {
    switch (isa) {
        case Isa::kSse42:
            __asm__ volatile("pcmpgtq %%xmm0, %%xmm0" ::: "xmm0");
            break;
        case Isa::kAvx:
            __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
            break;
        case Isa::kF16c:
            __asm__ volatile("vcvtph2ps %%xmm0, %%ymm0" ::: "xmm0");
            break;
        case Isa::kFma:
            __asm__ volatile("vfmadd231ps %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
            break;
        case Isa::kAvx2:
            __asm__ volatile("vpaddd %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
            break;
        case Isa::kBmi2:
            __asm__ volatile("xorl %%eax, %%eax\n\tpdep %%eax, %%eax, %%eax" ::: "rax");
            break;
        case Isa::kAvxVnni:
            __asm__ volatile("%{vex%} vpdpbusd %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
            break;
        case Isa::kAvx512:
            exercise_avx512();
            break;
        case Isa::kAvx512Vbmi:
            __asm__ volatile("vpermb %%zmm0, %%zmm0, %%zmm0" ::: "xmm0");
            break;
        case Isa::kAvx512Vnni:
            __asm__ volatile("vpdpbusd %%zmm0, %%zmm0, %%zmm0" ::: "xmm0");
            break;
        case Isa::kAvx512Bf16:
            __asm__ volatile("vdpbf16ps %%zmm0, %%zmm0, %%zmm0" ::: "xmm0");
            break;
        case Isa::kAmxTile:
        case Isa::kAmxInt8: {
            // Palette 1, tiles 0-2 of 16 rows x 64 bytes: a valid 16x16x16 int8 product.
            alignas(64) unsigned char config[64];
            for (unsigned char& c : config) c = 0;
            config[0] = 1;
            for (int t = 0; t < 3; ++t) {
                config[16 + 2 * t] = 64;  // colsb, little-endian u16
                config[48 + t] = 16;      // rows
            }
            __asm__ volatile("ldtilecfg %0" ::"m"(config));
            if (isa == Isa::kAmxTile) {
                __asm__ volatile("tilezero %%tmm0" ::);
            } else {
                __asm__ volatile(
                    "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\t"
                    "tdpbssd %%tmm2, %%tmm1, %%tmm0" ::);
            }
            __asm__ volatile("tilerelease" ::);
            break;
        }
    }
}

sigjmp_buf g_child_jump;

void on_child_fault(int) { siglongjmp(g_child_jump, 1); }

// The child's whole life: async-signal-safe calls only (it is forked from a
// possibly multithreaded process). Writes one byte per Isa.
[[noreturn]] void child_main(const CpuFacts& facts, int out_fd) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_child_fault;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGILL, SIGSEGV, SIGBUS, SIGFPE}) sigaction(sig, &sa, nullptr);
    bool amx_permitted = false;
    for (size_t i = 0; i < kIsaCount; ++i) {
        const Isa isa = static_cast<Isa>(i);
        char result = 'N';
        if (advertised(facts, isa) && os_refusal(facts, isa).empty()) {
            const bool amx = isa == Isa::kAmxTile || isa == Isa::kAmxInt8;
            if (amx && !amx_permitted) {
                amx_permitted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) == 0;
            }
            if (amx && !amx_permitted) {
                result = 'R';
            } else if (sigsetjmp(g_child_jump, 1) == 0) {
                exercise(isa);
                result = 'P';
            } else {
                result = 'T';
            }
        }
        if (write(out_fd, &result, 1) != 1) _exit(3);
    }
    _exit(0);
}

}  // namespace

CpuFacts read_cpu_facts() {
    CpuFacts f;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        const unsigned max_leaf = a;
        char vendor[13] = {};
        std::memcpy(vendor, &b, 4);
        std::memcpy(vendor + 4, &d, 4);
        std::memcpy(vendor + 8, &c, 4);
        f.vendor = vendor;
        if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) f.leaf1_ecx = c;
        if (max_leaf >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            f.leaf7_ebx = b;
            f.leaf7_ecx = c;
            f.leaf7_edx = d;
            __cpuid_count(7, 1, a, b, c, d);
            f.leaf7_1_eax = a;
        }
    }
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        unsigned words[12];
        for (unsigned i = 0; i < 3; ++i) {
            __get_cpuid(0x80000002 + i, &words[4 * i], &words[4 * i + 1], &words[4 * i + 2],
                        &words[4 * i + 3]);
        }
        char brand[49] = {};
        std::memcpy(brand, words, 48);
        f.brand = brand;
        while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
        while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(0, 1);
    }
    if (f.leaf1_ecx & kOsxsave) f.xcr0 = read_xcr0();
    uint64_t supp = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompSupp, &supp) == 0) {
        f.xcomp_supp_known = true;
        f.xcomp_supp = supp;
    }
    return f;
}

void run_live_checks(CpuFacts& facts) {
    facts.live.fill(LiveResult::kNotRun);
    facts.live_unavailable.clear();
    int fds[2];
    if (pipe(fds) != 0) {
        facts.live_unavailable = fmt::format("pipe failed: {}", std::strerror(errno));
        return;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        facts.live_unavailable = fmt::format("fork failed: {}", std::strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(facts, fds[1]);
    }
    close(fds[1]);
    char results[kIsaCount];
    size_t got = 0;
    // A child that hangs (it should not) is killed after 10 s.
    pollfd pfd{fds[0], POLLIN, 0};
    while (got < kIsaCount && poll(&pfd, 1, 10000) > 0) {
        const ssize_t n = read(fds[0], results + got, kIsaCount - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    close(fds[0]);
    if (got < kIsaCount) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    for (size_t i = 0; i < kIsaCount; ++i) {
        const Isa isa = static_cast<Isa>(i);
        LiveResult r = LiveResult::kNotRun;
        if (i < got) {
            r = results[i] == 'P'   ? LiveResult::kPassed
                : results[i] == 'T' ? LiveResult::kTrapped
                : results[i] == 'R' ? LiveResult::kPermissionRefused
                                    : LiveResult::kNotRun;
        } else if (advertised(facts, isa) && os_refusal(facts, isa).empty()) {
            r = LiveResult::kTrapped;  // the child died on it or before it
        }
        facts.live[i] = r;
    }
}

#else  // not x86-64: nothing to probe; ggml picks its own variant there

CpuFacts read_cpu_facts() { return {}; }

void run_live_checks(CpuFacts& facts) { facts.live_unavailable = "not an x86-64 machine"; }

#endif

}  // namespace resident::internal

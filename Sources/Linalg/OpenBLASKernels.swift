import CBLAS
import Foundation

/// The OpenBLAS kernels (`OPENBLAS_CORETYPE` values) a DYNAMIC_ARCH x86-64 build of OpenBLAS 0.3.21 accepts, with the
/// CPU flags each one's instructions need. OpenBLAS does not check those flags when a kernel is forced (a forced
/// `SkylakeX` on a CPU without AVX-512 dies of SIGILL), so `lmprobe doctor` checks them against /proc/cpuinfo first.
public struct OpenBLASKernel: Sendable, Equatable {
    /// The `OPENBLAS_CORETYPE` value, spelled as OpenBLAS reports it back (`openblas_get_corename`).
    public let name: String
    /// /proc/cpuinfo flags the kernel's instructions need (`pni` is listed there for SSE3).
    public let requiredFlags: [String]

    public init(name: String, requiredFlags: [String]) {
        self.name = name
        self.requiredFlags = requiredFlags
    }

    /// The required flags `cpuFlags` lacks (empty: the CPU can run this kernel).
    public func missingFlags(_ cpuFlags: Set<String>) -> [String] { requiredFlags.filter { !cpuFlags.contains($0) } }
}

public enum OpenBLASKernels {
    /// The x86-64 kernels worth trying, oldest first: the SSE generations, AMD's FMA4 cores, AVX, AVX2 (Haswell, Zen)
    /// and AVX-512 (SkylakeX, Cooperlake). Every name here is known to Debian's OpenBLAS 0.3.21 (checked with
    /// `openblas_get_corename` under each setting on an AVX2 CPU; `Cooperlake` is honoured only on a CPU with
    /// AVX512-BF16, OpenBLAS itself falling back elsewhere); a name OpenBLAS does not know is silently replaced by the
    /// autodetected kernel, which `lmprobe doctor` reports.
    public static let catalog: [OpenBLASKernel] = [
        OpenBLASKernel(name: "Prescott", requiredFlags: ["sse2", "pni"]),
        OpenBLASKernel(name: "Core2", requiredFlags: ["sse2", "pni", "ssse3"]),
        OpenBLASKernel(name: "Penryn", requiredFlags: ["sse2", "pni", "ssse3", "sse4_1"]),
        OpenBLASKernel(name: "Nehalem", requiredFlags: ["sse2", "pni", "ssse3", "sse4_1", "sse4_2"]),
        OpenBLASKernel(name: "Bulldozer", requiredFlags: ["avx", "fma4"]),
        OpenBLASKernel(name: "Piledriver", requiredFlags: ["avx", "fma", "fma4"]),
        OpenBLASKernel(name: "Sandybridge", requiredFlags: ["avx"]),
        OpenBLASKernel(name: "Haswell", requiredFlags: ["avx", "avx2", "fma"]),
        OpenBLASKernel(name: "Zen", requiredFlags: ["avx", "avx2", "fma"]),
        OpenBLASKernel(name: "SkylakeX", requiredFlags: ["avx2", "fma", "avx512f", "avx512cd", "avx512vl", "avx512bw",
                                                         "avx512dq"]),
        OpenBLASKernel(name: "Cooperlake", requiredFlags: ["avx2", "fma", "avx512f", "avx512cd", "avx512vl",
                                                           "avx512bw", "avx512dq", "avx512_bf16"]),
    ]

    /// The kernel of `catalog` called `name` (case-insensitive), or nil.
    public static func kernel(named name: String) -> OpenBLASKernel? {
        catalog.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The kernel OpenBLAS runs in this process (`openblas_get_corename`).
    public static var coreInEffect: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build configuration string (version, DYNAMIC_ARCH, thread limit).
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// The flags of the first `flags` line of a /proc/cpuinfo text (empty when there is none).
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// The value of the first `model name` line of a /proc/cpuinfo text.
    public static func cpuModel(cpuinfo: String) -> String? {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("model name") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// /proc/cpuinfo's text, or nil where there is none (not Linux).
    public static func readCPUInfo() -> String? { try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) }
}

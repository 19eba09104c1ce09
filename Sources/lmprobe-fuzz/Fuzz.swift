import FuzzTargets
import Foundation

// Built two ways (see the Makefile's `fuzz` target):
// * with `-D FUZZING -sanitize=fuzzer,address`: libFuzzer's main drives `LLVMFuzzerTestOneInput`, the target chosen
//   by the environment variable LMPROBE_FUZZ_TARGET (one of FuzzTarget.allCases: npy, safetensors, …, stheader);
// * normally: `lmprobe-fuzz TARGET FILE...` replays inputs (e.g. a crash file) through the same target.

#if FUZZING
nonisolated(unsafe) let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["LMPROBE_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("LMPROBE_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    atexit { FuzzTarget.cleanUp() }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// SwiftPM links an executable's entry point under the name `<product>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("lmprobe_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count >= 2 else {
            print("usage: lmprobe-fuzz TARGET FILE...   (TARGET: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        defer { FuzzTarget.cleanUp() }
        for path in args.dropFirst() {
            guard let d = try? Data(contentsOf: URL(fileURLWithPath: path)) else { print("\(path): cannot read"); exit(1) }
            let refusal = d.withUnsafeBytes { target.run($0) }
            print("\(path): " + (refusal.map { "refused: \($0)" } ?? "accepted"))
        }
    }
}
#endif

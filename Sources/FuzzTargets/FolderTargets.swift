import Features
import Foundation
import Model
import Probes
import Support
import Synthetic

/// The targets whose readers take a folder of several files (issue 27: the parsers added since the first round) and
/// the structure-aware safetensors target. One fuzz input holds all the files of a folder, separated by
/// `FuzzTarget.fileSeparator`; a part that is absent leaves its file absent.
extension FuzzTarget {
    /// Separates the files of one input (a line no JSON, `.ids` or `.npy` writer produces).
    static let fileSeparator = Data("\n--8<--\n".utf8)

    /// The parts of `d` between separators (one part when there is none).
    static func parts(_ d: Data) -> [Data] {
        var out: [Data] = [], start = d.startIndex
        while let r = d.range(of: fileSeparator, in: start..<d.endIndex) {
            out.append(Data(d[start..<r.lowerBound]))
            start = r.upperBound
        }
        out.append(Data(d[start...]))
        return out
    }

    /// Writes `parts` as the files `names` of `dir` (a folder emptied first), part i as names[i]; extra parts are
    /// ignored, missing ones leave the file absent.
    func writeFolder(_ parts: ArraySlice<Data>, _ names: [String], in dir: URL) throws {
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (part, name) in zip(parts, names) { _ = try write(part, name, in: dir) }
    }

    /// `config.json` ✂ `model.safetensors` as a Hugging Face folder → ModelLoader.checkpoint (config, then every
    /// tensor checked against it).
    func runHuggingFaceFolder(_ data: Data, _ dir: URL) throws -> () throws -> Void {
        let folder = dir.appendingPathComponent("hf")
        try writeFolder(Self.parts(data)[...], ["config.json", "model.safetensors"], in: folder)
        return { _ = try ModelLoader.checkpoint(folder.path) }
    }

    /// Statistics file. First byte odd: the rest is the body after the checksum line, which the harness writes with
    /// its correct checksum (so the header and payload checks are reached); even: the rest is the whole file. The
    /// statistics read are then merged with themselves (the count sum) and their source tags parsed.
    func runStatistics(_ data: Data, _ dir: URL) throws -> () throws -> Void {
        guard let mode = data.first else {
            let url = try write(data, "s.stats", in: dir)
            return { _ = try RidgeStatistics(contentsOf: url) }
        }
        var file = Data(data.dropFirst())
        if mode & 1 == 1 {
            var sum = Checksum()
            sum.add(file)
            // The format's magic line (RidgeStatistics.magic); a committed seed-* case fails if it drifts.
            file = Data("LMPROBE-RIDGE-STATS 2\nchecksum \(sum.hex)\n".utf8) + file
        }
        let url = try write(file, "s.stats", in: dir)
        return {
            let s = try RidgeStatistics(contentsOf: url)
            for source in s.sources { _ = source.tag.flatMap { ShardIdentity(tag: $0) } }
            var merged = s
            try merged.merge(s)
        }
    }

    /// `hmm.json` ✂ `initial.npy` ✂ `transition.npy` ✂ `emission.npy` → HiddenMarkovModel.load, then a short sample.
    func runHMM(_ data: Data, _ dir: URL) throws -> () throws -> Void {
        let folder = dir.appendingPathComponent("hmm")
        try writeFolder(Self.parts(data)[...], ["hmm.json", "initial.npy", "transition.npy", "emission.npy"], in: folder)
        return {
            let hmm = try HiddenMarkovModel.load(from: folder)
            _ = hmm.sampleSequences(count: 2, length: 4, seed: 1)
        }
    }

    /// `task.json` ✂ `train.ids` ✂ `test.ids` ✂ `direction.npy` → SyntheticTask.load.
    func runSyntheticTask(_ data: Data, _ dir: URL) throws -> () throws -> Void {
        let folder = dir.appendingPathComponent("task")
        try writeFolder(Self.parts(data)[...], ["task.json", "train.ids", "test.ids", "direction.npy"], in: folder)
        return { _ = try SyntheticTask.load(folder) }
    }

    /// Feature folders: each three parts (`manifest.json` ✂ `f.npy` ✂ `labels.npy`) make one folder; `features`
    /// reads the first folder alone, `shards` all of them (up to 4) as the shards of one extraction → LabelledFeatures.load
    /// (manifests, shard identities and order, recorded checksums, concatenation), then the finiteness check.
    func runFeatureFolders(_ data: Data, _ dir: URL, maxFolders: Int) throws -> () throws -> Void {
        let parts = Self.parts(data)
        let count = min(maxFolders, max(1, (parts.count + 2) / 3))
        var paths: [String] = []
        for k in 0..<count {
            let folder = dir.appendingPathComponent("x\(k)")
            let mine = parts.dropFirst(3 * k).prefix(3)
            try writeFolder(mine, ["manifest.json", "f.npy", "labels.npy"], in: folder)
            paths.append(folder.path)
        }
        for k in count..<4 { try? FileManager.default.removeItem(at: dir.appendingPathComponent("x\(k)")) }
        return {
            let lf = try LabelledFeatures.load(paths, labels: nil, feature: .f, role: "train")
            try lf.features.checkFinite(path: lf.featuresPath)
        }
    }
}

/// Expands a compact fuzz input into a safetensors file with a large header: up to 2^20 + 255 tensors, which no
/// input under libFuzzer's `-max_len` could spell out. Layout of the input:
///   byte 0: log2 of the tensor count (mod 13 below 0xE0, else mod 21); byte 1: added to the count; byte 2: bytes
///   per tensor (s);
///   then, separated by `FuzzTarget.fileSeparator`: the JSON value of every tensor (each "@" becomes that tensor's
///   byte range "i·s,(i+1)·s", so contiguous tensors are easy to state), the `__metadata__` JSON value (omitted when
///   empty), and the first data bytes (the data section is count·s bytes, at most 16 MiB, zero after these).
/// Tensor i is named "t<i>". 0xE6 0x00 0x00 + `{"dtype":"F32","shape":[0],"data_offsets":[@]}` is issue 27's
/// header of 1 M zero-size tensors (58 MB).
enum LargeSafeTensors {
    static let maxData = 16 << 20
    /// Entries stop once the header passes SafeTensors' limit (64 MiB), which refuses it from its length alone.
    static let maxHeader = SafeTensors.maxHeaderBytes + 1024

    static func expand(_ d: Data) -> Data {
        let bytes = [UInt8](d.prefix(3)) + [UInt8](repeating: 0, count: max(0, 3 - d.count))
        // Most inputs stay small (fast executions); byte 0 ≥ 0xE0 reaches the large headers.
        let count = (1 << Int(bytes[0] < 0xE0 ? bytes[0] % 13 : bytes[0] % 21)) + Int(bytes[1])
        let s = Int(bytes[2])
        let parts = FuzzTarget.parts(Data(d.dropFirst(3)))
        let template = parts[0], metadata = parts.count > 1 ? parts[1] : Data(), prefixData = parts.count > 2 ? parts[2] : Data()
        let (before, after): (Data, Data?) = {
            guard let at = template.firstIndex(of: UInt8(ascii: "@")) else { return (template, nil) }
            return (Data(template[..<at]), Data(template[(at + 1)...]))
        }()
        var header = Data("{".utf8)
        if !metadata.isEmpty { header += Data("\"__metadata__\":".utf8) + metadata + Data(",".utf8) }
        header.reserveCapacity(min(count * (template.count + 24), maxHeader))
        for i in 0..<count where header.count <= maxHeader {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            header += Data("\"t\(i)\":".utf8)
            header += before
            if let after { header += Data("\(i * s),\((i + 1) * s)".utf8); header += after }
        }
        header.append(UInt8(ascii: "}"))
        var file = Data(capacity: 8 + header.count)
        var n = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &n) { file.append(contentsOf: $0) }
        file += header
        let dataBytes = min(count * s, maxData)
        file += prefixData.prefix(dataBytes)
        if dataBytes > prefixData.count { file += Data(count: dataBytes - prefixData.count) }
        return file
    }
}

import Features
import Foundation
import Linalg
import Model
import Text

/// Fuzz targets: each feeds one input (arbitrary bytes) through one of lmprobe's file readers, exactly as a user's
/// file would reach it (written to a scratch folder, read by the public entry point). A reader may accept or refuse
/// the input; it must not crash, hang, leak or allocate what the input does not justify.
///
/// The same functions run under libFuzzer (`make fuzz`: `lmprobe-fuzz` built with `-sanitize=fuzzer,address`) and in
/// the regression tests, which replay every committed input (`Tests/FuzzTargetsTests/Cases/<target>/`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `.npy` → NPY.readHeader, readMatrix (Float and Double), readIntegers.
    case npy
    /// safetensors → ModelLoader.checkpoint (the safetensors reader, then the checkpoint's config and tensors).
    case safetensors
    /// `vocab.json` NUL `merges.txt` → BPETokenizer(directory:), then encode/decode a sample.
    case tokenizer
    /// `tokens.json` NUL train.bin/val.bin (split at a position given by the byte after the NUL) → TokenDataset.
    case tokens
    /// TSV / CSV / JSONL labelled datasets → LabelledDataset.readTSV / readCSV / readJSONL.
    case tsv, csv, jsonl
    /// A feature folder's `manifest.json` → ExtractionManifest.read.
    case manifest
    /// A Hugging Face `config.json` → HuggingFaceGPT2.config(from:).
    case hfconfig
    /// A Hugging Face `tokenizer.json` alone in its folder → BPETokenizer(directory:), then encode/decode a sample.
    case hftokenizer
    /// A Hugging Face folder, `config.json` ✂ `model.safetensors` → ModelLoader.checkpoint (see FolderTargets.swift;
    /// ✂ is `fileSeparator`).
    case hffolder
    /// A ridge statistics file (`probe --stats-out`) → RidgeStatistics(contentsOf:), merged with itself.
    case stats
    /// A synthetic HMM folder → HiddenMarkovModel.load; a synthetic task folder → SyntheticTask.load.
    case hmm, synthtask
    /// One extract folder (manifest, f.npy, labels.npy) / up to four shard folders → LabelledFeatures.load.
    case features, shards
    /// A compact input expanded into a safetensors file with up to 2^20 tensors (`LargeSafeTensors`) →
    /// ModelLoader.checkpoint: headers far larger than `-max_len`.
    case stheader

    /// Runs one input. A refusal (the reader's one-line error) is the expected outcome for most inputs; returns
    /// it, or nil when the main reader accepted the input.
    @discardableResult
    public func run(_ input: UnsafeRawBufferPointer) -> String? {
        let data = Data(input)
        let dir = FuzzTarget.scratch.appendingPathComponent(rawValue)
        if !FileManager.default.fileExists(atPath: dir.path) {
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        func outcome(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch { return "\(error)" }
        }
        do {
            switch self {
            case .npy:
                let url = try write(data, "x.npy", in: dir)
                _ = try? NPY.readHeader(url)
                _ = try? NPY.readIntegers(url)
                _ = try? NPY.readMatrix(url, as: Double.self)
                return outcome { _ = try NPY.readMatrix(url, as: Float.self) }
            case .safetensors:
                let url = try write(data, "c.safetensors", in: dir)
                return outcome { _ = try ModelLoader.checkpoint(url.path) }
            case .tokenizer:
                let (vocab, merges) = FuzzTarget.split(data)
                _ = try write(vocab, "vocab.json", in: dir)
                _ = try write(merges, "merges.txt", in: dir)
                return outcome {
                    let tok = try BPETokenizer(directory: dir)
                    _ = tok.decode(tok.encode("Hello, world! It's 3 o'clock — naïve café."))
                }
            case .tokens:
                let (header, rest) = FuzzTarget.split(data)
                let cut = rest.isEmpty ? 0 : Int(rest[rest.startIndex]) * (rest.count - 1) / 255
                let body = rest.dropFirst()
                _ = try write(header, "tokens.json", in: dir)
                _ = try write(Data(body.prefix(cut)), "train.bin", in: dir)
                _ = try write(Data(body.dropFirst(cut)), "val.bin", in: dir)
                return outcome {
                    let ds = try TokenDataset(directory: dir)
                    var x = [Int32](repeating: 0, count: 1)
                    if ds.trainCount > 0 { ds.copyTokens(.train, start: ds.trainCount - 1, length: 1, into: &x) }
                }
            case .tsv:
                let url = try write(data, "d.tsv", in: dir)
                return outcome { _ = try LabelledDataset.readTSV(url, detokenize: .ptb) }
            case .csv:
                let url = try write(data, "d.csv", in: dir)
                return outcome { _ = try LabelledDataset.readCSV(url) }
            case .jsonl:
                let url = try write(data, "d.jsonl", in: dir)
                return outcome { _ = try LabelledDataset.readJSONL(url) }
            case .manifest:
                let url = try write(data, "manifest.json", in: dir)
                return outcome { _ = try ExtractionManifest.read(from: url) }
            case .hfconfig:
                let url = try write(data, "config.json", in: dir)
                return outcome { _ = try HuggingFaceGPT2.config(from: url) }
            case .hftokenizer:
                _ = try write(data, "tokenizer.json", in: dir)
                return outcome {
                    let tok = try BPETokenizer(directory: dir)
                    _ = tok.decode(tok.encode("Hello, world! It's 3 o'clock — naïve café.<|endoftext|>"))
                }
            case .hffolder: return outcome(try runHuggingFaceFolder(data, dir))
            case .stats: return outcome(try runStatistics(data, dir))
            case .hmm: return outcome(try runHMM(data, dir))
            case .synthtask: return outcome(try runSyntheticTask(data, dir))
            case .features: return outcome(try runFeatureFolders(data, dir, maxFolders: 1))
            case .shards: return outcome(try runFeatureFolders(data, dir, maxFolders: 4))
            case .stheader:
                let url = try write(LargeSafeTensors.expand(data), "c.safetensors", in: dir)
                return outcome { _ = try ModelLoader.checkpoint(url.path) }
            }
        } catch {
            fatalError("fuzz harness: cannot write to the scratch folder \(dir.path): \(error)")
        }
    }

    /// Splits at the first NUL byte (the second part excludes it; empty when there is none).
    static func split(_ d: Data) -> (Data, Data) {
        guard let i = d.firstIndex(of: 0) else { return (d, Data()) }
        return (Data(d[d.startIndex..<i]), Data(d[(i + 1)...]))
    }

    func write(_ d: Data, _ name: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try d.write(to: url)
        return url
    }

    /// A per-process folder (in /dev/shm when present, so the file system is not the bottleneck).
    static let scratch: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm")
            : FileManager.default.temporaryDirectory
        let dir = base.appendingPathComponent("lmprobe-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Removes the scratch folder (call at exit).
    public static func cleanUp() { try? FileManager.default.removeItem(at: scratch) }
}

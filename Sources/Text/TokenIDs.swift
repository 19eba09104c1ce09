import Foundation
import Support

/// Text that *is* token ids: decimal ids separated by single spaces ("17 3 905"). It is how a labelled dataset over
/// an already-tokenised language (e.g. the synthetic HMM language of `lmprobe synth`) travels through the pipeline:
/// the token-id dataset format (`LabelledDataset.readTokenIDs`, files `*.ids`) holds one `label<TAB>ids` line per
/// example, and `TokenIDText` is the identity "tokenizer" the extractor uses for it, so prompts (`--prompt "5 9"`)
/// and word subsets (`--words "3 4"`) are ids too and no second tokenisation path exists.
public struct TokenIDText: Sendable {
    public init() {}

    /// The ids of `text`, or nil when it is not a non-empty list of decimal ids in 0...Int32.max separated by
    /// whitespace.
    public static func parse(_ text: Substring) -> [Int]? {
        var ids: [Int] = []
        for field in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            guard field.utf8.count <= 10, field.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let v = Int(field), v <= Int(Int32.max) else { return nil }
            ids.append(v)
        }
        return ids.isEmpty ? nil : ids
    }

    public static func parse(_ text: String) -> [Int]? { parse(text[...]) }

    /// The canonical text of `ids` ("17 3 905").
    public static func text(_ ids: [Int]) -> String { ids.map(String.init).joined(separator: " ") }

    /// The ids of `text`; [] when it is not valid token-id text (readers validate first, so that means empty).
    public func encode(_ text: String) -> [Int] { Self.parse(text) ?? [] }

    /// The id when `text` is exactly one id.
    public func singleTokenID(_ text: String) -> Int? {
        guard let ids = Self.parse(text), ids.count == 1 else { return nil }
        return ids[0]
    }
}

extension LabelledDataset {
    /// The token-id dataset format: one `label<TAB>id id …` line per example (ids decimal, space-separated);
    /// blank lines are skipped. Every line is validated here (a bad id names its line), and texts are stored in the
    /// canonical form of `TokenIDText`.
    public static func readTokenIDs(_ url: URL, classNames: [String]? = nil) throws -> LabelledDataset {
        let text = try readUTF8(url)
        var rows: [(String, String, Int)] = []
        for (i, line) in textLines(text).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let tab = line.firstIndex(of: "\t") else { throw TextError(file: url, line: i + 1, "no tab between label and token ids") }
            let label = line[..<tab].trimmingCharacters(in: .whitespaces)
            if label.isEmpty { throw TextError(file: url, line: i + 1, "empty label") }
            guard let ids = TokenIDText.parse(line[line.index(after: tab)...]) else {
                throw TextError(file: url, line: i + 1, "expected space-separated decimal token ids after the tab")
            }
            rows.append((label, TokenIDText.text(ids), i + 1))
        }
        return try make(rows, file: url.path, source: url.path, classNames: classNames, detokenize: .none)
    }

    /// Writes `dataset` in the token-id format (atomically); every text must be token-id text.
    public static func writeTokenIDs(_ dataset: LabelledDataset, to url: URL) throws {
        var out = ""
        for (t, l) in zip(dataset.texts, dataset.labels) {
            guard TokenIDText.parse(t) != nil else { throw TextError(file: url, "text \"\(t.prefix(40))\" is not token-id text") }
            out += dataset.classNames[l] + "\t" + t + "\n"
        }
        do { try AtomicFile.write(Data(out.utf8), to: url) }
        catch { throw TextError(file: url, "cannot write (\(ioErrorText(error)))") }
    }
}

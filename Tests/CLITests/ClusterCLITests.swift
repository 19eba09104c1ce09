import Foundation
import Model
import XCTest

/// Data-parallel pretraining under `mpirun` (built with the MPI trait: `make test` enables it when OpenMPI is
/// installed, `.ci/run` installs it). Without the trait these tests are skipped with a reason, and the one test
/// that runs checks that a non-MPI build refuses to be launched as several ranks.
final class ClusterCLITests: XCTestCase {
    nonisolated(unsafe) static var tokens: URL?

    override class func tearDown() {
        if let t = tokens { try? FileManager.default.removeItem(at: t.deletingLastPathComponent()) }
        tokens = nil
    }

    /// A 400-line corpus tokenized once per test process.
    static func tokenFolder() throws -> URL {
        if let t = tokens { return t }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let words = "the movie film story plot actor scene ending cast great boring sad happy dull awful is was and"
            .split(separator: " ")
        var state: UInt64 = 99
        var lines: [String] = []
        for _ in 0..<400 {
            lines.append((0..<12).map { _ -> String in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return String(words[Int((state >> 33) % UInt64(words.count))])
            }.joined(separator: " ") + ".")
        }
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        let r = try runLMProbe(["tokenize", "--out", dir.path + "/tok", "--vocab-size", "300", "--doc-split", "line",
                                dir.path + "/corpus.txt"])
        guard r.status == 0 else { throw FixtureError(description: "tokenize failed: \(r.stderr)") }
        tokens = dir.appendingPathComponent("tok")
        return tokens!
    }

    static let model = ["--layers", "1", "--dim", "16", "--heads", "2", "--context", "16", "--batch", "4",
                        "--warmup", "2", "--eval-every", "3", "--eval-batches", "2", "--threads", "1"]

    #if MPI
    /// `mpirun -np N` (as root too: OMPI_ALLOW_RUN_AS_ROOT; --oversubscribe: more ranks than this box's cores).
    func mpirun(_ n: Int, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runToCompletion(try mpiProcess(n, arguments))
    }

    func mpiProcess(_ n: Int, _ arguments: [String]) throws -> Process {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let mpirun = path.split(separator: ":").map({ "\($0)/mpirun" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw FixtureError(description: "built with the MPI trait but mpirun is not on PATH (apt-get install openmpi-bin, or make test MPI=1)")
        }
        return configuredProcess(URL(fileURLWithPath: mpirun),
                                 ["-np", "\(n)", "--oversubscribe", lmprobeBinary.path] + arguments,
                                 environment: Self.mpiAsRoot)
    }

    /// Starts `p` with its stderr in DIR/stderr.txt (read after it ends) and its stdout discarded.
    func start(_ p: Process, stderrIn dir: URL) throws -> (URL, FileHandle) {
        let errURL = dir.appendingPathComponent("stderr.txt")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (errURL, err)
    }

    /// OpenMPI refuses to run as root (as CI does) without these.
    static let mpiAsRoot = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// Parameters and AdamW moments of a training checkpoint, flat.
    func state(_ url: URL) throws -> [Float] {
        let (model, opt, _, _) = try Checkpoint.loadForResume(url: url)
        let n = model.layout.count
        return Array(UnsafeBufferPointer(start: model.parameters.pointer, count: n))
            + Array(UnsafeBufferPointer(start: opt.m.pointer, count: n))
            + Array(UnsafeBufferPointer(start: opt.v.pointer, count: n))
    }

    func testTwoRanksAreBitIdenticalToGradAccumTwo() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["pretrain", "--data", tok, "--steps", "6", "--log-every", "1"] + Self.model
        let one = try runLMProbe(common + ["--grad-accum", "2", "--out", dir.path + "/one"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, common + ["--out", dir.path + "/two"])
        XCTAssertEqual(two.status, 0, two.stderr)
        // Rank 0 alone prints: one summary, not two.
        XCTAssertEqual(two.stdout.components(separatedBy: "finished at step 6/6").count, 2, two.stdout)
        XCTAssertTrue(two.stderr.contains("× 2 ranks"), two.stderr)
        let a = try state(dir.appendingPathComponent("one/final.safetensors"))
        let b = try state(dir.appendingPathComponent("two/final.safetensors"))
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a.elementsEqual(b, by: { $0.bitPattern == $1.bitPattern }), "2 ranks differ from --grad-accum 2")
        // The same losses were logged (rank 0 wrote the log).
        let logA = try String(contentsOf: dir.appendingPathComponent("one/log.jsonl"), encoding: .utf8)
        let logB = try String(contentsOf: dir.appendingPathComponent("two/log.jsonl"), encoding: .utf8)
        func losses(_ s: String) -> [String] { s.split(separator: "\n").compactMap { l in
            l.split(separator: ",").first(where: { $0.hasPrefix("\"loss\"") }).map(String.init) } }
        XCTAssertEqual(losses(logA), losses(logB))
        XCTAssertEqual(losses(logA).count, 6)

        // Three ranks vs --grad-accum 3: the sum order differs, so equal to rounding only.
        let one3 = try runLMProbe(common + ["--grad-accum", "3", "--out", dir.path + "/one3"])
        XCTAssertEqual(one3.status, 0, one3.stderr)
        let three = try mpirun(3, common + ["--out", dir.path + "/three"])
        XCTAssertEqual(three.status, 0, three.stderr)
        let p3 = try Checkpoint.load(url: dir.appendingPathComponent("one3/final.safetensors")).model
        let q3 = try Checkpoint.load(url: dir.appendingPathComponent("three/final.safetensors")).model
        let n = p3.layout.count
        var num = 0.0, den = 0.0
        for i in 0..<n {
            let d = Double(p3.parameters.pointer[i]) - Double(q3.parameters.pointer[i])
            num += d * d
            den += Double(p3.parameters.pointer[i]) * Double(p3.parameters.pointer[i])
        }
        XCTAssertLessThanOrEqual((num / den).squareRoot(), 1e-6, "3 ranks vs --grad-accum 3")
    }

    func testResumeWithTheSameRankCountContinuesBitIdentically() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let common = ["pretrain", "--data", tok, "--steps", "6", "--checkpoint-every", "3", "--keep-checkpoints"] + Self.model
        let full = try mpirun(2, common + ["--out", dir.path + "/full"])
        XCTAssertEqual(full.status, 0, full.stderr)
        // A run stopped at step 3: the same folder with only ckpt-3 and `latest` naming it.
        let half = dir.appendingPathComponent("half")
        try fm.createDirectory(at: half, withIntermediateDirectories: true)
        try fm.copyItem(at: dir.appendingPathComponent("full/ckpt-3.safetensors"), to: half.appendingPathComponent("ckpt-3.safetensors"))
        try "ckpt-3.safetensors\n".write(to: half.appendingPathComponent("latest"), atomically: true, encoding: .utf8)

        let wrong = try runLMProbe(["pretrain", "--data", tok, "--out", half.path, "--resume", "--threads", "1"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("2 rank(s); resume it with the same number (mpirun -np 2), not 1"), wrong.stderr)

        let resumed = try mpirun(2, ["pretrain", "--data", tok, "--out", half.path, "--resume", "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let a = try state(dir.appendingPathComponent("full/final.safetensors"))
        let b = try state(half.appendingPathComponent("final.safetensors"))
        XCTAssertTrue(a.elementsEqual(b, by: { $0.bitPattern == $1.bitPattern }), "resumed 2-rank run differs")
    }

    func testADeadRankEndsTheJobWithAMessage() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try mpiProcess(2, ["pretrain", "--data", tok, "--steps", "1000000", "--out", dir.path + "/run"] + Self.model)
        let (errURL, err) = try start(p, stderrIn: dir)
        defer { if p.isRunning { p.terminate() } }
        // Wait until both ranks train (the log has steps), then kill rank 1's process (a child of mpirun).
        let log = dir.appendingPathComponent("run/log.jsonl")
        var waited = 0.0
        while waited < 120, ((try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 3 {
            Thread.sleep(forTimeInterval: 0.2); waited += 0.2
        }
        let children = childProcesses(of: p.processIdentifier)
        XCTAssertEqual(children.count, 2, "expected two rank processes under mpirun")
        guard children.count == 2 else { return }
        kill(children.max()!, SIGKILL)   // launched in rank order: the larger pid is rank 1 (either one will do)
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertFalse(p.isRunning, "the surviving rank did not exit within 60 s of its peer's death")
        try? err.close()
        XCTAssertNotEqual(p.terminationStatus, 0)
        let text = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("exited on signal 9") || text.contains("did another rank die?"), text)
        XCTAssertTrue(childProcesses(of: p.processIdentifier).isEmpty)
    }

    /// experiments/cluster/pretrain.sbatch with LAUNCH="mpirun -np 2 --oversubscribe" (the srun line's local
    /// equivalent): a fresh run, then the same script again continues it with --resume.
    func testPretrainScriptUnderMpirunTrainsAndResumes() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = repositoryRoot.appendingPathComponent("experiments/cluster/pretrain.sbatch")
        func run(steps: Int) throws -> (Int32, String) {
            let env = Self.mpiAsRoot.merging([
                "LAUNCH": "mpirun -np 2 --oversubscribe", "LMPROBE": lmprobeBinary.path, "DATA": tok,
                "OUT": dir.path + "/run",
                "PRETRAIN_ARGS": (["--steps", "\(steps)", "--checkpoint-every", "2"] + Self.model.dropLast(2)).joined(separator: " "),
            ]) { $1 }
            let r = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/sh"), [script.path], environment: env))
            return (r.status, r.stdout)
        }
        let (s1, o1) = try run(steps: 4)
        XCTAssertEqual(s1, 0, o1)
        XCTAssertTrue(o1.contains("finished at step 4/4"), o1)
        // The resubmitted job finds RUNDIR/latest and resumes (nothing left to train: it says so and stops).
        let (s2, o2) = try run(steps: 4)
        XCTAssertEqual(s2, 0, o2)
        XCTAssertTrue(o2.contains("at step 4/4"), o2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.path + "/run/final.safetensors"))
    }

    /// `mpirun -np 1 lmprobe A : -np 1 lmprobe B`: one rank per argument list (MPMD), as a user mixing flags would.
    func mpirunEach(_ argumentLists: [[String]]) throws -> (status: Int32, stdout: String, stderr: String) {
        let first = try mpiProcess(1, argumentLists[0])
        var arguments = first.arguments ?? []
        for a in argumentLists.dropFirst() { arguments += [":", "-np", "1", lmprobeBinary.path] + a }
        first.arguments = arguments
        return try runToCompletion(first)
    }

    func testRanksStartedWithDifferentOptionsAreRefusedNamingTheFirstDifference() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A second token folder with other contents (another vocabulary size) for --data.
        let other = dir.appendingPathComponent("tok-other").path
        let t = try runLMProbe(["tokenize", "--out", other, "--vocab-size", "280", "--doc-split", "line",
                                tok + "/../corpus.txt"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let out = dir.appendingPathComponent("run").path
        func pretrain(_ extra: [String], data: String = tok, out: String = out) -> [String] {
            ["pretrain", "--data", data, "--out", out, "--steps", "3"] + Self.model + extra
        }
        // Each pair: rank 0's and rank 1's options, and the expected refusal. Before the agreement these ranks
        // corrupted the heap (--dim), hung forever (--steps) or trained and exited 0 (the others).
        let cases: [([String], [String], String)] = [
            (pretrain(["--dim", "16"]), pretrain(["--dim", "32"]), "mpirun ranks disagree on --dim: rank 0 has 16, rank 1 has 32"),
            (pretrain([]), pretrain(["--steps", "4"]), "mpirun ranks disagree on --steps: rank 0 has 3, rank 1 has 4"),
            (pretrain([]), pretrain(["--lr", "0.002"]), "mpirun ranks disagree on --lr: rank 0 has the default, rank 1 has 0.002"),
            (pretrain([]), pretrain(["--seed", "7"]), "mpirun ranks disagree on --seed: rank 0 has the default, rank 1 has 7"),
            (pretrain([]), pretrain([], out: out + "-elsewhere"), "mpirun ranks disagree on --out: rank 0 has \(out), rank 1 has \(out)-elsewhere"),
            (pretrain([]), pretrain([], data: other), "mpirun ranks disagree on --data: rank 0 has token files "),
            // Two differences: the one declared first (the model shape before the seed) is named.
            (pretrain([]), pretrain(["--seed", "7", "--dim", "32"]), "mpirun ranks disagree on --dim: rank 0 has 16, rank 1 has 32"),
        ]
        for (a, b, message) in cases {
            let r = try mpirunEach([a, b])
            XCTAssertNotEqual(r.status, 0, message)
            XCTAssertTrue(r.stderr.contains("Error: " + message), "expected \(message) in:\n\(r.stderr)")
            // Printed once (rank 0), and no rank started training: nothing was written.
            XCTAssertEqual(r.stderr.components(separatedBy: "ranks disagree").count, 2, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "-elsewhere"), message)
        }
        // Three ranks, the last one differing: the rank is named.
        let three = try mpirunEach([pretrain([]), pretrain([]), pretrain(["--warmup", "1"])])
        XCTAssertNotEqual(three.status, 0)
        XCTAssertTrue(three.stderr.contains("mpirun ranks disagree on --warmup: rank 0 has 2, rank 2 has 1"), three.stderr)
    }

    /// A rank that fails on its own before the agreement (here: its --data does not exist) used to wait in
    /// MPI_Finalize for ranks that wait for it in the agreement: the job hung. It now ends with the rank's error.
    func testARankFailingAloneBeforeTheFirstStepEndsTheJob() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["--out", dir.path + "/run", "--steps", "3"] + Self.model
        let p = try mpiProcess(1, ["pretrain", "--data", tok] + common)
        p.arguments! += [":", "-np", "1", lmprobeBinary.path, "pretrain", "--data", dir.path + "/missing"] + common
        let (errURL, err) = try start(p, stderrIn: dir)
        defer { if p.isRunning { p.terminate() } }
        let deadline = Date().addingTimeInterval(60)   // a hang detector, not a timing assertion
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertFalse(p.isRunning, "the job still runs 60 s after rank 1 failed")
        try? err.close()
        guard !p.isRunning else { return }
        XCTAssertNotEqual(p.terminationStatus, 0)
        let text = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains(dir.path + "/missing"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/run/log.jsonl"))
    }

    func testRanksMayDifferInThreadCountOnly() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["pretrain", "--data", tok, "--out", dir.path + "/run", "--steps", "2"] + Self.model.dropLast(2)
        let r = try mpirunEach([common + ["--threads", "1"], common + ["--threads", "2"]])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("finished at step 2/2"), r.stdout)
    }

    func testExtractAndTokenizeRefuseToRunAsSeveralMpirunRanks() throws {
        let tok = try Self.tokenFolder()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = tok.deletingLastPathComponent().appendingPathComponent("corpus.txt").path
        let t = try mpirun(2, ["tokenize", "--out", dir.path + "/tok", "--vocab-size", "300", corpus])
        XCTAssertNotEqual(t.status, 0)
        XCTAssertTrue(t.stderr.contains("Error: lmprobe tokenize does not divide its work among mpirun/srun ranks (this is rank 0 of 2)"), t.stderr)
        XCTAssertEqual(t.stderr.components(separatedBy: "does not divide").count, 2, t.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/tok"))
        let e = try mpirun(2, ["extract", "--checkpoint", dir.path + "/none.safetensors", "--dataset", corpus,
                               "--out", dir.path + "/features"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("Error: lmprobe extract does not divide its work among mpirun/srun ranks"), e.stderr)
        XCTAssertTrue(e.stderr.contains("--shard k/n"), e.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/features"))
    }

    /// Pids whose parent is `pid` (from /proc).
    func childProcesses(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { e -> Int32? in
            guard let child = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }
    #else
    func testMPITestsAreSkippedWithoutTheTrait() throws {
        throw XCTSkip("MPI tests SKIPPED: this build has no MPI trait (make test enables it when OpenMPI is installed; make test MPI=1 installs it)")
    }

    func testABuildWithoutMPIRefusesToRunAsSeveralRanks() throws {
        let tok = try Self.tokenFolder().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runToCompletion(configuredProcess(
            lmprobeBinary, ["pretrain", "--data", tok, "--steps", "2", "--out", dir.path] + Self.model,
            environment: ["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("built without MPI but was launched as rank 1 of 2"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path))
    }
    #endif

    /// A launcher's environment (no mpirun needed, so this runs in every build): rank 0 of 2 prints why, rank 1
    /// fails without a word (rank 0's line is the job's one message).
    func testCommandsThatDoNotShardRefuseEveryRankOfALaunch() throws {
        let tok = try Self.tokenFolder()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = tok.deletingLastPathComponent().appendingPathComponent("corpus.txt").path
        let commands: [(String, [String])] = [
            ("tokenize", ["tokenize", "--out", dir.path + "/out", "--vocab-size", "300", corpus]),
            ("extract", ["extract", "--checkpoint", dir.path + "/none.safetensors", "--dataset", corpus, "--out", dir.path + "/out"]),
        ]
        for (name, arguments) in commands {
            let zero = try runToCompletion(configuredProcess(lmprobeBinary, arguments,
                environment: ["OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2"]))
            XCTAssertEqual(zero.status, 1, name)
            XCTAssertEqual(zero.stderr.split(separator: "\n").count, 1, zero.stderr)
            XCTAssertTrue(zero.stderr.hasPrefix("Error: lmprobe \(name) does not divide its work among mpirun/srun ranks (this is rank 0 of 2)"), zero.stderr)
            let one = try runToCompletion(configuredProcess(lmprobeBinary, arguments,
                environment: ["PMI_RANK": "1", "PMI_SIZE": "2"]))
            XCTAssertEqual(one.status, 1, name)
            XCTAssertEqual(one.stderr, "", name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/out"), name)
            // A launch of one rank is a plain process: the command runs (and fails here only on the missing file).
            let single = try runToCompletion(configuredProcess(lmprobeBinary, arguments,
                environment: ["OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1"]))
            XCTAssertFalse(single.stderr.contains("does not divide"), single.stderr)
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("out"))
        }
    }
}

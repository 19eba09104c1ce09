// The module overview (Cluster's purpose, guarantees and notation) is Cluster.docc/Cluster.md.
import Foundation
import Model
#if MPI
import CMPI
#endif

/// A one-line failure of the cluster layer. An empty description is a rank's silent failure: swift-argument-parser
/// prints nothing for it and exits 1, so a refusal every rank reaches is printed once (by rank 0).
public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    /// True when every rank throws this error at the same point (so they may all leave MPI normally).
    public let collective: Bool
    public init(_ description: String, collective: Bool = false) {
        self.description = description
        self.collective = collective
    }
}

public enum Cluster {
    /// True when this build links MPI (package trait MPI).
    public static var mpiBuilt: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// (rank, size) announced by a launcher in the environment — OpenMPI's mpirun (OMPI_COMM_WORLD_*), a PMI/PMIx
    /// launcher such as srun (PMI_RANK/PMI_SIZE, PMIX_RANK) — or nil for a process started by hand.
    public static func launch(environment env: [String: String] = ProcessInfo.processInfo.environment)
        -> (rank: Int, size: Int?)? {
        if let r = env["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) { return (r, env["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init)) }
        if let r = env["PMI_RANK"].flatMap(Int.init) { return (r, env["PMI_SIZE"].flatMap(Int.init)) }
        if let r = env["PMIX_RANK"].flatMap(Int.init) { return (r, env["SLURM_NTASKS"].flatMap(Int.init)) }
        return nil
    }

    /// Ranks a launcher placed on this node (OMPI_COMM_WORLD_LOCAL_SIZE, or Slurm's SLURM_NTASKS_PER_NODE), or nil.
    /// With N local ranks each should use about 1/N of the cores (`Pretrain` divides its default thread count).
    public static func localRanks(environment env: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard launch(environment: env) != nil else { return nil }
        return env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? env["SLURM_NTASKS_PER_NODE"].flatMap(Int.init)
    }

    /// The communicator of a process started by mpirun/srun, or nil for a single process. Throws when a launcher
    /// started several ranks but this build has no MPI, or when MPI_Init fails.
    public static func join() throws -> GradientReducer? {
        guard let l = launch() else { return nil }
        #if MPI
        _ = l
        return try MPICommunicator()
        #else
        if let n = l.size, n <= 1 { return nil }
        throw ClusterError("this lmprobe was built without MPI but was launched as rank \(l.rank)\(l.size.map { " of \($0)" } ?? "") by mpirun/srun: rebuild with `make build MPI=1` (or `swift build --traits MPI`)")
        #endif
    }

    /// Ends MPI on a communicator from `join()` (MPI_Finalize; a no-op for nil).
    public static func leave(_ c: GradientReducer?) {
        #if MPI
        (c as? MPICommunicator)?.finalize()
        #endif
    }

    /// Runs `body` (a command's work over the ranks from `join()`) and ends MPI as its outcome requires: after
    /// success, or an error every rank threw together (`ClusterError.collective`, e.g. `agree`'s refusal),
    /// MPI_Finalize. After any other error this rank leaves WITHOUT MPI_Finalize — which would wait for ranks
    /// that are themselves waiting for this one in a collective (a rank that cannot read its --data while the
    /// others agree, rank 0 failing to write a checkpoint) — and exits with the error; the launcher then ends the
    /// other ranks.
    public static func session(_ c: GradientReducer?, _ body: (GradientReducer?) throws -> Void) throws {
        do { try body(c) } catch {
            if (error as? ClusterError)?.collective == true { leave(c) }
            throw error
        }
        leave(c)
    }
}

#if MPI
/// MPI_COMM_WORLD of an mpirun/srun job.
public final class MPICommunicator: GradientReducer {
    public let rank: Int
    public let size: Int
    private var finalized = false

    /// MPI_Init_thread (funnelled: lmprobe's worker threads never call MPI), errors returned instead of fatal.
    public init() throws {
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
            guard rc == MPI_SUCCESS else { throw ClusterError("MPI_Init_thread failed: \(Self.message(rc))") }
        }
        let world = lmprobe_mpi_comm_world()
        MPI_Comm_set_errhandler(world, lmprobe_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
    }

    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        var offset = 0
        while offset < count {
            let c = min(count - offset, Int(Int32.max))
            let rc = MPI_Allreduce(lmprobe_mpi_in_place(), values + offset, Int32(c), lmprobe_mpi_float(),
                                   lmprobe_mpi_sum(), lmprobe_mpi_comm_world())
            try check(rc, "MPI_Allreduce of \(count) floats")
            offset += c
        }
    }

    public func sum(_ values: inout [Double]) throws {
        let n = Int32(values.count)
        let rc = values.withUnsafeMutableBufferPointer { b in
            MPI_Allreduce(lmprobe_mpi_in_place(), b.baseAddress, n, lmprobe_mpi_double(), lmprobe_mpi_sum(),
                          lmprobe_mpi_comm_world())
        }
        try check(rc, "MPI_Allreduce of \(n) doubles")
    }

    /// Rank `root`'s `bytes` on every rank (the argument is ignored on the others): MPI_Bcast of the length, then
    /// of the bytes packed in 64-bit words.
    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        var count: [Int64] = [Int64(bytes.count)]
        try broadcast(&count, from: root)
        let n = Int(count[0])
        guard n >= 0, n <= 1 << 30 else { throw ClusterError("rank \(rank): rank \(root) announced \(n) bytes to broadcast", collective: true) }
        var words = [Int64](repeating: 0, count: (n + 7) / 8)
        if rank == root { words.withUnsafeMutableBytes { $0.copyBytes(from: bytes) } }
        try broadcast(&words, from: root)
        return words.withUnsafeBytes { Array($0.prefix(n)) }
    }

    /// MPI_Bcast of `values` from rank `root` (every rank passes the same count).
    public func broadcast(_ values: inout [Int64], from root: Int) throws {
        let n = Int32(values.count)
        let rc = values.withUnsafeMutableBufferPointer { b in
            MPI_Bcast(b.baseAddress, n, lmprobe_mpi_long_long(), Int32(root), lmprobe_mpi_comm_world())
        }
        try check(rc, "MPI_Bcast of \(n) integers from rank \(root)")
    }

    /// Elementwise maximum over all ranks, in place, on every rank.
    public func max(_ values: inout [Int64]) throws {
        let n = Int32(values.count)
        let rc = values.withUnsafeMutableBufferPointer { b in
            MPI_Allreduce(lmprobe_mpi_in_place(), b.baseAddress, n, lmprobe_mpi_long_long(), lmprobe_mpi_max(),
                          lmprobe_mpi_comm_world())
        }
        try check(rc, "MPI_Allreduce (max) of \(n) integers")
    }

    /// Set on a rank that fails silently while rank 0 reports why (`Cluster.agree`): `finalize` then waits a
    /// moment, so the launcher, which aborts the job at the first failed rank, does not cut rank 0 off first.
    var pauseAfterFinalize = false

    func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
        if pauseAfterFinalize { Thread.sleep(forTimeInterval: 1) }
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc != MPI_SUCCESS else { return }
        throw ClusterError("rank \(rank) of \(size): \(what) failed (\(Self.message(rc))) — did another rank die?")
    }

    static func message(_ rc: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(rc, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
#endif

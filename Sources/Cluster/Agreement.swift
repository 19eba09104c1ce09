import Foundation
import Model
import Support

/// A run's configuration as an ordered list of (option, canonical value) pairs — the same list on every rank that
/// was started with the same options — with one canonical byte encoding and its SHA-256 digest.
///
/// Ranks of one `mpirun` job must agree on it before their first collective: ranks that differ in the model shape
/// exchange gradient blocks of different lengths (heap corruption), in the step count wait in an allreduce the
/// others never reach (a hang), and in the learning rate, seed or data drift apart silently.
public struct RunConfiguration: Equatable, Sendable {
    public struct Option: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public var options: [Option]

    public init(_ options: [Option]) { self.options = options }

    /// Length-prefixed `name` and `value` of each option in order: `4:--dim2:32…` (unambiguous for any text).
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        for o in options {
            for s in [o.name, o.value] { out += Array("\(s.utf8.count):".utf8) + Array(s.utf8) }
        }
        return out
    }

    /// SHA-256 (hex) of `canonicalBytes`.
    public var digest: String { SHA256.hex(canonicalBytes) }

    /// Inverse of `canonicalBytes`; nil for bytes it did not write.
    public init?(canonicalBytes bytes: [UInt8]) {
        var fields: [String] = [], i = 0
        while i < bytes.count {
            guard let colon = bytes[i...].firstIndex(of: UInt8(ascii: ":")),
                  let n = Int(String(decoding: bytes[i..<colon], as: UTF8.self)), n >= 0,
                  n <= bytes.count - colon - 1 else { return nil }
            fields.append(String(decoding: bytes[(colon + 1)..<(colon + 1 + n)], as: UTF8.self))
            i = colon + 1 + n
        }
        guard fields.count % 2 == 0 else { return nil }
        options = stride(from: 0, to: fields.count, by: 2).map { Option(name: fields[$0], value: fields[$0 + 1]) }
    }

    /// Index of the first option whose name or value differs from `other`'s (a missing option counts as
    /// different), or nil when the two lists are equal.
    public func firstDifference(from other: RunConfiguration) -> Int? {
        for i in 0..<max(options.count, other.options.count) {
            guard i < options.count, i < other.options.count, options[i] == other.options[i] else { return i }
        }
        return nil
    }

    /// The parsed options of a swift-argument-parser command (its `@Option`, `@Flag` and `@Argument` properties,
    /// those of its `@OptionGroup`s in place), read by reflection, in declaration order, named as the parser names
    /// them by default (`checkpointEvery` → `--checkpoint-every`, an argument `<name>`). `replacing` gives an
    /// option another canonical value (e.g. a data folder by its content hash, so node-local copies agree);
    /// `ignoring` leaves out options that may differ between ranks (e.g. `--threads`).
    public static func of(command: Any, replacing: [String: String] = [:], ignoring: Set<String> = [])
        -> RunConfiguration {
        var options: [Option] = []
        collect(command, into: &options)
        options = options.filter { !ignoring.contains($0.name) }
            .map { Option(name: $0.name, value: replacing[$0.name] ?? $0.value) }
        return RunConfiguration(options)
    }

    /// Appends the options of `command` (recursing into option groups).
    static func collect(_ command: Any, into options: inout [Option]) {
        for child in Mirror(reflecting: command).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let wrapper = String(describing: type(of: child.value))
            let value = parsedValue(of: child.value)
            if wrapper.hasPrefix("OptionGroup<") {
                if let group = value { collect(group, into: &options) }
            } else if wrapper.hasPrefix("Option<") || wrapper.hasPrefix("Flag<") || wrapper.hasPrefix("Argument<") {
                let name = wrapper.hasPrefix("Argument<") ? "<\(label.dropFirst())>" : "--" + kebab(label.dropFirst())
                options.append(Option(name: name, value: value.map(canonical) ?? String(describing: child.value)))
            }
        }
    }

    /// The value a property wrapper holds after parsing (its `_parsedValue` is `.value(v)`), or nil.
    static func parsedValue(of wrapper: Any) -> Any? {
        guard let parsed = Mirror(reflecting: wrapper).children.first(where: { $0.label == "_parsedValue" })?.value,
              let payload = Mirror(reflecting: parsed).children.first, payload.label == "value" else { return nil }
        return payload.value
    }

    /// `nil` (an option not given, so its default applies) → "the default", `Optional(x)` → x, arrays comma-separated, anything else as Swift describes it.
    static func canonical(_ value: Any) -> String {
        let m = Mirror(reflecting: value)
        switch m.displayStyle {
        case .optional?: return m.children.first.map { canonical($0.value) } ?? "the default"
        case .collection?: return m.children.map { canonical($0.value) }.joined(separator: ",")
        default: return String(describing: value)
        }
    }

    /// `checkpointEvery` → `checkpoint-every` (swift-argument-parser's default long name).
    static func kebab<S: StringProtocol>(_ s: S) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase { if !out.isEmpty { out.append("-") }; out += ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

extension Cluster {
    /// Refuses to go on unless every rank of `ranks` runs `configuration`: rank 0's digest is broadcast and
    /// compared on every rank; on a mismatch the ranks exchange enough to name the first differing option and
    /// every rank throws (rank 0 with the one-line reason, the others an empty `ClusterError` and a pause after
    /// MPI_Finalize, so the reason is printed once, before the launcher aborts the job). A no-op for one process. Call it on every rank, before the first other collective.
    public static func agree(on configuration: RunConfiguration, ranks: GradientReducer?) throws {
        #if MPI
        guard let world = ranks as? MPICommunicator, world.size > 1 else { return }
        let mine = configuration.canonicalBytes
        let rootDigest = try world.broadcast(Array(configuration.digest.utf8), from: 0)
        var mismatch: [Int64] = [rootDigest == Array(configuration.digest.utf8) ? 0 : 1]
        try world.max(&mismatch)
        guard mismatch[0] != 0 else { return }
        // Somebody differs: every rank learns rank 0's list, the lowest (index, rank) of a difference is agreed,
        // and that rank tells the others its option.
        // Every rank takes part in every collective below whatever it finds (a rank that threw early would leave
        // the others waiting); a list that does not decode counts as differing at its first option.
        let rootConfiguration = RunConfiguration(canonicalBytes: try world.broadcast(mine, from: 0))
        let index = rootConfiguration.map { configuration.firstDifference(from: $0) ?? Int(Int32.max) } ?? 0
        var lowest: [Int64] = [-Int64(index)]
        try world.max(&lowest)
        let first = Int(-lowest[0])
        var lowestRank: [Int64] = [index == first && world.rank > 0 ? -Int64(world.rank) : -Int64(world.size - 1)]
        try world.max(&lowestRank)
        let reporter = Int(-lowestRank[0])
        let theirs = first < configuration.options.count ? configuration.options[first] : nil
        let sent = RunConfiguration(canonicalBytes: try world.broadcast(
            RunConfiguration(theirs.map { [$0] } ?? []).canonicalBytes, from: reporter))
        guard world.rank == 0 else {
            world.pauseAfterFinalize = true   // rank 0 prints after its MPI_Finalize; let it, before this rank exits
            throw ClusterError("", collective: true)
        }
        let ours = rootConfiguration.flatMap { first < $0.options.count ? $0.options[first] : nil }
        throw ClusterError(disagreement(ours: ours, theirs: sent?.options.first, rank: reporter), collective: true)
        #else
        _ = (configuration, ranks)
        #endif
    }

    /// The failure of a rank other than 0 in a refusal every rank reaches without MPI: an empty message, after a
    /// pause. The launcher aborts the job as soon as one rank exits with an error; the pause lets rank 0 print the
    /// reason first (a failure path only; nothing waits on success).
    static func silentFailure() -> ClusterError {
        Thread.sleep(forTimeInterval: 1)
        return ClusterError("")
    }

    /// "ranks disagree on --dim: rank 0 has 32, rank 1 has 64 …", or the same for option lists of two builds.
    static func disagreement(ours: RunConfiguration.Option?, theirs: RunConfiguration.Option?, rank: Int) -> String {
        let fix = "start every rank with the same options"
        if let a = ours, let b = theirs, a.name == b.name {
            return "mpirun ranks disagree on \(a.name): rank 0 has \(a.value), rank \(rank) has \(b.value); \(fix)"
        }
        let describe = { (o: RunConfiguration.Option?) in o.map { "\($0.name) \($0.value)" } ?? "no further option" }
        return "mpirun ranks run different option lists: rank 0 has \(describe(ours)) where rank \(rank) has \(describe(theirs)) (different lmprobe builds?); \(fix)"
    }

    /// Refuses, before any work, to run `command` as one of several ranks of an mpirun/srun job: such a command
    /// does not divide its work among ranks, so N full copies would race on one output. Rank 0 throws the
    /// one-line reason (with `hint`, how to split the work instead); the other ranks `silentFailure()`, so the
    /// reason is printed once. Reads only the launcher's environment (no MPI needed).
    public static func refuseSeveralRanks(command: String, hint: String,
                                          environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let l = launch(environment: environment), l.rank > 0 || (l.size ?? 1) > 1 else { return }
        guard l.rank == 0 else { throw silentFailure() }
        throw ClusterError("lmprobe \(command) does not divide its work among mpirun/srun ranks (this is rank 0 of \(l.size.map(String.init) ?? "several")): run it as one process; \(hint)")
    }
}

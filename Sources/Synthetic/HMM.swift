import Foundation
import Linalg
import Support

/// One-line errors of the synthetic-language stage.
public enum SyntheticError: Error, CustomStringConvertible {
    case badArgument(String)
    case file(path: String, message: String)

    public var description: String {
        switch self {
        case let .badArgument(m): return m
        case let .file(path, m): return "\(path): \(m)"
        }
    }
}

/// How `HiddenMarkovModel.generate` draws a language.
public struct HMMConfig: Codable, Equatable, Sendable {
    /// K hidden states and V words (word ids 0..<V).
    public var states: Int
    public var words: Int
    /// Dirichlet concentration of each emission row (over V words) and each transition row (over K states).
    public var emissionConcentration: Double
    public var transitionConcentration: Double
    /// Word classes: `classes` disjoint random sets of `classSize` words (class 0 "negative", class 1 "positive"
    /// when there are two). A fraction `favouringFraction` of the states favours each class: such a state's emission
    /// row is (1 − classMass)·Dirichlet draw + classMass·uniform over its class. 0 classes: no classes.
    public var classes: Int
    public var classSize: Int
    public var classMass: Double
    public var favouringFraction: Double
    public var seed: UInt64

    public init(states: Int = 64, words: Int = 1024, emissionConcentration: Double = 0.05,
                transitionConcentration: Double = 0.1, classes: Int = 2, classSize: Int = 20, classMass: Double = 0.3,
                favouringFraction: Double = 0.25, seed: UInt64 = 0) {
        self.states = states; self.words = words
        self.emissionConcentration = emissionConcentration; self.transitionConcentration = transitionConcentration
        self.classes = classes; self.classSize = classSize; self.classMass = classMass
        self.favouringFraction = favouringFraction; self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case states, words, seed, classes
        case emissionConcentration, transitionConcentration
        case classSize, classMass, favouringFraction
    }

    /// Bytes `HiddenMarkovModel.generate` and sampling hold: E and its cumulative table (K × V doubles each), A,
    /// its table and the stationary solve (a few K × K doubles), the word permutation.
    public var generationBytes: [[Int]] { [[states, words, 16], [states, states, 48], [words, 16]] }

    public func validate() throws {
        guard states >= 1, states <= 4096 else { throw SyntheticError.badArgument("--states must be in 1...4096 (got \(states))") }
        guard words >= 2, words <= 65535 else { throw SyntheticError.badArgument("--words must be in 2...65535 (got \(words))") }
        guard emissionConcentration > 0, emissionConcentration.isFinite, transitionConcentration > 0,
              transitionConcentration.isFinite else {
            throw SyntheticError.badArgument("Dirichlet concentrations must be positive and finite")
        }
        guard classes >= 0, classSize >= 0 else { throw SyntheticError.badArgument("--classes and --class-size must be ≥ 0") }
        let (classWords, o) = classes.multipliedReportingOverflow(by: classSize)
        guard !o, classWords <= words else {
            throw SyntheticError.badArgument("\(classes) classes × \(classSize) words do not fit in \(words) words")
        }
        guard classes == 0 || classSize >= 1 else { throw SyntheticError.badArgument("--class-size must be ≥ 1 with classes") }
        guard classMass >= 0, classMass <= 1 else { throw SyntheticError.badArgument("--class-mass must be in [0, 1]") }
        guard favouringFraction >= 0, Double(classes) * favouringFraction <= 1 else {
            throw SyntheticError.badArgument("--favouring-fraction × classes must be in [0, 1]")
        }
    }
}

/// A hidden Markov language: hidden states z_t ∈ 0..<K, words w_t ∈ 0..<V,
///   z_0 ~ π (the stationary distribution of A), z_{t+1} | z_t ~ A[z_t, ·], w_t | z_t ~ E[z_t, ·].
/// Because the chain starts stationary, every window of a sampled corpus is distributed like a fresh sample, so
/// p*(·|s) of a window is the forward algorithm started at π over the window's words — the exact target of an LM
/// trained on random windows.
public final class HiddenMarkovModel {
    public static let format = "lmprobe-hmm-1"

    public let config: HMMConfig
    /// π (K): the stationary distribution, also the initial one.
    public let initial: [Double]
    /// A (K × K), row-stochastic: A[i, j] = P(z_{t+1} = j | z_t = i).
    public let transition: Matrix<Double>
    /// E (K × V), row-stochastic: E[i, w] = P(w_t = w | z_t = i).
    public let emission: Matrix<Double>
    /// Word ids of each class (class order as in `config`).
    public let wordClasses: [[Int]]
    /// For each state, the class it favours, or −1.
    public let favouredClass: [Int]

    public var states: Int { config.states }
    public var words: Int { config.words }

    /// Checks shapes, finiteness and row sums (to 1e-9), and computes nothing else.
    public init(config: HMMConfig, initial: [Double], transition: Matrix<Double>, emission: Matrix<Double>,
                wordClasses: [[Int]], favouredClass: [Int]) throws {
        let K = config.states, V = config.words
        guard initial.count == K, transition.rows == K, transition.cols == K, emission.rows == K, emission.cols == V,
              favouredClass.count == K else {
            throw SyntheticError.badArgument("HMM shapes: π \(initial.count), A \(transition.shapeDescription), E \(emission.shapeDescription), expected K = \(K), V = \(V)")
        }
        func stochastic(_ p: UnsafePointer<Double>, _ n: Int) -> Bool {
            var s = 0.0
            for j in 0..<n { let v = p[j]; if !(v >= 0 && v.isFinite) { return false }; s += v }
            return abs(s - 1) <= 1e-9
        }
        guard initial.withUnsafeBufferPointer({ stochastic($0.baseAddress!, K) }) else {
            throw SyntheticError.badArgument("π is not a probability vector")
        }
        for i in 0..<K {
            guard stochastic(transition.pointer + i * transition.stride, K) else { throw SyntheticError.badArgument("row \(i) of A is not a probability vector") }
            guard stochastic(emission.pointer + i * emission.stride, V) else { throw SyntheticError.badArgument("row \(i) of E is not a probability vector") }
        }
        let drift = Self.stationarityResidual(initial, transition)
        guard drift <= Self.stationarityTolerance else {
            throw SyntheticError.badArgument(String(format: "π is not the stationary distribution of A (‖πA − π‖₁ = %.2e > %.0e): exact probabilities assume a stationary chain; restore initial.npy or regenerate the HMM", drift, Self.stationarityTolerance))
        }
        for c in wordClasses { for w in c where w < 0 || w >= V { throw SyntheticError.badArgument("class word \(w) outside 0..<\(V)") } }
        for c in favouredClass where c < -1 || c >= wordClasses.count { throw SyntheticError.badArgument("favoured class \(c) does not exist") }
        self.config = config; self.initial = initial; self.transition = transition; self.emission = emission
        self.wordClasses = wordClasses; self.favouredClass = favouredClass
    }

    // MARK: Drawing a language

    /// log of a Gamma(α, 1) draw (Marsaglia–Tsang; for α < 1 the boost Gamma(α) = Gamma(α + 1)·U^{1/α}, kept in
    /// log space so tiny concentrations never underflow to an all-zero row).
    static func logGamma(_ alpha: Double, _ rng: inout SeededRandom) -> Double {
        if alpha < 1 {
            var u = rng.uniform()
            while u <= 0 { u = rng.uniform() }
            return logGamma(alpha + 1, &rng) + Foundation.log(u) / alpha
        }
        let d = alpha - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = rng.normal()
            let t = 1 + c * x
            if t <= 0 { continue }
            let v = t * t * t
            var u = rng.uniform()
            while u <= 0 { u = rng.uniform() }
            if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return Foundation.log(d * v) }
        }
    }

    /// A Dirichlet(α, …, α) draw of length n into `out`.
    static func dirichlet(_ alpha: Double, count n: Int, into out: UnsafeMutablePointer<Double>, _ rng: inout SeededRandom) {
        var m = -Double.infinity
        for j in 0..<n { out[j] = logGamma(alpha, &rng); m = max(m, out[j]) }
        var s = 0.0
        for j in 0..<n { out[j] = Foundation.exp(out[j] - m); s += out[j] }
        for j in 0..<n { out[j] /= s }
    }

    /// The stationary distribution of a row-stochastic K × K matrix: the least-squares solution of
    /// [Aᵀ − I; 1ᵀ] π = [0; 1] (LAPACK gelsd), clipped at 0 and renormalised; throws when the residual ‖πA − π‖₁
    /// exceeds 1e-9 (a reducible chain without a unique stationary law).
    public static func stationary(_ a: Matrix<Double>) throws -> [Double] {
        let K = a.rows
        let m = Matrix<Double>(rows: K + 1, cols: K)
        for i in 0..<K { for j in 0..<K { m[i, j] = a[j, i] - (i == j ? 1 : 0) } }
        for j in 0..<K { m[K, j] = 1 }
        let b = Matrix<Double>(rows: K + 1, cols: 1)
        b[K, 0] = 1
        let x = try LAPACK.gelsd(m, b).solution
        var pi = (0..<K).map { max(0, x[$0, 0]) }
        let s = pi.reduce(0, +)
        pi = pi.map { $0 / s }
        let residual = stationarityResidual(pi, a)
        guard residual <= 1e-9 else {
            throw SyntheticError.badArgument(String(format: "the transition matrix has no unique stationary distribution (residual %.2e)", residual))
        }
        return pi
    }

    /// How far π is from stationary under A: ‖πA − π‖₁.
    static func stationarityResidual(_ pi: [Double], _ a: Matrix<Double>) -> Double {
        let K = pi.count
        var residual = 0.0
        for j in 0..<K {
            var v = 0.0
            for i in 0..<K { v += pi[i] * a[i, j] }
            residual += abs(v - pi[j])
        }
        return residual
    }

    /// The largest ‖πA − π‖₁ a loaded or constructed HMM may have (`stationary` solves to 1e-9; float64 files keep it).
    static let stationarityTolerance = 1e-8

    /// Draws a language from `config` (deterministic in `config.seed`), after checking that its parameters fit in
    /// the memory this process may allocate.
    public static func generate(_ config: HMMConfig) throws -> HiddenMarkovModel {
        try config.validate()
        try SystemMemory.require(config.generationBytes, for: "an HMM with K = \(config.states) states and V = \(config.words) words (E, its sampling table, A and its solve)")
        let K = config.states, V = config.words
        var rng = SeededRandom(seed: config.seed)
        // Word classes: disjoint, from one random permutation of the words.
        var perm = Array(0..<V)
        for i in stride(from: V - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(below: i + 1)) }
        let classes = (0..<config.classes).map { c in Array(perm[(c * config.classSize)..<((c + 1) * config.classSize)]).sorted() }
        // Favouring states: the first round(fraction·K) states of a random order favour class 0, the next class 1, …
        var order = Array(0..<K)
        for i in stride(from: K - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        var favoured = [Int](repeating: -1, count: K)
        let perClass = Int((config.favouringFraction * Double(K)).rounded())
        for c in 0..<config.classes { for r in 0..<perClass where c * perClass + r < K { favoured[order[c * perClass + r]] = c } }

        let a = Matrix<Double>(rows: K, cols: K), e = Matrix<Double>(rows: K, cols: V)
        for i in 0..<K { dirichlet(config.transitionConcentration, count: K, into: a.pointer + i * a.stride, &rng) }
        for i in 0..<K {
            let row = e.pointer + i * e.stride
            dirichlet(config.emissionConcentration, count: V, into: row, &rng)
            if favoured[i] >= 0 && config.classMass > 0 {
                let cls = classes[favoured[i]]
                for j in 0..<V { row[j] *= 1 - config.classMass }
                for w in cls { row[w] += config.classMass / Double(cls.count) }
            }
        }
        let pi = try stationary(a)
        return try HiddenMarkovModel(config: config, initial: pi, transition: a, emission: e, wordClasses: classes,
                                     favouredClass: favoured)
    }

    // MARK: Files

    struct Header: Codable {
        var format: String
        var config: HMMConfig
        var wordClasses: [[Int]]
        var favouredClass: [Int]
        var files: [String]
        enum CodingKeys: String, CodingKey {
            case format, config, files
            case wordClasses, favouredClass
        }
    }

    /// Writes `hmm.json`, `initial.npy` (K), `transition.npy` (K × K) and `emission.npy` (K × V), float64, into
    /// `directory` (each atomically; hmm.json last).
    public func save(to directory: URL) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw SyntheticError.file(path: directory.path, message: "cannot create folder (\(ioErrorText(error)))")
        }
        try NPY.write(try Matrix(rows: states, cols: 1, values: initial), to: directory.appendingPathComponent("initial.npy"), asVector: true)
        try NPY.write(transition, to: directory.appendingPathComponent("transition.npy"))
        try NPY.write(emission, to: directory.appendingPathComponent("emission.npy"))
        let h = Header(format: Self.format, config: config, wordClasses: wordClasses, favouredClass: favouredClass,
                       files: ["initial.npy", "transition.npy", "emission.npy"])
        let url = directory.appendingPathComponent("hmm.json")
        do { try AtomicFile.write(JSONCoding.encoder().encode(h), to: url) } catch {
            throw SyntheticError.file(path: url.path, message: "cannot write (\(ioErrorText(error)))")
        }
    }

    /// Reads a folder written by `save`, checking every shape against hmm.json and every row sum.
    public static func load(from directory: URL) throws -> HiddenMarkovModel {
        let hURL = directory.appendingPathComponent("hmm.json")
        let data: Data
        do { data = try readFileData(hURL) } catch {
            throw SyntheticError.file(path: hURL.path, message: "cannot read (\(ioErrorText(error)); run `lmprobe synth generate` first?)")
        }
        let h: Header
        do { h = try JSONCoding.decoder().decode(Header.self, from: data) } catch {
            throw SyntheticError.file(path: hURL.path, message: "not an lmprobe HMM header (\(error))")
        }
        guard h.format == format else { throw SyntheticError.file(path: hURL.path, message: "format is \(h.format), expected \(format)") }
        do { try h.config.validate() } catch { throw SyntheticError.file(path: hURL.path, message: "\(error)") }
        let K = h.config.states, V = h.config.words
        func read(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix<Double> {
            let url = directory.appendingPathComponent(name)
            let hdr = try NPY.readHeader(url)
            guard hdr.count == rows * cols else {
                throw SyntheticError.file(path: url.path, message: "shape \(hdr.shape), expected \(rows) × \(cols) from hmm.json")
            }
            let m: Matrix<Double> = try NPY.readMatrix(url)
            return try m.reshaped(rows: rows, cols: cols)
        }
        let pi = try read("initial.npy", K, 1).toArray()
        let a = try read("transition.npy", K, K), e = try read("emission.npy", K, V)
        do {
            return try HiddenMarkovModel(config: h.config, initial: pi, transition: a, emission: e,
                                         wordClasses: h.wordClasses, favouredClass: h.favouredClass)
        } catch { throw SyntheticError.file(path: directory.path, message: "\(error)") }
    }

    // MARK: Sampling

    /// Cumulative rows for inverse-CDF sampling.
    lazy var transitionCDF: [Double] = cumulative(transition)
    lazy var emissionCDF: [Double] = cumulative(emission)
    lazy var initialCDF: [Double] = { var s = 0.0; return initial.map { s += $0; return s } }()

    func cumulative(_ m: Matrix<Double>) -> [Double] {
        var out = [Double](repeating: 0, count: m.rows * m.cols)
        for i in 0..<m.rows {
            var s = 0.0
            for j in 0..<m.cols { s += m[i, j]; out[i * m.cols + j] = s }
        }
        return out
    }

    /// Index of the first cumulative value > u in cdf[lo ..< lo + n] (the last on rounding).
    @inline(__always) static func draw(_ cdf: UnsafePointer<Double>, _ n: Int, _ u: Double) -> Int {
        var lo = 0, hi = n - 1
        let target = u * cdf[n - 1]
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if cdf[mid] > target { hi = mid } else { lo = mid &+ 1 }
        }
        return lo
    }

    /// Samples `length` steps of the stationary chain: words into `words`, hidden states into `states` (optional).
    public func sample(length: Int, words out: UnsafeMutablePointer<Int32>, states stateOut: UnsafeMutablePointer<Int32>? = nil,
                       rng: inout SeededRandom) {
        var z: Int? = nil
        sample(length: length, words: out, states: stateOut, continuing: &z, rng: &rng)
    }

    /// Continues one chain for `length` more steps: `state` nil starts it at π (one draw), and on return `state` holds
    /// the hidden state of the next step. Sampling n words in pieces this way draws exactly what one call of n does.
    public func sample(length: Int, words out: UnsafeMutablePointer<Int32>, states stateOut: UnsafeMutablePointer<Int32>? = nil,
                       continuing state: inout Int?, rng: inout SeededRandom) {
        let K = states, V = words
        let tc = transitionCDF, ec = emissionCDF, ic = initialCDF
        tc.withUnsafeBufferPointer { tcp in
            ec.withUnsafeBufferPointer { ecp in
                ic.withUnsafeBufferPointer { icp in
                    var z = state ?? Self.draw(icp.baseAddress!, K, rng.uniform())
                    defer { state = z }
                    for t in 0..<length {
                        stateOut?[t] = Int32(z)
                        out[t] = Int32(Self.draw(ecp.baseAddress! + z &* V, V, rng.uniform()))
                        z = Self.draw(tcp.baseAddress! + z &* K, K, rng.uniform())
                    }
                }
            }
        }
    }

    /// `count` independent samples of `length` words (and their states), row-major.
    public func sampleSequences(count: Int, length: Int, seed: UInt64) -> (words: [Int32], states: [Int32]) {
        var rng = SeededRandom(seed: seed)
        var w = [Int32](repeating: 0, count: count * length), s = [Int32](repeating: 0, count: count * length)
        w.withUnsafeMutableBufferPointer { wp in
            s.withUnsafeMutableBufferPointer { sp in
                for i in 0..<count { sample(length: length, words: wp.baseAddress! + i * length, states: sp.baseAddress! + i * length, rng: &rng) }
            }
        }
        return (w, s)
    }
}

import Foundation
import Linalg
import Support

/// Sufficient statistics of the ridge classifier for a set of labelled feature rows, mergeable across shards, and
/// the exact-LOO ridge fit computed from them (`probe --stats-out` / `probe --stats`).
///
/// What is stored (Float64): n; the column means μ; the centred scatter M = Σᵢ(xᵢ − μ)(xᵢ − μ)ᵀ (d × d); for each
/// label value c its count n_c and centred sum C_c = Σ_{yᵢ=c}(xᵢ − μ). These are XᵀX, XᵀY (Y one-hot), the column
/// sums, the label sums and n in centred form: XᵀX = M + nμμᵀ, Σᵢxᵢ = nμ, (XᵀY)_c = C_c + n_cμ. Centring first
/// (Chan, Golub & LeVeque's pairwise update: M = M_a + M_b + (n_a n_b / n)·δδᵀ, δ = μ_b − μ_a) keeps the digits
/// that XᵀX − nμμᵀ would cancel when the features have a large mean; the merge is exact in exact arithmetic and
/// associative to rounding, so shard statistics can be merged in any order.
///
/// The fit (`fit`). The statistics give the ridge solution directly: with S = M (divided by σσᵀ when
/// standardising, σ_j = √(M_jj/n)), ±1 one-vs-rest targets (one column for two classes), ȳ_k = (2n_k − n)/n and
/// X_cᵀY_c = 2·C_k, W_λ = (S + λI)⁻¹X_cᵀY_c = V D_λ VᵀX_cᵀY_c from one eigendecomposition S = V diag(ℓ) Vᵀ.
/// The exact LOO residual of row i (see the module doc, "cov" mode) is
///     eᵢ = (y_c,i − x_c,iᵀW_λ) / (1 − hᵢ − 1/n),   hᵢ = x_c,iᵀ(S + λI)⁻¹x_c,i = Σⱼ zᵢⱼ²/(ℓⱼ + λ),  zᵢ = Vᵀx_c,i,
/// (the intercept's (X_c(S+λI)⁻¹X_cᵀ1)ᵢ term vanishes because X_cᵀ1 = 0). It needs every row's zᵢ: statistics
/// alone cannot give per-row leverages. So the fit makes a SECOND streaming pass over the rows (the sources
/// recorded in the statistics, read block by block through a memory map): for each block, Z = X_c V, the leverages
/// (Z∘Z)·D and the fitted values Z·[D_λ VᵀX_cᵀY_c] for every λ in two gemms, and per λ the running sum of eᵢ², the
/// LOO-correct and train-correct counts. Memory: O(d² + block·d + d·n_λ·K′) — X is never held. Work: one n·d² gemm,
/// as the in-memory "cov" path. The second pass recomputes each source's row count and a position-weighted
/// checksum of its values and refuses a source that changed since its statistics were written.
///
/// Guarantee (ProbesTests): merged statistics of any row partition choose the same λ as `RidgeClassifier.fit` on
/// the concatenated rows, with coefficients and intercepts equal to 1e-9 relative.
public struct RidgeStatistics: Equatable {
    /// One features file the statistics were accumulated from (the second pass reads it again).
    public struct Source: Codable, Equatable, Sendable {
        public var features: String
        public var labels: String
        public var rows: Int
        /// Bit pattern (hex) of the position-weighted checksum of the values (`RidgeStatistics.checksum`).
        public var checksum: String
        /// Opaque provenance the caller attaches (the CLI stores the extract manifest's shard identity as JSON).
        public var tag: String?
    }

    public private(set) var n: Int = 0
    public let d: Int
    /// μ (d).
    public private(set) var mean: [Double]
    /// M = Σ(x − μ)(x − μ)ᵀ, d × d row-major, both triangles.
    public private(set) var scatter: [Double]
    /// Label values present, ascending, with their counts and centred sums C_c (d each).
    public private(set) var labelValues: [Int] = []
    public private(set) var labelCounts: [Int] = []
    public private(set) var labelSums: [[Double]] = []
    public var sources: [Source] = []

    /// Rows per block of the streaming passes (fixed: the checksum is computed in this blocking).
    public static let blockRows = 2048

    public init(d: Int) {
        self.d = d
        mean = [Double](repeating: 0, count: d)
        scatter = [Double](repeating: 0, count: d * d)
    }

    // MARK: Accumulation

    /// Adds a block of rows (any precision) with their labels. Throws on a width mismatch or a NaN/inf value
    /// (`ProbeError.nonFinite` with the row index within the block).
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public mutating func add<T: BLASScalar>(_ x: Matrix<T>, labels: ArraySlice<Int>) throws {
        guard x.cols == d else { throw ProbeError.widthMismatch(expected: d, got: x.cols) }
        guard labels.count == x.rows else { throw ProbeError.lengthMismatch(features: x.rows, labels: labels.count) }
        if x.rows == 0 { return }
        try checkFinite(x)
        var block = RidgeStatistics(d: d)
        let centred = CentredFeatures(x, standardize: false)          // X_b − μ_b in Float64
        block.n = x.rows
        block.mean = centred.mean
        let m = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, centred.xc, into: m)
        block.scatter = Array(UnsafeBufferPointer(start: m.pointer, count: d * d))
        var sums: [Int: [Double]] = [:], counts: [Int: Int] = [:]
        let xp = centred.xc.pointer
        for (i, label) in labels.enumerated() {
            counts[label, default: 0] += 1
            var s = sums[label] ?? [Double](repeating: 0, count: d)
            let row = xp + i &* d
            for j in 0..<d { s[j] += row[j] }
            sums[label] = s
        }
        block.labelValues = counts.keys.sorted()
        block.labelCounts = block.labelValues.map { counts[$0]! }
        block.labelSums = block.labelValues.map { sums[$0]! }
        try merge(block)
    }

    /// Adds another set of statistics over different rows (Chan et al.'s pairwise update; sources concatenate).
    public mutating func merge(_ other: RidgeStatistics) throws {
        guard other.d == d else { throw ProbeError.widthMismatch(expected: d, got: other.d) }
        let (total, overflow) = n.addingReportingOverflow(other.n)
        guard !overflow else {
            throw ProbeError.invalidArgument("merged row count \(n) + \(other.n) exceeds Int.max: these are not statistics of real rows")
        }
        sources += other.sources
        if other.n == 0 { return }
        if n == 0 {
            n = other.n; mean = other.mean; scatter = other.scatter
            labelValues = other.labelValues; labelCounts = other.labelCounts; labelSums = other.labelSums
            return
        }
        let na = Double(n), nb = Double(other.n), totalRows = na + nb
        let delta = (0..<d).map { other.mean[$0] - mean[$0] }
        let newMean = (0..<d).map { mean[$0] + delta[$0] * (nb / totalRows) }
        let w = na * nb / totalRows
        scatter.withUnsafeMutableBufferPointer { s in
            other.scatter.withUnsafeBufferPointer { o in
                for i in 0..<d {
                    let wi = w * delta[i]
                    for j in 0..<d { s[i &* d &+ j] += o[i &* d &+ j] + wi * delta[j] }
                }
            }
        }
        // C_c about the new mean: Σ(x − μ′) = Σ(x − μ_part) + n_c(μ_part − μ′), for each part.
        let values = Set(labelValues).union(other.labelValues).sorted()
        var counts: [Int] = [], sums: [[Double]] = []
        for v in values {
            var c = 0, s = [Double](repeating: 0, count: d)
            for part in [(labelValues, labelCounts, labelSums, mean), (other.labelValues, other.labelCounts, other.labelSums, other.mean)] {
                guard let k = part.0.firstIndex(of: v) else { continue }
                let nc = Double(part.1[k])
                c += part.1[k]      // ≤ total (each part's counts sum to its n; checked on read), so no overflow
                for j in 0..<d { s[j] += part.2[k][j] + nc * (part.3[j] - newMean[j]) }
            }
            counts.append(c); sums.append(s)
        }
        n = total
        mean = newMean
        labelValues = values; labelCounts = counts; labelSums = sums
    }

    /// Statistics of one features file (2-D `.npy`, read block by block) and its labels, recorded as a source.
    public static func accumulate(features: URL, labels: [Int], labelsPath: String, tag: String? = nil) throws
        -> RidgeStatistics {
        for path in [features.path, labelsPath] where FileIdentity(path: path)?.isRegular == false {
            throw ProbeError.invalidArgument("\(path): not a regular file (a folder, device or FIFO cannot hold features or labels)")
        }
        let header = try NPY.readHeader(features)
        guard header.shape.count == 2, header.shape[0] > 0, header.shape[1] > 0 else {
            throw ProbeError.invalidArgument("\(features.path): expected a non-empty 2-D feature array (n × d), got shape \(header.shape)")
        }
        guard labels.count == header.shape[0] else {
            throw ProbeError.invalidArgument("\(labelsPath): \(labels.count) labels but \(features.path) has \(header.shape[0]) rows")
        }
        var stats = RidgeStatistics(d: header.shape[1])
        var sum = 0.0
        try NPY.forEachRowBlock(features, rowsPerBlock: blockRows) { block, first in
            do { try stats.add(block, labels: labels[first..<(first + block.rows)]) } catch let ProbeError.nonFinite(r, c) {
                throw ProbeError.invalidArgument("\(features.path): non-finite feature value (NaN or inf) at row \(first + r), column \(c)")
            }
            sum += checksum(block, firstRow: first)
        }
        stats.sources = [Source(features: features.path, labels: labelsPath, rows: labels.count,
                                checksum: String(sum.bitPattern, radix: 16), tag: tag)]
        return stats
    }

    /// Σᵢⱼ xᵢⱼ·w((i·d + j) mod 1021) with fixed pseudo-random weights w ∈ [1, 2): changes to values or row order
    /// change it; the same bytes read in the same blocks give the same bits.
    static func checksum(_ block: Matrix<Double>, firstRow: Int) -> Double {
        let c = block.cols, p = block.pointer
        var s = 0.0
        for i in 0..<block.rows {
            let row = p + i &* c, base = (firstRow &+ i) &* c
            for j in 0..<c { s += row[j] * checksumWeights[(base &+ j) % 1021] }
        }
        return s
    }

    static let checksumWeights: [Double] = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<1021).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return 1 + Double(state >> 11) / Double(1 << 53)
        }
    }()

    // MARK: File format

    /// The first line of every version; `magic` is the current one (2 added the checksum line).
    static let magicPrefix = "LMPROBE-RIDGE-STATS "
    static let magic = "LMPROBE-RIDGE-STATS 2\n"

    /// Whether `url` is a regular file that starts like a statistics file of any version (`probe --stats-out`
    /// replaces only such a file).
    public static func isStatisticsFile(_ url: URL) -> Bool {
        guard let id = FileIdentity(path: url.path), id.isRegular, let h = FileHandle(forReadingAtPath: url.path) else {
            return false
        }
        defer { try? h.close() }
        let prefix = Data(magicPrefix.utf8)
        return (try? h.read(upToCount: prefix.count)) == prefix
    }

    struct Header: Codable {
        var n: Int, d: Int
        var labelValues: [Int], labelCounts: [Int]
        var sources: [Source]
        enum CodingKeys: String, CodingKey {
            case n, d, labelValues, labelCounts, sources
        }
    }

    /// Writes the statistics atomically: a magic line, a checksum line ("checksum " + 16 hex digits: `Checksum`
    /// of every byte after that line), one JSON header line (n, d, label values and counts, the sources), then
    /// little-endian Float64 μ (d), M (d·d) and the label sums (K·d).
    public func write(to url: URL) throws {
        let enc = JSONCoding.encoder(pretty: false)
        let header = Header(n: n, d: d, labelValues: labelValues, labelCounts: labelCounts, sources: sources)
        var data = Data()
        data.append(try enc.encode(header))
        data.append(0x0A)
        let values = mean + scatter + labelSums.flatMap { $0 }
        values.withUnsafeBufferPointer { b in
            for v in b { var le = v.bitPattern.littleEndian; withUnsafeBytes(of: &le) { data.append(contentsOf: $0) } }
        }
        var sum = Checksum()
        sum.add(data)
        data = Data((Self.magic + "checksum \(sum.hex)\n").utf8) + data
        do { try AtomicFile.write(data, to: url) } catch {
            throw ProbeError.invalidArgument("\(url.path): cannot write statistics: \(ioErrorText(error))")
        }
    }

    /// Reads statistics written by `write`: the checksum first (a changed bit is refused), then every size and count
    /// with overflow-checked arithmetic against the bytes present, and the values (finite, variances ≥ 0).
    public init(contentsOf url: URL) throws {
        func bad(_ m: String) -> ProbeError { .invalidArgument("\(url.path): \(m)") }
        if let id = FileIdentity(path: url.path), !id.isRegular { throw bad("not a regular file") }
        let data: Data
        do { data = try readFileData(url) } catch { throw bad("cannot read statistics file (\(ioErrorText(error)))") }
        let magic = Data(Self.magic.utf8), prefix = Data(Self.magicPrefix.utf8)
        guard data.count > magic.count, data.prefix(magic.count) == magic else {
            throw bad(data.prefix(prefix.count) == prefix
                ? "a statistics file of another lmprobe version (no checksum); run `lmprobe probe --stats-out` again"
                : "not an lmprobe ridge statistics file (written by `lmprobe probe --stats-out`)")
        }
        let sumLabel = Data("checksum ".utf8)
        let sumStart = data.startIndex + magic.count
        guard let sumEnd = data[sumStart...].firstIndex(of: 0x0A), data[sumStart...].starts(with: sumLabel) else {
            throw bad("missing checksum line")
        }
        let body = data[(sumEnd + 1)...]
        var sum = Checksum()
        sum.add(body)
        guard String(decoding: data[(sumStart + sumLabel.count)..<sumEnd], as: UTF8.self) == sum.hex else {
            throw bad("checksum mismatch: the file was changed or damaged after it was written; run --stats-out again")
        }
        guard let newline = body.firstIndex(of: 0x0A) else { throw bad("truncated header") }
        let header: Header
        do { header = try JSONCoding.decoder().decode(Header.self, from: body[body.startIndex..<newline]) } catch {
            throw bad("malformed header: \(error)")
        }
        try Self.checkCounts(header, bad)
        let k = header.labelValues.count
        let (dd, o1) = header.d.multipliedReportingOverflow(by: header.d)
        let (kd, o2) = k.multipliedReportingOverflow(by: header.d)
        let (count1, o3) = dd.addingReportingOverflow(kd)
        let (count, o4) = count1.addingReportingOverflow(header.d)
        let (bytes, o5) = count.multipliedReportingOverflow(by: 8)
        let available = data.endIndex - (newline + 1)
        guard !(o1 || o2 || o3 || o4 || o5), bytes == available else {
            throw bad("payload has \(available) bytes, the header (d = \(header.d), \(k) labels) needs \(o5 ? "more than Int.max" : "\(bytes)")")
        }
        var values = [Double](repeating: 0, count: count)
        data[(newline + 1)...].withUnsafeBytes { raw in
            for i in 0..<count { values[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
        }
        guard values.allSatisfy(\.isFinite) else { throw bad("non-finite statistics") }
        for j in 0..<header.d where values[header.d + j * header.d + j] < 0 {
            throw bad("negative variance (scatter diagonal \(values[header.d + j * header.d + j]) at feature \(j))")
        }
        self.init(d: header.d)
        n = header.n
        mean = Array(values[0..<header.d])
        scatter = Array(values[header.d..<(header.d + dd)])
        labelValues = header.labelValues
        labelCounts = header.labelCounts
        labelSums = (0..<k).map { c in Array(values[(header.d + dd + c * header.d)..<(header.d + dd + (c + 1) * header.d)]) }
        sources = header.sources
    }

    /// The header's counts, with overflow-checked sums: n, d > 0; label values distinct and ascending with counts
    /// > 0 summing to n; the sources' rows > 0 summing to n.
    static func checkCounts(_ h: Header, _ bad: (String) -> ProbeError) throws {
        func checkedSum(_ xs: [Int], _ what: String) throws -> Int {
            var total = 0
            for x in xs {
                let (s, o) = total.addingReportingOverflow(x)
                guard !o else { throw bad("\(what) sum past Int.max: not counts of real rows") }
                total = s
            }
            return total
        }
        guard h.n > 0, h.d > 0 else { throw bad("n and d must be positive (got n = \(h.n), d = \(h.d))") }
        guard h.labelValues.count == h.labelCounts.count, h.labelCounts.allSatisfy({ $0 > 0 }),
              h.labelValues == Array(Set(h.labelValues)).sorted(),
              try checkedSum(h.labelCounts, "label_counts") == h.n else {
            throw bad("inconsistent header (n, label values and counts)")
        }
        guard h.sources.allSatisfy({ $0.rows > 0 }), try checkedSum(h.sources.map(\.rows), "source rows") == h.n else {
            throw bad("the sources' rows do not add up to n = \(h.n)")
        }
    }

    // MARK: Fit

    /// Ridge with exact-LOO λ from these statistics and a streaming pass over their sources (see the type doc).
    /// Labels map to classes by ascending value (`labelValues`). With `extension` (the default, as
    /// `RidgeClassifier.fit`), a λ chosen at an end of the grid grows the grid past that end and only the new
    /// values are scored, in one more streaming pass per round (the eigendecomposition is reused).
    public func fit(alphas: [Double] = RidgeClassifier.defaultAlphas, select: RidgeSelection = .squaredError,
                    standardize: Bool = false, extension: GridExtension? = .ridge) throws -> RidgeModel {
        guard n > 0, !sources.isEmpty else { throw ProbeError.empty("statistics of no rows") }
        guard labelValues.count >= 2 else { throw ProbeError.singleClass(label: labelValues.first ?? 0) }
        try RidgeClassifier.checkAlphas(alphas)
        let clock = PhaseClock()
        let classes = labelValues.count, kk = classes == 2 ? 1 : classes
        let invN = 1 / Double(n)

        // σ (standardising) and S = M / σσᵀ.
        var sigma = [Double](repeating: 1, count: d)
        if standardize {
            for j in 0..<d {
                let sd = (scatter[j * d + j] * invN).squareRoot()
                sigma[j] = sd > 0 && sd.isFinite ? sd : 1
            }
        }
        let s = Matrix<Double>(rows: d, cols: d) { i, j in scatter[i * d + j] / (sigma[i] * sigma[j]) }
        // ±1 one-vs-rest targets: ȳ_k = (2n_k − n)/n, X_cᵀY_c = 2·C_k (Σ x_c = 0).
        let targetClass: [Int] = kk == 1 ? [1] : Array(0..<classes)
        let yMean = targetClass.map { (2 * Double(labelCounts[$0]) - Double(n)) * invN }
        let xty = Matrix<Double>(rows: d, cols: kk) { j, k in 2 * labelSums[targetClass[k]][j] / sigma[j] }
        clock.lap("statistics")
        let (ell, v) = try LAPACK.syevd(s)
        clock.lap("eigen")
        let r = try BLAS.matmul(v, xty, transA: true)                  // VᵀX_cᵀY_c, d × K′

        // LOO (and train) scores per λ, computed only for λ not scored yet.
        var scored: [Double: (mse: Double, acc: Double, train: Double)] = [:]
        var grid = alphas, rounds = 0
        while true {
            let fresh = Array(Set(grid.filter { scored[$0] == nil })).sorted()
            if !fresh.isEmpty {
                let pass = try leaveOneOutPass(alphas: fresh, v: v, ell: ell, r: r, sigma: sigma, yMean: yMean, kk: kk)
                for (a, lambda) in fresh.enumerated() {
                    scored[lambda] = (pass.sq[a] / (Double(n) * Double(kk)), Double(pass.loo[a]) / Double(n),
                                      Double(pass.train[a]) / Double(n))
                }
            }
            let mse = grid.map { scored[$0]!.mse }, acc = grid.map { scored[$0]!.acc }
            for x in mse + acc where !x.isFinite {
                throw ProbeError.numerical("ridge leave-one-out scores are not finite (ill-conditioned features?)")
            }
            var best = 0                                                // first best, as RidgeClassifier
            for a in 1..<grid.count {
                switch select {
                case .squaredError: if mse[a] < mse[best] { best = a }
                case .accuracy: if acc[a] > acc[best] { best = a }
                }
            }
            let scores = select == .squaredError ? mse.map { -$0 } : acc
            if let ext = `extension`, let more = ext.next(grid, scores: scores, chosen: grid[best]) {
                grid += more.values
                rounds += 1
                continue
            }
            clock.lap("loo")
            // W = V D_λ VᵀX_cᵀY_c at the chosen λ, mapped to raw features; b = ȳ − Wᵀμ.
            let lambda = grid[best]
            let scaled = Matrix<Double>(rows: d, cols: kk) { j, k in r[j, k] / (ell[j] + lambda) }
            let w = try BLAS.matmul(v, scaled)
            for j in 0..<d { for k in 0..<kk { w[j, k] /= sigma[j] } }
            var b = yMean
            for k in 0..<kk { for j in 0..<d { b[k] -= mean[j] * w[j, k] } }
            clock.lap("coefficients")
            var path = RidgePath(alphas: grid, selection: select, looMeanSquaredError: mse, looAccuracy: acc,
                                 chosenIndex: best)
            path.gridSearch = GridSearch(requested: alphas, searched: grid, chosen: lambda, extensions: rounds,
                                         limit: `extension`)
            return RidgeModel(classes: classes, path: path, coefficients: w,
                                   intercepts: b, featureMean: mean, featureScale: standardize ? sigma : nil,
                                   mode: "cov", decomposition: .eigen, trainAccuracy: scored[lambda]!.train,
                                   timings: clock.timings)
        }
    }

    /// One streaming pass over the sources: per λ, Σ eᵢ² over all n·K′ LOO residuals, and the LOO-correct and
    /// train-correct counts. Checks each source against its recorded rows, labels and checksum.
    func leaveOneOutPass(alphas: [Double], v: Matrix<Double>, ell: [Double], r: Matrix<Double>, sigma: [Double],
                         yMean: [Double], kk: Int) throws -> (sq: [Double], loo: [Int], train: [Int]) {
        let na = alphas.count, w1 = kk, invN = 1 / Double(n), classes = labelValues.count
        let classOf = Dictionary(uniqueKeysWithValues: labelValues.enumerated().map { ($1, $0) })
        let dmat = Matrix<Double>(rows: d, cols: na) { j, a in 1 / (ell[j] + alphas[a]) }
        let scaled = Matrix<Double>(rows: d, cols: na * w1) { j, c in r[j, c % w1] * dmat[j, c / w1] }
        var sq = [Double](repeating: 0, count: na)
        var looCorrect = [Int](repeating: 0, count: na), trainCorrect = [Int](repeating: 0, count: na)
        var seen = 0
        var recount = [Int](repeating: 0, count: classes)
        for src in sources {
            for path in [src.features, src.labels] where !(FileIdentity(path: path)?.isRegular ?? true) {
                throw ProbeError.invalidArgument("\(path): not a regular file (named as a source of the statistics)")
            }
            let labels: [Int]
            do { labels = try NPY.readIntegers(URL(fileURLWithPath: src.labels)) } catch {
                throw ProbeError.invalidArgument("\(error)")
            }
            guard labels.count == src.rows else {
                throw ProbeError.invalidArgument("\(src.labels): \(labels.count) labels, but the statistics were computed from \(src.rows)")
            }
            var sum = 0.0, rowsRead = 0
            let url = URL(fileURLWithPath: src.features)
            let header: NPY.Header
            do { header = try NPY.readHeader(url) } catch { throw ProbeError.invalidArgument("\(error)") }
            guard header.shape == [src.rows, d] else {
                throw ProbeError.invalidArgument("\(src.features): shape \(header.shape), but the statistics were computed from [\(src.rows), \(d)] (changed since --stats-out?)")
            }
            try NPY.forEachRowBlock(url, rowsPerBlock: Self.blockRows) { block, first in
                sum += Self.checksum(block, firstRow: first)
                let b = block.rows, xp = block.pointer
                for i in 0..<b {
                    let row = xp + i &* d
                    for j in 0..<d { row[j] = (row[j] - mean[j]) / sigma[j] }
                }
                let z = try BLAS.matmul(block, v)                      // b × d: rows of X_c V
                let fitted = try BLAS.matmul(z, scaled)               // b × n_λK′: x_cᵀW_λ
                let zp = z.pointer
                for t in 0..<(b * d) { zp[t] *= zp[t] }
                let h = try BLAS.matmul(z, dmat)                      // b × n_λ: leverages hᵢ
                let hp = h.pointer, fp = fitted.pointer, ldf = na &* w1
                var target = [Double](repeating: 0, count: kk), loo = target, train = target
                for i in 0..<b {
                    guard let cls = classOf[labels[first + i]] else {
                        throw ProbeError.invalidArgument("\(src.labels): label \(labels[first + i]) at index \(first + i) is not in the statistics (changed since --stats-out?)")
                    }
                    recount[cls] += 1
                    for k in 0..<kk { target[k] = (kk == 1 ? cls == 1 : cls == k) ? 1 : -1 }
                    for a in 0..<na {
                        let den = 1 - hp[i &* na &+ a] - invN
                        for k in 0..<kk {
                            let f = fp[i &* ldf &+ a &* w1 &+ k]
                            let e = (target[k] - yMean[k] - f) / den
                            sq[a] += e * e
                            loo[k] = target[k] - e
                            train[k] = f + yMean[k]
                        }
                        if Self.predictedClass(loo) == cls { looCorrect[a] += 1 }
                        if Self.predictedClass(train) == cls { trainCorrect[a] += 1 }
                    }
                }
                rowsRead += b
            }
            guard rowsRead == src.rows, String(sum.bitPattern, radix: 16) == src.checksum else {
                throw ProbeError.invalidArgument("\(src.features): the features changed since their statistics were written (checksum differs); run --stats-out again")
            }
            seen += rowsRead
        }
        guard seen == n, recount == labelCounts else {
            throw ProbeError.invalidArgument("the sources hold \(seen) rows with label counts \(recount), the statistics \(n) with \(labelCounts)")
        }
        return (sq, looCorrect, trainCorrect)
    }

    /// argmax (first on ties), or value > 0 for one column — `classesFromScores` for one row.
    static func predictedClass(_ s: [Double]) -> Int {
        if s.count == 1 { return s[0] > 0 ? 1 : 0 }
        var best = 0
        for j in 1..<s.count where s[j] > s[best] { best = j }
        return best
    }
}

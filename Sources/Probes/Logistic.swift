import Foundation
import Linalg

/// A fitted L2 logistic-regression probe. Coefficients apply to raw features: logits = X·W + 1bᵀ.
public struct LogisticModel {
    /// Number of classes K; K′ = 1 logit column when K = 2 (sigmoid), else K (softmax).
    public let classes: Int
    /// The inverse regularisation strength used for the final fit.
    public let C: Double
    /// W, d × K′ (raw feature space).
    public let coefficients: Matrix<Double>
    /// b, K′ values (summing to zero for K ≥ 3).
    public let intercepts: [Double]
    public let trainAccuracy: Double
    public let trainLogLoss: Double
    /// L-BFGS iterations of the final fit, and whether it met its tolerance.
    public let iterations: Int
    public let converged: Bool
    /// With `fitCV`: the grid, the per-fold accuracies (folds × Cs) and their means.
    public internal(set) var Cs: [Double]
    public internal(set) var foldAccuracy: [[Double]]
    public internal(set) var cvAccuracy: [Double]
    public var cvScore: Double? { cvAccuracy.isEmpty ? nil : cvAccuracy[Cs.firstIndex(of: C) ?? 0] }
    /// How K ≥ 3 classes are modelled (binary problems are the same either way).
    public internal(set) var multiclass: LogisticMulticlass = .multinomial
    /// One-vs-rest: the C chosen for each class.
    public internal(set) var perClassC: [Double] = []
    /// The C grid as requested and searched (nil for one-vs-rest: see `oneVsRestNotes`).
    public internal(set) var gridSearch: GridSearch? = nil
    /// One-vs-rest: each class's grid note when its C landed at an end of the grid.
    public internal(set) var oneVsRestNotes: [String] = []

    /// Logits X·W + 1bᵀ (n × K′). Throws on a width mismatch or NaN/inf.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func decisionFunction<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        try linearScores(x, coefficients: coefficients, intercepts: intercepts)
    }

    /// Class probabilities (n × K).
    public func predictProbabilities<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        probabilities(fromLogits: try decisionFunction(x), classes: classes, multiclass: multiclass)
    }

    public func predict<T: BLASScalar>(_ x: Matrix<T>) throws -> [Int] { classesFromScores(try decisionFunction(x)) }
}

/// How a logistic probe treats K ≥ 3 classes.
public enum LogisticMulticlass: String, Codable, CaseIterable, Sendable {
    /// One softmax over K logit columns, one C (sklearn's lbfgs / sag `multi_class="multinomial"`).
    case multinomial
    /// K independent binary problems (class k vs the rest), each with its own C by CV, predicting the argmax of the
    /// K decision values (sklearn's liblinear `multi_class="ovr"`).
    case oneVsRest = "one-vs-rest"
}

/// Multinomial (K ≥ 3) / binary (K = 2) logistic regression with sklearn's L2 objective, and C by stratified CV.
public enum LogisticRegression {
    /// What `fitCV` maximises over the C grid: mean fold accuracy (sklearn's default), or mean fold −log-loss
    /// (sklearn `scoring="neg_log_loss"`; for measuring the probe's loss rather than its accuracy).
    /// With `.logLoss`, `foldAccuracy`/`cvAccuracy` hold the fold / mean −log-loss.
    public enum CVScoring: String, CaseIterable, Sendable { case accuracy, logLoss = "log-loss" }

    /// logspace(−6, 4, 11): one value per decade over ten decades (wider than sklearn's Cs=10 = 10⁻⁴…10⁴ on the
    /// small side, where the paper's grid starts).
    public static let defaultCs = logspace(-6, 4, 11)

    /// Minimises C·Σᵢ CE(xᵢ, yᵢ) + ½‖W‖² (intercept unpenalised) by L-BFGS to ‖∇‖_∞ ≤ tolerance (on the
    /// objective divided by C·n). Throws `ProbeError` on bad input or C ≤ 0.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fit<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, C: Double,
                                          standardize: Bool = false, tolerance: Double = 1e-8,
                                          maxIterations: Int = 1000) throws -> LogisticModel {
        try validateTraining(x, labels, classes: classes)
        guard C > 0, C.isFinite else { throw ProbeError.invalidArgument("C must be positive and finite (got \(C))") }
        try checkSolver(tolerance: tolerance, maxIterations: maxIterations)
        let problem = Problem(x, labels: labels, classes: classes, standardize: standardize)
        let theta = problem.zeroParameters()
        let r = problem.solve(theta, C: C, tolerance: tolerance, maxIterations: maxIterations)
        return try problem.model(theta, C: C, result: r, x: x, labels: labels)
    }

    /// Chooses C from `Cs` by stratified `folds`-fold CV accuracy (sklearn's `StratifiedKFold` without shuffling;
    /// first best C on ties), then refits on all the data. With `extension` (the default) a C chosen at an end of
    /// the grid makes the grid grow past that end (`GridExtension`) until C is interior or the limit is reached;
    /// `gridSearch` records it. `multiclass` `.oneVsRest` (K ≥ 3) fits K binary problems on the same folds, each
    /// with its own C (as sklearn's `LogisticRegressionCV(multi_class="ovr")`); `foldAccuracy`/`cvAccuracy` are
    /// then empty and `C` is the per-class values' geometric mean (`perClassC` has them).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fitCV<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, Cs: [Double] = defaultCs,
                                            folds: Int = 5, standardize: Bool = false, tolerance: Double = 1e-8,
                                            maxIterations: Int = 1000, multiclass: LogisticMulticlass = .multinomial,
                                            extension: GridExtension? = .logistic,
                                            scoring: CVScoring = .accuracy) throws -> LogisticModel {
        try validateTraining(x, labels, classes: classes)
        guard !Cs.isEmpty else { throw ProbeError.invalidArgument("the C grid is empty") }
        for c in Cs where !(c > 0 && c.isFinite) {
            throw ProbeError.invalidArgument("C must be positive and finite (got \(c))")
        }
        guard folds >= 2 else { throw ProbeError.invalidArgument("folds must be at least 2 (got \(folds))") }
        try checkSolver(tolerance: tolerance, maxIterations: maxIterations)
        guard folds <= x.rows else { throw ProbeError.invalidArgument("\(folds) folds but only \(x.rows) examples") }
        let assignment = stratifiedFolds(labels: labels, folds: folds)
        if multiclass == .oneVsRest && classes > 2 {
            return try fitOneVsRest(x: x, labels: labels, classes: classes, Cs: Cs, folds: folds,
                                    assignment: assignment, standardize: standardize, tolerance: tolerance,
                                    maxIterations: maxIterations, extension: `extension`, scoring: scoring)
        }
        return try fitCV(x: x, labels: labels, classes: classes, Cs: Cs, folds: folds, assignment: assignment,
                         standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
                         extension: `extension`, scoring: scoring)
    }

    /// L-BFGS needs at least one iteration and a positive tolerance.
    static func checkSolver(tolerance: Double, maxIterations: Int) throws {
        guard maxIterations >= 1 else {
            throw ProbeError.invalidArgument("the L-BFGS iteration limit must be at least 1 (got \(maxIterations))")
        }
        guard tolerance > 0, tolerance.isFinite else {
            throw ProbeError.invalidArgument("the L-BFGS tolerance must be a positive number (got \(tolerance))")
        }
    }

    /// CV over `Cs` on a given fold assignment, with grid extension, then the refit.
    static func fitCV<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, Cs: [Double], folds: Int,
                                     assignment: [Int], standardize: Bool, tolerance: Double, maxIterations: Int,
                                     extension: GridExtension?, scoring: CVScoring = .accuracy) throws -> LogisticModel {
        // Each fold's problem is centred once and kept for the extension rounds.
        var problems: [(Problem, [Int], Matrix<T>)] = []
        for fold in 0..<folds {
            let trainRows = assignment.indices.filter { assignment[$0] != fold }
            let testRows = assignment.indices.filter { assignment[$0] == fold }
            guard Set(trainRows.map { labels[$0] }).count >= 2, !testRows.isEmpty else {
                throw ProbeError.invalidArgument("CV fold \(fold) has an empty test part or a single training class: use fewer folds")
            }
            problems.append((Problem(gatherRows(x, trainRows), labels: trainRows.map { labels[$0] }, classes: classes,
                                     standardize: standardize), testRows.map { labels[$0] }, gatherRows(x, testRows)))
        }
        var grid: [Double] = [], scores = [[Double]](repeating: [], count: folds), next = Cs, rounds = -1
        var best = 0
        while true {
            rounds += 1
            for (fold, (problem, yTest, xTest)) in problems.enumerated() {
                let theta = problem.zeroParameters()   // warm-started along the C path, as sklearn does
                for c in next {
                    _ = problem.solve(theta, C: c, tolerance: tolerance, maxIterations: maxIterations)
                    let (w, b) = problem.rawCoefficients(theta)
                    let logits = try linearScores(xTest, coefficients: w, intercepts: b)
                    switch scoring {
                    case .accuracy:
                        let predicted = classesFromScores(logits)
                        scores[fold].append(Double(zip(predicted, yTest).filter { $0 == $1 }.count) / Double(yTest.count))
                    case .logLoss:
                        let p = probabilities(fromLogits: logits, classes: classes)
                        var s = 0.0
                        for (i, t) in yTest.enumerated() { s += Foundation.log(max(p[i, t], 1e-300)) }
                        scores[fold].append(s / Double(yTest.count))    // −log-loss: higher is better
                    }
                }
            }
            grid += next
            let sums = (0..<grid.count).map { ci in (0..<folds).map { scores[$0][ci] }.reduce(0, +) }
            best = 0
            for ci in 1..<grid.count where sums[ci] > sums[best] { best = ci }
            guard let ext = `extension`, let more = ext.next(grid, scores: sums, chosen: grid[best]) else { break }
            next = more.values
        }
        let problem = Problem(x, labels: labels, classes: classes, standardize: standardize)
        let theta = problem.zeroParameters()
        let r = problem.solve(theta, C: grid[best], tolerance: tolerance, maxIterations: maxIterations)
        var m = try problem.model(theta, C: grid[best], result: r, x: x, labels: labels)
        m.Cs = grid
        m.foldAccuracy = scores
        m.cvAccuracy = (0..<grid.count).map { ci in (0..<folds).map { scores[$0][ci] }.reduce(0, +) / Double(folds) }
        m.gridSearch = GridSearch(requested: Cs, searched: grid, chosen: grid[best], extensions: rounds,
                                  limit: `extension`)
        return m
    }

    /// K binary problems (class k against the rest) on the same folds, each with its own C; scores are the K
    /// decision values, prediction their argmax, probabilities the sigmoids normalised to sum to one (sklearn).
    static func fitOneVsRest<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, Cs: [Double], folds: Int,
                                            assignment: [Int], standardize: Bool, tolerance: Double,
                                            maxIterations: Int, extension: GridExtension?,
                                            scoring: CVScoring = .accuracy) throws -> LogisticModel {
        let d = x.cols
        let w = Matrix<Double>(rows: d, cols: classes)
        var b = [Double](repeating: 0, count: classes), perClass: [Double] = [], iterations = 0, converged = true
        var notes: [String] = []
        for k in 0..<classes {
            let binary = labels.map { $0 == k ? 1 : 0 }
            let m = try fitCV(x: x, labels: binary, classes: 2, Cs: Cs, folds: folds, assignment: assignment,
                              standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
                              extension: `extension`, scoring: scoring)
            for j in 0..<d { w[j, k] = m.coefficients[j, 0] }
            b[k] = m.intercepts[0]
            perClass.append(m.C)
            iterations += m.iterations
            converged = converged && m.converged
            if let note = m.gridSearch?.note, !note.isEmpty { notes.append("class \(k): \(note)") }
        }
        let logits = try linearScores(x, coefficients: w, intercepts: b)
        let predicted = classesFromScores(logits)
        let metrics = try ClassificationMetrics(predicted: predicted, truth: labels, classes: classes,
                                                probabilities: probabilities(fromLogits: logits, classes: classes,
                                                                             multiclass: .oneVsRest))
        let geometricMean = Foundation.exp(perClass.map { Foundation.log($0) }.reduce(0, +) / Double(classes))
        var m = LogisticModel(classes: classes, C: geometricMean, coefficients: w, intercepts: b,
                              trainAccuracy: metrics.accuracy, trainLogLoss: metrics.logLoss ?? .nan,
                              iterations: iterations, converged: converged, Cs: Cs, foldAccuracy: [], cvAccuracy: [])
        m.multiclass = .oneVsRest
        m.perClassC = perClass
        m.oneVsRestNotes = notes
        return m
    }

    /// sklearn's `StratifiedKFold(folds, shuffle=False)` test-fold index of every example: classes are ordered by
    /// first appearance, each class's examples (in order) are dealt to folds in contiguous runs whose sizes come
    /// from dealing the class-sorted labels round-robin.
    public static func stratifiedFolds(labels: [Int], folds: Int) -> [Int] {
        var order: [Int: Int] = [:]
        for l in labels where order[l] == nil { order[l] = order.count }
        let encoded = labels.map { order[$0]! }
        let k = order.count
        let sorted = encoded.sorted()
        var allocation = [[Int]](repeating: [Int](repeating: 0, count: k), count: folds)
        for (i, c) in sorted.enumerated() { allocation[i % folds][c] += 1 }
        var result = [Int](repeating: 0, count: labels.count)
        for c in 0..<k {
            var foldsForClass: [Int] = []
            for f in 0..<folds { foldsForClass += [Int](repeating: f, count: allocation[f][c]) }
            var next = 0
            for i in labels.indices where encoded[i] == c { result[i] = foldsForClass[next]; next += 1 }
        }
        return result
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func gatherRows<T: BLASScalar>(_ x: Matrix<T>, _ rows: [Int]) -> Matrix<T> {
        let m = Matrix<T>(rows: rows.count, cols: x.cols)
        for (r, i) in rows.enumerated() { (m.pointer + r &* x.cols).update(from: x.pointer + i &* x.stride, count: x.cols) }
        return m
    }

    /// One training set, centred (and optionally standardised) once; solves for any C from a given start.
    /// Parameters θ are a (d+1) × K′ matrix: rows 0..<d are W (centred space), row d is b.
    struct Problem {
        let centred: CentredFeatures
        let labels: [Int]
        let classes: Int
        let kk: Int
        let logits: Matrix<Double>   // n × K′ scratch

        init<T: BLASScalar>(_ x: Matrix<T>, labels: [Int], classes: Int, standardize: Bool) {
            centred = CentredFeatures(x, standardize: standardize)
            self.labels = labels
            self.classes = classes
            kk = classes == 2 ? 1 : classes
            logits = Matrix<Double>(rows: x.rows, cols: kk)
        }

        func zeroParameters() -> Matrix<Double> { Matrix<Double>(rows: centred.xc.cols + 1, cols: kk) }

        /// F(θ) = (1/n)Σ CE + ‖W‖²/(2Cn) and its gradient (the sklearn objective divided by C·n).
        func objective(_ theta: Matrix<Double>, _ grad: Matrix<Double>, C: Double) -> Double {
            let x = centred.xc, n = x.rows, d = x.cols
            let w = theta.rows(0..<d), gw = grad.rows(0..<d)
            let lp = logits.pointer, tp = theta.pointer
            for i in 0..<n { for k in 0..<kk { lp[i &* kk &+ k] = tp[d &* kk &+ k] } }
            try? BLAS.gemm(x, w, beta: 1, into: logits)
            // Loss and residual G = P − Y (written over the logits).
            var loss = 0.0
            labels.withUnsafeBufferPointer { lab in
                for i in 0..<n {
                    let row = lp + i &* kk, y = lab[i]
                    if kk == 1 {
                        let z = row[0], t: Double = y == 1 ? 1 : 0
                        // log(1 + e^z) − t·z, stably; σ(z) − t.
                        loss += (z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))) - t * z
                        row[0] = (z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z))) - t
                    } else {
                        let zy = row[y]
                        let (mx, sum) = softmaxRow(row, count: kk)
                        loss += Foundation.log(sum) - (zy - mx)   // −log softmax_y = log Σₖ e^{zₖ−max} − (z_y − max)
                        row[y] -= 1
                    }
                }
            }
            let invN = 1 / Double(n), lambda = 1 / (C * Double(n))
            // ∇W = XᵀG/n + λW, ∇b = Σᵢ Gᵢ/n.
            try? gw.assign(w)
            BLAS.scal(lambda, gw)
            try? BLAS.gemm(transA: true, alpha: invN, x, logits, beta: 1, into: gw)
            let gp = grad.pointer
            for k in 0..<kk { gp[d &* kk &+ k] = 0 }
            for i in 0..<n { for k in 0..<kk { gp[d &* kk &+ k] += lp[i &* kk &+ k] } }
            for k in 0..<kk { gp[d &* kk &+ k] *= invN }
            let wNorm2 = (try? BLAS.dot(w, w)) ?? 0
            return loss * invN + 0.5 * lambda * wNorm2
        }

        @discardableResult
        func solve(_ theta: Matrix<Double>, C: Double, tolerance: Double, maxIterations: Int) -> LBFGS.Result {
            let solver = LBFGS(maxIterations: maxIterations, gradientTolerance: tolerance)
            return solver.minimize(theta) { t, g in objective(t, g, C: C) }
        }

        /// (W, b) in raw feature space from θ; softmax intercepts shifted to sum to zero.
        func rawCoefficients(_ theta: Matrix<Double>) -> (Matrix<Double>, [Double]) {
            let d = centred.xc.cols
            let w = theta.rows(0..<d).copy()
            if let s = centred.scale { for j in 0..<d { for k in 0..<kk { w.pointer[j &* kk &+ k] /= s[j] } } }
            var b = (0..<kk).map { theta[d, $0] }
            if kk > 1 { let mean = b.reduce(0, +) / Double(kk); b = b.map { $0 - mean } }
            for k in 0..<kk { for j in 0..<d { b[k] -= centred.mean[j] * w.pointer[j &* kk &+ k] } }
            return (w, b)
        }

        func model<T: BLASScalar>(_ theta: Matrix<Double>, C: Double, result: LBFGS.Result, x: Matrix<T>,
                                  labels: [Int]) throws -> LogisticModel {
            let (w, b) = rawCoefficients(theta)
            guard w.allFinite, b.allSatisfy(\.isFinite) else {
                throw ProbeError.numerical("logistic regression diverged (non-finite coefficients) at C = \(C)")
            }
            let logits = try linearScores(x, coefficients: w, intercepts: b)
            let p = probabilities(fromLogits: logits, classes: classes)
            let metrics = try ClassificationMetrics(predicted: classesFromScores(logits), truth: labels,
                                                    classes: classes, probabilities: p)
            return LogisticModel(classes: classes, C: C, coefficients: w, intercepts: b,
                                 trainAccuracy: metrics.accuracy, trainLogLoss: metrics.logLoss ?? .nan,
                                 iterations: result.iterations, converged: result.converged, Cs: [],
                                 foldAccuracy: [], cvAccuracy: [])
        }
    }
}

/// Softmax (or, for one column, [1 − σ, σ]; for one-vs-rest, the K sigmoids normalised to sum to one) of logits,
/// n × K.
func probabilities(fromLogits z: Matrix<Double>, classes: Int, multiclass: LogisticMulticlass = .multinomial)
    -> Matrix<Double> {
    let p = Matrix<Double>(rows: z.rows, cols: classes)
    func sigmoid(_ v: Double) -> Double { v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v)) }
    for i in 0..<z.rows {
        if z.cols > 1 && multiclass == .oneVsRest {
            var sum = 0.0
            for k in 0..<z.cols { let s = sigmoid(z[i, k]); p[i, k] = s; sum += s }
            for k in 0..<z.cols { p[i, k] /= sum }
        } else if z.cols == 1 {
            let v = z[i, 0]
            let s = v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
            p[i, 0] = 1 - s; p[i, 1] = s
        } else {
            for k in 0..<z.cols { p[i, k] = z[i, k] }
            softmaxRow(p.pointer + i &* p.stride, count: z.cols)
        }
    }
    return p
}

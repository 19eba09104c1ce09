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
    public let Cs: [Double]
    public let foldAccuracy: [[Double]]
    public let cvAccuracy: [Double]
    public var cvScore: Double? { cvAccuracy.isEmpty ? nil : cvAccuracy[Cs.firstIndex(of: C) ?? 0] }

    /// Logits X·W + 1bᵀ (n × K′). Throws on a width mismatch or NaN/inf.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func decisionFunction<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        try linearScores(x, coefficients: coefficients, intercepts: intercepts)
    }

    /// Class probabilities (n × K).
    public func predictProbabilities<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        probabilities(fromLogits: try decisionFunction(x), classes: classes)
    }

    public func predict<T: BLASScalar>(_ x: Matrix<T>) throws -> [Int] { classesFromScores(try decisionFunction(x)) }
}

/// Multinomial (K ≥ 3) / binary (K = 2) logistic regression with sklearn's L2 objective, and C by stratified CV.
public enum LogisticRegression {
    /// What `fitCV` maximises over the C grid: mean fold accuracy (sklearn's default), or mean fold −log-loss
    /// (sklearn `scoring="neg_log_loss"`; for measuring the probe's loss rather than its accuracy).
    /// With `.logLoss`, `cvAccuracy` holds the mean fold −log-loss.
    public enum CVScoring: String, CaseIterable, Sendable { case accuracy, logLoss = "log-loss" }

    /// sklearn `LogisticRegressionCV(Cs=10)`: logspace(−4, 4, 10).
    public static let defaultCs = logspace(-4, 4, 10)

    /// Minimises C·Σᵢ CE(xᵢ, yᵢ) + ½‖W‖² (intercept unpenalised) by L-BFGS to ‖∇‖_∞ ≤ tolerance (on the
    /// objective divided by C·n). Throws `ProbeError` on bad input or C ≤ 0.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fit<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, C: Double,
                                          standardize: Bool = false, tolerance: Double = 1e-8,
                                          maxIterations: Int = 1000) throws -> LogisticModel {
        try validateTraining(x, labels, classes: classes)
        guard C > 0, C.isFinite else { throw ProbeError.invalidArgument("C must be positive and finite (got \(C))") }
        let problem = Problem(x, labels: labels, classes: classes, standardize: standardize)
        let theta = problem.zeroParameters()
        let r = problem.solve(theta, C: C, tolerance: tolerance, maxIterations: maxIterations)
        return try problem.model(theta, C: C, result: r, x: x, labels: labels)
    }

    /// Chooses C from `Cs` by stratified `folds`-fold CV accuracy (sklearn's `StratifiedKFold` without shuffling;
    /// first best C on ties), then refits on all the data.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fitCV<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int, Cs: [Double] = defaultCs,
                                            folds: Int = 5, standardize: Bool = false, tolerance: Double = 1e-8,
                                            maxIterations: Int = 1000,
                                            scoring: CVScoring = .accuracy) throws -> LogisticModel {
        try validateTraining(x, labels, classes: classes)
        guard !Cs.isEmpty else { throw ProbeError.invalidArgument("the C grid is empty") }
        for c in Cs where !(c > 0 && c.isFinite) {
            throw ProbeError.invalidArgument("C must be positive and finite (got \(c))")
        }
        guard folds >= 2 else { throw ProbeError.invalidArgument("folds must be at least 2 (got \(folds))") }
        guard folds <= x.rows else { throw ProbeError.invalidArgument("\(folds) folds but only \(x.rows) examples") }
        let assignment = stratifiedFolds(labels: labels, folds: folds)
        var scores = [[Double]](repeating: [Double](repeating: 0, count: Cs.count), count: folds)
        for fold in 0..<folds {
            let trainRows = assignment.indices.filter { assignment[$0] != fold }
            let testRows = assignment.indices.filter { assignment[$0] == fold }
            let xTrain = gatherRows(x, trainRows), xTest = gatherRows(x, testRows)
            let yTrain = trainRows.map { labels[$0] }, yTest = testRows.map { labels[$0] }
            let problem = Problem(xTrain, labels: yTrain, classes: classes, standardize: standardize)
            let theta = problem.zeroParameters()   // warm-started along the C path, as sklearn does
            for (ci, c) in Cs.enumerated() {
                _ = problem.solve(theta, C: c, tolerance: tolerance, maxIterations: maxIterations)
                let (w, b) = problem.rawCoefficients(theta)
                let logits = try linearScores(xTest, coefficients: w, intercepts: b)
                switch scoring {
                case .accuracy:
                    let predicted = classesFromScores(logits)
                    scores[fold][ci] = Double(zip(predicted, yTest).filter { $0 == $1 }.count) / Double(yTest.count)
                case .logLoss:
                    let p = probabilities(fromLogits: logits, classes: classes)
                    var s = 0.0
                    for (i, t) in yTest.enumerated() { s += Foundation.log(max(p[i, t], 1e-300)) }
                    scores[fold][ci] = s / Double(yTest.count)       // −log-loss: higher is better
                }
            }
        }
        let sums = (0..<Cs.count).map { ci in (0..<folds).map { scores[$0][ci] }.reduce(0, +) }
        var best = 0
        for ci in 1..<Cs.count where sums[ci] > sums[best] { best = ci }
        let problem = Problem(x, labels: labels, classes: classes, standardize: standardize)
        let theta = problem.zeroParameters()
        let r = problem.solve(theta, C: Cs[best], tolerance: tolerance, maxIterations: maxIterations)
        let m = try problem.model(theta, C: Cs[best], result: r, x: x, labels: labels)
        return LogisticModel(classes: m.classes, C: m.C, coefficients: m.coefficients, intercepts: m.intercepts,
                             trainAccuracy: m.trainAccuracy, trainLogLoss: m.trainLogLoss, iterations: m.iterations,
                             converged: m.converged, Cs: Cs, foldAccuracy: scores,
                             cvAccuracy: sums.map { $0 / Double(folds) })
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
                        var mx = row[0]
                        for k in 1..<kk where row[k] > mx { mx = row[k] }
                        let zy = row[y] - mx
                        var sum = 0.0
                        for k in 0..<kk { let e = Foundation.exp(row[k] - mx); row[k] = e; sum += e }
                        let inv = 1 / sum
                        loss += Foundation.log(sum) - zy   // −log softmax_y = log Σₖ e^{zₖ−max} − (z_y − max)
                        for k in 0..<kk { row[k] *= inv }
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

/// Softmax (or, for one column, [1 − σ, σ]) of logits, n × K.
func probabilities(fromLogits z: Matrix<Double>, classes: Int) -> Matrix<Double> {
    let p = Matrix<Double>(rows: z.rows, cols: classes)
    for i in 0..<z.rows {
        if z.cols == 1 {
            let v = z[i, 0]
            let s = v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
            p[i, 0] = 1 - s; p[i, 1] = s
        } else {
            var mx = z[i, 0]
            for k in 1..<z.cols where z[i, k] > mx { mx = z[i, k] }
            var sum = 0.0
            for k in 0..<z.cols { let e = Foundation.exp(z[i, k] - mx); p[i, k] = e; sum += e }
            for k in 0..<z.cols { p[i, k] /= sum }
        }
    }
    return p
}

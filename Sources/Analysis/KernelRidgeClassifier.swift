import Foundation
import Linalg

/// Ridge classification in the dual, on a precomputed linear kernel K = XXᵀ (n × n), with exact leave-one-out
/// selection of α — scikit-learn's `RidgeClassifierCV` (`gcv_mode="eigen"`, `fit_intercept=True`) without X.
///
/// Targets: classes sorted; with two classes one column, +1 for the second class and −1 for the first; with C > 2,
/// one ±1 column per class (one-vs-rest). The intercept is unpenalised, by centring: with x̄ the mean training row,
/// K_c = (X − 1x̄ᵀ)(X − 1x̄ᵀ)ᵀ, K_c[i,j] = K_ij − m_i − m_j + m̄ (m = row means of K, m̄ their mean), and targets
/// centred on their means ȳ. Let K' = K_c + 11ᵀ = Q diag(λ) Qᵀ (one `syevd`); the eigenvector closest to 1/√n is the
/// intercept direction. For each α, w_k = 1/(λ_k + α) except w = 0 on the intercept direction; then
/// c = Q diag(w) Qᵀ y_c are the dual coefficients, G⁻¹_ii = Σ_k w_k Q_ik², and the leave-one-out residual is exactly
/// e_i = c_i / G⁻¹_ii. The chosen α minimises the mean of e² over samples and targets (first on ties). The decision
/// function of a new row x is Σ_j c_j (x − x̄)ᵀ(x_j − x̄) + ȳ, computed from the cross kernel k_j = xᵀx_j.
public struct KernelRidgeClassifier {
    public let classes: [Int]
    public let alphas: [Double]
    /// Mean squared leave-one-out residual for each α (scikit-learn's `best_score_` is minus the chosen one).
    public let leaveOneOutMeanSquaredError: [Double]
    public let alpha: Double
    /// Accuracy of the leave-one-out predictions at the chosen α.
    public let leaveOneOutAccuracy: Double
    /// n × targets dual coefficients at the chosen α.
    public let dualCoefficients: Matrix<Double>
    public let targetMeans: [Double]
    let kernelRowMeans: [Double]
    let kernelMean: Double

    public init(gram k: Matrix<Double>, labels: [Int], alphas: [Double] = [0.1, 1, 10]) throws {
        let n = k.rows
        guard k.cols == n else { throw AnalysisError.shapeMismatch("kernel ridge: Gram must be square, got \(k.shapeDescription)") }
        guard labels.count == n else {
            throw AnalysisError.shapeMismatch("kernel ridge: \(labels.count) labels for a \(n) × \(n) Gram")
        }
        guard !alphas.isEmpty, alphas.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw AnalysisError.invalidArgument("kernel ridge: alphas must be a non-empty list of positive numbers, got \(alphas)")
        }
        try requireFinite(k, "Gram")
        let classes = Array(Set(labels)).sorted()
        guard classes.count >= 2 else {
            throw AnalysisError.invalidArgument("kernel ridge: need at least two classes, got \(classes)")
        }
        let targets = classes.count == 2 ? 1 : classes.count
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let y = Matrix<Double>(rows: n, cols: targets) { i, t in
            let c = classIndex[labels[i]]!
            return targets == 1 ? (c == 1 ? 1 : -1) : (c == t ? 1 : -1)
        }
        let ym = columnMeans(y)
        subtractRowVector(y, ym)

        // Centred kernel plus 11ᵀ.
        var m = [Double](repeating: 0, count: n)
        for i in 0..<n { var s = 0.0; for j in 0..<n { s += k[i, j] }; m[i] = s / Double(n) }
        let mbar = m.reduce(0, +) / Double(n)
        let kc = Matrix<Double>(rows: n, cols: n) { i, j in k[i, j] - m[i] - m[j] + mbar + 1 }
        let (lambda, q) = try LAPACK.syevd(kc)
        // Intercept direction: largest |Qᵀ1|.
        var interceptDim = 0, best = -1.0
        for c in 0..<n {
            var s = 0.0
            for i in 0..<n { s += q[i, c] }
            if abs(s) > best { best = abs(s); interceptDim = c }
        }
        let qty = try BLAS.matmul(q, y, transA: true)   // n × targets
        let q2 = Matrix<Double>(rows: n, cols: n) { i, c in q[i, c] * q[i, c] }

        var mse = [Double](), bestIndex = 0
        var bestCoefficients = Matrix<Double>(rows: n, cols: targets), bestErrors = bestCoefficients
        for (a, alpha) in alphas.enumerated() {
            let w = Matrix<Double>(rows: n, cols: 1) { c, _ in c == interceptDim ? 0 : 1 / (lambda[c] + alpha) }
            let scaled = Matrix<Double>(rows: n, cols: targets) { c, t in w[c, 0] * qty[c, t] }
            let coef = try BLAS.matmul(q, scaled)                 // c = Q diag(w) Qᵀ y
            let ginv = try BLAS.matmul(q2, w)                     // G⁻¹_ii = Σ_k w_k Q_ik²
            let errors = Matrix<Double>(rows: n, cols: targets) { i, t in coef[i, t] / ginv[i, 0] }
            var s = 0.0
            for i in 0..<n { for t in 0..<targets { s += errors[i, t] * errors[i, t] } }
            mse.append(s / Double(n * targets))
            if a == 0 || mse[a] < mse[bestIndex] { bestIndex = a; bestCoefficients = coef; bestErrors = errors }
        }
        guard mse.allSatisfy({ $0.isFinite }) else {
            throw AnalysisError.nonFinite("kernel ridge: leave-one-out errors are not finite (degenerate Gram?)")
        }
        // Leave-one-out predictions: ŷ_i = y_i − e_i (in centred units; the argmax is offset-invariant only after
        // adding the means back).
        var correct = 0
        for i in 0..<n {
            let scores = (0..<targets).map { y[i, $0] - bestErrors[i, $0] + ym[$0] }
            if Self.decide(scores, classes) == labels[i] { correct += 1 }
        }
        self.classes = classes
        self.alphas = alphas
        leaveOneOutMeanSquaredError = mse
        alpha = alphas[bestIndex]
        leaveOneOutAccuracy = Double(correct) / Double(n)
        dualCoefficients = bestCoefficients
        targetMeans = ym
        kernelRowMeans = m
        kernelMean = mbar
    }

    static func decide(_ scores: [Double], _ classes: [Int]) -> Int {
        if scores.count == 1 { return scores[0] > 0 ? classes[1] : classes[0] }
        var best = 0
        for t in 1..<scores.count where scores[t] > scores[best] { best = t }
        return classes[best]
    }

    /// Decision values (m × targets) from the cross kernel K_* = X_* Xᵀ (m × n, e.g. `SparseMatrix.gram(test, train)`).
    public func decisionFunction(crossKernel kt: Matrix<Double>) throws -> Matrix<Double> {
        let n = kernelRowMeans.count
        guard kt.cols == n else {
            throw AnalysisError.shapeMismatch("kernel ridge: cross kernel has \(kt.cols) columns, the model was fit on \(n) rows")
        }
        try requireFinite(kt, "cross kernel")
        let centred = Matrix<Double>(rows: kt.rows, cols: n)
        for i in 0..<kt.rows {
            var mt = 0.0
            for j in 0..<n { mt += kt[i, j] }
            mt /= Double(n)
            for j in 0..<n { centred[i, j] = kt[i, j] - mt - kernelRowMeans[j] + kernelMean }
        }
        let out = Matrix<Double>(rows: kt.rows, cols: targetMeans.count) { _, t in targetMeans[t] }
        try BLAS.gemm(centred, dualCoefficients, beta: 1, into: out)
        return out
    }

    /// Predicted class labels from the cross kernel.
    public func predict(crossKernel kt: Matrix<Double>) throws -> [Int] {
        let d = try decisionFunction(crossKernel: kt)
        return (0..<d.rows).map { i in Self.decide((0..<d.cols).map { d[i, $0] }, classes) }
    }
}

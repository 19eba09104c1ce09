import Linalg

/// How `RidgeClassifier.fit` scores each λ from its exact leave-one-out predictions.
public enum RidgeSelection: String, CaseIterable, Sendable {
    /// Lowest mean squared LOO error on the ±1 targets (scikit-learn's default).
    case squaredError = "squared-error"
    /// Highest LOO accuracy (argmax of the LOO decision values; sign for two classes).
    case accuracy
}

/// A fitted ridge classifier. Coefficients apply to raw (unstandardised) features: scores = X·W + 1bᵀ.
public struct RidgeModel {
    /// Number of classes K; the model has K′ = 1 decision column when K = 2, else K.
    public let classes: Int
    /// The chosen regularisation strength λ.
    public let alpha: Double
    /// The grid searched, in the order given (ties go to the first).
    public let alphas: [Double]
    public let selection: RidgeSelection
    /// Mean squared LOO error over all n·K′ targets, per λ.
    public let looMeanSquaredError: [Double]
    /// LOO accuracy per λ.
    public let looAccuracy: [Double]
    /// Index of `alpha` in `alphas`.
    public let chosenIndex: Int
    /// W, d × K′ (in raw feature space).
    public let coefficients: Matrix<Double>
    /// b, K′ values.
    public let intercepts: [Double]
    /// Training-feature means μ, and the standard deviations σ used when the fit standardised.
    public let featureMean: [Double]
    public let featureScale: [Double]?
    /// "cov" (eigendecomposition of XᵀX, n > d) or "gram" (of XXᵀ, n ≤ d).
    public let mode: String
    public let trainAccuracy: Double

    /// The selection score of the chosen λ (MSE for `.squaredError`, accuracy for `.accuracy`).
    public var looScore: Double {
        selection == .squaredError ? looMeanSquaredError[chosenIndex] : looAccuracy[chosenIndex]
    }

    /// Decision values X·W + 1bᵀ (n × K′). Throws when X's width differs from the training features or X has NaN/inf.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func decisionFunction<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        try linearScores(x, coefficients: coefficients, intercepts: intercepts)
    }

    /// Predicted classes: argmax of the decision values (for two classes: class 1 when the score is > 0).
    public func predict<T: BLASScalar>(_ x: Matrix<T>) throws -> [Int] {
        classesFromScores(try decisionFunction(x))
    }
}

/// Closed-form ridge classifier with exact LOO selection of λ from one eigendecomposition (see the module doc).
public enum RidgeClassifier {
    /// logspace(−3, 3, 13): 0.001, 0.00316, …, 1000.
    public static let defaultAlphas = logspace(-3, 3, 13)

    /// Fits ±1 one-vs-rest ridge targets with an unpenalised intercept, choosing λ from `alphas` by exact LOO.
    /// `labels` are class indices in 0..<classes (at least two distinct). X may be Float or Double; the work is
    /// in Double. Throws `ProbeError` on empty data, length mismatch, NaN/inf, a single class, or λ ≤ 0.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fit<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int,
                                          alphas: [Double] = defaultAlphas, select: RidgeSelection = .squaredError,
                                          standardize: Bool = false) throws -> RidgeModel {
        try validateTraining(x, labels, classes: classes)
        guard !alphas.isEmpty else { throw ProbeError.invalidArgument("the alpha grid is empty") }
        for a in alphas where !(a > 0 && a.isFinite) {
            throw ProbeError.invalidArgument("alpha must be positive and finite (got \(a))")
        }
        let n = x.rows, d = x.cols, kk = classes == 2 ? 1 : classes, na = alphas.count
        let centred = CentredFeatures(x, standardize: standardize)
        let xc = centred.xc

        // ±1 targets, their column means ȳ and the centred Y_c.
        let yc = Matrix<Double>(rows: n, cols: kk)
        var yMean = [Double](repeating: 0, count: kk)
        for i in 0..<n {
            for k in 0..<kk {
                let target: Double = kk == 1 ? (labels[i] == 1 ? 1 : -1) : (labels[i] == k ? 1 : -1)
                yc.pointer[i &* kk &+ k] = target
                yMean[k] += target
            }
        }
        for k in 0..<kk { yMean[k] /= Double(n) }
        for i in 0..<n { for k in 0..<kk { yc.pointer[i &* kk &+ k] -= yMean[k] } }

        // [Y_c | 1]: both right-hand sides of every LOO formula, so each basis is packed once.
        let yc1 = Matrix<Double>(rows: n, cols: kk + 1)
        for i in 0..<n {
            for k in 0..<kk { yc1.pointer[i &* (kk + 1) &+ k] = yc.pointer[i &* kk &+ k] }
            yc1.pointer[i &* (kk + 1) &+ kk] = 1
        }
        var mse = [Double](repeating: 0, count: na), acc = [Double](repeating: 0, count: na)
        var best = -1
        var bestWeights: Matrix<Double>? = nil   // cov: D⊙ZᵀY_c (d × K′); gram: c = G⁻¹Y_c (n × K′)
        var basis: Matrix<Double>                // cov: V (d × d); gram: unused
        let mode = n > d ? "cov" : "gram"

        // Scores λ number a from its LOO residuals e = num/den (n × K′, den one value per row).
        func score(_ a: Int, numerator: Matrix<Double>, denominator: (Int) -> Double) -> Bool {
            var sq = 0.0, correct = 0
            let num = numerator.pointer, ldn = numerator.stride
            var pred = [Double](repeating: 0, count: kk)
            for i in 0..<n {
                let den = denominator(i)
                for k in 0..<kk {
                    let e = num[i &* ldn &+ k] / den
                    sq += e * e
                    pred[k] = yc.pointer[i &* kk &+ k] + yMean[k] - e   // LOO decision value, uncentred
                }
                var cls: Int
                if kk == 1 { cls = pred[0] > 0 ? 1 : 0 } else {
                    cls = 0
                    for k in 1..<kk where pred[k] > pred[cls] { cls = k }
                }
                if cls == labels[i] { correct += 1 }
            }
            mse[a] = sq / Double(n * kk)
            acc[a] = Double(correct) / Double(n)
            if best < 0 { return true }
            switch select {
            case .squaredError: return mse[a] < mse[best]
            case .accuracy: return acc[a] > acc[best]
            }
        }

        // D as a matrix: dmat[j, a] = 1 / (ℓⱼ + λ_a).
        func inverseShifts(_ ell: [Double]) -> Matrix<Double> {
            Matrix<Double>(rows: ell.count, cols: na) { j, a in 1 / (ell[j] + alphas[a]) }
        }

        if mode == "cov" {
            // X_cᵀX_c = V diag(ℓ) Vᵀ; Z = X_c V.
            let cov = Matrix<Double>(rows: d, cols: d)
            try BLAS.syrk(trans: true, xc, into: cov)
            let (ell, v) = try LAPACK.syevd(cov)
            basis = v
            let z = try BLAS.matmul(xc, v)
            // R = [ZᵀY_c | Zᵀ1] (d × (K′+1)).
            let r = try BLAS.matmul(z, yc1, transA: true)
            // diag(X_c H⁻¹ X_cᵀ) for every λ at once: (Z∘Z)·D. Z∘Z overwrites X_c, no longer needed.
            let z2 = xc
            do {
                let zp = z.pointer, z2p = z2.pointer, count = n * d
                parallelChunks(count, minChunk: 1 << 16) { range in
                    for t in range { z2p[t] = zp[t] * zp[t] }
                }
            }
            let dmat = inverseShifts(ell)
            let hdiag = try BLAS.matmul(z2, dmat)       // n × n_λ
            // [Z D ZᵀY_c | Z D Zᵀ1] for every λ in one gemm (Z is packed once): column block a of `fitted`.
            let w1 = kk + 1
            let scaled = Matrix<Double>(rows: d, cols: na * w1)
            for j in 0..<d {
                for a in 0..<na {
                    let dj = dmat.pointer[j &* na &+ a]
                    for k in 0..<w1 { scaled.pointer[j &* (na * w1) &+ a &* w1 &+ k] = r.pointer[j &* w1 &+ k] * dj }
                }
            }
            let fitted = try BLAS.matmul(z, scaled)     // n × (n_λ·(K′+1))
            let ldf = na * w1
            let alphaC = Matrix<Double>(rows: n, cols: kk)
            let invN = 1 / Double(n)
            for a in 0..<na {
                let fp = fitted.pointer + a &* w1
                for i in 0..<n {
                    for k in 0..<kk { alphaC.pointer[i &* kk &+ k] = yc.pointer[i &* kk &+ k] - fp[i &* ldf &+ k] }
                }
                let better = score(a, numerator: alphaC) { i in
                    1 - hdiag.pointer[i &* na &+ a] - (1 - fp[i &* ldf &+ kk]) * invN
                }
                if better { best = a; bestWeights = scaled.columns((a * w1)..<(a * w1 + kk)).copy() }
            }
        } else {
            // X_cX_cᵀ = Q diag(ℓ) Qᵀ.
            let (ell, q): ([Double], Matrix<Double>) = try {
                let gram = Matrix<Double>(rows: n, cols: n)
                try BLAS.syrk(trans: false, xc, into: gram)
                return try LAPACK.syevd(gram)
            }()
            basis = q
            let r = try BLAS.matmul(q, yc1, transA: true)   // [QᵀY_c | Qᵀ1]
            let dmat = inverseShifts(ell)
            let gdiag: Matrix<Double> = try {           // diag(G⁻¹) for every λ: (Q∘Q)·D, n × n_λ
                let q2 = Matrix<Double>(rows: n, cols: n)
                let qp = q.pointer, q2p = q2.pointer, count = n * n
                parallelChunks(count, minChunk: 1 << 16) { range in
                    for t in range { q2p[t] = qp[t] * qp[t] }
                }
                return try BLAS.matmul(q2, dmat)
            }()
            // [c = G⁻¹Y_c | G⁻¹1] for every λ in one gemm: column block a of `cg`.
            let w1 = kk + 1
            let scaled = Matrix<Double>(rows: n, cols: na * w1)
            for j in 0..<n {
                for a in 0..<na {
                    let dj = dmat.pointer[j &* na &+ a]
                    for k in 0..<w1 { scaled.pointer[j &* (na * w1) &+ a &* w1 &+ k] = r.pointer[j &* w1 &+ k] * dj }
                }
            }
            let cg = try BLAS.matmul(q, scaled)          // n × (n_λ·(K′+1))
            let ldc = na * w1
            let invN = 1 / Double(n)
            for a in 0..<na {
                let c = cg.columns((a * w1)..<(a * w1 + kk))
                let cp = cg.pointer + a &* w1
                let better = score(a, numerator: c) { i in
                    gdiag.pointer[i &* na &+ a] - cp[i &* ldc &+ kk] * invN
                }
                if better { best = a; bestWeights = c.copy() }
            }
        }
        guard best >= 0, let weights = bestWeights else { throw ProbeError.numerical("no alpha could be scored") }

        // W in the (possibly standardised) centred space, then mapped to raw features.
        let w: Matrix<Double> = mode == "cov" ? try BLAS.matmul(basis, weights)
                                              : try BLAS.matmul(xc, weights, transA: true)
        if let s = centred.scale {
            for j in 0..<d { for k in 0..<kk { w.pointer[j &* kk &+ k] /= s[j] } }
        }
        var b = yMean
        for k in 0..<kk { for j in 0..<d { b[k] -= centred.mean[j] * w.pointer[j &* kk &+ k] } }
        for v in mse + acc where !v.isFinite {
            throw ProbeError.numerical("ridge leave-one-out scores are not finite (ill-conditioned features?)")
        }

        let predicted = classesFromScores(try linearScores(x, coefficients: w, intercepts: b))
        let trainAcc = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(n)
        return RidgeModel(classes: classes, alpha: alphas[best], alphas: alphas, selection: select,
                          looMeanSquaredError: mse, looAccuracy: acc, chosenIndex: best, coefficients: w,
                          intercepts: b, featureMean: centred.mean, featureScale: centred.scale, mode: mode,
                          trainAccuracy: trainAcc)
    }
}

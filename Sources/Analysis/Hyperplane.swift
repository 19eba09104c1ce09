import Foundation
import Linalg
import Model

/// Does a final LayerNorm put every f(s) on one affine hyperplane?
///
/// LayerNorm outputs f = γ ⊙ z + β with z = (x − mean x)/σ, and Σᵢ zᵢ = 0 exactly. So when every γᵢ ≠ 0,
/// wᵀf = wᵀβ for w = 1/γ: all contexts lie on the hyperplane {f : wᵀ(f − β) = 0}, the centred Gram of f has a zero
/// eigenvalue, and a least-squares fit of anything on f is rank-deficient (the linearity fit uses a pseudo-inverse
/// for that reason). This records the evidence two ways: from the model's γ, β (|Σᵢ zᵢ| relative to ‖z‖√d per
/// context, ≈ Float32 rounding when on the plane), and from the data alone (smallest / largest eigenvalue of the
/// centred covariance of f).
public struct HyperplaneCheck: Codable, Equatable, Sendable {
    /// max over contexts of |Σᵢ (fᵢ − βᵢ)/γᵢ| / (‖(f − β)/γ‖ · √d); nil when γ, β were not given or some γᵢ = 0.
    public let maxRelativeResidual: Double?
    /// λ_min / λ_max of the centred covariance of f (≈ 0 when the rows of f lie on a hyperplane).
    public let covarianceEigenRatio: Double
    /// True when the γ, β residual is below 1e-4 (or, without γ, β, when the eigenvalue ratio is below 1e-9).
    public let onHyperplane: Bool

    public init(f: Matrix<Float>, gamma: [Float]?, beta: [Float]?) throws {
        guard f.rows >= 2, f.cols >= 1 else { throw AnalysisError.emptyInput("hyperplane check: need ≥ 2 contexts") }
        try requireFinite(f, "f")
        let n = f.rows, d = f.cols
        var residual: Double? = nil
        if let gamma, let beta, gamma.count == d, beta.count == d, gamma.allSatisfy({ $0 != 0 }) {
            var worst = 0.0
            for i in 0..<n {
                let r = f.pointer + i &* f.stride
                var s = 0.0, ss = 0.0
                for j in 0..<d {
                    let z = Double(r[j] - beta[j]) / Double(gamma[j])
                    s += z; ss += z * z
                }
                let scale = (ss * Double(d)).squareRoot()
                if scale > 0 { worst = max(worst, abs(s) / scale) }
            }
            residual = worst
        }
        let x = gatherRows(f, Array(0..<n))
        subtractRowVector(x, columnMeans(x))
        let cov = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, x, into: cov)
        let (values, _) = try LAPACK.syevd(cov)
        let top = values.max() ?? 0
        let ratio = top > 0 ? max(values.min() ?? 0, 0) / top : .nan
        maxRelativeResidual = residual
        covarianceEigenRatio = ratio
        onHyperplane = residual.map { $0 < 1e-4 } ?? (ratio < 1e-9)
    }

}

extension HyperplaneCheck {
    /// The check with γ and β of `model`'s final LayerNorm (`lnf.weight`, `lnf.bias`; the data-only evidence when the
    /// model has none).
    public init(f: Matrix<Float>, model: GPT) throws {
        var gamma: [Float]? = nil, beta: [Float]? = nil
        if let w = model.layout.tensor(named: "lnf.weight"), let b = model.layout.tensor(named: "lnf.bias") {
            let gw = model.tensorView(w), gb = model.tensorView(b)
            gamma = (0..<gw.cols).map { gw[0, $0] }
            beta = (0..<gb.cols).map { gb[0, $0] }
        }
        try self.init(f: f, gamma: gamma, beta: beta)
    }
}

import XCTest
import Foundation
import Linalg
@testable import Analysis
import Support
import Report

/// Gaussian random Float matrix with the given scale.
func randomMatrix(_ rows: Int, _ cols: Int, scale: Double, seed: UInt64) -> Matrix<Float> {
    var rng = SeededRandom(seed: seed)
    return Matrix<Float>(rows: rows, cols: cols) { _, _ in Float(rng.normal() * scale) }
}

final class SoftmaxStatisticsTests: XCTestCase {
    func testMatchesNaiveDoubleLoopAcrossBlocks() throws {
        let n = 11, v = 7, d = 5
        let f = randomMatrix(n, d, scale: 2, seed: 1), phi = randomMatrix(v, d, scale: 1.5, seed: 2)
        let (mean, logZ) = try SoftmaxStatistics.compute(f: f, phi: phi, blockRows: 3)
        for i in 0..<n {
            var logits = [Double](repeating: 0, count: v)
            for w in 0..<v { for k in 0..<d { logits[w] += Double(f[i, k]) * Double(phi[w, k]) } }
            let m = logits.max()!
            let z = logits.map { exp($0 - m) }.reduce(0, +)
            XCTAssertEqual(logZ[i], m + log(z), accuracy: 1e-4)
            for k in 0..<d {
                var e = 0.0
                for w in 0..<v { e += exp(logits[w] - m) / z * Double(phi[w, k]) }
                XCTAssertEqual(Double(mean[i, k]), e, accuracy: 1e-5)
            }
        }
    }

    func testRejectsBadShapesAndNaN() {
        let f = randomMatrix(4, 3, scale: 1, seed: 1)
        XCTAssertThrowsError(try SoftmaxStatistics.compute(f: f, phi: randomMatrix(5, 4, scale: 1, seed: 2)))
        f[1, 1] = .nan
        XCTAssertThrowsError(try SoftmaxStatistics.compute(f: f, phi: randomMatrix(5, 3, scale: 1, seed: 2))) {
            XCTAssertTrue("\($0)".contains("(1, 1)"), "\($0)")
        }
    }
}

final class LinearityCheckTests: XCTestCase {
    func testExactlyAffineMapHasUnitR2() throws {
        let n = 60, d = 4, e = 3
        let f = randomMatrix(n, d, scale: 1, seed: 3), a = randomMatrix(d, e, scale: 1, seed: 4)
        let y = try BLAS.matmul(f, a)
        for i in 0..<n { for j in 0..<e { y[i, j] += Float(j) - 0.5 } }
        let r = try LinearityCheck.run(f: f, conditionalMean: y, heldOutFraction: 0.25, seed: 9)
        XCTAssertEqual(r.fitContexts + r.heldOutContexts, n)
        XCTAssertEqual(r.heldOutContexts, 15)
        XCTAssertEqual(r.heldOutR2, 1, accuracy: 1e-6)
        XCTAssertEqual(r.trainR2, 1, accuracy: 1e-6)
        XCTAssertEqual(r.heldOutR2PerDimensionSummary.min, 1, accuracy: 1e-6)
    }

    func testCollinearFeaturesAsAfterLayerNormStayFinite() throws {
        // Rows of f sum to a constant (as a LayerNorm output does): XcᵀXc is exactly singular.
        let n = 80, d = 5
        let f = randomMatrix(n, d, scale: 1, seed: 21)
        for i in 0..<n { var s: Float = 0; for j in 0..<d - 1 { s += f[i, j] }; f[i, d - 1] = 3 - s }
        let a = randomMatrix(d, 4, scale: 1, seed: 22)
        let y = try BLAS.matmul(f, a)
        let r = try LinearityCheck.run(f: f, conditionalMean: y, seed: 2)
        XCTAssertTrue(r.solver.contains("rank 4 of 5"), r.solver)
        XCTAssertEqual(r.heldOutR2, 1, accuracy: 1e-6)
        let fit = try AffineFit(x: f.converted(to: Double.self), y: y.converted(to: Double.self))
        XCTAssertLessThan(fit.weights.frobeniusNorm, 10 * a.converted(to: Double.self).frobeniusNorm)
    }

    func testSmallThetaSoftmaxIsNearlyLinear() throws {
        // For small θ, Φp_θ = Φᵀsoftmax(Φθ) ≈ mean φ + Cov(φ)θ: the affine fit should explain nearly everything.
        let f = randomMatrix(200, 6, scale: 0.02, seed: 5), phi = randomMatrix(50, 6, scale: 1, seed: 6)
        let r = try LinearityCheck.run(f: f, phi: phi, seed: 1, blockRows: 64)
        XCTAssertEqual(r.vocabularySize, 50)
        XCTAssertGreaterThan(r.heldOutR2, 0.999)
        XCTAssertGreaterThan(r.heldOutR2PerDimensionSummary.min, 0.99)
    }

    func testLargeThetaSoftmaxIsNotLinear() throws {
        // Large θ saturates the softmax onto single words: Φp_θ jumps between a few φ_w, far from affine.
        let f = randomMatrix(300, 3, scale: 6, seed: 7), phi = randomMatrix(8, 3, scale: 1, seed: 8)
        let r = try LinearityCheck.run(f: f, phi: phi, seed: 1)
        XCTAssertLessThan(r.heldOutR2, 0.9)
        XCTAssertGreaterThan(r.heldOutR2, 0)      // still better than the mean
        let md = r.markdown()
        XCTAssertTrue(md.contains("held-out (pooled)"))
        let json = try JSONEncoder().encode(r)
        XCTAssertEqual(try JSONDecoder().decode(LinearityCheck.self, from: json).heldOutR2, r.heldOutR2)
    }

    func testSplitIsSeededAndDisjoint() throws {
        let a = try FitSplit(count: 50, heldOutFraction: 0.2, seed: 3)
        let b = try FitSplit(count: 50, heldOutFraction: 0.2, seed: 3)
        let c = try FitSplit(count: 50, heldOutFraction: 0.2, seed: 4)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.heldOut, c.heldOut)
        XCTAssertEqual(Set(a.fit + a.heldOut), Set(0..<50))
        XCTAssertEqual(a.heldOut.count, 10)
        XCTAssertThrowsError(try FitSplit(count: 50, heldOutFraction: 1, seed: 0))
        XCTAssertThrowsError(try FitSplit(count: 1, heldOutFraction: 0.5, seed: 0))
    }

    func testRowCountMismatchThrows() {
        XCTAssertThrowsError(try LinearityCheck.run(f: randomMatrix(5, 2, scale: 1, seed: 1),
                                                    conditionalMean: randomMatrix(6, 2, scale: 1, seed: 1)))
    }
}

final class LogPartitionCheckTests: XCTestCase {
    /// θ and ½θᵀAθ + bᵀθ + c for a random symmetric A.
    func quadraticData(n: Int, d: Int, seed: UInt64) -> (Matrix<Float>, [Double]) {
        let theta = randomMatrix(n, d, scale: 1, seed: seed)
        var rng = SeededRandom(seed: seed + 100)
        let a = Matrix<Double>(rows: d, cols: d)
        for i in 0..<d { for j in i..<d { let v = rng.normal(); a[i, j] = v; a[j, i] = v } }
        let b = (0..<d).map { _ in rng.normal() }
        let values = (0..<n).map { r -> Double in
            var q = 10.0
            for i in 0..<d {
                let ti = Double(theta[r, i])
                q += b[i] * ti
                for j in 0..<d { q += 0.5 * ti * a[i, j] * Double(theta[r, j]) }
            }
            return q
        }
        return (theta, values)
    }

    func testTrulyQuadraticIsRecoveredExactlyWithAllComponents() throws {
        let (theta, values) = quadraticData(n: 120, d: 5, seed: 11)
        let r = try LogPartitionCheck.run(theta: theta, logPartition: values, method: .principalComponents(k: 5),
                                          seed: 2)
        XCTAssertLessThan(r.quadratic.heldOutRelativeErrorMean, 1e-6)
        XCTAssertEqual(r.quadratic.heldOutR2, 1, accuracy: 1e-8)
        XCTAssertEqual(r.quadratic.parameters, 15 + 5 + 1)
        XCTAssertLessThan(r.linear.heldOutR2, 0.9)      // the quadratic part is real
        XCTAssertGreaterThan(r.linear.heldOutRelativeErrorMean, 100 * r.quadratic.heldOutRelativeErrorMean)
    }

    func testTrulyQuadraticIsRecoveredByPolynomialKernel() throws {
        let (theta, values) = quadraticData(n: 150, d: 4, seed: 12)
        let r = try LogPartitionCheck.run(theta: theta, logPartition: values,
                                          method: .polynomialKernel(relativeRidge: 1e-10), seed: 2)
        XCTAssertLessThan(r.quadratic.heldOutRelativeErrorMean, 1e-4)
        XCTAssertEqual(r.quadratic.heldOutR2, 1, accuracy: 1e-6)
        XCTAssertTrue(r.methodDescription.contains("kernel"))
    }

    func testSoftmaxLogPartitionOfSmallThetaIsNearlyQuadratic() throws {
        // log Z(θ) = log V + φ̄ᵀθ + ½θᵀCov(φ)θ + O(|θ|³): the quadratic fit beats the linear fit by far.
        let f = randomMatrix(300, 4, scale: 0.15, seed: 13), phi = randomMatrix(40, 4, scale: 1, seed: 14)
        let r = try LogPartitionCheck.run(f: f, phi: phi, method: .principalComponents(k: 4), seed: 5)
        XCTAssertLessThan(r.quadratic.heldOutRelativeErrorMean, 1e-3)
        XCTAssertLessThan(r.quadratic.heldOutRelativeErrorMean * 10, r.linear.heldOutRelativeErrorMean)
        XCTAssertGreaterThan(r.quadratic.heldOutR2, 0.98)   // cubic terms remain
        XCTAssertTrue(r.methodDescription.contains("top 4 principal components"))
        XCTAssertTrue(r.markdown().contains("| linear"))
        let back = try JSONDecoder().decode(LogPartitionCheck.self, from: try JSONEncoder().encode(r))
        XCTAssertEqual(back.method, .principalComponents(k: 4))
    }

    func testTooFewContextsForColumnsThrowsClearly() {
        let (theta, values) = quadraticData(n: 20, d: 6, seed: 15)
        XCTAssertThrowsError(try LogPartitionCheck.run(theta: theta, logPartition: values,
                                                       method: .principalComponents(k: 6))) {
            XCTAssertTrue("\($0)".contains("fit contexts"), "\($0)")
        }
    }
}

final class TaylorBaselineTests: XCTestCase {
    /// log Z(θ) = log Σ exp(φ_wᵀθ): ḡ must be its gradient and J its Hessian at the centre (central differences).
    func testGradientAndHessianAreThoseOfLogZ() throws {
        let phi = randomMatrix(12, 3, scale: 1, seed: 21)
        let centre = [0.3, -0.2, 0.5]
        let t = try TaylorExpansion(phi: phi, centre: centre)
        func logZ(_ th: [Double]) -> Double {
            let l = (0..<12).map { w in (0..<3).map { Double(phi[w, $0]) * th[$0] }.reduce(0, +) }
            let m = l.max()!
            return m + log(l.map { exp($0 - m) }.reduce(0, +))
        }
        XCTAssertEqual(t.logPartitionAtCentre, logZ(centre), accuracy: 1e-12)
        let h = 1e-4
        for i in 0..<3 {
            var a = centre, b = centre
            a[i] += h; b[i] -= h
            XCTAssertEqual(t.gradient[i], (logZ(a) - logZ(b)) / (2 * h), accuracy: 1e-7)
            for j in 0..<3 {
                var pp = centre, pm = centre, mp = centre, mm = centre
                pp[i] += h; pp[j] += h; pm[i] += h; pm[j] -= h; mp[i] -= h; mp[j] += h; mm[i] -= h; mm[j] -= h
                let fd = (logZ(pp) - logZ(pm) - logZ(mp) + logZ(mm)) / (4 * h * h)
                XCTAssertEqual(t.hessian[i, j], fd, accuracy: 1e-5)
            }
        }
    }

    /// Contexts tightly clustered around their mean: the zero-parameter expansion is as good as the fit
    /// (both ≈ 1); widely spread contexts: the expansion falls far below the fit.
    func testBaselineTracksTheSpreadOfContexts() throws {
        let phi = randomMatrix(60, 4, scale: 1, seed: 22)
        var rng = SeededRandom(seed: 23)
        let tight = Matrix<Float>(rows: 200, cols: 4) { _, j in Float(j == 0 ? 2 : 0) + Float(0.02 * rng.normal()) }
        let a = try LinearityCheck.run(f: tight, phi: phi, seed: 1)
        XCTAssertGreaterThan(try XCTUnwrap(a.taylorHeldOutR2), 0.999)
        XCTAssertLessThan(try XCTUnwrap(a.spread).relativeSpread, 0.03)
        let wide = randomMatrix(200, 4, scale: 2, seed: 24)
        let b = try LinearityCheck.run(f: wide, phi: phi, seed: 1)
        XCTAssertLessThan(try XCTUnwrap(b.taylorHeldOutR2), b.heldOutR2 - 0.2)
        XCTAssertTrue(b.markdown().contains("zero-parameter Taylor"))
        let z = try LogPartitionCheck.run(f: wide, phi: phi, method: .principalComponents(k: 4), seed: 1)
        let t1 = try XCTUnwrap(z.taylorFirstOrder), t2 = try XCTUnwrap(z.taylorSecondOrder)
        XCTAssertEqual(t1.parameters, 0)
        XCTAssertLessThan(t1.heldOutR2, z.quadratic.heldOutR2)
        XCTAssertLessThan(t2.heldOutR2, z.quadratic.heldOutR2)
        XCTAssertTrue(z.markdown().contains("order 2 (0 fitted parameters)"))
    }

    func testSpreadOfKnownPoints() throws {
        let s = ContextSpread(try Matrix<Double>([[1, 0], [3, 0]]))
        XCTAssertEqual(s.meanNorm, 2, accuracy: 1e-15)
        XCTAssertEqual(s.rmsDistance, 1, accuracy: 1e-15)
        XCTAssertEqual(s.relativeSpread, 0.5, accuracy: 1e-15)
    }

    /// A Quad-like model: Φᵀf ≈ 0 puts every context at log Z = ln V, and both checks are flagged as trivial.
    func testConstantLogPartitionIsFlagged() throws {
        let phi = randomMatrix(50, 4, scale: 1, seed: 25)
        let f = randomMatrix(100, 4, scale: 1e-5, seed: 26)
        let lin = try LinearityCheck.run(f: f, phi: phi, seed: 0)
        XCTAssertEqual(try XCTUnwrap(lin.logPartition).mean, log(50), accuracy: 1e-3)
        XCTAssertTrue(try XCTUnwrap(lin.logPartition).isConstant)
        XCTAssertTrue(lin.markdown().contains("Trivially linear"))
        let lz = try LogPartitionCheck.run(f: f, phi: phi, method: .principalComponents(k: 2), seed: 0)
        XCTAssertTrue(lz.markdown().contains("Trivially linear"))
        // A CE-like spread of log Z is not flagged.
        let ce = try LinearityCheck.run(f: randomMatrix(100, 4, scale: 1, seed: 27), phi: phi, seed: 0)
        XCTAssertFalse(try XCTUnwrap(ce.logPartition).isConstant)
        XCTAssertFalse(ce.markdown().contains("Trivially linear"))
    }
}

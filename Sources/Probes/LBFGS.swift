import Linalg

/// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4/7.5) with a strong-Wolfe line search (Algorithms 3.5/3.6,
/// safeguarded cubic interpolation in the zoom). Vectors are contiguous `Matrix<Double>` buffers; every vector
/// operation is a BLAS level-1 call.
struct LBFGS {
    var memory = 10
    var maxIterations = 1000
    /// Stop when ‖∇f‖_∞ ≤ gradientTolerance.
    var gradientTolerance = 1e-8
    /// Also stop when the relative decrease of f in one iteration is below this (scipy's factr·ε).
    var relativeDecrease = 1e-15

    struct Result { var value: Double; var iterations: Int; var converged: Bool }

    /// Minimises f starting from (and overwriting) `x`. `evaluate(x, g)` returns f(x) and writes ∇f(x) into g.
    func minimize(_ x: Matrix<Double>, _ evaluate: (Matrix<Double>, Matrix<Double>) throws -> Double) rethrows -> Result {
        let n = x.count
        let g = Matrix<Double>(rows: x.rows, cols: x.cols)
        var f = try evaluate(x, g)
        var s: [Matrix<Double>] = [], y: [Matrix<Double>] = [], rho: [Double] = []
        let dir = Matrix<Double>(rows: x.rows, cols: x.cols)
        let xNew = Matrix<Double>(rows: x.rows, cols: x.cols), gNew = Matrix<Double>(rows: x.rows, cols: x.cols)
        var alphaBuf = [Double](repeating: 0, count: memory)
        func infNorm(_ v: Matrix<Double>) -> Double {
            var m = 0.0; let p = v.pointer
            for i in 0..<n { m = Swift.max(m, Swift.abs(p[i])) }
            return m
        }
        func dot(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double { Double.dot(n, a.pointer, 1, b.pointer, 1) }
        if infNorm(g) <= gradientTolerance { return Result(value: f, iterations: 0, converged: true) }
        guard maxIterations >= 1 else { return Result(value: f, iterations: 0, converged: false) }  // no steps allowed

        for iter in 1...maxIterations {
            // Two-loop recursion: dir = −H·g.
            dir.pointer.update(from: g.pointer, count: n)
            let m = s.count
            for i in stride(from: m - 1, through: 0, by: -1) {
                alphaBuf[i] = rho[i] * dot(s[i], dir)
                Double.axpy(n, -alphaBuf[i], y[i].pointer, 1, dir.pointer, 1)
            }
            if m > 0 {
                let gamma = dot(s[m - 1], y[m - 1]) / dot(y[m - 1], y[m - 1])
                Double.scal(n, gamma, dir.pointer, 1)
            }
            for i in 0..<m {
                let beta = rho[i] * dot(y[i], dir)
                Double.axpy(n, alphaBuf[i] - beta, s[i].pointer, 1, dir.pointer, 1)
            }
            Double.scal(n, -1, dir.pointer, 1)
            var slope = dot(g, dir)
            if !(slope < 0) {  // not a descent direction: restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                dir.pointer.update(from: g.pointer, count: n); Double.scal(n, -1, dir.pointer, 1)
                slope = dot(g, dir)
            }
            let initial = m == 0 ? Swift.min(1, 1 / Swift.max(infNorm(g), 1e-300)) : 1
            guard let (step, fNew) = try lineSearch(x: x, f: f, slope: slope, dir: dir, initial: initial,
                                                    xNew: xNew, gNew: gNew, evaluate) else {
                return Result(value: f, iterations: iter, converged: infNorm(g) <= gradientTolerance * 100)
            }
            // s = step·dir, y = gNew − g.
            let sNew = Matrix<Double>(rows: x.rows, cols: x.cols), yNew = gNew.copy()
            Double.axpy(n, step, dir.pointer, 1, sNew.pointer, 1)
            Double.axpy(n, -1, g.pointer, 1, yNew.pointer, 1)
            let sy = dot(sNew, yNew)
            if sy > 1e-300 {
                if s.count == memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sNew); y.append(yNew); rho.append(1 / sy)
            }
            x.pointer.update(from: xNew.pointer, count: n)
            g.pointer.update(from: gNew.pointer, count: n)
            let decrease = (f - fNew) / Swift.max(Swift.abs(f), Swift.abs(fNew), 1)
            f = fNew
            if infNorm(g) <= gradientTolerance { return Result(value: f, iterations: iter, converged: true) }
            if decrease <= relativeDecrease { return Result(value: f, iterations: iter, converged: true) }
        }
        return Result(value: f, iterations: maxIterations, converged: false)
    }

    /// Strong-Wolfe line search along `dir` (c1 = 1e-4, c2 = 0.9). Leaves the accepted point in xNew/gNew and
    /// returns (step, f(xNew)), or nil when no acceptable step exists at machine precision.
    func lineSearch(x: Matrix<Double>, f f0: Double, slope d0: Double, dir: Matrix<Double>, initial: Double,
                    xNew: Matrix<Double>, gNew: Matrix<Double>,
                    _ evaluate: (Matrix<Double>, Matrix<Double>) throws -> Double) rethrows -> (Double, Double)? {
        let n = x.count, c1 = 1e-4, c2 = 0.9
        func phi(_ t: Double) throws -> (Double, Double) {
            xNew.pointer.update(from: x.pointer, count: n)
            Double.axpy(n, t, dir.pointer, 1, xNew.pointer, 1)
            let v = try evaluate(xNew, gNew)
            return (v, Double.dot(n, gNew.pointer, 1, dir.pointer, 1))
        }
        // Minimiser of the cubic through (a, fa, da), (b, fb, db), kept inside the bracket.
        func cubic(_ a: Double, _ fa: Double, _ da: Double, _ b: Double, _ fb: Double, _ db: Double) -> Double {
            let d1 = da + db - 3 * (fa - fb) / (a - b)
            let disc = d1 * d1 - da * db
            let lo = Swift.min(a, b), hi = Swift.max(a, b)
            if disc >= 0 {
                let d2 = (b > a ? 1.0 : -1.0) * disc.squareRoot()
                let t = b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
                if t.isFinite, t > lo + 0.1 * (hi - lo), t < hi - 0.1 * (hi - lo) { return t }
            }
            return (a + b) / 2
        }
        func zoom(_ aLo0: Double, _ fLo0: Double, _ dLo0: Double, _ aHi0: Double, _ fHi0: Double,
                  _ dHi0: Double) throws -> (Double, Double)? {
            var aLo = aLo0, fLo = fLo0, dLo = dLo0, aHi = aHi0, fHi = fHi0, dHi = dHi0
            for _ in 0..<60 {
                let t = cubic(aLo, fLo, dLo, aHi, fHi, dHi)
                let (ft, dt) = try phi(t)
                if ft > f0 + c1 * t * d0 || ft >= fLo {
                    aHi = t; fHi = ft; dHi = dt
                } else {
                    if Swift.abs(dt) <= -c2 * d0 { return (t, ft) }
                    if dt * (aHi - aLo) >= 0 { aHi = aLo; fHi = fLo; dHi = dLo }
                    aLo = t; fLo = ft; dLo = dt
                }
                if Swift.abs(aHi - aLo) <= 1e-16 * Swift.max(aLo, aHi) { break }
            }
            // Bracket collapsed: accept the best sufficient-decrease point if it decreased f.
            if aLo > 0, fLo < f0 { let r = try phi(aLo); return (aLo, r.0) }
            return nil
        }
        var aPrev = 0.0, fPrev = f0, dPrev = d0, a = initial
        for i in 0..<40 {
            let (fa, da) = try phi(a)
            if !fa.isFinite { a = (aPrev + a) / 2; continue }   // overflow: shrink
            if fa > f0 + c1 * a * d0 || (i > 0 && fa >= fPrev) {
                return try zoom(aPrev, fPrev, dPrev, a, fa, da)
            }
            if Swift.abs(da) <= -c2 * d0 { return (a, fa) }
            if da >= 0 { return try zoom(a, fa, da, aPrev, fPrev, dPrev) }
            aPrev = a; fPrev = fa; dPrev = da
            a *= 2
        }
        return nil
    }
}

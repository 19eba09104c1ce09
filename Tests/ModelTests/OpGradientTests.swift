import Foundation
import Linalg
import XCTest
@testable import Model
import Support

/// Finite-difference checks of every op's backward, plus forward checks against naive Double loops.
final class OpGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 42)

    func testVectorisedExpAndTanh() {
        for x in stride(from: -20.0 as Float, through: 20, by: 0.37) {
            XCTAssertEqual(Double(exp1(x)), Foundation.exp(Double(x)), accuracy: 3e-7 * Foundation.exp(Double(x)))
            XCTAssertEqual(Double(tanh1(x)), Foundation.tanh(Double(x)), accuracy: 1e-6)
        }
        XCTAssertEqual(exp1(-200), 0, accuracy: 1e-37)
    }

    func testLayerNorm() {
        let N = 3, C = 13  // one 8-wide block and a 5-element tail
        let inp = Buf(random: N * C, rng: &rng), w = Buf(random: C, rng: &rng), b = Buf(random: C, rng: &rng)
        let out = Buf(N * C), mean = Buf(N), rstd = Buf(N), dout = Buf(random: N * C, rng: &rng)
        func loss() -> Double {
            layernormForward(out: out.p, mean: mean.p, rstd: rstd.p, inp: inp.p, weight: w.p, bias: b.p, N: N, C: C)
            return weightedSum(out.p, dout.p, N * C)
        }
        _ = loss()
        // Forward against a Double reference.
        for r in 0..<N {
            let x = (0..<C).map { Double(inp.p[r * C + $0]) }
            let m = x.reduce(0, +) / Double(C)
            let v = x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(C)
            for j in 0..<C {
                let ref = (x[j] - m) / (v + 1e-5).squareRoot() * Double(w.p[j]) + Double(b.p[j])
                XCTAssertEqual(Double(out.p[r * C + j]), ref, accuracy: 1e-5)
            }
        }
        let dinp = Buf(N * C, fill: 0.5), dw = Buf(C), db = Buf(C), scratch = Buf(N * C), ones = Buf(N, fill: 1)
        layernormBackward(dinp: dinp.p, dweight: dw.p, dbias: db.p, scratch: scratch.p, ones: ones.p, dout: dout.p,
                          inp: inp.p, weight: w.p, mean: mean.p, rstd: rstd.p, N: N, C: C)
        // dinp is accumulated: subtract the 0.5 it started with.
        let dx = dinp.array.map { $0 - 0.5 }
        checkGradient("layernorm dinp", inp.p, analytic: dx, indices: Array(0..<(N * C)), loss: loss)
        checkGradient("layernorm dweight", w.p, analytic: dw.array, indices: Array(0..<C), loss: loss)
        checkGradient("layernorm dbias", b.p, analytic: db.array, indices: Array(0..<C), loss: loss)
    }

    func testMatmulWithBiasAndResidual() {
        let N = 5, C = 11, OC = 9
        let inp = Buf(random: N * C, rng: &rng), w = Buf(random: OC * C, rng: &rng)
        let bias = Buf(random: OC, rng: &rng), res = Buf(random: N * OC, rng: &rng)
        let out = Buf(N * OC), dout = Buf(random: N * OC, rng: &rng)
        func loss() -> Double {
            matmulForward(out: out.p, inp: inp.p, weight: w.p, bias: bias.p, residual: res.p, N: N, C: C, OC: OC)
            return weightedSum(out.p, dout.p, N * OC)
        }
        _ = loss()
        for i in 0..<N {
            for o in 0..<OC {
                var s = Double(bias.p[o]) + Double(res.p[i * OC + o])
                for k in 0..<C { s += Double(inp.p[i * C + k]) * Double(w.p[o * C + k]) }
                XCTAssertEqual(Double(out.p[i * OC + o]), s, accuracy: 1e-4)
            }
        }
        let dinp = Buf(N * C), dw = Buf(OC * C), db = Buf(OC), ones = Buf(N, fill: 1)
        matmulBackward(dinp: dinp.p, dweight: dw.p, dbias: db.p, dout: dout.p, inp: inp.p, weight: w.p, ones: ones.p,
                       N: N, C: C, OC: OC)
        checkGradient("matmul dinp", inp.p, analytic: dinp.array, indices: Array(0..<(N * C)), loss: loss)
        checkGradient("matmul dweight", w.p, analytic: dw.array, indices: Array(0..<(OC * C)), loss: loss)
        checkGradient("matmul dbias", bias.p, analytic: db.array, indices: Array(0..<OC), loss: loss)
        // Without bias or residual: plain product.
        matmulForward(out: out.p, inp: inp.p, weight: w.p, bias: nil, N: N, C: C, OC: OC)
        var s = 0.0
        for k in 0..<C { s += Double(inp.p[k]) * Double(w.p[k]) }
        XCTAssertEqual(Double(out.p[0]), s, accuracy: 1e-4)
    }

    func testGELU() {
        let n = 29
        let inp = Buf(random: n, std: 2, rng: &rng), out = Buf(n), dout = Buf(random: n, rng: &rng)
        func loss() -> Double { geluForward(out: out.p, inp: inp.p, count: n); return weightedSum(out.p, dout.p, n) }
        _ = loss()
        for i in 0..<n {
            let x = Double(inp.p[i])
            let ref = 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            XCTAssertEqual(Double(out.p[i]), ref, accuracy: 1e-5)
        }
        let dinp = Buf(n)
        geluBackward(dinp: dinp.p, inp: inp.p, dout: dout.p, count: n)
        checkGradient("gelu", inp.p, analytic: dinp.array, indices: Array(0..<n), eps: 1e-3, loss: loss)
    }

    func testEncoder() {
        let B = 2, T = 3, C = 10, V = 5
        let wte = Buf(random: V * C, rng: &rng), wpe = Buf(random: 4 * C, rng: &rng)
        var tokens: [Int32] = [1, 4, 1, 0, 1, 3]
        let out = Buf(B * T * C), dout = Buf(random: B * T * C, rng: &rng)
        func loss() -> Double {
            tokens.withUnsafeBufferPointer {
                encoderForward(out: out.p, tokens: $0.baseAddress!, wte: wte.p, wpe: wpe.p, B: B, T: T, C: C)
            }
            return weightedSum(out.p, dout.p, B * T * C)
        }
        _ = loss()
        XCTAssertEqual(out.p[C + 2], wte.p[4 * C + 2] + wpe.p[C + 2])
        let dwte = Buf(V * C), dwpe = Buf(4 * C)
        tokens.withUnsafeMutableBufferPointer {
            encoderBackward(dwte: dwte.p, dwpe: dwpe.p, dout: dout.p, tokens: $0.baseAddress!, B: B, T: T, C: C)
        }
        checkGradient("encoder dwte", wte.p, analytic: dwte.array, indices: Array(0..<(V * C)), loss: loss)
        checkGradient("encoder dwpe", wpe.p, analytic: dwpe.array, indices: Array(0..<(4 * C)), loss: loss)
    }

    func testCausalAttention() {
        let B = 2, T = 5, C = 12, h = 3, hs = C / h
        let qkv = Buf(random: B * T * 3 * C, rng: &rng), out = Buf(B * T * C), att = Buf(B * h * T * T)
        let dout = Buf(random: B * T * C, rng: &rng)
        func loss() -> Double {
            attentionForward(out: out.p, att: att.p, qkv: qkv.p, B: B, T: T, C: C, heads: h)
            return weightedSum(out.p, dout.p, B * T * C)
        }
        _ = loss()
        // Naive forward in Double.
        for b in 0..<B {
            for hh in 0..<h {
                for t in 0..<T {
                    func q(_ tt: Int, _ part: Int, _ j: Int) -> Double { Double(qkv.p[(b * T + tt) * 3 * C + part * C + hh * hs + j]) }
                    var scores = (0...t).map { u in (0..<hs).map { q(t, 0, $0) * q(u, 1, $0) }.reduce(0, +) / Double(hs).squareRoot() }
                    let m = scores.max()!
                    scores = scores.map { Foundation.exp($0 - m) }
                    let z = scores.reduce(0, +)
                    for j in 0..<hs {
                        let ref = (0...t).map { scores[$0] / z * q($0, 2, j) }.reduce(0, +)
                        XCTAssertEqual(Double(out.p[(b * T + t) * C + hh * hs + j]), ref, accuracy: 1e-5)
                    }
                }
            }
        }
        let dqkv = Buf(B * T * 3 * C), datt = Buf(B * h * T * T)
        attentionBackward(dqkv: dqkv.p, datt: datt.p, dout: dout.p, qkv: qkv.p, att: att.p, B: B, T: T, C: C, heads: h)
        checkGradient("attention dqkv", qkv.p, analytic: dqkv.array, indices: Array(0..<(B * T * 3 * C)), loss: loss)
    }

    func testCrossEntropyFused() {
        let N = 4, V = 13
        let logits = Buf(random: N * V, std: 2, rng: &rng)
        let targets: [Int32] = [3, 0, 12, 7]
        let losses = Buf(N)
        func loss() -> Double {
            let z = logits.copy()
            targets.withUnsafeBufferPointer {
                crossEntropyForwardBackward(logits: z.p, losses: losses.p, targets: $0.baseAddress!, N: N, V: V,
                                            gradScale: nil)
            }
            return losses.array.map(Double.init).reduce(0, +) / Double(N)
        }
        let value = loss()
        // Reference: log-sum-exp in Double.
        var ref = 0.0
        for r in 0..<N {
            let z = (0..<V).map { Double(logits.p[r * V + $0]) }
            let m = z.max()!
            ref += Foundation.log(z.map { Foundation.exp($0 - m) }.reduce(0, +)) + m - z[Int(targets[r])]
        }
        XCTAssertEqual(value, ref / Double(N), accuracy: 1e-5)
        let g = logits.copy()
        targets.withUnsafeBufferPointer {
            crossEntropyForwardBackward(logits: g.p, losses: losses.p, targets: $0.baseAddress!, N: N, V: V,
                                        gradScale: 1 / Float(N))
        }
        checkGradient("cross-entropy dlogits", logits.p, analytic: g.array, indices: Array(0..<(N * V)), eps: 1e-2,
                      atol: 5e-4, loss: loss)
    }

    /// Naive Quad: z = Φf (V values) per token, ℓ = −z_w + ½‖z‖², in Double, with its gradients
    /// df = Φᵀ(z − e_w)/N and dΦ = Σ (z − e_w) fᵀ / N.
    func naiveQuad(f: Buf, phi: Buf, targets: [Int32], N: Int, d: Int, V: Int) -> (Double, [Double], [Double]) {
        var loss = 0.0
        var df = [Double](repeating: 0, count: N * d), dphi = [Double](repeating: 0, count: V * d)
        for r in 0..<N {
            var z = [Double](repeating: 0, count: V)
            for v in 0..<V { for j in 0..<d { z[v] += Double(phi.p[v * d + j]) * Double(f.p[r * d + j]) } }
            let w = Int(targets[r])
            loss += -z[w] + 0.5 * z.map { $0 * $0 }.reduce(0, +)
            var e = z; e[w] -= 1
            for v in 0..<V {
                for j in 0..<d {
                    df[r * d + j] += Double(phi.p[v * d + j]) * e[v] / Double(N)
                    dphi[v * d + j] += e[v] * Double(f.p[r * d + j]) / Double(N)
                }
            }
        }
        return (loss / Double(N), df, dphi)
    }

    func testFastQuadEqualsNaiveQuadAndFiniteDifferences() {
        let N = 7, d = 10, V = 23
        let f = Buf(random: N * d, rng: &rng), phi = Buf(random: V * d, std: 0.5, rng: &rng)
        let targets: [Int32] = [0, 5, 5, 22, 7, 1, 5]
        let losses = Buf(N), df = Buf(N * d), dphi = Buf(V * d, fill: 0.25)
        let gram = Buf(d * d), ftf = Buf(d * d), fg = Buf(N * d)
        let ws = QuadWorkspace(gram: gram.p, fTf: ftf.p, fG: fg.p)
        func fast(grad: Bool) -> Double {
            targets.withUnsafeBufferPointer {
                quadForwardBackward(f: f.p, phi: phi.p, targets: $0.baseAddress!, losses: losses.p,
                                    df: grad ? df.p : nil, dphi: grad ? dphi.p : nil, gradScale: 1 / Float(N),
                                    workspace: ws, N: N, d: d, V: V)
            }
            return losses.array.map(Double.init).reduce(0, +) / Double(N)
        }
        let value = fast(grad: true)
        let (ref, refDf, refDphi) = naiveQuad(f: f, phi: phi, targets: targets, N: N, d: d, V: V)
        XCTAssertEqual(value, ref, accuracy: 1e-4 * max(1, abs(ref)))
        for i in 0..<(N * d) { XCTAssertEqual(Double(df.p[i]), refDf[i], accuracy: 1e-4) }
        // dphi accumulates onto its initial 0.25.
        for i in 0..<(V * d) { XCTAssertEqual(Double(dphi.p[i]) - 0.25, refDphi[i], accuracy: 1e-4) }
        let analyticF = df.array, analyticPhi = dphi.array.map { $0 - 0.25 }
        checkGradient("quad df", f.p, analytic: analyticF, indices: Array(0..<(N * d)), loss: { fast(grad: false) })
        checkGradient("quad dphi", phi.p, analytic: analyticPhi, indices: Array(0..<(V * d)),
                      loss: { fast(grad: false) })
        withExtendedLifetime((gram, ftf, fg)) {}  // ws holds their raw pointers
    }
}

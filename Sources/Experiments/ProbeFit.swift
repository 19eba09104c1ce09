import Features
import Linalg
import Probes

/// The probes on features kept in their file's precision.
extension AnyFeatures {
    /// The ridge probe; `extend` lets a choice at an end of the grid extend it (`GridExtension.ridge`).
    public func fitRidge(labels: [Int], classes: Int, alphas: [Double], select: RidgeSelection, standardize: Bool,
                         decomposition: RidgeDecomposition, extend: Bool = true) throws -> RidgeModel {
        let ext: GridExtension? = extend ? .ridge : nil
        switch self {
        case .float(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                           select: select, standardize: standardize,
                                                           decomposition: decomposition, extension: ext)
        case .double(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                            select: select, standardize: standardize,
                                                            decomposition: decomposition, extension: ext)
        }
    }

    /// The logistic probe with k-fold CV over C; `extend` as for ridge (`GridExtension.logistic`).
    public func fitLogistic(labels: [Int], classes: Int, Cs: [Double], folds: Int, standardize: Bool, tolerance: Double,
                            maxIterations: Int, multiclass: LogisticMulticlass = .multinomial,
                            extend: Bool = true) throws -> LogisticModel {
        let ext: GridExtension? = extend ? .logistic : nil
        switch self {
        case .float(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
            multiclass: multiclass, extension: ext)
        case .double(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
            multiclass: multiclass, extension: ext)
        }
    }

    public func predict(ridge m: RidgeModel) throws -> [Int] {
        switch self { case .float(let x): return try m.predict(x); case .double(let x): return try m.predict(x) }
    }

    public func predict(logistic m: LogisticModel) throws -> [Int] {
        switch self { case .float(let x): return try m.predict(x); case .double(let x): return try m.predict(x) }
    }

    public func predictProbabilities(logistic m: LogisticModel) throws -> Matrix<Double> {
        switch self {
        case .float(let x): return try m.predictProbabilities(x)
        case .double(let x): return try m.predictProbabilities(x)
        }
    }
}

extension LabelledFeatures {
    /// A probe error as one line naming the file it concerns.
    public func describe(_ e: ProbeError) -> String {
        switch e {
        case .lengthMismatch, .singleClass, .labelOutOfRange: return "\(labelsPath): \(e)"
        default: return "\(featuresPath): \(e)"
        }
    }
}

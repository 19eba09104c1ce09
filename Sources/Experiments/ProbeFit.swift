import Features
import Linalg
import Probes

/// The probes on features kept in their file's precision.
extension AnyFeatures {
    public func fitRidge(labels: [Int], classes: Int, alphas: [Double], select: RidgeSelection, standardize: Bool,
                  decomposition: RidgeDecomposition) throws -> RidgeModel {
        switch self {
        case .float(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                           select: select, standardize: standardize,
                                                           decomposition: decomposition)
        case .double(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                            select: select, standardize: standardize,
                                                            decomposition: decomposition)
        }
    }

    public func fitLogistic(labels: [Int], classes: Int, Cs: [Double], folds: Int, standardize: Bool, tolerance: Double,
                     maxIterations: Int) throws -> LogisticModel {
        switch self {
        case .float(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations)
        case .double(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations)
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

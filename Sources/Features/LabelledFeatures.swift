import Foundation
import Linalg

/// Features kept in their file's precision (Float32/16 files as Float, float64 as Double) to spare memory.
public enum AnyFeatures {
    case float(Matrix<Float>)
    case double(Matrix<Double>)

    public var rows: Int { switch self { case .float(let m): return m.rows; case .double(let m): return m.rows } }
    public var cols: Int { switch self { case .float(let m): return m.cols; case .double(let m): return m.cols } }

    public func checkFinite(path: String) throws {
        func first<T: BLASScalar>(_ m: Matrix<T>) -> (Int, Int)? {
            for i in 0..<m.rows { for j in 0..<m.cols where !m[i, j].isFinite { return (i, j) } }
            return nil
        }
        let bad: (Int, Int)?
        switch self { case .float(let m): bad = first(m); case .double(let m): bad = first(m) }
        if let (i, j) = bad { throw FeatureError.file(path: path, message: "non-finite feature value (NaN or inf) at row \(i), column \(j)") }
    }
}

/// A features file and its labels file, loaded and checked against each other.
public struct LabelledFeatures {
    public let featuresPath: String
    public let labelsPath: String
    public let features: AnyFeatures
    public let labels: [Int]
    /// Names of the label values (index = label), from the extract folder's manifest.json when present.
    public var classNames: [String]? = nil

    /// `path` is a features .npy (then `labels` names the labels .npy) or an extract folder (then the `feature`
    /// family's file and labels.npy, unless `labels` is given). `role` names the option in errors.
    public static func load(_ path: String, labels labelsOption: String?, feature: FeatureFamily, role: String) throws
        -> LabelledFeatures {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FeatureError.file(path: path, message: "no such file or folder (\(role))")
        }
        let featuresPath: String, labelsPath: String
        if isDir.boolValue {
            featuresPath = (path as NSString).appendingPathComponent("\(feature.rawValue).npy")
            labelsPath = labelsOption ?? (path as NSString).appendingPathComponent("labels.npy")
        } else {
            guard let l = labelsOption else {
                throw FeatureError.badArgument("\(role) \(path) is a file: give its labels with \(role)-labels")
            }
            featuresPath = path
            labelsPath = l
        }
        let url = URL(fileURLWithPath: featuresPath)
        let header = try NPY.readHeader(url)
        guard header.shape.count == 2 else {
            throw FeatureError.file(path: featuresPath, message: "expected a 2-D feature array (n × d), got shape \(header.shape)")
        }
        guard header.shape[0] > 0, header.shape[1] > 0 else {
            throw FeatureError.file(path: featuresPath, message: "empty feature array (shape \(header.shape))")
        }
        let features: AnyFeatures = header.descr == "<f8" ? .double(try NPY.readMatrix(url, as: Double.self))
                                                          : .float(try NPY.readMatrix(url, as: Float.self))
        let labels = try NPY.readIntegers(URL(fileURLWithPath: labelsPath))
        guard labels.count == features.rows else {
            throw FeatureError.file(path: labelsPath, message: "\(labels.count) labels but \(featuresPath) has \(features.rows) rows")
        }
        try features.checkFinite(path: featuresPath)
        var names: [String]? = nil
        if isDir.boolValue, labelsOption == nil,
           FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("manifest.json")) {
            names = try FeatureFolder.manifest(URL(fileURLWithPath: path)).classNames
        }
        return LabelledFeatures(featuresPath: featuresPath, labelsPath: labelsPath, features: features, labels: labels,
                                classNames: names)
    }
}

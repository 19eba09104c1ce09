/// Which probe settings a table uses: lmprobe's own, or the paper's official evaluation code's, so a table can be set
/// beside the paper's line by line. Both are documented here side by side; `describe` prints the chosen one.
///
/// | setting | `.lmprobe` (default) | `.paper` (Saunshi et al.'s `test_downstream.py`) |
/// |---|---|---|
/// | prompts (`TaskSpec.withTrailingSpacePrompt`) | " This movie is", " This article is about" | the same with a trailing space (" This movie is ") |
/// | feature scaling | standardised (training mean / std) | none |
/// | logistic C grid | logspace(−6, 4, 11), extended at an edge | 10⁻⁶…10³ (one per decade) when n < 10,000, else 10⁻³…10² |
/// | folds | 5, stratified, no shuffle | 5 (`LogisticRegressionCV` default: stratified, no shuffle) |
/// | K ≥ 3 classes | multinomial softmax | one-vs-rest binary problems (liblinear), each with its own C; multinomial (sag) for SST-5 on Φp_f and subset features |
/// | "subset" feature | subset logits and subset p_f both reported | subset logits f·Φ_Sᵀ |
/// | ridge λ grid | logspace(−3, 6, 19), extended at an edge | (the paper has no ridge probe; lmprobe's grid, unscaled) |
///
/// The objective is what is reproduced, not the solver: L2 logistic loss C·Σ CE + ½‖W‖², minimised by lmprobe's
/// L-BFGS to its tolerance. liblinear's solver differs in one respect we do not copy: it penalises the intercept
/// (a bias feature with intercept_scaling = 1), lmprobe never does — a difference of order 1/(C·n) in the bias.
/// 'sag' is only a solver for the multinomial objective; lmprobe solves the same objective.
public enum ProbeProtocol: String, Codable, CaseIterable, Sendable {
    case lmprobe
    case paper

    /// Whether features are z-scored before the fit.
    public var standardize: Bool { self == .lmprobe }

    /// The logistic C grid for `trainingExamples` training rows.
    public func logisticCs(trainingExamples n: Int) -> [Double] {
        switch self {
        case .lmprobe: return LogisticRegression.defaultCs
        case .paper: return n < 10_000 ? logspace(-6, 3, 10) : logspace(-3, 2, 6)
        }
    }

    /// Grid extension at an edge: lmprobe's only (the paper's grid is fixed; an edge is still reported).
    public var logisticExtension: GridExtension? { self == .lmprobe ? .logistic : nil }

    public var folds: Int { 5 }

    /// K ≥ 3: `multinomialFeature` is true for the families the paper fits with the multinomial objective on SST-5
    /// (Φp_f and the subset features); every other multi-class probe of the paper is one-vs-rest.
    public func multiclass(classes: Int, multinomialFeature: Bool) -> LogisticMulticlass {
        switch self {
        case .lmprobe: return .multinomial
        case .paper: return classes > 2 && multinomialFeature ? .multinomial : .oneVsRest
        }
    }

    public var describe: String {
        switch self {
        case .lmprobe:
            return "lmprobe protocol: standardised features, ridge λ over logspace(−3, 6, 19) and logistic C over "
                + "logspace(−6, 4, 11) (both extended at an edge), 5-fold stratified CV, multinomial for K ≥ 3"
        case .paper:
            return "paper protocol (test_downstream.py): prompts with a trailing space, no feature scaling, logistic C "
                + "over 10⁻⁶…10³ (n < 10,000) or 10⁻³…10² (one per decade, not extended), 5-fold stratified CV, "
                + "one-vs-rest binary logistic for K ≥ 3 (multinomial for Φp_f / subset features), subset = logits"
        }
    }
}

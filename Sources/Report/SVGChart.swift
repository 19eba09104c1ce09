import Analysis
import Foundation

/// Hand-written SVG charts (no dependencies): every text node is XML-escaped, so the output is well-formed XML.
public enum SVGChart {
    /// Ten distinguishable colours (Tableau 10), reused cyclically.
    public static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    /// Escapes &, <, >, " and ' for XML text and attributes; drops characters XML 1.0 forbids.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                let v = u.value
                if v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD)
                    || v >= 0x10000 { out.unicodeScalars.append(u) }
            }
        }
        return out
    }

    /// Round tick values covering [lo, hi] (about `count` of them): steps of 1, 2 or 5 × 10^k.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(count, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out = [Double]()
        var t = ceil(lo / step - 1e-9) * step
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    static func num(_ x: Double) -> String { String(format: "%.2f", x) }

    static func label(_ x: Double, percent: Bool) -> String {
        percent ? String(format: "%.1f", 100 * x) : String(format: abs(x) >= 100 ? "%.0f" : "%.3g", x)
    }

    static func header(width: Int, height: Int, title: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
        font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

        """
    }

    static func legend(_ names: [String], x: Double, y: Double, colours: [Int]? = nil) -> String {
        var s = ""
        for (i, name) in names.enumerated() {
            let yy = y + Double(i) * 18
            let c = colours.map { $0[i] } ?? i
            s += "<rect x=\"\(num(x))\" y=\"\(num(yy - 10))\" width=\"12\" height=\"12\" fill=\"\(palette[c % palette.count])\"/>"
            s += "<text x=\"\(num(x + 18))\" y=\"\(num(yy))\">\(escape(name))</text>\n"
        }
        return s
    }

    /// Grouped bar chart: one group per entry of `groups` (tasks / columns), one bar per series (feature family)
    /// in each group, value labels above bars, a y axis with round ticks and a legend on the right.
    /// `values[s][g]` is series s in group g; nil (or NaN) leaves a gap. `percent` shows values × 100.
    public static func groupedBars(title: String, groups: [String], series: [String], values: [[Double?]],
                                   yLabel: String, percent: Bool = true, yRange: ClosedRange<Double>? = nil) throws
        -> String {
        guard values.count == series.count, values.allSatisfy({ $0.count == groups.count }) else {
            throw AnalysisError.shapeMismatch("bar chart: values must be \(series.count) series × \(groups.count) groups")
        }
        let finite = values.flatMap { $0 }.compactMap { $0 }.filter { $0.isFinite }
        let lo = yRange?.lowerBound ?? min(0, finite.min() ?? 0)
        var hi = yRange?.upperBound ?? max(finite.max() ?? 1, lo + 1e-9)
        if yRange == nil { hi = hi + (hi - lo) * 0.08 }
        let legendWidth = 24 + 7 * (series.map { $0.count }.max() ?? 0)
        let barWidth = 22.0, groupGap = 26.0
        let plotW = max(260, Double(groups.count) * (Double(series.count) * barWidth + groupGap))
        let left = 64.0, top = 40.0, plotH = 280.0
        let width = Int(left + plotW + 20 + Double(legendWidth)), height = Int(top + plotH + 70)
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - lo) / (hi - lo)) }
        var s = header(width: width, height: height, title: title)
        for t in ticks(lo, hi) {
            s += "<line x1=\"\(num(left))\" x2=\"\(num(left + plotW))\" y1=\"\(num(y(t)))\" y2=\"\(num(y(t)))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(num(left - 6))\" y=\"\(num(y(t) + 4))\" text-anchor=\"end\">\(label(t, percent: percent))</text>\n"
        }
        s += "<line x1=\"\(num(left))\" x2=\"\(num(left))\" y1=\"\(num(top))\" y2=\"\(num(top + plotH))\" stroke=\"black\"/>"
        s += "<line x1=\"\(num(left))\" x2=\"\(num(left + plotW))\" y1=\"\(num(y(max(lo, 0))))\" y2=\"\(num(y(max(lo, 0))))\" stroke=\"black\"/>\n"
        s += "<text transform=\"translate(16,\(num(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">"
        s += "\(escape(yLabel + (percent ? " (%)" : "")))</text>\n"
        let groupW = plotW / Double(max(groups.count, 1))
        for (g, name) in groups.enumerated() {
            let x0 = left + Double(g) * groupW + (groupW - Double(series.count) * barWidth) / 2
            for si in 0..<series.count {
                guard let v = values[si][g], v.isFinite else { continue }
                let x = x0 + Double(si) * barWidth
                let base = y(max(lo, 0)), top = y(min(max(v, lo), hi))
                s += "<rect x=\"\(num(x + 1))\" y=\"\(num(min(base, top)))\" width=\"\(num(barWidth - 2))\" "
                s += "height=\"\(num(abs(base - top)))\" fill=\"\(palette[si % palette.count])\">"
                s += "<title>\(escape("\(series[si]) · \(name): \(label(v, percent: percent))"))</title></rect>"
                s += "<text x=\"\(num(x + barWidth / 2))\" y=\"\(num(min(base, top) - 3))\" text-anchor=\"middle\" "
                s += "font-size=\"9\">\(label(v, percent: percent))</text>\n"
            }
            s += "<text x=\"\(num(left + (Double(g) + 0.5) * groupW))\" y=\"\(num(top + plotH + 18))\" "
            s += "text-anchor=\"middle\">\(escape(name))</text>\n"
        }
        s += legend(series, x: left + plotW + 16, y: top + 10)
        return s + "</svg>\n"
    }

    /// How one series of `lines` is drawn: palette colour index, a connecting line (solid or dashed), markers.
    public struct LineStyle: Sendable {
        public var colour: Int
        public var line: Bool
        public var dashed: Bool
        public var markers: Bool
        public init(colour: Int, line: Bool = true, dashed: Bool = false, markers: Bool = true) {
            self.colour = colour; self.line = line; self.dashed = dashed; self.markers = markers
        }
    }

    /// Tick positions on a log10 axis spanning [lo, hi] (in log10 units): whole decades when the span holds at
    /// least one, else round values of log10 (labelled by 10^t either way).
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let first = ceil(lo - 1e-9), last = floor(hi + 1e-9)
        guard last >= first else { return ticks(lo, hi) }
        let step = max(1, ceil((last - first) / 6))
        return stride(from: first, through: last, by: step).map { $0 }
    }

    /// Line chart with markers: one series per feature family, points sorted by x. `styles` (one per series)
    /// overrides the default (series i: colour i, solid line, markers) — e.g. markers only for a scatter.
    /// `logAxes`: both axes log10 (points with x ≤ 0 or y ≤ 0 are dropped; ticks labelled with the values, e.g. 1e-3).
    public static func lines(title: String, xLabel: String, yLabel: String,
                             series: [(name: String, points: [(x: Double, y: Double)])], percent: Bool = true,
                             styles: [LineStyle]? = nil, logAxes: Bool = false) -> String {
        if logAxes {
            let logged = series.map { ser in
                (name: ser.name, points: ser.points.filter { $0.x > 0 && $0.y > 0 }.map { (x: log10($0.x), y: log10($0.y)) })
            }
            let value = { (t: Double) in String(format: "%.3g", pow(10, t)) }
            return lines(title: title, xLabel: xLabel, yLabel: yLabel, series: logged, styles: styles,
                         axes: Axes(ticks: logTicks, xText: value, yText: value))
        }
        return lines(title: title, xLabel: xLabel, yLabel: yLabel + (percent ? " (%)" : ""), series: series, styles: styles,
                     axes: Axes(ticks: { ticks($0, $1) }, xText: { label($0, percent: false) }, yText: { label($0, percent: percent) }))
    }

    /// How `lines` places and writes ticks: positions over a plotted range, and the text of an x and a y value.
    struct Axes {
        var ticks: (Double, Double) -> [Double]
        var xText: (Double) -> String
        var yText: (Double) -> String
    }

    static func lines(title: String, xLabel: String, yLabel: String,
                      series: [(name: String, points: [(x: Double, y: Double)])], styles: [LineStyle]?, axes: Axes) -> String {
        let pts = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
        var xlo = pts.map { $0.x }.min() ?? 0, xhi = pts.map { $0.x }.max() ?? 1
        var ylo = pts.map { $0.y }.min() ?? 0, yhi = pts.map { $0.y }.max() ?? 1
        if xhi - xlo < 1e-12 { xlo -= 0.5; xhi += 0.5 }
        if yhi - ylo < 1e-12 { ylo -= 0.05; yhi += 0.05 }
        let padX = (xhi - xlo) * 0.05, padY = (yhi - ylo) * 0.08
        xlo -= padX; xhi += padX; ylo -= padY; yhi += padY
        let legendWidth = 24 + 7 * (series.map { $0.name.count }.max() ?? 0)
        let left = 64.0, top = 40.0, plotW = 440.0, plotH = 300.0
        let width = Int(left + plotW + 20 + Double(legendWidth)), height = Int(top + plotH + 60)
        func px(_ v: Double) -> Double { left + plotW * (v - xlo) / (xhi - xlo) }
        func py(_ v: Double) -> Double { top + plotH * (1 - (v - ylo) / (yhi - ylo)) }
        var s = header(width: width, height: height, title: title)
        for t in axes.ticks(ylo, yhi) {
            s += "<line x1=\"\(num(left))\" x2=\"\(num(left + plotW))\" y1=\"\(num(py(t)))\" y2=\"\(num(py(t)))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(num(left - 6))\" y=\"\(num(py(t) + 4))\" text-anchor=\"end\">\(axes.yText(t))</text>\n"
        }
        for t in axes.ticks(xlo, xhi) {
            s += "<line x1=\"\(num(px(t)))\" x2=\"\(num(px(t)))\" y1=\"\(num(top + plotH))\" y2=\"\(num(top + plotH + 4))\" stroke=\"black\"/>"
            s += "<text x=\"\(num(px(t)))\" y=\"\(num(top + plotH + 16))\" text-anchor=\"middle\">\(axes.xText(t))</text>\n"
        }
        s += "<rect x=\"\(num(left))\" y=\"\(num(top))\" width=\"\(num(plotW))\" height=\"\(num(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(num(left + plotW / 2))\" y=\"\(num(top + plotH + 38))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16,\(num(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">"
        s += "\(escape(yLabel))</text>\n"
        let style = { (i: Int) -> LineStyle in
            if let st = styles, i < st.count { return st[i] }
            return LineStyle(colour: i)
        }
        for (i, ser) in series.enumerated() {
            let st = style(i)
            let colour = palette[st.colour % palette.count]
            let p = ser.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            if p.count > 1 && st.line {
                s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(st.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\""
                s += p.map { "\(num(px($0.x))),\(num(py($0.y)))" }.joined(separator: " ") + "\"/>\n"
            }
            for q in p where st.markers {
                s += "<circle cx=\"\(num(px(q.x)))\" cy=\"\(num(py(q.y)))\" r=\"3.5\" fill=\"\(colour)\">"
                s += "<title>\(escape("\(ser.name): x = \(axes.xText(q.x)), y = \(axes.yText(q.y))"))</title></circle>\n"
            }
        }
        s += legend(series.map { $0.name }, x: left + plotW + 16, y: top + 10,
                    colours: series.indices.map { style($0).colour })
        return s + "</svg>\n"
    }
}

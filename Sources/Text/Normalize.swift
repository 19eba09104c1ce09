/// Penn-Treebank detokenisation of dataset sentences (what the model reads). Matching sentences against text
/// (`tokenize --exclude`, leakage) uses `SentenceNormalization` instead.
///
/// `PTB.detokenize` undoes Penn-Treebank tokenisation (as in the SST files): bracket codes (`-LRB-` → `(` …),
/// escaped `\/` and `\*`, ` `` ` and `''` → `"` attached to the quoted words, clitics (`is n't` → `isn't`,
/// `John 's` → `John's`, `'re 've 'm 'll 'd`), and closing punctuation (` ,` ` .` ` ;` ` :` ` !` ` ?` ` %` ` )` …)
/// attached to the word before.
public enum PTB {
    static let brackets: [String: String] = ["-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]",
                                             "-LCB-": "{", "-RCB-": "}", "-lrb-": "(", "-rrb-": ")",
                                             "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"]
    static let attachLeft: Set<String> = [",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "''",
                                          "n't", "'s", "'re", "'ve", "'m", "'ll", "'d", "'"]
    static let attachRight: Set<String> = ["(", "[", "{", "$", "#", "``"]

    public static func detokenize(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var glueNext = true
        for raw in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) {
            var tok = String(raw)
            let short = tok.utf8.count <= 5
            if short, tok.utf8.first == 0x2D, let b = brackets[tok] { tok = b }
            if tok.utf8.contains(0x5C) { tok = tok.replacingOccurrences(of: "\\/", with: "/").replacingOccurrences(of: "\\*", with: "*") }
            // Only short tokens can be PTB clitics or punctuation.
            let left = short && attachLeft.contains(tok.lowercased())
            let right = short && attachRight.contains(tok)
            if tok == "``" || tok == "''" { tok = "\"" }
            if !(glueNext || left) { out += " " }
            out += tok
            glueNext = right
        }
        return out
    }
}

@testable import Text
import XCTest
import Support
import Report

final class SentenceIndexTests: XCTestCase {
    func testNormalizationUndoesPTBTokenisation() {
        XCTAssertEqual(SentenceNormalization.normalize("It is n't -LRB- sic -RRB- a `` great '' film , is it ?"),
                       SentenceNormalization.normalize("it isn't (sic) a \"great\" film, is it?"))
        XCTAssertEqual(SentenceNormalization.normalize("The  film 's   charm\n..."), "the film's charm...")
        XCTAssertEqual(SentenceNormalization.normalize("He said “wow” — it’s fine"),
                       SentenceNormalization.normalize("he said `` wow '' — it 's fine"))
        XCTAssertEqual(SentenceNormalization.normalize("ca n't 1\\/2"), "can't 1/2")
    }

    func testByteLevelNormalizationEqualsTheCharacterDefinition() {
        var rng = SeededRandom(seed: 11)
        let pieces = ["The", "MOVIE", "is", "n't", "N'T", "``", "''", "`", "'", "\\/", "\\*", "-LRB-", "-rrb-", "-LSB-",
                      "-RSB-", "-LCB-", "-RCB-", "(", ")", "$", "%", ",", ".", "?", "a-lrb-b", "x``y''z", "'s", "--",
                      "-", "\\", "\"", "A1", "[", "]", "{", "}", ";", ":", "!", "\u{0B}", "\u{0C}", "\r\n", "\t"]
        let spaces = [" ", "  ", "\n", "\t", "\r", "", " \u{0C} "]
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<(1 + rng.int(below: 25)) {
                text += pieces[rng.int(below: pieces.count)] + spaces[rng.int(below: spaces.count)]
            }
            XCTAssertEqual(SentenceNormalization.normalize(text), SentenceNormalization.normalizeCharacters(text), text.debugDescription)
        }
        // Non-ASCII text takes the Character path.
        let s = "Café “Noir” isn’t   ÉLAN"
        XCTAssertEqual(SentenceNormalization.normalize(s), SentenceNormalization.normalizeCharacters(s))
        XCTAssertEqual(SentenceNormalization.normalize(s), "café\"noir\"isn't élan")   // quotes glue both sides
    }

    func testParallelScanOfManyDocumentsEqualsOneByOne() throws {
        var rng = SeededRandom(seed: 3)
        let words = ["the", "movie", "is", "n't", "good", ",", ".", "bad", "-LRB-", "-RRB-", "'s", "fun", "a", "élan"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<64).map { _ in sentence(40) }
        let eval = (0..<60).map { _ in sentence(1 + rng.int(below: 6)) }
        let one = SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 8), many = SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 8)
        for d in docs { one.scan(document: d) }
        many.scan(documents: docs)
        XCTAssertEqual(one.report(), many.report())
        let fresh = SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 8)
        XCTAssertEqual(docs.map { fresh.scan(document: $0) }, SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 8).scan(documents: docs))
        XCTAssertEqual(many.report().corpusDocuments, 64)
        XCTAssertGreaterThan(many.report().leaked, 0)
    }

    func testFindsExactlyTheSentencesContainedInTheCorpus() throws {
        let eval = ["A gorgeous , witty , seductive movie .",              // in doc 1, PTB form
                    "The film is n't much fun .",                          // in doc 2 mid-text
                    "An entirely different sentence that is long enough to be anchored .",   // absent
                    "Ugh .",                                              // short: in doc 2 as "ugh."
                    "A gorgeous, witty, seductive movie that is absent.", // shares an anchor prefix, absent
                    "",                                                   // empty: not checked
                    "It 's -LRB- not -RRB- bad ."]                        // at the very end of doc 3
        let index = SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 16)
        index.scan(document: "Critics said: a gorgeous, witty, seductive movie. Then more.")
        index.scan(document: "Honestly the film isn't much fun. Ugh. Nope")
        index.scan(document: "short")
        index.scan(document: "Finally: it's (not) bad.")
        let r = index.report()
        XCTAssertEqual(r.leakedIndices, [0, 1, 3, 6])
        XCTAssertEqual(r.leaked, 4)
        XCTAssertEqual(r.notChecked, 1)
        XCTAssertEqual(r.corpusDocuments, 4)
        XCTAssertEqual(r.examples.first, eval[0])
        XCTAssertTrue(r.markdown().contains("4 of 7"))
    }

    func testAgreesWithNaiveSubstringSearchOnRandomText() throws {
        var rng = SeededRandom(seed: 7)
        let words = ["the", "movie", "is", "n't", "good", ",", ".", "bad", "-LRB-", "-RRB-", "'s", "fun", "a"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<30).map { _ in sentence(60) }
        var eval = (0..<40).map { _ in sentence(1 + rng.int(below: 6)) }
        eval.append(contentsOf: docs.prefix(5).map { d in d.split(separator: " ").dropFirst(10).prefix(12).joined(separator: " ") })
        let index = SentenceIndex(sentences: eval, minimumLength: 1, anchorBytes: 8)
        for d in docs { index.scan(document: d) }
        let normDocs = docs.map(SentenceNormalization.normalize)
        let expected = eval.indices.filter { i in
            let s = SentenceNormalization.normalize(eval[i])
            return !s.isEmpty && normDocs.contains { $0.utf8.count >= s.utf8.count && $0.contains(s) }
        }
        XCTAssertEqual(index.report().leakedIndices, expected)
        XCTAssertGreaterThan(expected.count, 5)
        XCTAssertLessThan(expected.count, eval.count)
    }

    /// The probe inputs on which `tokenize --exclude` and `compare`'s leakage count used to disagree: an SST
    /// (PTB-tokenised) sentence and the same sentence as raw corpus text. Both now go through one `SentenceIndex`, so a
    /// document is excluded exactly when it would count the sentence as leaked.
    func testExcludeAndLeakageAgreeOnPTBQuotesCurlyQuotesAndCurrency() {
        let probes: [(sentence: String, document: String)] = [
            ("It 's a `` great '' film , honestly .", "Critics agree: it's a \"great\" film, honestly. Go."),
            ("It 's a `` great '' film , honestly .", "Critics agree: It’s a “great” film, honestly."),
            ("The ticket cost me $ 5 and was worth it .", "the ticket cost me $5 and was worth it. yes"),
            ("A -LRB- surprisingly -RRB- moving story .", "What a (surprisingly) moving story."),
            ("This is n't the film you think it is .", "Sadly this isn't the film you think it is."),
            ("Half the film is 1\\/2 of a masterpiece .", "half the film is 1/2 of a masterpiece. no"),
            ("He said ‘ not bad ’ and left the room .", "He said 'not bad' and left the room."),
        ]
        for (sentence, document) in probes {
            let (kept, index) = Corpus.excluding([sentence], from: [document, "an unrelated document"])
            XCTAssertEqual(kept, ["an unrelated document"], "not excluded: \(document)")
            XCTAssertEqual(index.report().leaked, 1, "not counted as leaked: \(sentence)")
        }
        // One threshold: a sentence under the minimum length is neither excluded nor counted.
        let (kept, index) = Corpus.excluding(["Ugh ."], from: ["ugh. what a film"])
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(index.report().leaked, 0)
        XCTAssertEqual(index.report().notChecked, 1)
    }
}

// The tokenizer against BERT uncased ids made by an independent implementation (see
// testdata/README.md), plus vocabulary errors and invalid UTF-8.
#include "trainer/data/wordpiece_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

const char kFixture[] = "trainer/data/testdata/bert_uncased_fixture.jsonl";

// The real vocabulary from the data cache (tools/fetch_data.sh). Tests run from runfiles whose
// files link into the source tree, so the repository (and its data/) is found through them;
// SBMT_DATA_DIR overrides.
fs::path VocabPath() {
  if (const char* dir = std::getenv("SBMT_DATA_DIR")) {
    return fs::path(dir) / "vocab/bert-base-uncased/vocab.txt";
  }
  const fs::path repo = fs::canonical(kFixture).parent_path().parent_path().parent_path().parent_path();
  return repo / "data/vocab/bert-base-uncased/vocab.txt";
}

TEST(WordPieceTokenizer, MatchesIndependentBertUncasedIds) {
  const fs::path vocab = VocabPath();
  if (!fs::exists(vocab)) GTEST_SKIP() << vocab << " missing: run tools/fetch_data.sh";
  const WordPieceTokenizer tok = WordPieceTokenizer::FromFile(vocab.string());
  EXPECT_EQ(tok.size(), 30522);
  EXPECT_EQ(tok.cls_id(), 101);
  EXPECT_EQ(tok.sep_id(), 102);
  EXPECT_EQ(tok.mask_id(), 103);
  EXPECT_EQ(tok.unk_id(), 100);
  EXPECT_EQ(tok.pad_id(), 0);

  std::ifstream in(kFixture);
  ASSERT_TRUE(in) << kFixture;
  std::string line;
  int lines = 0, mismatches = 0;
  while (std::getline(in, line)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    const std::string text = record["text"].get<std::string>();
    const std::vector<int32_t> expected = record["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tok.Encode(text);
    ++lines;
    if (ids != expected && mismatches++ < 10) {
      ADD_FAILURE() << "line " << lines << ": " << nlohmann::json(text).dump() << "\n  got      "
                    << nlohmann::json(tok.Tokenize(text)).dump() << "\n  expected "
                    << record["tokens"].dump();
    }
  }
  EXPECT_GE(lines, 200);
  EXPECT_EQ(mismatches, 0) << "of " << lines << " lines";
}

WordPieceTokenizer Tiny() {
  return WordPieceTokenizer::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff",
                                         "##able", "hello", ",", "!", "e"});
}

TEST(WordPieceTokenizer, GreedyLongestMatchAndUnknownWords) {
  const WordPieceTokenizer tok = Tiny();
  EXPECT_EQ(tok.Tokenize("UnAffable, hello!"),
            (std::vector<std::string>{"un", "##aff", "##able", ",", "hello", "!"}));
  EXPECT_EQ(tok.Tokenize("unaffablex"), (std::vector<std::string>{"[UNK]"}));  // no split
  EXPECT_EQ(tok.Tokenize(std::string(101, 'e')), (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(tok.Tokenize("\xC3\xA9"), (std::vector<std::string>{"e"}));  // é -> e
}

TEST(WordPieceTokenizer, InvalidUtf8IsReplacedCountedAndDropped) {
  const WordPieceTokenizer tok = Tiny();
  WordPieceTokenizer::Stats stats;
  // A lone continuation byte, a truncated 2-byte sequence and an overlong encoding: each bad
  // byte becomes U+FFFD, which BERT's cleaning drops (so "hel\x80lo" reads as "hello").
  EXPECT_EQ(tok.Tokenize("hel\x80lo \xC3 hello \xC0\xAF!", &stats),
            (std::vector<std::string>{"hello", "hello", "!"}));
  EXPECT_EQ(stats.invalid_utf8, 4);
}

TEST(WordPieceTokenizer, VocabularyErrorsNameTheFileAndLine) {
  try {
    WordPieceTokenizer::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"}, "v.txt");
    ADD_FAILURE() << "expected an error";
  } catch (const TokenizerError& e) {
    EXPECT_STREQ(e.what(), "v.txt: vocabulary lacks the special token [MASK]");
  }
  try {
    WordPieceTokenizer::FromTokens({"[PAD]", "a", "b", "a"}, "v.txt");
    ADD_FAILURE() << "expected an error";
  } catch (const TokenizerError& e) {
    EXPECT_STREQ(e.what(), "v.txt:4: duplicate vocabulary entry 'a' (first at line 2)");
  }
  EXPECT_THROW(WordPieceTokenizer::FromFile("/nonexistent/vocab.txt"), TokenizerError);
}

}  // namespace
}  // namespace sbmt::trainer

// BERT's uncased WordPiece tokenizer, giving exactly the ids of bert-base-uncased's tokenizer
// (BasicTokenizer + WordpieceTokenizer with do_lower_case = true):
//   1. invalid UTF-8 becomes U+FFFD (counted); NUL, U+FFFD and control characters are dropped;
//      whitespace becomes ' ';
//   2. CJK ideographs get spaces around them; the text is NFC-normalized and split on spaces;
//   3. each word is lower-cased (with Greek final sigma), NFD-decomposed, stripped of nonspacing
//      marks (accents), and split around punctuation;
//   4. each piece is split greedily into the longest vocabulary entries ('##' marks
//      continuations); a word over 100 characters, or one with no split, is [UNK].
// Unicode tables come from utf8proc.
//
//   WordPieceTokenizer tok = WordPieceTokenizer::FromFile("vocab.txt");
//   std::vector<int32_t> ids = tok.Encode("Héllo, world!");  // [7592, 1010, 2088, 999]
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(TokenizerError, ErrorCode::kInvalidArgument);

class WordPieceTokenizer {
 public:
  // One token per line, id = line number - 1. Throws TokenizerError naming the file (and line)
  // when it cannot be read, has a duplicate or empty entry, or lacks [PAD], [UNK], [CLS], [SEP]
  // or [MASK].
  static WordPieceTokenizer FromFile(const std::string& vocab_path);
  static WordPieceTokenizer FromTokens(std::vector<std::string> tokens,
                                       const std::string& source = "<memory>");

  struct Stats {
    int64_t invalid_utf8 = 0;  // malformed byte sequences replaced (and then dropped)
  };

  std::vector<int32_t> Encode(std::string_view text, Stats* stats = nullptr) const;
  std::vector<std::string> Tokenize(std::string_view text, Stats* stats = nullptr) const;

  int32_t pad_id() const { return pad_; }
  int32_t unk_id() const { return unk_; }
  int32_t cls_id() const { return cls_; }
  int32_t sep_id() const { return sep_; }
  int32_t mask_id() const { return mask_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_.at(id); }

 private:
  // Words after basic tokenization (steps 1-3), as UTF-8.
  std::vector<std::string> BasicWords(std::string_view text, Stats* stats) const;
  // Step 4 for one word; appends ids.
  void WordPieces(const std::string& word, std::vector<int32_t>& ids) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t pad_ = -1, unk_ = -1, cls_ = -1, sep_ = -1, mask_ = -1;
};

}  // namespace sbmt::trainer

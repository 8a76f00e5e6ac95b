#include "trainer/data/wordpiece_tokenizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <fstream>
#include <memory>

namespace sbmt::trainer {
namespace {

using CodePoints = std::vector<utf8proc_int32_t>;

constexpr int64_t kMaxWordChars = 100;

// UTF-8 -> code points; each malformed sequence becomes one U+FFFD.
CodePoints Decode(std::string_view text, int64_t* invalid) {
  CodePoints out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n < 0) {
      out.push_back(0xFFFD);
      ++*invalid;
      ++p;
      --left;
      continue;
    }
    out.push_back(cp);
    p += n;
    left -= n;
  }
  return out;
}

std::string ToUtf8(const CodePoints& cps, size_t begin = 0, size_t end = std::string::npos) {
  std::string out;
  end = std::min(end, cps.size());
  for (size_t i = begin; i < end; ++i) {
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(cps[i], buf);
    out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

// Applies a utf8proc normalization (NFC or NFD) to code points.
CodePoints Normalize(const CodePoints& cps, int options) {
  if (cps.empty()) return cps;
  const std::string utf8 = ToUtf8(cps);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
      static_cast<utf8proc_ssize_t>(utf8.size()), &mapped,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | options));
  if (n < 0) return cps;  // cannot happen for valid code points
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  int64_t ignored = 0;
  return Decode(std::string_view(reinterpret_cast<char*>(mapped), static_cast<size_t>(n)),
                &ignored);
}

utf8proc_category_t Category(utf8proc_int32_t cp) { return utf8proc_category(cp); }

// Zs plus tab, newline, return; also line and paragraph separators (Zl, Zp), which BERT keeps
// in the text but Python's str.split() then splits on, with the same result.
bool IsWhitespace(utf8proc_int32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || c == UTF8PROC_CATEGORY_ZS ||
         c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

// Categories C*: Cc, Cf, Cs, Co, Cn (unassigned); tab, newline and return are whitespace.
bool IsControl(utf8proc_int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

// ASCII symbols count as punctuation (as in BERT), plus every Unicode category P*.
bool IsPunctuation(utf8proc_int32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana), as BERT defines them.
bool IsCjk(utf8proc_int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsCased(utf8proc_int32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

// Unicode's Case_Ignorable: marks, format characters, modifiers and the in-word punctuation of
// word breaking (apostrophes, periods, colons, middle dots).
bool IsCaseIgnorable(utf8proc_int32_t cp) {
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  switch (cp) {
    case '\'': case '.': case ':': case '^': case '`': case 0x00B7: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E:
    case 0xFF1A:
      return true;
    default:
      return false;
  }
}

// Lower-cases a word like Python's str.lower(): simple mappings, plus Greek capital sigma
// becoming final sigma at the end of a word.
CodePoints Lower(const CodePoints& word) {
  CodePoints out(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    if (word[i] == 0x03A3) {
      auto cased_before = [&] {
        for (size_t j = i; j-- > 0;) {
          if (!IsCaseIgnorable(word[j])) return IsCased(word[j]);
        }
        return false;
      };
      auto cased_after = [&] {
        for (size_t j = i + 1; j < word.size(); ++j) {
          if (!IsCaseIgnorable(word[j])) return IsCased(word[j]);
        }
        return false;
      };
      out[i] = cased_before() && !cased_after() ? 0x03C2 : 0x03C3;
    } else {
      out[i] = utf8proc_tolower(word[i]);
    }
  }
  return out;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::FromFile(const std::string& vocab_path) {
  std::ifstream in(vocab_path);
  if (!in) throw TokenizerError(vocab_path + ": cannot open vocabulary file");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  return FromTokens(std::move(tokens), vocab_path);
}

WordPieceTokenizer WordPieceTokenizer::FromTokens(std::vector<std::string> tokens,
                                                  const std::string& source) {
  WordPieceTokenizer t;
  t.tokens_ = std::move(tokens);
  for (size_t i = 0; i < t.tokens_.size(); ++i) {
    const std::string& token = t.tokens_[i];
    const std::string where = source + ":" + std::to_string(i + 1);
    if (token.empty()) throw TokenizerError(where + ": empty vocabulary entry");
    if (!t.ids_.emplace(token, static_cast<int32_t>(i)).second) {
      throw TokenizerError(where + ": duplicate vocabulary entry '" + token + "' (first at line " +
                           std::to_string(t.ids_.at(token) + 1) + ")");
    }
  }
  auto special = [&](const char* name) {
    auto it = t.ids_.find(name);
    if (it == t.ids_.end()) {
      throw TokenizerError(source + ": vocabulary lacks the special token " + std::string(name));
    }
    return it->second;
  };
  t.pad_ = special("[PAD]");
  t.unk_ = special("[UNK]");
  t.cls_ = special("[CLS]");
  t.sep_ = special("[SEP]");
  t.mask_ = special("[MASK]");
  return t;
}

std::vector<std::string> WordPieceTokenizer::BasicWords(std::string_view text,
                                                        Stats* stats) const {
  int64_t invalid = 0;
  const CodePoints decoded = Decode(text, &invalid);
  if (stats) stats->invalid_utf8 += invalid;

  // Clean, and space out CJK ideographs.
  CodePoints cleaned;
  cleaned.reserve(decoded.size());
  for (utf8proc_int32_t cp : decoded) {
    if (cp == 0 || cp == 0xFFFD || IsControl(cp)) continue;
    if (IsWhitespace(cp)) {
      cleaned.push_back(' ');
    } else if (IsCjk(cp)) {
      cleaned.insert(cleaned.end(), {' ', cp, ' '});
    } else {
      cleaned.push_back(cp);
    }
  }
  const CodePoints nfc = Normalize(cleaned, UTF8PROC_COMPOSE);

  std::vector<std::string> words;
  size_t i = 0;
  while (i < nfc.size()) {
    if (nfc[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < nfc.size() && nfc[end] != ' ') ++end;
    // Lower-case, decompose, drop nonspacing marks.
    CodePoints stripped;
    for (utf8proc_int32_t cp :
         Normalize(Lower(CodePoints(nfc.begin() + i, nfc.begin() + end)), UTF8PROC_DECOMPOSE)) {
      if (Category(cp) != UTF8PROC_CATEGORY_MN) stripped.push_back(cp);
    }
    // Split around punctuation.
    size_t start = 0;
    for (size_t j = 0; j < stripped.size(); ++j) {
      if (!IsPunctuation(stripped[j])) continue;
      if (j > start) words.push_back(ToUtf8(stripped, start, j));
      words.push_back(ToUtf8(stripped, j, j + 1));
      start = j + 1;
    }
    if (start < stripped.size()) words.push_back(ToUtf8(stripped, start));
    i = end;
  }
  return words;
}

void WordPieceTokenizer::WordPieces(const std::string& word, std::vector<int32_t>& ids) const {
  int64_t ignored = 0;
  const CodePoints chars = Decode(word, &ignored);
  if (static_cast<int64_t>(chars.size()) > kMaxWordChars) {
    ids.push_back(unk_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;
  while (start < chars.size()) {
    size_t end = chars.size();
    int32_t found = -1;
    for (; end > start; --end) {
      const std::string piece = (start > 0 ? "##" : "") + ToUtf8(chars, start, end);
      auto it = ids_.find(piece);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      ids.push_back(unk_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text, Stats* stats) const {
  std::vector<int32_t> ids;
  for (const std::string& word : BasicWords(text, stats)) WordPieces(word, ids);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text, Stats* stats) const {
  std::vector<std::string> out;
  for (int32_t id : Encode(text, stats)) out.push_back(tokens_[id]);
  return out;
}

}  // namespace sbmt::trainer

// tokenize: BERT uncased WordPiece ids (or pieces) of each line on stdin, one output line per
// input line, without [CLS]/[SEP]. For checking sbmt's tokenizer against other tools.
//
//   echo "Hello, world!" | tokenize --vocab=data/vocab/bert-base-uncased/vocab.txt
//   7592 1010 2088 999
//   echo "Hello, world!" | tokenize --vocab=... --tokens
//   hello , world !
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "trainer/data/wordpiece_tokenizer.h"

int main(int argc, char** argv) {
  CLI::App app("Print BERT WordPiece ids (or --tokens) of each stdin line");
  std::string vocab;
  bool tokens = false;
  app.add_option("--vocab", vocab, "vocab.txt, one token per line")->required();
  app.add_flag("--tokens", tokens, "print the pieces instead of their ids");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto tok = sbmt::trainer::WordPieceTokenizer::FromFile(vocab);
    sbmt::trainer::WordPieceTokenizer::Stats stats;
    std::string line;
    int64_t lines = 0;
    while (std::getline(std::cin, line)) {
      ++lines;
      const std::vector<int32_t> ids = tok.Encode(line, &stats);
      std::string out;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ' ';
        out += tokens ? tok.token(ids[i]) : std::to_string(ids[i]);
      }
      std::cout << out << '\n';
    }
    if (stats.invalid_utf8 > 0) {
      std::fprintf(stderr, "tokenize: replaced %lld invalid UTF-8 sequence(s) in %lld line(s)\n",
                   static_cast<long long>(stats.invalid_utf8), static_cast<long long>(lines));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenize: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

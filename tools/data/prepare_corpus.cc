// prepare_corpus: text files and folders -> tokenized training shards and a validation shard.
//
//   prepare_corpus --vocab=data/vocab/bert-base-uncased/vocab.txt --out-dir=data/shards/prose
//       [--max-len=128] [--valid-fraction=0.02] [--seed=0] [--threads=N] INPUT...
//
// INPUT: plain-text files (books: one paragraph per blank-line block), wikiextractor or
// RealNews JSON-lines files (*.json, *.jsonl, one object with a "text" field per line), or
// folders holding them. Shows progress with throughput and ETA on stderr; writes corpus.json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "trainer/data/corpus_builder.h"

namespace {

std::string Clock(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

void ShowProgress(const sbmt::trainer::CorpusProgress& p) {
  const double fraction =
      p.bytes_total > 0 ? static_cast<double>(p.bytes_done) / p.bytes_total : 1.0;
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  const double mb_per_s = p.seconds > 0 ? p.bytes_done / 1e6 / p.seconds : 0;
  const double eta = fraction > 0 ? p.seconds * (1 - fraction) / fraction : 0;
  std::fprintf(stderr, "\r[%s%s] %5.1f%%  %lld docs  %.1f MB/s  %.0fk tokens/s  ETA %s ",
               std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
               100 * fraction, static_cast<long long>(p.documents), mb_per_s,
               p.seconds > 0 ? p.tokens / 1e3 / p.seconds : 0.0, Clock(eta).c_str());
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Tokenize text corpora into sbmt training shards");
  sbmt::trainer::CorpusOptions o;
  app.add_option("--vocab", o.vocab, "vocab.txt")->required();
  app.add_option("--out-dir", o.out_dir, "output folder")->required();
  app.add_option("--max-len", o.max_len, "tokens per sequence, [CLS] and [SEP] included")
      ->check(CLI::Range(3, 65536));
  app.add_option("--valid-fraction", o.valid_fraction, "share of documents held out");
  app.add_option("--seed", o.seed, "seed of the held-out split");
  app.add_option("--threads", o.threads, "tokenizer threads (0: all cores)");
  app.add_option("--sequences-per-shard", o.sequences_per_shard, "sequences per training shard")
      ->check(CLI::PositiveNumber);
  app.add_option("inputs", o.inputs, "files or folders")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const sbmt::trainer::CorpusStats s = sbmt::trainer::BuildCorpus(o, ShowProgress);
    std::fprintf(stderr, "\n");
    std::printf("%lld files, %lld documents -> %lld training and %lld validation sequences, "
                "%lld tokens, in %s\n",
                static_cast<long long>(s.files), static_cast<long long>(s.documents),
                static_cast<long long>(s.train_sequences),
                static_cast<long long>(s.valid_sequences), static_cast<long long>(s.tokens),
                o.out_dir.c_str());
    if (s.invalid_utf8 > 0) {
      std::printf("replaced %lld invalid UTF-8 sequences\n",
                  static_cast<long long>(s.invalid_utf8));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nprepare_corpus: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Corpus preparation: reads plain-text books (one paragraph per blank-line block),
// wikiextractor JSON lines ({"id", "url", "title", "text"}) and RealNews JSON lines
// ({"text", "title", ...}), tokenizes documents in parallel, packs each document into
// [CLS] ... [SEP] sequences of at most max_len tokens, and writes training shards plus a
// held-out validation shard. Deterministic for a given seed, whatever the thread count.
//
//   CorpusOptions o;  o.inputs = {"data/corpus/prose"};  o.vocab = ...;  o.out_dir = ...;
//   CorpusStats stats = BuildCorpus(o, [](const CorpusProgress& p) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

// Tokenizer threads beyond this only cost memory: tokenizing is bound by the cores.
inline constexpr int kMaxThreads = 256;

SBMT_DEFINE_ERROR(CorpusError, ErrorCode::kInvalidArgument);

struct CorpusOptions {
  std::vector<std::string> inputs;  // files or folders (searched for *.txt, *.json, *.jsonl)
  std::string vocab;
  std::string out_dir;
  int max_len = 128;
  double valid_fraction = 0.02;      // share of documents held out
  uint64_t seed = 0;
  int threads = 0;  // 0: all cores; at most kMaxThreads
  int64_t sequences_per_shard = 100000;
  int min_tokens = 8;                // shorter document tails are dropped
};

struct CorpusStats {
  int64_t files = 0;
  int64_t documents = 0;
  int64_t train_sequences = 0;
  int64_t valid_sequences = 0;
  int64_t tokens = 0;        // in written sequences, [CLS]/[SEP] included
  int64_t invalid_utf8 = 0;  // malformed byte sequences replaced
  std::vector<std::string> shards;
};

struct CorpusProgress {
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
  int64_t documents = 0;
  int64_t tokens = 0;
  double seconds = 0;
};

// Throws CorpusError naming the file (and line) on unreadable input or malformed JSON.
CorpusStats BuildCorpus(const CorpusOptions& options,
                        const std::function<void(const CorpusProgress&)>& progress = {});

}  // namespace sbmt::trainer

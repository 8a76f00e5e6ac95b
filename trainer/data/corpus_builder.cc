#include "trainer/data/corpus_builder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/hash.h"
#include "trainer/data/shard.h"
#include "trainer/data/wordpiece_tokenizer.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDocumentsPerBatch = 512;  // documents tokenized together, in parallel

struct Document {
  std::vector<std::string> paragraphs;
  int64_t bytes = 0;
};

bool IsJson(const fs::path& p) { return p.extension() == ".json" || p.extension() == ".jsonl"; }

std::vector<fs::path> ListInputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(input, ec)) {
        if (e.is_regular_file() && (e.path().extension() == ".txt" || IsJson(e.path()))) {
          found.push_back(e.path());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(input, ec)) {
      files.emplace_back(input);
    } else {
      throw CorpusError(input + ": no such file or directory");
    }
  }
  if (files.empty()) throw CorpusError("no input files (*.txt, *.json, *.jsonl) found");
  return files;
}

// Streams documents from the input files in order.
class DocumentReader {
 public:
  explicit DocumentReader(std::vector<fs::path> files) : files_(std::move(files)) {}

  bool Next(Document& doc) {
    for (;;) {
      if (!in_.is_open()) {
        if (next_file_ >= files_.size()) return false;
        path_ = files_[next_file_++];
        in_.open(path_, std::ios::binary);
        if (!in_) throw CorpusError(path_.string() + ": cannot read");
        line_ = 0;
      }
      doc = Document();
      const bool got = IsJson(path_) ? NextJson(doc) : NextBook(doc);
      if (got) return true;
      in_.close();
    }
  }

 private:
  // A book is one document; paragraphs are blank-line separated blocks.
  bool NextBook(Document& doc) {
    std::string line, paragraph;
    while (std::getline(in_, line)) {
      doc.bytes += static_cast<int64_t>(line.size()) + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        if (!paragraph.empty()) doc.paragraphs.push_back(std::move(paragraph));
        paragraph.clear();
      } else {
        paragraph += (paragraph.empty() ? "" : " ") + line;
      }
    }
    if (!paragraph.empty()) doc.paragraphs.push_back(std::move(paragraph));
    return doc.bytes > 0;
  }

  // One JSON object per line with a "text" string (wikiextractor, RealNews); its lines are
  // paragraphs.
  bool NextJson(Document& doc) {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_;
      doc.bytes = static_cast<int64_t>(line.size()) + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw CorpusError(path_.string() + ":" + std::to_string(line_) + ": malformed JSON: " +
                          e.what());
      }
      if (!record.is_object() || !record.contains("text") || !record["text"].is_string()) {
        throw CorpusError(path_.string() + ":" + std::to_string(line_) +
                          ": expected an object with a string field \"text\"");
      }
      std::string text = record["text"].get<std::string>();
      size_t start = 0;
      while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) doc.paragraphs.push_back(text.substr(start, end - start));
        start = end + 1;
      }
      return true;
    }
    return false;
  }

  std::vector<fs::path> files_;
  size_t next_file_ = 0;
  fs::path path_;
  std::ifstream in_;
  int64_t line_ = 0;
};

// Document -> framed sequences.
std::vector<std::vector<int32_t>> Pack(const Document& doc, const WordPieceTokenizer& tok,
                                       const CorpusOptions& o, int64_t* invalid) {
  std::vector<int32_t> ids;
  WordPieceTokenizer::Stats stats;
  for (const std::string& paragraph : doc.paragraphs) {
    const std::vector<int32_t> p = tok.Encode(paragraph, &stats);
    ids.insert(ids.end(), p.begin(), p.end());
  }
  *invalid = stats.invalid_utf8;
  std::vector<std::vector<int32_t>> sequences;
  const size_t body = static_cast<size_t>(o.max_len - 2);
  for (size_t start = 0; start < ids.size(); start += body) {
    const size_t end = std::min(ids.size(), start + body);
    if (static_cast<int64_t>(end - start) < o.min_tokens) break;
    std::vector<int32_t> seq = {tok.cls_id()};
    seq.insert(seq.end(), ids.begin() + start, ids.begin() + end);
    seq.push_back(tok.sep_id());
    sequences.push_back(std::move(seq));
  }
  return sequences;
}

// Held-out membership from (seed, document index) only.
bool IsValidation(uint64_t seed, int64_t document, double fraction) {
  const uint64_t key = seed * runtime::kGoldenGamma + static_cast<uint64_t>(document) + 1;
  return runtime::UnitDouble(runtime::Fmix64(key)) < fraction;
}

}  // namespace

CorpusStats BuildCorpus(const CorpusOptions& o,
                        const std::function<void(const CorpusProgress&)>& progress) {
  if (o.max_len < 3) throw CorpusError("max_len must be at least 3, got " + std::to_string(o.max_len));
  if (!(o.valid_fraction >= 0 && o.valid_fraction < 1)) {
    throw CorpusError("valid_fraction must be in [0, 1), got " + std::to_string(o.valid_fraction));
  }
  const WordPieceTokenizer tok = WordPieceTokenizer::FromFile(o.vocab);
  const std::vector<fs::path> files = ListInputs(o.inputs);
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) throw CorpusError(o.out_dir + ": cannot create: " + ec.message());

  CorpusStats stats;
  stats.files = static_cast<int64_t>(files.size());
  CorpusProgress prog;
  for (const fs::path& f : files) prog.bytes_total += static_cast<int64_t>(fs::file_size(f, ec));
  const auto t0 = std::chrono::steady_clock::now();
  if (o.threads < 0 || o.threads > kMaxThreads) {
    throw CorpusError("threads: expected 0 (all cores) to " + std::to_string(kMaxThreads) +
                      ", got " + std::to_string(o.threads));
  }
  const int threads = o.threads > 0 ? o.threads
                                    : std::max(1u, std::thread::hardware_concurrency());

  const uint32_t vocab_size = static_cast<uint32_t>(tok.size());
  const uint32_t max_len = static_cast<uint32_t>(o.max_len);
  std::unique_ptr<ShardWriter> train;
  ShardWriter valid((fs::path(o.out_dir) / "valid.shard").string(), vocab_size, max_len);
  auto finish_train = [&] {
    if (train && train->count() > 0) train->Finish();
    train.reset();
  };

  DocumentReader reader(files);
  std::vector<Document> docs;
  for (bool more = true; more;) {
    docs.clear();
    Document d;
    while (static_cast<int64_t>(docs.size()) < kDocumentsPerBatch && (more = reader.Next(d))) {
      docs.push_back(std::move(d));
    }
    // Tokenize the batch in parallel; results land by index, so the output is the same for any
    // thread count.
    std::vector<std::vector<std::vector<int32_t>>> packed(docs.size());
    std::vector<int64_t> invalid(docs.size(), 0);
    std::vector<std::thread> workers;
    try {
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          for (size_t i = static_cast<size_t>(t); i < docs.size();
               i += static_cast<size_t>(threads)) {
            packed[i] = Pack(docs[i], tok, o, &invalid[i]);
          }
        });
      }
    } catch (const std::system_error& e) {  // out of memory or of processes: say so, cleanly
      for (std::thread& w : workers) w.join();
      throw CorpusError("threads: could not start thread " + std::to_string(workers.size() + 1) +
                        " of " + std::to_string(threads) + " (" + e.what() +
                        "); use fewer --threads");
    }
    for (std::thread& w : workers) w.join();
    for (size_t i = 0; i < docs.size(); ++i) {
      const bool held_out = IsValidation(o.seed, stats.documents, o.valid_fraction);
      ++stats.documents;
      stats.invalid_utf8 += invalid[i];
      prog.bytes_done += docs[i].bytes;
      for (const std::vector<int32_t>& seq : packed[i]) {
        stats.tokens += static_cast<int64_t>(seq.size());
        if (held_out) {
          valid.Add(seq);
          ++stats.valid_sequences;
          continue;
        }
        if (!train) {
          char name[32];
          std::snprintf(name, sizeof(name), "train-%05zu.shard", stats.shards.size());
          stats.shards.push_back((fs::path(o.out_dir) / name).string());
          train = std::make_unique<ShardWriter>(stats.shards.back(), vocab_size, max_len);
        }
        train->Add(seq);
        ++stats.train_sequences;
        if (train->count() >= o.sequences_per_shard) finish_train();
      }
    }
    prog.documents = stats.documents;
    prog.tokens = stats.tokens;
    prog.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(prog);
  }
  finish_train();
  valid.Finish();
  stats.shards.push_back((fs::path(o.out_dir) / "valid.shard").string());

  nlohmann::ordered_json summary = {
      {"vocab", o.vocab},          {"vocab_size", vocab_size},
      {"max_len", o.max_len},      {"seed", o.seed},
      {"valid_fraction", o.valid_fraction},
      {"files", stats.files},      {"documents", stats.documents},
      {"train_sequences", stats.train_sequences},
      {"valid_sequences", stats.valid_sequences},
      {"tokens", stats.tokens},    {"invalid_utf8", stats.invalid_utf8},
      {"shards", stats.shards}};
  std::ofstream((fs::path(o.out_dir) / "corpus.json").string()) << summary.dump(2) << "\n";
  return stats;
}

}  // namespace sbmt::trainer

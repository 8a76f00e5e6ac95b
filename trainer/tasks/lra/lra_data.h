// The Long Range Arena tasks' data, read from each source's own released layout (torch-free),
// as the SBM-Transformer reference pipeline tokenizes it (../shared/reference/sbm-notes.md
// section 6; docs/LRA.md):
//
//   listops     basic_{train,val,test}.tsv, header "Source<TAB>Target"; "(" and ")" dropped,
//               "]" read as X; tokens [MAX [MED [MIN [SM X 0-9 (ids 1-15 in that order, 16 for
//               anything else; the reference's order came from a Python set)
//   text        aclImdb: {train,test}/{neg,pos}/*.txt, label 0 = neg; UTF-8 bytes, id = byte + 1;
//               the test split is also the dev split, as in the reference
//   retrieval   new_aan_pairs.{train,eval,test}.tsv: label, id1, id2, text1, text2 (no header);
//               each text's bytes as above, cut to 10000 bytes and then max_length tokens
//   image       cifar-10-batches-bin/: data_batch_1..5.bin (first 90 % train, last 10 % dev),
//               test_batch.bin; records of 1 label byte + 3 x 1024 bytes (R, G, B planes) turned
//               grayscale with TensorFlow's weights (0.2989, 0.5870, 0.1140), truncated to int
//   pathfinder  metadata/*.npy (text lines: "imgs/<dir> sample_<i>.png <i> <label> ...") and
//               the 32x32 8-bit grayscale PNGs they name; an 80/10/10 split by a fixed shuffle
//
// Pixel ids are value + 1 and every pixel is a valid position. (The reference used the value
// itself and masked id 0, so black pixels were dropped as padding: sbm-notes pitfall 6.)
// Sequences are truncated to max_length and padded to it with id 0 by the task.
//
// Malformed input (a bad row, an image of the wrong size or depth, a missing split) is an
// error naming the file and line, or, with skip_malformed, skipped and counted (the first
// few reasons are kept for the log).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sbmt::trainer::lra {

struct Example {
  std::vector<int32_t> ids0;  // the sequence (retrieval: the first document)
  std::vector<int32_t> ids1;  // retrieval's second document; empty otherwise
  int32_t label = 0;
};

struct Split {
  std::vector<Example> examples;
  int64_t skipped = 0;                // malformed records skipped (skip_malformed)
  std::vector<std::string> problems;  // the first few skipped records' reasons
};

// What the model needs to know about a task.
struct TaskInfo {
  std::string name;
  int64_t classes;
  int64_t vocab_size;      // ids 0 (padding) .. vocab_size - 1
  int64_t default_length;  // the reference's sequence length (per document for retrieval)
  bool two_documents;      // retrieval
};

// Throws ConfigError listing the names for an unknown one.
const TaskInfo& Info(const std::string& name);

struct ReadOptions {
  int64_t max_length = 0;  // 0: the task's default_length
  bool skip_malformed = false;
};

// One split ("train", "dev" or "test") of task `name` under `data_dir`.
Split ReadSplit(const std::string& name, const std::string& data_dir, const std::string& split,
                const ReadOptions& options);

// The readers behind ReadSplit, one per source layout.
Split ReadListOps(const std::string& tsv, const ReadOptions& options);
Split ReadTextFolder(const std::string& split_dir, const ReadOptions& options);
Split ReadRetrievalTsv(const std::string& tsv, const ReadOptions& options);
// Records [first, end) of the concatenated files (end < 0: all).
Split ReadCifar10(const std::vector<std::string>& files, int64_t first, int64_t end,
                  const ReadOptions& options);
// Every record of the metadata files; split_index picks train (0), dev (1) or test (2).
Split ReadPathfinder(const std::string& root, int split_index, const ReadOptions& options);

// ListOps' token ids for a whitespace-separated token (the table above).
int32_t ListOpsTokenId(const std::string& token);

// The 8-bit grayscale pixels of a PNG (libpng); throws naming the file when it is not one of
// width x height 8-bit grayscale pixels.
std::vector<uint8_t> ReadGrayPng(const std::string& path, int width, int height);
// Writes 8-bit grayscale pixels as a PNG (used by the Pathfinder generator).
void WriteGrayPng(const std::string& path, const std::vector<uint8_t>& pixels, int width,
                  int height);

}  // namespace sbmt::trainer::lra

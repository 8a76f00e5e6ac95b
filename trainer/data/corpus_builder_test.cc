// Corpus preparation on small fixtures in each input format: framing, max length, the held-out
// split, determinism across runs and thread counts, and errors naming file and line.
#include "trainer/data/corpus_builder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "trainer/data/shard.h"
#include "tests/util/test_files.h"

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

// A small corpus: books (plain text), wikiextractor and RealNews JSON lines, and a vocabulary
// whose words are "w0" .. "w49".
CorpusOptions Fixture(const fs::path& dir) {
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (int i = 0; i < 50; ++i) vocab += "w" + std::to_string(i) + "\n";
  testing::WriteFile(dir / "vocab.txt", vocab);
  auto words = [](int doc, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "w" + std::to_string((doc * 7 + i) % 50) + " ";
    return s;
  };
  for (int b = 0; b < 6; ++b) {
    testing::WriteFile(dir / "in/books" / ("book" + std::to_string(b) + ".txt"),
          words(b, 30) + "\n" + words(b + 1, 20) + "\n\n" + words(b + 2, 40) + "\n");
  }
  std::string wiki, news;
  for (int d = 0; d < 20; ++d) {
    wiki += "{\"id\": \"" + std::to_string(d) + "\", \"url\": \"u\", \"title\": \"t\", \"text\": \"" +
            words(d, 25) + "\\n" + words(d + 3, 15) + "\"}\n";
    news += "{\"text\": \"" + words(d + 5, 33) + "\", \"title\": \"n\", \"summary\": null}\n";
  }
  testing::WriteFile(dir / "in/wiki/AA/wiki_00.jsonl", wiki);
  testing::WriteFile(dir / "in/realnews.jsonl", news);
  CorpusOptions o;
  o.inputs = {(dir / "in").string()};
  o.vocab = (dir / "vocab.txt").string();
  o.out_dir = (dir / "out").string();
  o.max_len = 16;
  o.valid_fraction = 0.2;
  o.seed = 3;
  o.sequences_per_shard = 40;
  o.min_tokens = 4;
  return o;
}

TEST(CorpusBuilder, PacksFramedSequencesIntoShardsWithAHeldOutSplit) {
  const fs::path dir = testing::FreshDir("pack");
  CorpusOptions o = Fixture(dir);
  int progress_calls = 0;
  const CorpusStats s = BuildCorpus(o, [&](const CorpusProgress& p) {
    ++progress_calls;
    EXPECT_LE(p.bytes_done, p.bytes_total);
  });
  EXPECT_EQ(s.files, 8);
  EXPECT_EQ(s.documents, 6 + 20 + 20);
  EXPECT_GT(s.valid_sequences, 0);
  EXPECT_GT(s.train_sequences, s.valid_sequences);
  EXPECT_GT(progress_calls, 0);
  EXPECT_GE(s.shards.size(), 3u);  // 40 sequences per training shard, plus valid.shard
  int64_t seen = 0;
  for (const std::string& path : s.shards) {
    const Shard shard = Shard::Open(path);
    seen += shard.count();
    for (int64_t i = 0; i < shard.count(); ++i) {
      const Shard::View v = shard.sequence(i);
      ASSERT_GE(v.size, 4 + 2);
      ASSERT_LE(v.size, 16);
      EXPECT_EQ(v.data[0], 2);           // [CLS]
      EXPECT_EQ(v.data[v.size - 1], 3);  // [SEP]
    }
  }
  EXPECT_EQ(seen, s.train_sequences + s.valid_sequences);
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "corpus.json"));
}

TEST(CorpusBuilder, SameBytesForRepeatedRunsAndAnyThreadCount) {
  const fs::path dir = testing::FreshDir("determinism");
  CorpusOptions o = Fixture(dir);
  o.threads = 1;
  const CorpusStats a = BuildCorpus(o);
  std::vector<std::string> first;
  for (const std::string& p : a.shards) first.push_back(testing::ReadFile(p));
  o.threads = 3;
  o.out_dir = (dir / "out3").string();
  const CorpusStats b = BuildCorpus(o);
  ASSERT_EQ(a.shards.size(), b.shards.size());
  for (size_t i = 0; i < b.shards.size(); ++i) EXPECT_EQ(testing::ReadFile(b.shards[i]), first[i]) << i;
  o.seed = 4;
  o.out_dir = (dir / "seed4").string();
  const CorpusStats c = BuildCorpus(o);
  EXPECT_NE(c.valid_sequences == a.valid_sequences && testing::ReadFile(c.shards.back()) == first.back(), true)
      << "another seed should hold out other documents";
}

TEST(CorpusBuilder, ErrorsNameTheFileAndLine) {
  const fs::path dir = testing::FreshDir("errors");
  CorpusOptions o = Fixture(dir);
  testing::WriteFile(dir / "in/broken.jsonl", "{\"text\": \"w1 w2\"}\n{\"text\": \"w3\n");
  try {
    BuildCorpus(o);
    ADD_FAILURE() << "expected an error";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jsonl:2: malformed JSON"), std::string::npos)
        << e.what();
  }
  fs::remove(dir / "in/broken.jsonl");
  testing::WriteFile(dir / "in/notext.jsonl", "{\"title\": \"no text\"}\n");
  try {
    BuildCorpus(o);
    ADD_FAILURE() << "expected an error";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("notext.jsonl:1: expected an object with a string field"),
              std::string::npos)
        << e.what();
  }
  o.inputs = {(dir / "missing").string()};
  EXPECT_THROW(BuildCorpus(o), CorpusError);
}

// --threads=1000 was a `terminate called without an active exception` under a memory limit:
// thread counts are bounded, and a thread that cannot start is an error saying so.
TEST(CorpusBuilder, ThreadCountIsBounded) {
  const fs::path dir = testing::FreshDir("threads");
  CorpusOptions o = Fixture(dir);
  o.threads = 1000;
  try {
    BuildCorpus(o);
    ADD_FAILURE() << "expected an error";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("threads: expected 0 (all cores) to 256, got 1000"),
              std::string::npos)
        << e.what();
  }
  o.threads = kMaxThreads;  // the bound itself works
  EXPECT_GT(BuildCorpus(o).documents, 0);
}

}  // namespace
}  // namespace sbmt::trainer

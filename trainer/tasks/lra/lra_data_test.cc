// The LRA readers on fixtures in each source's real layout (testdata/: ListOps TSVs, aclImdb
// folders, AAN pair TSVs; CIFAR-10 binaries and Pathfinder PNGs with metadata are written here),
// and bad input: refused naming the file and line, or skipped and counted.
#include "trainer/tasks/lra/lra_data.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/util/test_files.h"
#include "trainer/config/train_config.h"

namespace sbmt::trainer::lra {
namespace {

namespace fs = std::filesystem;
const std::string kData = "trainer/tasks/lra/testdata";

template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LraData, ListOpsTokenizesAsTheReference) {
  const Split s = ReadSplit("listops", kData + "/listops", "train", {});
  ASSERT_EQ(s.examples.size(), 2u);
  // [MAX 4 [MIN 2 3 ] ]: parentheses dropped, "]" read as X.
  EXPECT_EQ(s.examples[0].ids0, (std::vector<int32_t>{1, 10, 3, 8, 9, 5, 5}));
  EXPECT_EQ(s.examples[0].label, 4);
  EXPECT_EQ(s.examples[1].ids0, (std::vector<int32_t>{4, 13, 11, 15, 5}));  // [SM 7 5 9 ]
  EXPECT_EQ(s.examples[1].label, 1);
  EXPECT_EQ(ReadSplit("listops", kData + "/listops", "dev", {}).examples.size(), 1u);
  ReadOptions shorter;
  shorter.max_length = 3;
  EXPECT_EQ(ReadSplit("listops", kData + "/listops", "train", shorter).examples[0].ids0.size(), 3u);
}

TEST(LraData, MalformedRowsAreRefusedWithFileAndLineOrCounted) {
  const std::string test = kData + "/listops/basic_test.tsv";
  EXPECT_NE(ErrorOf([&] {
              ReadListOps(test, {});
            }).find(test + ":3: expected 'Source<TAB>Target', got 1 fields"),
            std::string::npos);
  ReadOptions skip;
  skip.skip_malformed = true;
  const Split s = ReadListOps(test, skip);
  EXPECT_EQ(s.examples.size(), 1u);
  EXPECT_EQ(s.skipped, 3);  // no tab; an unknown operator; a label of 12
  ASSERT_EQ(s.problems.size(), 3u);
  EXPECT_NE(s.problems[1].find(":4: Source: a token that is not"), std::string::npos);
  EXPECT_NE(s.problems[2].find(":5: Target: expected 0..9, got '12'"), std::string::npos);
  const std::string aan = kData + "/aan/new_aan_pairs.test.tsv";
  EXPECT_NE(ErrorOf([&] {
              ReadRetrievalTsv(aan, {});
            }).find(aan + ":2: label: expected 0 or 1, got '2.0'"),
            std::string::npos);
  EXPECT_EQ(ReadRetrievalTsv(aan, skip).skipped, 2);
}

TEST(LraData, MissingSplitsAndUnknownTasksAreNamed) {
  EXPECT_NE(ErrorOf([] {
              ReadSplit("listops", "/nonexistent", "train", {});
            }).find("/nonexistent/basic_train.tsv: missing (ListOps' train split)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              ReadSplit("text", "/nonexistent", "dev", {});
            }).find("/nonexistent/test/neg: missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Info("listopz"); })
                .find("expected one of listops, text, retrieval, image, pathfinder, got "
                      "'listopz'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              ReadSplit("image", "/nonexistent", "test", {});
            }).find("test_batch.bin: missing"),
            std::string::npos);
}

TEST(LraData, TextIsBytesPlusOneFromTheAclImdbFolders) {
  const Split train = ReadSplit("text", kData + "/aclImdb", "train", {});
  ASSERT_EQ(train.examples.size(), 3u);  // neg first, then pos, each in file-name order
  EXPECT_EQ(train.examples[0].label, 0);
  EXPECT_EQ(train.examples[0].ids0[0], 'A' + 1);
  EXPECT_EQ(train.examples[1].label, 1);
  // UTF-8 bytes, not characters: the em dash is 3 ids.
  EXPECT_EQ(train.examples[1].ids0.size(),
            std::string("Wonderful, moving and funny \xe2\x80\x94 see it.").size());
  EXPECT_EQ(train.examples[1].ids0[28], 0xe2 + 1);
  // dev is the test folder, as the reference.
  EXPECT_EQ(ReadSplit("text", kData + "/aclImdb", "dev", {}).examples.size(), 2u);
}

TEST(LraData, RetrievalHasTwoDocuments) {
  const Split s = ReadSplit("retrieval", kData + "/aan", "train", {});
  ASSERT_EQ(s.examples.size(), 2u);
  EXPECT_EQ(s.examples[0].label, 1);
  EXPECT_EQ(s.examples[0].ids0.size(), std::string("We study parsing.").size());
  EXPECT_EQ(s.examples[0].ids1[0], 'P' + 1);
  EXPECT_EQ(s.examples[1].label, 0);
  EXPECT_TRUE(Info("retrieval").two_documents);
}

TEST(LraData, Cifar10RecordsBecomeGrayscalePixels) {
  const fs::path dir = sbmt::testing::FreshDir("cifar");
  const fs::path bin = dir / "cifar-10-batches-bin";
  // 10 records per training batch, 5 batches: records 0-44 train, 45-49 dev (90 %).
  for (int b = 1; b <= 6; ++b) {
    std::string bytes;
    for (int r = 0; r < 10; ++r) {
      std::string record(3073, '\0');
      record[0] = static_cast<char>((b * 10 + r) % 10);
      for (int p = 0; p < 1024; ++p) {
        record[1 + p] = static_cast<char>(200);         // R
        record[1 + 1024 + p] = static_cast<char>(100);  // G
        record[1 + 2048 + p] = static_cast<char>(p % 256);
      }
      bytes += record;
    }
    sbmt::testing::WriteFile(
        bin / (b == 6 ? "test_batch.bin" : "data_batch_" + std::to_string(b) + ".bin"), bytes);
  }
  const Split train = ReadSplit("image", dir.string(), "train", {});
  const Split dev = ReadSplit("image", dir.string(), "dev", {});
  const Split test = ReadSplit("image", dir.string(), "test", {});
  EXPECT_EQ(train.examples.size(), 45u);
  EXPECT_EQ(dev.examples.size(), 5u);
  EXPECT_EQ(test.examples.size(), 10u);
  ASSERT_EQ(train.examples[0].ids0.size(), 1024u);
  // int(0.2989 * 200 + 0.5870 * 100 + 0.1140 * 7) + 1 = int(119.278) + 1
  EXPECT_EQ(train.examples[0].ids0[7], 120);
  EXPECT_EQ(dev.examples[0].label, 5);  // record 45
  sbmt::testing::WriteFile(bin / "test_batch.bin", std::string(3000, '\0'));
  EXPECT_NE(ErrorOf([&] {
              ReadSplit("image", dir.string(), "test", {});
            }).find("3000 bytes is not a whole number of CIFAR-10 records"),
            std::string::npos);
}

TEST(LraData, PathfinderReadsMetadataAndPngs) {
  const fs::path dir = sbmt::testing::FreshDir("pathfinder");
  fs::create_directories(dir / "imgs/0");
  std::string metadata;
  for (int i = 0; i < 20; ++i) {
    std::vector<uint8_t> pixels(1024, 0);
    pixels[i] = 255;
    WriteGrayPng((dir / "imgs/0" / ("sample_" + std::to_string(i) + ".png")).string(), pixels, 32,
                 32);
    metadata += "imgs/0 sample_" + std::to_string(i) + ".png " + std::to_string(i) + " " +
                std::to_string(i % 2) + " 1.0 14 4 2 0.5 1 1\n";
  }
  sbmt::testing::WriteFile(dir / "metadata/0.npy", metadata);
  const Split train = ReadPathfinder(dir.string(), 0, {});
  const Split dev = ReadPathfinder(dir.string(), 1, {});
  const Split test = ReadPathfinder(dir.string(), 2, {});
  EXPECT_EQ(train.examples.size(), 16u);  // 80 / 10 / 10
  EXPECT_EQ(dev.examples.size(), 2u);
  EXPECT_EQ(test.examples.size(), 2u);
  for (const Split* s : {&train, &dev, &test}) {
    for (const Example& e : s->examples) {
      ASSERT_EQ(e.ids0.size(), 1024u);
      // The one white pixel tells which image this is; its label is its index's parity.
      const int at =
          static_cast<int>(std::find(e.ids0.begin(), e.ids0.end(), 256) - e.ids0.begin());
      EXPECT_EQ(e.label, at % 2);
      EXPECT_EQ(e.ids0[(at + 1) % 1024], 1);  // black is id 1, a valid token
    }
  }
  // The same split on every read.
  EXPECT_EQ(ReadPathfinder(dir.string(), 1, {}).examples[0].ids0, dev.examples[0].ids0);
  // An image of the wrong size: refused with the metadata line, or skipped.
  WriteGrayPng((dir / "imgs/0/sample_3.png").string(), std::vector<uint8_t>(64 * 64), 64, 64);
  std::string all;
  for (int s = 0; s < 3; ++s) {
    try {
      ReadPathfinder(dir.string(), s, {});
    } catch (const Error& e) {
      all += e.what();
    }
  }
  EXPECT_NE(all.find("0.npy:4: "), std::string::npos) << all;
  EXPECT_NE(all.find("expected a 32x32 8-bit grayscale PNG, got 64x64"), std::string::npos) << all;
  ReadOptions skip;
  skip.skip_malformed = true;
  int64_t skipped = 0;
  for (int s = 0; s < 3; ++s) skipped += ReadPathfinder(dir.string(), s, skip).skipped;
  EXPECT_EQ(skipped, 1);
}

TEST(LraData, PathfinderSideFollowsTheLength) {
  const fs::path dir = sbmt::testing::FreshDir("pathfinder16");
  fs::create_directories(dir / "imgs/0");
  std::string metadata;
  for (int i = 0; i < 10; ++i) {
    WriteGrayPng((dir / "imgs/0" / ("sample_" + std::to_string(i) + ".png")).string(),
                 std::vector<uint8_t>(256, static_cast<uint8_t>(i)), 16, 16);
    metadata += "imgs/0 sample_" + std::to_string(i) + ".png " + std::to_string(i) +
                " 1 1.0 4 1 2 0.5 1 1\n";
  }
  sbmt::testing::WriteFile(dir / "metadata/0.npy", metadata);
  ReadOptions sixteen;
  sixteen.max_length = 256;
  const Split train = ReadPathfinder(dir.string(), 0, sixteen);
  ASSERT_EQ(train.examples.size(), 8u);
  EXPECT_EQ(train.examples[0].ids0.size(), 256u);
  // The default length reads 32x32 images, and says so.
  try {
    ReadPathfinder(dir.string(), 0, {});
    ADD_FAILURE() << "16x16 images read at length 1024";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a 32x32 8-bit grayscale PNG, got 16x16"),
              std::string::npos)
        << e.what();
  }
  ReadOptions odd;
  odd.max_length = 300;
  try {
    ReadPathfinder(dir.string(), 0, odd);
    ADD_FAILURE() << "a length that is not a square was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("task.lra.max_length: Pathfinder reads square images"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sbmt::trainer::lra

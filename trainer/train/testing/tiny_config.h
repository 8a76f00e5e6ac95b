// A tiny masked-LM setup for Trainer tests: synthetic shards and vocabulary in a directory,
// and a 2-layer, 2-head, width-32 config over them that trains 8 steps in well under a second.
#pragma once

#include <filesystem>
#include <string>

#include "trainer/config/train_config.h"

namespace sbmt::testing {

// Writes DIR/train.shard (`train` sequences), DIR/valid.shard (`valid`) and DIR/vocab.txt.
void MakeTinyMlmData(const std::filesystem::path& dir, int train, int valid, unsigned seed);

// 8 steps of global batch 8 in 2 micro-steps, evaluation and checkpoints every 4 steps.
trainer::TrainConfig TinyMlmConfig(const std::filesystem::path& data,
                                   const std::filesystem::path& out, const std::string& attention);

}  // namespace sbmt::testing

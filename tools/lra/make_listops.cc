// make_listops: the ListOps data set by the rules of LRA's generator (lra_benchmarks/data/
// listops.py; ../shared/reference/sbm-notes.md section 6.2), deterministic per --seed, in the
// original files: basic_train.tsv, basic_val.tsv, basic_test.tsv with the header
// "Source<TAB>Target" and the parenthesised serialisation. Prints the length, depth, argument,
// operator and label distributions of the set beside what the rules give.
//
//   make_listops --out=data/lra/listops                 # 96000 / 2000 / 2000, lengths (500, 2000)
//   make_listops --out=data/lra/listops-short --min-length=20 --max-length=100
//       --train=20000 --val=1000 --test=1000            (one line: a small variant for CPU runs)
//
// The rules: a node at depth d < max_depth is a digit 0-9 with probability 0.75 (always at
// max_depth), else an operator (MIN, MAX, MED, SM, uniform) with a uniform number of arguments
// in [2, max_args], each a node at depth d + 1; the root is at depth 1. A tree of `length` tokens
// (operator + arguments + "]") is kept iff min_length < length < max_length, and only once.
// MED is the floor of the median (the mean of the middle two for an even count), SM the sum mod
// 10. Trees are split into train, val and test in the order they were drawn (the original used
// a Python set's order, which no seed fixes).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "runtime/hash.h"

namespace {

const char* const kOperators[] = {"[MIN", "[MAX", "[MED", "[SM"};

struct Rules {
  int max_depth = 10;
  int max_args = 10;
  int64_t min_length = 500, max_length = 2000;  // exclusive bounds
};

struct Random {  // SplitMix64: the same trees on every platform and standard library
  uint64_t state;
  double Uniform() { return sbmt::runtime::UnitDouble(sbmt::runtime::SplitMix64Next(state)); }
  int Below(int n) {
    return static_cast<int>(sbmt::runtime::SplitMix64Next(state) % static_cast<uint64_t>(n));
  }
};

struct Tree {
  std::string text;  // the parenthesised serialisation
  int64_t length = 0;
  int value = 0;
  int depth = 0;  // operator levels on the deepest path (0: a digit)
};

struct Counts {  // what the kept trees hold, for the report
  std::map<int, int64_t> args, operators, digits;
};

int Evaluate(int op, std::vector<int> values) {
  switch (op) {
    case 0:
      return *std::min_element(values.begin(), values.end());
    case 1:
      return *std::max_element(values.begin(), values.end());
    case 2: {
      std::sort(values.begin(), values.end());
      const size_t n = values.size();
      // numpy's median, then int(): the floor of the mean of the middle two for an even count
      return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
    default: {
      int sum = 0;
      for (int v : values) sum += v;
      return sum % 10;
    }
  }
}

// Draws a node; stops early (returns false) once the tree cannot be kept any more.
bool Generate(int depth, const Rules& rules, Random& rng, Tree* out, Counts* counts) {
  const double r = depth < rules.max_depth ? rng.Uniform() : 1.0;
  if (r > 0.25) {
    out->value = rng.Below(10);
    out->text = std::to_string(out->value);
    out->length = 1;
    out->depth = 0;
    ++counts->digits[out->value];
    return true;
  }
  const int op = rng.Below(4);
  const int args = 2 + rng.Below(rules.max_args - 1);
  ++counts->operators[op];
  ++counts->args[args];
  // ((((op a1) a2) ... an) ]) with "( x y )" around every pair.
  std::string text = kOperators[op];
  std::vector<int> values;
  int64_t length = 2;
  int depth_below = 0;
  for (int a = 0; a < args; ++a) {
    Tree child;
    if (!Generate(depth + 1, rules, rng, &child, counts)) return false;
    text = "( " + text + " " + child.text + " )";
    values.push_back(child.value);
    length += child.length;
    depth_below = std::max(depth_below, child.depth);
    if (length >= rules.max_length) return false;  // already too long: redraw
  }
  out->text = "( " + text + " ] )";
  out->length = length;
  out->value = Evaluate(op, values);
  out->depth = depth_below + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Generate the ListOps data set by LRA's rules");
  std::string out_dir;
  uint64_t seed = 0;
  int64_t train = 96000, val = 2000, test = 2000;
  Rules rules;
  app.add_option("--out", out_dir, "folder for basic_{train,val,test}.tsv")->required();
  app.add_option("--seed", seed, "the set is a function of the seed and the options");
  app.add_option("--train", train, "trees in basic_train.tsv")->check(CLI::PositiveNumber);
  app.add_option("--val", val, "trees in basic_val.tsv")->check(CLI::NonNegativeNumber);
  app.add_option("--test", test, "trees in basic_test.tsv")->check(CLI::NonNegativeNumber);
  app.add_option("--min-length", rules.min_length, "keep trees longer than this (tokens)");
  app.add_option("--max-length", rules.max_length, "keep trees shorter than this (tokens)");
  app.add_option("--max-depth", rules.max_depth, "operators only above this depth")
      ->check(CLI::Range(2, 100));
  app.add_option("--max-args", rules.max_args, "arguments per operator, at most")
      ->check(CLI::Range(2, 100));
  CLI11_PARSE(app, argc, argv);
  if (rules.min_length + 1 >= rules.max_length) {
    std::fprintf(stderr, "make_listops: --min-length must be below --max-length - 1\n");
    return 2;
  }
  Random rng{sbmt::runtime::Mix64(seed ^ 0x4c6973744f7073ULL)};
  const int64_t wanted = train + val + test;
  std::vector<Tree> kept;
  std::unordered_set<std::string> seen;
  Counts counts;
  std::map<int64_t, int64_t> lengths;
  std::map<int, int64_t> depths, labels;
  int64_t drawn = 0, duplicates = 0;
  while (static_cast<int64_t>(kept.size()) < wanted) {
    Tree t;
    Counts c;
    ++drawn;
    if (!Generate(1, rules, rng, &t, &c)) continue;
    if (t.length <= rules.min_length || t.length >= rules.max_length) continue;
    if (!seen.insert(t.text).second) {
      ++duplicates;
      continue;
    }
    for (const auto& [k, v] : c.args) counts.args[k] += v;
    for (const auto& [k, v] : c.operators) counts.operators[k] += v;
    for (const auto& [k, v] : c.digits) counts.digits[k] += v;
    ++lengths[t.length];
    ++depths[t.depth];
    ++labels[t.value];
    kept.push_back(std::move(t));
    if (kept.size() % 10000 == 0) {
      std::fprintf(stderr, "make_listops: %zu of %lld trees (%lld drawn)\n", kept.size(),
                   static_cast<long long>(wanted), static_cast<long long>(drawn));
    }
  }
  std::filesystem::create_directories(out_dir);
  const std::pair<const char*, int64_t> files[] = {
      {"basic_train.tsv", train}, {"basic_val.tsv", val}, {"basic_test.tsv", test}};
  size_t next = 0;
  for (const auto& [name, count] : files) {
    const std::string path = (std::filesystem::path(out_dir) / name).string();
    std::ofstream out(path + ".tmp");
    out << "Source\tTarget\n";
    for (int64_t i = 0; i < count; ++i, ++next) out << kept[next].text << '\t' << kept[next].value << '\n';
    out.close();
    if (!out) {
      std::fprintf(stderr, "make_listops: cannot write %s\n", path.c_str());
      return 1;
    }
    std::filesystem::rename(path + ".tmp", path);
  }

  // The report: the set beside the rules.
  const double n = static_cast<double>(kept.size());
  auto quantile = [&](double q) {
    int64_t seen_so_far = 0;
    for (const auto& [length, count] : lengths) {
      seen_so_far += count;
      if (static_cast<double>(seen_so_far) >= q * n) return length;
    }
    return lengths.rbegin()->first;
  };
  std::printf("ListOps: %lld trees (%lld drawn, %lld duplicates dropped) in %s, seed %llu\n\n",
              static_cast<long long>(kept.size()), static_cast<long long>(drawn),
              static_cast<long long>(duplicates), out_dir.c_str(),
              static_cast<unsigned long long>(seed));
  std::printf("| quantity | this set | the rules |\n|---|---|---|\n");
  std::printf("| length min / median / max | %lld / %lld / %lld | strictly between %lld and %lld |\n",
              static_cast<long long>(lengths.begin()->first), static_cast<long long>(quantile(0.5)),
              static_cast<long long>(lengths.rbegin()->first),
              static_cast<long long>(rules.min_length), static_cast<long long>(rules.max_length));
  std::string depth_text;
  for (const auto& [d, count] : depths) {
    char cell[40];
    std::snprintf(cell, sizeof(cell), "%s%d: %.3f", depth_text.empty() ? "" : ", ", d,
                  static_cast<double>(count) / n);
    depth_text += cell;
  }
  std::printf("| operator depth shares | %s | at most %d (operators at depths 1-%d) |\n",
              depth_text.c_str(), rules.max_depth - 1, rules.max_depth - 1);
  double args_sum = 0, args_n = 0;
  for (const auto& [a, count] : counts.args) {
    args_sum += a * static_cast<double>(count);
    args_n += static_cast<double>(count);
  }
  std::printf("| mean arguments per operator | %.3f | %.3f (uniform on 2-%d, before the length "
              "filter) |\n",
              args_sum / args_n, (2 + rules.max_args) / 2.0, rules.max_args);
  double ops_n = 0;
  for (const auto& [op, count] : counts.operators) ops_n += static_cast<double>(count);
  for (const auto& [op, count] : counts.operators) {
    std::printf("| share of %s | %.4f | 0.25 |\n", kOperators[op] + 1,
                static_cast<double>(count) / ops_n);
  }
  double digits_n = 0, digit_min = 1, digit_max = 0;
  for (const auto& [d, count] : counts.digits) digits_n += static_cast<double>(count);
  for (const auto& [d, count] : counts.digits) {
    digit_min = std::min(digit_min, static_cast<double>(count) / digits_n);
    digit_max = std::max(digit_max, static_cast<double>(count) / digits_n);
  }
  std::printf("| share of each digit (min / max) | %.4f / %.4f | 0.1 |\n", digit_min, digit_max);
  std::string label_text;
  for (const auto& [label, count] : labels) {
    char cell[32];
    std::snprintf(cell, sizeof(cell), "%s%d: %.3f", label_text.empty() ? "" : ", ", label,
                  static_cast<double>(count) / n);
    label_text += cell;
  }
  std::printf("| labels | %s | 10 classes (not uniform: MIN, MAX and MED favour some) |\n",
              label_text.c_str());
  return 0;
}

#include "trainer/tasks/glue/glue_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/error.h"

namespace sbmt::trainer::glue {
namespace {

void CheckSameLength(size_t a, size_t b) {
  if (a != b) {
    throw Error(ErrorCode::kInvalidArgument, "metrics: " + std::to_string(a) + " predictions for " +
                                                 std::to_string(b) + " labels");
  }
  if (a == 0) throw Error(ErrorCode::kInvalidArgument, "metrics: no examples");
}

Confusion Count(const std::vector<std::string>& p, const std::vector<std::string>& l,
                const std::string& positive) {
  CheckSameLength(p.size(), l.size());
  Confusion c;
  for (size_t i = 0; i < p.size(); ++i) {
    const bool pp = p[i] == positive, lp = l[i] == positive;
    (pp ? (lp ? c.tp : c.fp) : (lp ? c.fn : c.tn)) += 1;
  }
  return c;
}

}  // namespace

double Accuracy(const std::vector<std::string>& p, const std::vector<std::string>& l) {
  CheckSameLength(p.size(), l.size());
  size_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == l[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

double F1(const Confusion& c) {
  const double denominator = 2 * c.tp + c.fp + c.fn;
  return denominator == 0 ? 0.0 : 2 * c.tp / denominator;
}

double MatthewsCorrelation(const Confusion& c) {
  const double denominator =
      std::sqrt((c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn));
  return denominator == 0 ? 0.0 : (c.tp * c.tn - c.fp * c.fn) / denominator;
}

double F1(const std::vector<std::string>& p, const std::vector<std::string>& l,
          const std::string& positive) {
  return F1(Count(p, l, positive));
}

double MatthewsCorrelation(const std::vector<std::string>& p, const std::vector<std::string>& l,
                           const std::string& positive) {
  return MatthewsCorrelation(Count(p, l, positive));
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  CheckSameLength(x.size(), y.size());
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> AverageRanks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = average;
    i = j + 1;
  }
  return ranks;
}

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  CheckSameLength(x.size(), y.size());
  return Pearson(AverageRanks(x), AverageRanks(y));
}

}  // namespace sbmt::trainer::glue

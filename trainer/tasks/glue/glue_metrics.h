// GLUE's official metrics, as the GLUE leaderboard (and scikit-learn / SciPy, which its scorer
// uses) computes them: accuracy; F1 of the positive class "1" (MRPC, QQP); Matthews correlation
// (CoLA); Pearson and Spearman correlation (STS-B, Spearman on average ranks for ties).
// Degenerate inputs follow scikit-learn: F1 is 0 when there is no positive prediction or label,
// MCC is 0 when any marginal is empty; a correlation of a constant series is NaN (SciPy).
//
//   double f1 = F1(predictions, labels);           // labels as GLUE spells them
//   double rho = Spearman(predicted_scores, gold_scores);
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sbmt::trainer::glue {

// Binary confusion counts (class "1" or another `positive` against the rest).
struct Confusion {
  double tp = 0, fp = 0, fn = 0, tn = 0;
};
double F1(const Confusion& c);
double MatthewsCorrelation(const Confusion& c);

double Accuracy(const std::vector<std::string>& predictions,
                const std::vector<std::string>& labels);
// F1 of `positive` against all other labels.
double F1(const std::vector<std::string>& predictions, const std::vector<std::string>& labels,
          const std::string& positive = "1");
// Matthews correlation of binary labels (`positive` vs the rest).
double MatthewsCorrelation(const std::vector<std::string>& predictions,
                           const std::vector<std::string>& labels,
                           const std::string& positive = "1");
double Pearson(const std::vector<double>& x, const std::vector<double>& y);
double Spearman(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks, ties sharing their average rank.
std::vector<double> AverageRanks(const std::vector<double>& values);

}  // namespace sbmt::trainer::glue

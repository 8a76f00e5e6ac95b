#include "attention/testing/dense_reference.h"

#include <cmath>

namespace sbmt::attention::testing {

Dense MatMul(const Dense& a, const Dense& b) {
  Dense c(a.rows, b.cols);
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t l = 0; l < a.cols; ++l) {
      for (int64_t j = 0; j < b.cols; ++j) c.at(i, j) += a.at(i, l) * b.at(l, j);
    }
  }
  return c;
}

Dense Transposed(const Dense& a) {
  Dense t(a.cols, a.rows);
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t j = 0; j < a.cols; ++j) t.at(j, i) = a.at(i, j);
  }
  return t;
}

Dense DenseMaskedAttention(const Dense& q, const Dense& k, const Dense& v, const Dense& mask,
                           double scale) {
  Dense s = MatMul(q, Transposed(k));
  Dense out(q.rows, v.cols);
  for (int64_t i = 0; i < q.rows; ++i) {
    double row_max = -INFINITY;
    for (int64_t j = 0; j < k.rows; ++j) {
      if (mask.at(i, j) > 0) row_max = std::fmax(row_max, s.at(i, j) * scale);
    }
    double denom = 0;
    std::vector<double> w(k.rows, 0.0);
    for (int64_t j = 0; j < k.rows; ++j) {
      if (mask.at(i, j) > 0) w[j] = mask.at(i, j) * std::exp(s.at(i, j) * scale - row_max);
      denom += w[j];
    }
    if (denom == 0) continue;
    for (int64_t j = 0; j < k.rows; ++j) {
      for (int64_t c = 0; c < v.cols; ++c) out.at(i, c) += w[j] / denom * v.at(j, c);
    }
  }
  return out;
}

DenseMembershipGrads DenseMembershipBackward(const Dense& y, const Dense& z, const Dense& b,
                                             const Dense& dp) {
  DenseMembershipGrads g;
  g.dy = MatMul(MatMul(dp, z), Transposed(b));
  g.dz = MatMul(MatMul(Transposed(dp), y), b);
  g.db = MatMul(MatMul(Transposed(y), dp), z);
  return g;
}

}  // namespace sbmt::attention::testing

// make_pathfinder: Pathfinder images (32x32) by the rules of the generator LRA used
// (drewlinsley/pathfinder snakes2.py with LRA's settings; ../shared/reference/sbm-notes.md
// section 6.3), deterministic per --seed, in the original layout:
//   OUT/imgs/<batch>/sample_<i>.png                  8-bit grayscale
//   OUT/metadata/<batch>.npy                         text lines, as the original:
//     imgs/<batch> sample_<i>.png <i> <label> <continuity> <contour_length> <distractor_length>
//     <paddle_length> <paddle_thickness> <margin> <contrasts>
// and, with --geometry, OUT/geometry/<batch>.jsonl: every image's paddles and markers, for
// checking (tools/lra/pathfinder_check.py).
//
//   make_pathfinder --out=data/lra/pathfinder32/curv_contour_length_14 --images=200000
//
// Each image: two target snakes of --contour-length paddles, the second seeded 7 px from the
// first; --distractors snakes of contour_length / 3 paddles anywhere free; a paddle is a 2 px
// stroke, drawn 1 px wide at 2x resolution; consecutive paddles leave a 1 px gap and turn by an
// angle drawn with weight cos^2 (continuity 1); a paddle may not come within the margin of any
// earlier paddle but its predecessor (3 tries, then the snake starts over). Label ~ {0, 1}: one
// disk marker (radius 1.5 px) on the tail of a random target snake, the other on the head of the
// same snake (1) or of the other one (0). The image is the maximum of everything, box-filtered
// to 32x32 and scaled to 0-255. Differences from the original, which LRA's images cannot show:
// a box filter instead of Lanczos, and no single-paddle clutter (its own wrapper disables it).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/hash.h"
#include "trainer/tasks/lra/lra_data.h"

namespace {

constexpr int kScale = 2;
constexpr double kPaddle = 2.0, kGap = 1.0, kMargin = 1.0, kMarkerRadius = 1.5;
constexpr double kPi = 3.14159265358979323846;

struct Random {
  uint64_t state;
  double Uniform() { return sbmt::runtime::UnitDouble(sbmt::runtime::SplitMix64Next(state)); }
  int Below(int n) {
    return static_cast<int>(sbmt::runtime::SplitMix64Next(state) % static_cast<uint64_t>(n));
  }
};

struct Point {
  double x, y;
};
struct Paddle {
  Point a, b;  // tail to head
};

double SegmentDistance(Point p, const Paddle& s) {
  const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
  const double t =
      std::clamp(((p.x - s.a.x) * dx + (p.y - s.a.y) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
  return std::hypot(p.x - (s.a.x + t * dx), p.y - (s.a.y + t * dy));
}

class Scene {
 public:
  // An image of size x size pixels, drawn at kScale times that.
  Scene(Random& rng, int size) : rng_(rng), size_(size), hi_(size * kScale) {}

  // A snake of `paddles` from `tail` heading `angle`; false (nothing added) when it cannot grow.
  bool Grow(Point tail, double angle, int paddles, std::vector<Paddle>* snake) {
    std::vector<Paddle> grown;
    Point start = tail;
    for (int i = 0; i < paddles; ++i) {
      bool placed = false;
      for (int attempt = 0; attempt < 3 && !placed; ++attempt) {
        const double turn = i == 0 ? 0.0 : DrawTurn();
        const double a = angle + turn;
        const Point from =
            i == 0 ? start : Point{start.x + kGap * std::cos(a), start.y + kGap * std::sin(a)};
        const Paddle p{from, {from.x + kPaddle * std::cos(a), from.y + kPaddle * std::sin(a)}};
        if (Fits(p, grown)) {
          grown.push_back(p);
          start = p.b;
          angle = a;
          placed = true;
        }
      }
      if (!placed) return false;
    }
    for (const Paddle& p : grown) paddles_.push_back(p);
    *snake = std::move(grown);
    return true;
  }

  Point RandomPoint(double border) {
    return {border + rng_.Uniform() * (size_ - 2 * border),
            border + rng_.Uniform() * (size_ - 2 * border)};
  }
  double RandomAngle() { return (rng_.Below(360) - 180) * kPi / 180; }  // integer degrees

  // The image: paddles 1 px wide and marker disks at 2x, box-filtered to size x size, 0-255.
  std::vector<uint8_t> Render(const std::vector<Point>& markers) const {
    std::vector<double> hi(hi_ * hi_, 0.0);
    for (int y = 0; y < hi_; ++y) {
      for (int x = 0; x < hi_; ++x) {
        const Point p{(x + 0.5) / kScale, (y + 0.5) / kScale};
        double v = 0;
        for (const Paddle& s : paddles_) {
          if (SegmentDistance(p, s) <= 0.5 / kScale + 0.25) v = 1;  // 1 px wide at 2x
        }
        for (const Point& m : markers) {
          if (std::hypot(p.x - m.x, p.y - m.y) <= kMarkerRadius) v = 1;
        }
        hi[y * hi_ + x] = v;
      }
    }
    std::vector<double> lo(size_ * size_, 0.0);
    double top = 0;
    for (int y = 0; y < size_; ++y) {
      for (int x = 0; x < size_; ++x) {
        double sum = 0;
        for (int dy = 0; dy < kScale; ++dy) {
          for (int dx = 0; dx < kScale; ++dx) sum += hi[(y * kScale + dy) * hi_ + x * kScale + dx];
        }
        lo[y * size_ + x] = sum / (kScale * kScale);
        top = std::max(top, lo[y * size_ + x]);
      }
    }
    std::vector<uint8_t> pixels(size_ * size_);
    for (size_t i = 0; i < lo.size(); ++i) {
      pixels[i] = static_cast<uint8_t>(std::lround(top > 0 ? 255 * lo[i] / top : 0));
    }
    return pixels;
  }

 private:
  // A turn in [-90, 90] degrees (10 degree steps) with weight cos^2 (continuity 1).
  double DrawTurn() {
    double weights[19], total = 0;
    for (int k = 0; k < 19; ++k) {
      const double c = std::cos((k - 9) * 10 * kPi / 180);
      weights[k] = c * c;
      total += weights[k];
    }
    double u = rng_.Uniform() * total;
    for (int k = 0; k < 19; ++k) {
      if ((u -= weights[k]) <= 0) return (k - 9) * 10 * kPi / 180;
    }
    return 0;
  }

  // Inside the window with a 1 px border, and off every earlier paddle's margin but the
  // snake's own last one (its joint).
  bool Fits(const Paddle& p, const std::vector<Paddle>& own) const {
    for (const Point& q : {p.a, p.b}) {
      if (q.x < 1 || q.y < 1 || q.x > size_ - 1 || q.y > size_ - 1) return false;
    }
    auto clear = [&](const Paddle& other) {
      for (int k = 0; k <= 8; ++k) {
        const double t = k / 8.0;
        const Point q{p.a.x + t * (p.b.x - p.a.x), p.a.y + t * (p.b.y - p.a.y)};
        if (SegmentDistance(q, other) < kMargin + 0.5) return false;
      }
      return true;
    };
    for (const Paddle& other : paddles_) {
      if (!clear(other)) return false;
    }
    for (size_t i = 0; i + 1 < own.size(); ++i) {
      if (!clear(own[i])) return false;
    }
    return true;
  }

  Random& rng_;
  const int size_, hi_;
  std::vector<Paddle> paddles_;
};

struct Image {
  std::vector<uint8_t> pixels;
  int label = 0;
  std::vector<std::vector<Paddle>> targets, distractors;
  Point marker_tail{}, marker_head{};
  int marked = 0;  // the target snake whose tail holds a marker
};

Image MakeImage(Random& rng, int size, int contour_length, int distractors) {
  for (;;) {
    Image image;
    Scene scene(rng, size);
    image.targets.resize(2);
    const Point tail = scene.RandomPoint(4);
    if (!scene.Grow(tail, scene.RandomAngle(), contour_length, &image.targets[0])) continue;
    const double away = scene.RandomAngle();
    const Point second{tail.x + 7 * std::cos(away), tail.y + 7 * std::sin(away)};
    if (!scene.Grow(second, scene.RandomAngle(), contour_length, &image.targets[1])) continue;
    const int distractor_length = std::max(1, contour_length / 3);
    for (int d = 0, tries = 0; d < distractors && tries < 200; ++tries) {
      std::vector<Paddle> snake;
      if (scene.Grow(scene.RandomPoint(1), scene.RandomAngle(), distractor_length, &snake)) {
        image.distractors.push_back(std::move(snake));
        ++d;
      }
    }
    image.label = rng.Below(2);
    image.marked = rng.Below(2);
    const int other = image.label == 1 ? image.marked : 1 - image.marked;
    image.marker_tail = image.targets[image.marked].front().a;
    image.marker_head = image.targets[other].back().b;
    image.pixels = scene.Render({image.marker_tail, image.marker_head});
    return image;
  }
}

std::string PaddlesJson(const std::vector<Paddle>& snake) {
  std::string out = "[";
  char buf[96];
  for (size_t i = 0; i < snake.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s[%.4f,%.4f,%.4f,%.4f]", i ? "," : "", snake[i].a.x,
                  snake[i].a.y, snake[i].b.x, snake[i].b.y);
    out += buf;
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Generate Pathfinder images (32x32 by default) by the original rules");
  std::string out_dir;
  uint64_t seed = 0;
  int64_t images = 1000, per_batch = 1000;
  int size = 32, contour_length = 14, distractors = 5;
  bool geometry = false;
  app.add_option("--out", out_dir, "the difficulty folder (imgs/, metadata/)")->required();
  app.add_option("--seed", seed, "the images are a function of the seed and the options");
  app.add_option("--images", images, "how many")->check(CLI::PositiveNumber);
  app.add_option("--per-batch", per_batch, "images per imgs/<batch>/ folder")
      ->check(CLI::PositiveNumber);
  app.add_option("--size", size, "image side in pixels (32: LRA's Pathfinder; 128: Path-X)")
      ->check(CLI::Range(12, 256));
  app.add_option("--contour-length", contour_length, "paddles per target snake (14: hard)")
      ->check(CLI::Range(2, 40));
  app.add_option("--distractors", distractors, "distractor snakes (contour length / 3 paddles)")
      ->check(CLI::Range(0, 50));
  app.add_flag("--geometry", geometry, "also write geometry/<batch>.jsonl (paddles, markers)");
  CLI11_PARSE(app, argc, argv);
  namespace fs = std::filesystem;
  try {
    Random rng{sbmt::runtime::Mix64(seed ^ 0x50617468ULL)};
    int64_t positives = 0;
    for (int64_t first = 0, batch = 0; first < images; first += per_batch, ++batch) {
      const std::string b = std::to_string(batch);
      fs::create_directories(fs::path(out_dir) / "imgs" / b);
      fs::create_directories(fs::path(out_dir) / "metadata");
      std::ofstream metadata(fs::path(out_dir) / "metadata" / (b + ".npy"));
      std::ofstream shapes;
      if (geometry) {
        fs::create_directories(fs::path(out_dir) / "geometry");
        shapes.open(fs::path(out_dir) / "geometry" / (b + ".jsonl"));
      }
      for (int64_t i = first; i < std::min(images, first + per_batch); ++i) {
        const Image image = MakeImage(rng, size, contour_length, distractors);
        const std::string name = "sample_" + std::to_string(i - first) + ".png";
        sbmt::trainer::lra::WriteGrayPng((fs::path(out_dir) / "imgs" / b / name).string(),
                                         image.pixels, size, size);
        metadata << "imgs/" << b << " " << name << " " << i - first << " " << image.label << " 1.0 "
                 << contour_length << " " << std::max(1, contour_length / 3) << " " << kPaddle
                 << " 0.5 " << kMargin << " 1\n";
        positives += image.label;
        if (geometry) {
          char markers[160];
          std::snprintf(markers, sizeof(markers),
                        "\"label\":%d,\"marked\":%d,\"marker_tail\":[%.4f,%.4f],"
                        "\"marker_head\":[%.4f,%.4f]",
                        image.label, image.marked, image.marker_tail.x, image.marker_tail.y,
                        image.marker_head.x, image.marker_head.y);
          shapes << "{\"image\":\"imgs/" << b << "/" << name << "\"," << markers << ",\"targets\":["
                 << PaddlesJson(image.targets[0]) << "," << PaddlesJson(image.targets[1])
                 << "],\"distractors\":[";
          for (size_t d = 0; d < image.distractors.size(); ++d) {
            shapes << (d ? "," : "") << PaddlesJson(image.distractors[d]);
          }
          shapes << "]}\n";
        }
      }
      if (!metadata) throw sbmt::Error(sbmt::ErrorCode::kUnavailable, "cannot write metadata");
      std::fprintf(stderr, "make_pathfinder: %lld of %lld images\n",
                   static_cast<long long>(std::min(images, first + per_batch)),
                   static_cast<long long>(images));
    }
    std::printf("Pathfinder: %lld images in %s (seed %llu), %.3f of them connected (label 1)\n",
                static_cast<long long>(images), out_dir.c_str(),
                static_cast<unsigned long long>(seed),
                static_cast<double>(positives) / static_cast<double>(images));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_pathfinder: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

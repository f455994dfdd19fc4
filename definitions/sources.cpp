#include "definitions/sources.h"

#include <cmath>
#include <cstdlib>
#include <mutex>

#include "core/errors.h"
#include "definitions/params.h"
#include "nn/fashion_mnist.h"
#include "nn/llama.h"
#include "nn/zoo.h"

namespace wrsec::definitions {

namespace {

std::uint64_t parse_u64(const std::string& text, const std::string& spec) {
  return parse_unsigned("malformed model source '" + spec + "': the seed", text);
}

double parse_positive(const std::string& text, const std::string& spec, const char* what) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(v > 0) || !std::isfinite(v))
    throw InvalidArgument("malformed " + std::string(what) + " source '" + spec + "': '" + text +
                          "' is not a positive number");
  return v;
}

}  // namespace

struct ModelSource::State {
  enum class Kind { random, llama_synthetic, zoo, file, drift } kind = Kind::random;
  double drift = 0;                          // drift: ε
  std::shared_ptr<const ModelSource> inner;  // drift: the base
  nn::Architecture arch;
  std::string name;  // zoo name or file path
  std::uint64_t seed = 1;
  std::once_flag once;
  std::shared_ptr<const nn::Model> fixed;

  const nn::Model& load() {
    std::call_once(once, [&] {
      if (kind == Kind::zoo) {
        const char* env = std::getenv("WRSEC_ZOO_CACHE");
        const std::filesystem::path cache = env && *env ? env : "models";
        fixed = std::make_shared<const nn::Model>(nn::train_or_load(name, seed, cache).model);
      } else {
        fixed = std::make_shared<const nn::Model>(nn::Model::from_safetensors(name));
      }
    });
    return *fixed;
  }
};

ModelSource ModelSource::parse(const std::string& spec) {
  ModelSource s;
  s.spec_ = spec;
  s.state_ = std::make_shared<State>();
  State& st = *s.state_;
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (rest.empty())
    throw InvalidArgument("malformed model source '" + spec +
                          "' (expected random:<arch>, llama_synthetic:<d>,<h>[:<act>], "
                          "zoo:<name>[@<seed>], file:<path> or drift:<eps>:<source>)");
  // Errors from the architecture / zoo-name parsers quote only part of the spec (or, for
  // llama_synthetic, a rewritten one): name the spec the user wrote.
  const auto naming_spec = [&](auto&& parse) {
    try {
      return parse();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("malformed model source '" + spec + "': " + e.what());
    }
  };
  if (kind == "random") {
    st.kind = State::Kind::random;
    st.arch = naming_spec([&] { return nn::Architecture::parse(rest); });
  } else if (kind == "llama_synthetic") {
    st.kind = State::Kind::llama_synthetic;
    const auto c = rest.find(':');
    st.arch = naming_spec([&] {
      return nn::Architecture::parse("swiglu:" + rest.substr(0, c) + ":" +
                                     (c == std::string::npos ? "silu" : rest.substr(c + 1)));
    });
  } else if (kind == "zoo") {
    st.kind = State::Kind::zoo;
    const auto at = rest.find('@');
    st.name = rest.substr(0, at);
    if (at != std::string::npos) st.seed = parse_u64(rest.substr(at + 1), spec);
    st.arch = naming_spec([&] { return nn::zoo_architecture(st.name); });
  } else if (kind == "drift") {
    st.kind = State::Kind::drift;
    const auto c = rest.find(':');
    if (c == std::string::npos)
      throw InvalidArgument("malformed model source '" + spec +
                            "' (expected drift:<eps>:<base source>)");
    st.drift = parse_positive(rest.substr(0, c), spec, "model");
    st.inner = std::make_shared<const ModelSource>(ModelSource::parse(rest.substr(c + 1)));
    st.arch = st.inner->architecture();
  } else if (kind == "file") {
    st.kind = State::Kind::file;
    st.name = rest;
    st.arch = st.load().arch;
  } else {
    throw InvalidArgument("unknown model source kind '" + kind + "' in '" + spec +
                          "' (expected random, llama_synthetic, zoo or file)");
  }
  return s;
}

nn::Architecture ModelSource::architecture() const {
  return state_->arch;
}

bool ModelSource::fresh_per_draw() const {
  return state_->kind == State::Kind::random || state_->kind == State::Kind::llama_synthetic ||
         state_->kind == State::Kind::drift;
}

nn::Model ModelSource::draw(Rng& rng) const {
  switch (state_->kind) {
    case State::Kind::random:
      return nn::Model::init(state_->arch, rng);
    case State::Kind::llama_synthetic:
      return nn::synthetic_llama_block(state_->arch.sizes[0], state_->arch.sizes[1], rng,
                                       state_->arch.activation);
    case State::Kind::zoo:
    case State::Kind::file:
      return state_->load();
    case State::Kind::drift: {
      // A synthetic fine-tune: every tensor moved by ε times its RMS times N(0, 1) noise.
      Rng base_rng = rng.derive("base");
      nn::Model m = state_->inner->draw(base_rng);
      Rng noise = rng.derive("drift");
      for (auto& [name, t] : m.tensors) {
        double sum = 0;
        for (const float v : t.data) sum += static_cast<double>(v) * v;
        const double rms =
            t.data.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(t.data.size()));
        for (float& v : t.data) v += static_cast<float>(state_->drift * rms * noise.normal());
      }
      return m;
    }
  }
  throw LogicError("unreachable model source kind");
}

InputSource InputSource::parse(const std::string& spec) {
  InputSource s;
  s.spec_ = spec;
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "gaussian") {
    s.kind_ = Kind::gaussian;
    s.std_ = parse_positive(rest, spec, "input");
  } else if (kind == "fashion_mnist") {
    s.kind_ = Kind::fashion_mnist;
    if (rest != "train" && rest != "test")
      throw InvalidArgument("malformed input source '" + spec +
                            "' (expected fashion_mnist:train or fashion_mnist:test)");
    s.test_split_ = rest == "test";
  } else {
    throw InvalidArgument("unknown input source '" + spec +
                          "' (expected gaussian:<std> or fashion_mnist:<train|test>)");
  }
  return s;
}

InputSource InputSource::default_for(const nn::Architecture& arch, bool held_out) {
  if (arch.kind == nn::Architecture::Kind::mlp && arch.input_size() == 784)
    return parse(held_out ? "fashion_mnist:test" : "fashion_mnist:train");
  return parse(arch.kind == nn::Architecture::Kind::swiglu ? "gaussian:0.25" : "gaussian:1");
}

nn::Matrix InputSource::draw(std::int64_t rows, std::int64_t cols, Rng& rng) const {
  return draw_rows(rows, cols, rng, nullptr);
}

nn::Matrix InputSource::draw_labelled(std::int64_t rows, std::int64_t cols, Rng& rng,
                                      std::vector<std::int32_t>& labels) const {
  if (!labelled())
    throw InvalidArgument("input source '" + spec_ + "' has no labels (use fashion_mnist:...)");
  return draw_rows(rows, cols, rng, &labels);
}

nn::Matrix InputSource::draw_rows(std::int64_t rows, std::int64_t cols, Rng& rng,
                                  std::vector<std::int32_t>* labels) const {
  if (rows < 1 || cols < 1) throw InvalidArgument("input source needs positive rows and columns");
  nn::Matrix x(rows, cols);
  if (kind_ == Kind::gaussian) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) x(r, c) = static_cast<float>(std_ * rng.normal());
    return x;
  }
  const auto data = nn::load_fashion_mnist();
  const nn::Dataset& set = test_split_ ? data->test : data->train;
  if (cols != set.images.cols())
    throw InvalidArgument("input source '" + spec_ + "' gives " +
                          std::to_string(set.images.cols()) + " features, the model expects " +
                          std::to_string(cols));
  if (labels != nullptr) labels->assign(static_cast<std::size_t>(rows), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto i = static_cast<std::int64_t>(rng.below(std::uint64_t(set.size())));
    x.row(r) = set.images.row(i);
    if (labels != nullptr)
      (*labels)[static_cast<std::size_t>(r)] = set.labels[static_cast<std::size_t>(i)];
  }
  return x;
}

}  // namespace wrsec::definitions

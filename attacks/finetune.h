#pragma once
// finetune: fine-tuning removal attacks (Adi et al. 2018; WRT's FTAL / RTAL).
//   D = the attacker's labelled split (context.data), or its first `samples` rows under a
//       permutation π ← coins.derive("samples") when 0 < samples < |D|.
//   labels: y_i (true) or argmax_c M_marked(x_i)_c (model; WRT's true_labels = False).
//   FTAL: θ' = Train(θ_marked; D, epochs, lr, optimizer, batch), every tensor trained.
//   RTAL: the output layer (mlp: layers.{L-1}.weight/.bias; swiglu: mlp.down_proj.weight) is
//         first replaced by a fresh Kaiming-uniform draw (Model::init with coins.derive("init")),
//         then all layers are trained as in FTAL.
// Training is nn::train with rng coins.derive("train"); the result is a function of (marked, D,
// params, coins). The helpers below are shared by the other training-based removal attacks
// (distill, weight_shift).
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/adversary.h"
#include "definitions/params.h"
#include "nn/fashion_mnist.h"
#include "nn/train.h"

namespace wrsec::attacks {

// Optimiser settings and data budget common to the training-based removal attacks.
struct RemovalTraining {
  std::int64_t epochs = 2;
  double lr = 1e-3;
  nn::Optimizer optimizer = nn::Optimizer::adam;
  std::int64_t batch = 128;
  std::int64_t samples = 0;  // 0 = all of the attacker's data

  // Reads epochs, lr, optimizer, batch, samples (defaults from `defaults`); InvalidArgument
  // naming `attack` and the key on a malformed value.
  static RemovalTraining from(const definitions::Params& params, const std::string& attack,
                              const RemovalTraining& defaults);
  // InvalidArgument naming `attack` and the bad field; epochs must be >= min_epochs.
  void validate(const std::string& attack, std::int64_t min_epochs) const;
  [[nodiscard]] nn::TrainConfig config() const;
};

// The attacker's data, or InvalidArgument "attack '<attack>' needs the attacker's data".
const nn::Dataset& require_attacker_data(const definitions::RemovalContext& context,
                                         const std::string& attack);
// All of data when samples == 0 or samples >= data.size() (returned without a copy); otherwise
// the rows at the first `samples` entries of a Fisher–Yates permutation drawn from coins, kept in
// data order and stored in `storage`, which the result then refers to.
const nn::Dataset& take_samples(const nn::Dataset& data, std::int64_t samples, Rng coins,
                                nn::Dataset& storage);
// argmax_c model(x)_c per row (ties: lowest index).
nn::Labels model_labels(const nn::Model& model, const nn::Matrix& x);
// Names of the output layer's tensors (mlp: last weight and bias; swiglu: down projection).
std::vector<std::string> output_layer_tensors(const nn::Architecture& arch);

enum class FinetuneMode { ftal, rtal };
enum class FinetuneLabels { truth, model };

struct FinetuneParams {
  FinetuneMode mode = FinetuneMode::ftal;
  FinetuneLabels labels = FinetuneLabels::truth;
  RemovalTraining train;  // epochs >= 1, default 2

  static FinetuneParams from(const definitions::Params& params);
  void validate() const;
};

class Finetune final : public definitions::Remover {
 public:
  explicit Finetune(FinetuneParams params);
  [[nodiscard]] std::string id() const override { return "finetune"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
  [[nodiscard]] const FinetuneParams& params() const { return params_; }

 private:
  FinetuneParams params_;
};

}  // namespace wrsec::attacks

#pragma once
// distill: knowledge-distillation removal attack (Hinton et al. 2015; WRT's distillation).
//   D = the attacker's inputs (context.data, or `samples` rows of it as in finetune; labels are
//       not used), t_i = M_marked(x_i) the marked model's logits.
//   S ← Model::init(arch(M_marked); coins.derive("init"))   (fresh student, same architecture)
//   θ_S = Train(θ_S; D, loss = T²·mean_i KL(softmax(t_i/T) ‖ softmax(S(x_i)/T)), epochs, lr, ...)
// with nn::train (soft targets) and rng coins.derive("train"); output S. The student never sees
// the marked weights, only the teacher's outputs on D.
#include <string>

#include "attacks/finetune.h"
#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct DistillParams {
  double temperature = 3.0;
  RemovalTraining train{.epochs = 5};  // epochs >= 1

  static DistillParams from(const definitions::Params& params);
  void validate() const;
};

class Distill final : public definitions::Remover {
 public:
  explicit Distill(DistillParams params);
  [[nodiscard]] std::string id() const override { return "distill"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
  [[nodiscard]] const DistillParams& params() const { return params_; }

 private:
  DistillParams params_;
};

}  // namespace wrsec::attacks

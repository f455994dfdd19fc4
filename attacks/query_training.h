#pragma once
// Fine-tuning on victim-labelled queries, shared by the Family B extractors (outlier_restore,
// variance_scale): the adversary draws n inputs from its own input source (coins), labels them
// y_i = argmax Infer(A, x_i) through the Infer oracle (which runs through the release's TEE), or
// through the TEE oracle's infer when the game grants only that, and trains every tensor of its
// model on (x, y) with Adam (nn::train, rng coins.derive("train")). n = `queries` when > 0, else
// everything the granted oracle has left (at most kMaxQueryTraining); n = 0 or finetune = false
// leaves the model as it is (no query is spent).
#include <cstdint>
#include <string>

#include "core/rng.h"
#include "definitions/oracle.h"
#include "definitions/params.h"
#include "nn/model.h"

namespace wrsec::attacks {

inline constexpr std::int64_t kMaxQueryTraining = 100'000;

struct QueryTraining {
  bool finetune = true;
  std::int64_t queries = 0;  // 0 = all the game grants
  std::int64_t epochs = 30;
  double lr = 1e-3;
  std::int64_t batch = 32;
  std::string inputs;  // InputSource spec; empty = InputSource::default_for(arch, train split)

  // Reads finetune, queries, epochs, lr, batch, inputs; InvalidArgument naming `attack` on a bad
  // value.
  static QueryTraining from(const definitions::Params& params, const std::string& attack);
  void validate(const std::string& attack) const;
};

// Returns the number of labelled queries trained on.
std::int64_t finetune_on_queries(nn::Model& model, definitions::OracleAccess& oracles,
                                 const QueryTraining& training, Rng coins);

}  // namespace wrsec::attacks

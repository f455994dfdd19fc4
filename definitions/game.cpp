#include "definitions/game.h"

namespace wrsec::definitions {

const char* advantage_convention(GameShape shape) {
  switch (shape) {
    case GameShape::search:
      return "Adv = Pr[win] - baseline";
    case GameShape::distinguishing:
      return "Adv = |2*Pr[win] - 1| = |Pr[b'=1|b=1] - Pr[b'=1|b=0]|, b uniform per trial";
  }
  return "unknown";
}

const char* to_string(GameShape shape) {
  return shape == GameShape::search ? "search" : "distinguishing";
}

}  // namespace wrsec::definitions

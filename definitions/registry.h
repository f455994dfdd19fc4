#pragma once
// Registry<T>: component id → factory and one-line description. Filled only by explicit
// register_builtin_*() functions (static self-registration is dropped by linkers from static
// libraries). Duplicate ids are a programming error (LogicError); an unknown id or an unused
// parameter is a user error (InvalidArgument naming it and listing what exists).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "definitions/params.h"

namespace wrsec::definitions {

template <class T>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<T>(const Params&)>;
  struct Entry {
    std::string id;
    std::string description;
    Factory factory;
  };

  // kind names the component family in messages: "game", "scheme", "attack".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}
  // Not copyable: a factory may refer to the registry it was added to.
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  void add(std::string id, std::string description, Factory factory) {
    if (id.empty()) throw LogicError("Registry<" + kind_ + ">: empty id");
    if (entries_.count(id) != 0) throw LogicError("duplicate " + kind_ + " id '" + id + "'");
    Entry entry{id, std::move(description), std::move(factory)};
    entries_.emplace(std::move(id), std::move(entry));
  }

  [[nodiscard]] bool contains(const std::string& id) const { return entries_.count(id) != 0; }

  // Builds the component; rejects unknown ids and parameters the component did not read.
  [[nodiscard]] std::unique_ptr<T> create(const std::string& id, const Params& params) const {
    const auto it = entries_.find(id);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [name, entry] : entries_) known += (known.empty() ? "" : ", ") + name;
      throw InvalidArgument("unknown " + kind_ + " '" + id + "' (known: " + known + ")");
    }
    auto made = it->second.factory(params);
    params.reject_unused(kind_ + " '" + id + "'");
    return made;
  }

  [[nodiscard]] std::vector<const Entry*> entries() const {
    std::vector<const Entry*> out;
    for (const auto& [name, entry] : entries_) out.push_back(&entry);
    return out;
  }
  [[nodiscard]] const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace wrsec::definitions

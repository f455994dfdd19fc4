#pragma once
// The commands of wrsec; main (wrsec.cpp) lists them in its command table. Each parses its own
// options, calls the library, prints, and returns an exit code (errors are thrown).
#include "apps/cli.h"

namespace wrsec::app {

int cmd_list(const Args& args, const Context& context);       // cmd_list.cpp
int cmd_run(const Args& args, const Context& context);        // cmd_run.cpp
int cmd_merge(const Args& args, const Context& context);      // cmd_run.cpp
int cmd_reproduce(const Args& args, const Context& context);  // cmd_reproduce.cpp
int cmd_evaluate(const Args& args, const Context& context);   // cmd_evaluate.cpp
int cmd_train(const Args& args, const Context& context);      // cmd_files.cpp
int cmd_attack(const Args& args, const Context& context);     // cmd_files.cpp
int cmd_keygen(const Args& args, const Context& context);     // cmd_owner.cpp
int cmd_mark(const Args& args, const Context& context);       // cmd_owner.cpp
int cmd_verify(const Args& args, const Context& context);     // cmd_owner.cpp
int cmd_evidence(const Args& args, const Context& context);   // cmd_owner.cpp
int cmd_registry(const Args& args, const Context& context);   // cmd_registry.cpp

}  // namespace wrsec::app

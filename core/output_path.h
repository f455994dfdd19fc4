#pragma once
// What a user-named output path leads to, what an input path must be, and the rule that a
// command's outputs are distinct files from its inputs and from each other.
//
// An output path is resolved as follows (resolve_output):
//   "-"                                   standard output, written through (no temporary)
//   the file of standard output or error  (e.g. /dev/stdout, /dev/fd/2) that descriptor, written
//                                         through: a redirection `>> log` is appended to, never
//                                         replaced
//   a FIFO or a character device          written through (e.g. /dev/null, a pipe, a terminal)
//   a regular file, or nothing            replaced atomically (AtomicFile: temporary + rename)
//   a symbolic link                       followed: its final target is resolved by these rules
//                                         (a regular target is replaced, the link itself stays)
//   a directory, socket or block device   refused (InvalidArgument)
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wrsec {

// The path "-": standard output, where a command's output is a stream.
inline constexpr const char* kStandardOutputPath = "-";

struct OutputTarget {
  enum class Kind {
    replace,  // a regular file or nothing at `path`: written atomically
    device,   // a FIFO or character device at `path`: opened and written through
    stream,   // standard output or error (`descriptor`): written through
  };
  Kind kind = Kind::replace;
  // replace: the final target of any symbolic links (absolute or as given); device: as given.
  std::filesystem::path path;
  int descriptor = -1;  // stream: 1 or 2
};

// Resolves an output path by the rules above.
// @throws InvalidArgument for a directory, a socket, a block device, a symbolic-link loop or a
//         path that cannot be searched (permission denied), naming the path.
[[nodiscard]] OutputTarget resolve_output(const std::filesystem::path& path);

// Why path cannot be read as an input file ("no such file", "it is a directory", "it is not a
// regular file", or the system's reason, e.g. "Permission denied"), or nullopt if it can.
[[nodiscard]] std::optional<std::string> input_file_problem(const std::filesystem::path& path);

// Throws InvalidArgument "cannot read 'X': <problem>" unless path is a readable regular file.
void check_input_file(const std::filesystem::path& path);

// A path a command reads or writes, with the command-line option that named it ("--in").
struct NamedPath {
  std::string option;
  std::filesystem::path path;
};

// Refuses, with InvalidArgument "--out and --in name the same file ('X')", an output that is the
// same file as an input or as another output. Existing files are compared by identity (device
// and inode: hard links, symbolic links and /dev/stdout against "-" count as the same file);
// outputs that do not exist yet by their absolute, normalised path after following symbolic
// links. Inputs are not compared with each other.
void check_distinct_files(const std::vector<NamedPath>& inputs,
                          const std::vector<NamedPath>& outputs);

}  // namespace wrsec

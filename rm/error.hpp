#pragma once
#include <stdexcept>
#include <string>

namespace rm {

// Every user-facing failure in the model library: bad files, unsupported operators, shape
// mismatches, blocks that cannot be converted. The message is one line a user can act on.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace rm

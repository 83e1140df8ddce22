// Test vectors are written as hex with spaces between fields and a comment
// per field: the shared hex()/to_hex() of userspace/core/tests.
#pragma once

#include "../../core/tests/hex_vectors.h"

namespace umigame::dhcp6::test {

using umigame::test::hex;
using umigame::test::to_hex;

} // namespace umigame::dhcp6::test

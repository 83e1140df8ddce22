#include "harness.h"

#include <cstdlib>

#include "umigame/log.h"

namespace umigame::iked::test {

void quiet_logs()
{
	log::set_max_level(std::getenv("IKED_TEST_VERBOSE") ? log::Level::debug : log::Level::error);
}

namespace {
// The engines log every exchange; a test log is read for its failures.
const bool quiet = (quiet_logs(), true);
} // namespace

} // namespace umigame::iked::test

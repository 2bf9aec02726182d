// store/writer_turns.h — fair turns between processes writing one SQLite
// file.
//
// Why: SQLite's busy handler polls for the write lock with growing sleeps,
// so a process that commits back to back re-takes the lock microseconds
// after releasing it and others can starve past their busy timeout.
//
// Contract
//   * A writer that is kept waiting raises a flag: a shared OFD lock on
//     byte 0 of a sidecar file ("<db>-writers", mode 0600). OFD locks
//     belong to this object's open file, so they die with the process and
//     never touch the POSIX locks SQLite holds on the database itself.
//   * Before taking the write lock a writer calls GiveWay: while another
//     writer's flag is up it waits, for at most `max`. Then it goes ahead.
//   * Best effort: it only orders writers. Uniqueness rests on SQLite's
//     transactions alone; a failed fcntl here just means no waiting.
//   * One thread at a time per object.
#pragma once

#include <chrono>
#include <string>

namespace forge::store {

class WriterTurns {
 public:
  // Opens (creating with mode 0600) the sidecar file `path`. Throws
  // std::system_error when it cannot be opened.
  explicit WriterTurns(const std::string& path);
  ~WriterTurns();
  WriterTurns(const WriterTurns&) = delete;
  WriterTurns& operator=(const WriterTurns&) = delete;

  void RaiseFlag();  // idempotent
  void LowerFlag();  // idempotent
  // Waits while a flag of another writer is up, at most `max`.
  void GiveWay(std::chrono::microseconds max);

 private:
  bool OthersWaiting() const;

  int fd_ = -1;
  bool raised_ = false;
};

}  // namespace forge::store

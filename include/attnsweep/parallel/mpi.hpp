// RAII MPI environment and checked calls.
//
// MPI calls return errors (MPI_ERRORS_RETURN) and check() turns them into exceptions; the
// app turns any exception on any rank into MPI_Abort with the message, so a failure on one
// rank never leaves the others hanging.
#pragma once

#include <mpi.h>

#include <list>
#include <string>
#include <vector>

namespace attnsweep::parallel {

class Environment {
 public:
  Environment(int& argc, char**& argv);  // MPI_THREAD_FUNNELED: only the main thread calls MPI
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

void check(int code, const char* what);
[[noreturn]] void abort_all(const std::string& message, int code);

// Byte messages: probe, size, receive.
void send_bytes(const std::string& bytes, int dest, int tag);
// Non-blocking check for a message from anyone; fills source/tag when one is waiting.
bool message_waiting(int& source, int& tag);
std::string receive_bytes(int source, int tag);

// Non-blocking sends that own their buffers. A blocking MPI_Send to a rank that is busy
// computing (and so not progressing MPI) can spin for the whole length of its task even for
// a small message; the master must never wait on a worker like that.
class Outbox {
 public:
  Outbox() = default;
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  void post(std::string bytes, int dest, int tag);
  void progress();  // retires the sends that have completed
  // Waits (sleeping between tests) until every send completed.
  void drain();
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    std::string bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::list<Pending> pending_;  // a list: buffers must not move while their send is active
};

void broadcast(std::string& text, int root);
void broadcast(int& value, int root);

// One node (shared-memory domain) of the job, as the memory check sees it.
struct NodeShare {
  std::string host;
  int ranks = 0;               // MPI ranks on this node
  bool has_rank0 = false;      // rank 0 (the master) runs here
  double available_bytes = 0;  // MemAvailable on this node
};
// Collective over MPI_COMM_WORLD (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED): every rank
// passes its node's available memory; rank 0 gets one entry per node, other ranks nothing.
std::vector<NodeShare> gather_nodes(double available_bytes);

}  // namespace attnsweep::parallel

#include "attnsweep/parallel/mpi.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <thread>

namespace attnsweep::parallel {

Environment::Environment(int& argc, char**& argv) {
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  // Rank 0 computes and writes in threads of its own while its main thread calls MPI.
  if (provided < MPI_THREAD_FUNNELED) {
    abort_all("this MPI library grants thread level " + std::to_string(provided) +
                  ", attnsweep needs MPI_THREAD_FUNNELED (" + std::to_string(MPI_THREAD_FUNNELED) + ")",
              3);
  }
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(what) + ": " + std::string(text, static_cast<size_t>(length)));
}

void abort_all(const std::string& message, int code) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "attnsweep: rank %d: %s\n", rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

namespace {
// MPI counts are int: a message of 2 GiB or more cannot be sent in one call.
int message_count(const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::length_error("message of " + std::to_string(bytes.size()) + " bytes exceeds MPI's int count");
  }
  return static_cast<int>(bytes.size());
}
}  // namespace

void send_bytes(const std::string& bytes, int dest, int tag) {
  check(MPI_Send(bytes.data(), message_count(bytes), MPI_BYTE, dest, tag, MPI_COMM_WORLD), "MPI_Send");
}

bool message_waiting(int& source, int& tag) {
  int flag = 0;
  MPI_Status status;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status), "MPI_Iprobe");
  if (flag) {
    source = status.MPI_SOURCE;
    tag = status.MPI_TAG;
  }
  return flag != 0;
}

std::string receive_bytes(int source, int tag) {
  MPI_Status status;
  check(MPI_Probe(source, tag, MPI_COMM_WORLD, &status), "MPI_Probe");
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  std::string bytes(static_cast<size_t>(count), '\0');
  check(MPI_Recv(bytes.data(), count, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  return bytes;
}

Outbox::~Outbox() {
  // Only reached with sends still active on an error path that ends in MPI_Abort: the
  // buffers are deliberately leaked, since MPI may still read them.
  if (!pending_.empty()) new std::list<Pending>(std::move(pending_));
}

void Outbox::post(std::string bytes, int dest, int tag) {
  pending_.push_back({std::move(bytes), MPI_REQUEST_NULL});
  Pending& p = pending_.back();
  check(MPI_Isend(p.bytes.data(), message_count(p.bytes), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &p.request),
        "MPI_Isend");
}

void Outbox::progress() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    int done = 0;
    check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    it = done ? pending_.erase(it) : std::next(it);
  }
}

void Outbox::drain() {
  while (true) {
    progress();
    if (pending_.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void broadcast(std::string& text, int root) {
  int size = message_count(text);
  check(MPI_Bcast(&size, 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Bcast");
  text.resize(static_cast<size_t>(size));
  check(MPI_Bcast(text.data(), size, MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void broadcast(int& value, int root) { check(MPI_Bcast(&value, 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Bcast"); }

namespace {
// A communicator freed when it goes out of scope.
class Communicator {
 public:
  explicit Communicator(MPI_Comm comm) : comm_(comm) {}
  ~Communicator() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_;
};

struct NodeReport {
  int leader = 0;  // world rank of the node's local rank 0
  int ranks = 0;
  double available = 0;
  char host[64] = {};
};
}  // namespace

std::vector<NodeShare> gather_nodes(double available_bytes) {
  int world_rank = 0, world_size = 1;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &world_size), "MPI_Comm_size");
  MPI_Comm raw = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &raw), "MPI_Comm_split_type");
  const Communicator node(raw);
  NodeReport mine;
  check(MPI_Comm_size(node.get(), &mine.ranks), "MPI_Comm_size");
  mine.leader = world_rank;
  check(MPI_Bcast(&mine.leader, 1, MPI_INT, 0, node.get()), "MPI_Bcast");
  mine.available = available_bytes;
  int length = 0;
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  check(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  std::snprintf(mine.host, sizeof mine.host, "%s", name);
  std::vector<NodeReport> all(world_rank == 0 ? static_cast<size_t>(world_size) : 0);
  check(MPI_Gather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<NodeShare> nodes;
  std::vector<int> seen;
  for (const NodeReport& r : all) {
    if (std::find(seen.begin(), seen.end(), r.leader) != seen.end()) continue;
    seen.push_back(r.leader);
    nodes.push_back({r.host, r.ranks, false, r.available});
  }
  // Rank 0's report is the first; its node is the first listed.
  if (!nodes.empty()) nodes.front().has_rank0 = true;
  return nodes;
}

}  // namespace attnsweep::parallel

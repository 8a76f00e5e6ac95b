// The coordinator's durable state: every job (its spec, state, attempts, committed checkpoint,
// incidents) and its event history, in SQLite in WAL mode under the state directory. Each change
// is one transaction, so a coordinator killed at any moment restarts with every acknowledged
// submission and every recorded commit.
//
//   JobStore store("/var/lib/sbmt/state.db");
//   store.Save(job);                          // insert or replace
//   store.AddEvents(scheduler.TakeEvents());
//   std::vector<v1::Job> jobs = store.LoadJobs();
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include "proto/coordinator.pb.h"
#include "runtime/error.h"

namespace sbmt::coordinator {

SBMT_DEFINE_ERROR(StoreError, ErrorCode::kUnavailable);

class JobStore {
 public:
  // Opens (creating) the database; throws StoreError naming the file.
  explicit JobStore(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  void Save(const v1::Job& job);
  void AddEvents(const std::vector<v1::JobEvent>& events);
  std::vector<v1::Job> LoadJobs();  // in submission order
  std::vector<v1::JobEvent> LoadEvents(const std::string& job_id);

 private:
  void Exec(const std::string& sql);
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace sbmt::coordinator

#include "coordinator/job_store.h"

namespace sbmt::coordinator {
namespace {

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) Fail("prepare");
  }
  ~Statement() { sqlite3_finalize(s_); }
  void Text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Double(int i, double v) { sqlite3_bind_double(s_, i, v); }
  bool Step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) Fail("step");
    return false;
  }
  std::string Column(int i) {
    const void* data = sqlite3_column_blob(s_, i);
    return std::string(static_cast<const char*>(data), sqlite3_column_bytes(s_, i));
  }

 private:
  [[noreturn]] void Fail(const char* what) {
    throw StoreError(path_ + ": SQLite " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

JobStore::JobStore(const std::string& path) : path_(path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError(path + ": cannot open the state database: " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  // WAL: a commit is one append and fsync; readers never block the writer.
  Exec("PRAGMA journal_mode=WAL");
  Exec("PRAGMA synchronous=FULL");
  Exec(
      "CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE "
      "NOT NULL, body BLOB NOT NULL)");
  Exec(
      "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT "
      "NULL, body BLOB NOT NULL)");
  Exec("CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id)");
}

JobStore::~JobStore() { sqlite3_close(db_); }

void JobStore::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError(path_ + ": SQLite: " + message + " (in: " + sql + ")");
  }
}

void JobStore::Save(const v1::Job& job) {
  // Keeps the row's seq (submission order) when the job exists.
  Statement s(db_,
              "INSERT INTO jobs (id, body) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET "
              "body = excluded.body",
              path_);
  s.Text(1, job.id());
  s.Blob(2, job.SerializeAsString());
  s.Step();
}

void JobStore::AddEvents(const std::vector<v1::JobEvent>& events) {
  if (events.empty()) return;
  Exec("BEGIN");
  try {
    for (const v1::JobEvent& e : events) {
      Statement s(db_, "INSERT INTO events (job_id, body) VALUES (?1, ?2)", path_);
      s.Text(1, e.job_id());
      s.Blob(2, e.SerializeAsString());
      s.Step();
    }
    Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<v1::Job> JobStore::LoadJobs() {
  std::vector<v1::Job> jobs;
  Statement s(db_, "SELECT body FROM jobs ORDER BY seq", path_);
  while (s.Step()) {
    if (!jobs.emplace_back().ParseFromString(s.Column(0))) {
      throw StoreError(path_ + ": a job record does not parse (a newer coordinator's format?)");
    }
  }
  return jobs;
}

std::vector<v1::JobEvent> JobStore::LoadEvents(const std::string& job_id) {
  std::vector<v1::JobEvent> events;
  Statement s(db_, "SELECT body FROM events WHERE job_id = ?1 ORDER BY seq", path_);
  s.Text(1, job_id);
  while (s.Step()) {
    if (!events.emplace_back().ParseFromString(s.Column(0))) {
      throw StoreError(path_ + ": an event record of " + job_id + " does not parse");
    }
  }
  return events;
}

}  // namespace sbmt::coordinator

//! Group commit of the index. A durable commit is an fsync of the blob directory (so the
//! renames the new records refer to are durable first) and a redb `Durability::Immediate`
//! commit, which also persists every earlier non-durable commit. A write transaction that
//! finds no durable commit in progress is committed that way itself; one that finds one in
//! progress commits without an fsync (`Durability::None`) and waits for the next durable
//! commit, which the first such waiter performs (an empty `Immediate` commit) for all who
//! committed before it. Concurrent writers thus share one pair of fsyncs; a lone writer
//! pays the same two as before (directory and index), never more.
//!
//! A request is answered only after its sync, so a 200 still means durable. A record is
//! visible to readers from its non-durable commit on, i.e. up to one sync before its
//! writer is answered; a crash in that window loses it (its writer got no 200).

use crate::server::error::{ApiError, ApiResult};
use redb::{Database, Durability, WriteTransaction};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

/// Where commits stand.
#[derive(Debug, Default)]
struct State {
    /// Non-durable commits done so far.
    committed: u64,
    /// Commits known durable.
    durable: u64,
    /// A waiter is performing a durable commit.
    syncing: bool,
    /// Durable commits performed (each one fsync of the index).
    syncs: u64,
}

/// The group-commit coordinator of one database.
#[derive(Debug)]
pub struct GroupCommit {
    state: Mutex<State>,
    changed: Condvar,
    /// Directory fsynced before each durable commit (where new blobs are renamed to).
    sync_dir: Option<PathBuf>,
}

fn poisoned() -> ApiError {
    ApiError::internal("group commit state poisoned")
}

impl GroupCommit {
    /// A coordinator that fsyncs `sync_dir` (if any) before each durable commit.
    pub fn new(sync_dir: Option<PathBuf>) -> Self {
        GroupCommit {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            sync_dir,
        }
    }

    /// Commit `txn` and return once it is durable. Blocking. When no durable commit is in
    /// progress this one is made durable itself (directory fsync, then an `Immediate`
    /// commit, which also covers every earlier commit); otherwise it commits without an
    /// fsync and waits for the next durable commit, performed by whoever comes first.
    pub fn commit(&self, db: &Database, mut txn: WriteTransaction) -> ApiResult<()> {
        // Write transactions are exclusive, so numbering them here follows commit order.
        let (mine, lead) = {
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            st.committed += 1;
            let lead = !st.syncing;
            st.syncing |= lead;
            (st.committed, lead)
        };
        if lead {
            let result = self.durable_commit(txn);
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            st.syncing = false;
            if result.is_ok() {
                st.durable = st.durable.max(mine);
                st.syncs += 1;
            }
            self.changed.notify_all();
            return result;
        }
        txn.set_durability(Durability::None)
            .map_err(|e| ApiError::internal(format!("index durability: {e}")))?;
        txn.commit()?;
        self.wait_durable(db, mine)
    }

    /// (commits, durable commits) so far.
    #[cfg(test)]
    pub fn counts(&self) -> (u64, u64) {
        self.state.lock().map(|st| (st.committed, st.syncs)).unwrap_or((0, 0))
    }

    fn wait_durable(&self, db: &Database, mine: u64) -> ApiResult<()> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        loop {
            if st.durable >= mine {
                return Ok(());
            }
            if st.syncing {
                st = self.changed.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            st.syncing = true;
            let target = st.committed;
            drop(st);
            let result = self.sync(db);
            st = self.state.lock().map_err(|_| poisoned())?;
            st.syncing = false;
            if result.is_ok() {
                st.durable = st.durable.max(target);
                st.syncs += 1;
            }
            self.changed.notify_all();
            result?;
        }
    }

    /// An empty durable commit, making every earlier commit durable.
    fn sync(&self, db: &Database) -> ApiResult<()> {
        self.durable_commit(db.begin_write()?)
    }

    /// fsync the blob directory, then commit `txn` with `Durability::Immediate`.
    fn durable_commit(&self, mut txn: WriteTransaction) -> ApiResult<()> {
        if let Some(dir) = &self.sync_dir {
            std::fs::File::open(dir)?.sync_all()?;
        }
        txn.set_durability(Durability::Immediate)
            .map_err(|e| ApiError::internal(format!("index durability: {e}")))?;
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
    use std::sync::Arc;

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    #[test]
    fn concurrent_commits_share_durable_commits_and_all_persist() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db.redb");
        let db = Arc::new(Database::create(&path).expect("create"));
        let group = Arc::new(GroupCommit::new(Some(dir.path().to_path_buf())));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let (db, group) = (Arc::clone(&db), Arc::clone(&group));
                std::thread::spawn(move || {
                    for i in 0..50u64 {
                        let txn = db.begin_write().expect("begin");
                        txn.open_table(T)
                            .expect("table")
                            .insert(t * 1000 + i, i)
                            .expect("insert");
                        group.commit(&db, txn).expect("commit");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let (commits, syncs) = group.counts();
        assert_eq!(commits, 400);
        assert!(
            (1..commits).contains(&syncs),
            "{syncs} durable commits for {commits}: none shared"
        );
        eprintln!("{commits} commits, {syncs} durable commits");
        drop(db);
        let db = Database::create(&path).expect("reopen");
        let txn = db.begin_read().expect("read");
        assert_eq!(txn.open_table(T).expect("table").len().expect("len"), 400);
    }
}

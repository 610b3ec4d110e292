//! Per-handle queues that keep the arrival order of write, flush, fsync, ftruncate and
//! release on one file handle.
//!
//! The FUSE thread pushes each request's future into the handle's queue as the request
//! arrives; one task per handle awaits them one after another. Other requests (reads,
//! lookups…) are spawned freely. A request for a handle without a queue (which the kernel
//! should not send) is simply spawned.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The queues of every open file handle.
#[derive(Debug)]
pub(crate) struct HandleQueues {
    runtime: tokio::runtime::Handle,
    tasks: tokio_util::task::TaskTracker,
    senders: Mutex<HashMap<u64, mpsc::UnboundedSender<Job>>>,
}

impl HandleQueues {
    /// No queues yet; drain tasks run on `runtime`, tracked by `tasks`.
    pub(crate) fn new(runtime: tokio::runtime::Handle, tasks: tokio_util::task::TaskTracker) -> Self {
        HandleQueues {
            runtime,
            tasks,
            senders: Mutex::new(HashMap::new()),
        }
    }

    /// Start the queue of a newly opened handle (before the open is answered).
    pub(crate) fn open(&self, fh: u64) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        self.tasks.spawn_on(
            async move {
                while let Some(job) = rx.recv().await {
                    job.await;
                }
            },
            &self.runtime,
        );
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, tx);
    }

    /// Run `task` after everything queued before it on `fh`.
    pub(crate) fn submit(&self, fh: u64, task: impl Future<Output = ()> + Send + 'static) {
        let job: Job = Box::pin(task);
        let sender = self.senders.lock().unwrap_or_else(|p| p.into_inner()).get(&fh).cloned();
        let unsent = match sender {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        self.tasks.spawn_on(unsent, &self.runtime);
    }

    /// The handle was released: its queue ends once the jobs already in it are done.
    pub(crate) fn close(&self, fh: u64) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_of_one_handle_run_in_arrival_order() {
        let queues = HandleQueues::new(tokio::runtime::Handle::current(), tokio_util::task::TaskTracker::new());
        queues.open(7);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        for i in 0..50u64 {
            let seen = seen.clone();
            queues.submit(7, async move {
                // Earlier jobs sleep longer: only sequential draining keeps the order.
                tokio::time::sleep(Duration::from_micros((50 - i) * 20)).await;
                seen.lock().expect("lock").push(i);
            });
        }
        queues.submit(7, async move {
            let _ = done_tx.send(());
        });
        queues.close(7);
        done_rx.await.expect("last job ran");
        assert_eq!(*seen.lock().expect("lock"), (0..50).collect::<Vec<_>>());
    }
}

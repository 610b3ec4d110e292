//! The mount's own background work: every task the filesystem starts by itself (deferred
//! attribute stores, attribute index writes) is spawned here, so that stopping the mount can
//! end the ones still waiting and await the ones running — nothing is torn down under a
//! request in flight, and nothing runs after [`Background::stop_and_wait`] returns.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tracked background tasks of one mount.
#[derive(Debug, Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Run `task` after `delay`, unless the mount stops first (whoever stops the mount does
    /// the task's work itself: it stores every pending change).
    pub fn spawn_after(&self, delay: Duration, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        self.tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(delay) => task.await,
            }
        });
    }

    /// Whether the mount is stopping (no new delayed work is worth starting).
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// End the tasks still waiting for their delay and wait for those running.
    pub async fn stop_and_wait(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Tasks not finished yet.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether no task is running or waiting.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }
}

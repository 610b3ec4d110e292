//! The body writer threads: a small fixed pool, apart from the blocking threads that run
//! index operations, on which request bodies are written to disk one chunk batch at a
//! time. A body that stalls holds no thread here (nor anywhere): only the short write of
//! data that has arrived runs on the pool, so neither stalled nor numerous uploads can
//! delay a GET, HEAD or LIST.

use crate::server::error::{ApiError, ApiResult};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of threads running blocking jobs in submission order.
#[derive(Debug, Clone)]
pub struct IoPool {
    jobs: mpsc::Sender<Job>,
}

impl IoPool {
    /// Start `threads` (at least one) worker threads; they end when the last handle of
    /// the pool is dropped and the queue is empty.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("bos-body-io-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job loses its answer (its caller sees an internal
                        // error), not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                })?;
        }
        Ok(IoPool { jobs: tx })
    }

    /// Run `work` on the pool and wait (asynchronously) for its result.
    pub async fn run<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::internal("the body writer threads are gone"))?;
        rx.await
            .map_err(|_| ApiError::internal("a body writer job ended without an answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_returns_their_results() {
        let pool = IoPool::new(2).expect("pool");
        let a = pool.run(|| 2 + 2);
        let b = pool.run(|| "done");
        assert_eq!(a.await, Ok(4));
        assert_eq!(b.await, Ok("done"));
    }
}

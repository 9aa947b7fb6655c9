//! Where the compiler uses more than one core: an order-keeping map over rule files.
//!
//! Threads (rayon) only on targets that have them; on wasm32 (the browser playground compiles
//! rules too) the same map runs on the calling thread. Callers get results in input order either
//! way, so nothing downstream can tell the difference. This module knows nothing about rules.

/// `f` over every item, results in the items' order.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// `f` over every item, results in the items' order.
#[cfg(target_arch = "wasm32")]
pub(crate) fn map<T, R>(items: &[T], f: impl Fn(&T) -> R) -> Vec<R> {
    items.iter().map(f).collect()
}

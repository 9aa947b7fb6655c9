//! A counting global allocator, so the `pack` target can tell whether reading a pack allocated
//! memory in proportion to what the bytes claim rather than to what they hold. The fuzz target
//! and the replay test install [`Probe`] as their global allocator; elsewhere [`measure`]
//! reports `None` and the check is skipped.
//!
//! Counting is per thread (test threads run side by side) and only while armed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the calls of the armed thread.
pub struct Probe;

thread_local! {
    // Const-initialised and without destructors: safe to touch from inside the allocator.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn note_alloc(size: usize) {
    INSTALLED.store(true, std::sync::atomic::Ordering::Relaxed);
    if ARMED.with(Cell::get) {
        LARGEST.with(|l| l.set(l.get().max(size)));
        LIVE.with(|l| {
            let now = l.get() + size as isize;
            l.set(now);
            PEAK.with(|p| p.set(p.get().max(now)));
        });
    }
}

fn note_free(size: usize) {
    if ARMED.with(Cell::get) {
        LIVE.with(|l| l.set(l.get() - size as isize));
    }
}

unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What one measured call allocated on its thread.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// The largest single allocation.
    pub largest: usize,
    /// The most bytes live at once (allocated during the call and not yet freed).
    pub peak: usize,
}

/// Runs `f`, and, when [`Probe`] is the global allocator, what it allocated.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Option<Usage>) {
    // Any allocation marks the probe installed; make sure one happened before asking.
    drop(Box::new(0u8));
    let installed = INSTALLED.load(std::sync::atomic::Ordering::Relaxed);
    LARGEST.with(|l| l.set(0));
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    let usage = Usage { largest: LARGEST.with(Cell::get), peak: PEAK.with(Cell::get).max(0) as usize };
    (out, installed.then_some(usage))
}

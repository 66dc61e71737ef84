//! PullMessages responses: libFuzzer's runner for `harness::pull_messages` (notification
//! parsing), which `tests/hostile.rs` runs under proptest in the normal test suite.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::pull_messages(data));

//! Unit tests of the soak's pure parts (`benches/bench/chaos.rs`, `benches/bench/ledger.rs`):
//! the bench binary has no test harness, so its modules' tests run from here.

// The bench uses what these tests do not.
#[allow(dead_code)]
#[path = "../benches/bench/chaos.rs"]
mod chaos;
#[allow(dead_code)]
#[path = "../benches/bench/ledger.rs"]
mod ledger;

//! The `doorbell-bridge` command.

fn main() {
    eprintln!("doorbell-bridge: under construction");
}

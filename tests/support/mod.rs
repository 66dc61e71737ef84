//! Helpers shared by the integration tests.

pub mod bridge;
pub mod broker;
pub mod browser;
pub mod ingress;
pub mod logs;
pub mod proxy;
pub mod tools;

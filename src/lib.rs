//! paydown: the on-call cost and pay ledger.
//!
//! See ARCHITECTURE.md for the map of the code.

pub mod accrual;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod domain;
pub mod http;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod pay_run;
pub mod pricing;
pub mod reports;
pub mod rollup;
pub mod secret;
pub mod server;
pub mod statements;
pub mod storage;
pub mod sync;
pub mod web;
pub mod worker;

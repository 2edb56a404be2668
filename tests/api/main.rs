//! Integration tests: the real HTTP API and CLI, on SQLite and on PostgreSQL.
//! One binary (linking is slow on 2 cores); one module per concern.

mod helpers;

mod access;
mod bad_input;
mod cli;
mod dashboard;
mod demo;
mod directory;
mod health;
mod import;
mod ledger;
mod pages;
mod reports;
mod responses;
mod rollup;
mod schema;
mod shifts;
mod statements;
mod sync;
mod webhooks;

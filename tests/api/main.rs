//! Integration tests: the real HTTP API and CLI, on SQLite and on PostgreSQL.
//! One binary (linking is slow on 2 cores); one module per concern.

mod helpers;

mod access;
mod bad_input;
mod claims;
mod cli;
mod dashboard;
mod demo;
mod directory;
mod exports_and_rates;
mod health;
mod import;
mod journal;
mod ledger;
mod ledger_guards;
mod limits;
mod operability;
mod pages;
mod pay_run;
mod person_history;
mod reports;
mod responses;
mod roles;
mod rollup;
mod schema;
mod sessions;
mod shifts;
mod slow_clients;
mod statements;
mod sync;
mod sync_tools;
mod web_pages;
mod webhooks;

//! Issue 17: slow clients are cut off. A body trickling in one byte a second gets 408 once
//! `BODY_SECONDS_MAX` has passed (the webhook's body, read before its signature is
//! checked, included), and a request head trickling in is cut off after
//! `REQUEST_HEAD_SECONDS_MAX`. Against a real server on both backends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, RunningServer, TestDb};
use paydown::http::REQUEST_HEAD_SECONDS_MAX;
use paydown::http::extract::BODY_SECONDS_MAX;

/// Sends `head` at once, then `trickle` one byte a second, and reads what the server says
/// until it closes the connection: (answer, seconds until it was cut off).
fn trickle(address: std::net::SocketAddr, head: &str, trickle: &'static [u8]) -> (String, u64) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        for byte in trickle {
            std::thread::sleep(Duration::from_secs(1));
            if writer.write_all(std::slice::from_ref(byte)).is_err() {
                break;
            }
        }
    });
    stream.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let seconds = started.elapsed().as_secs();
    drop(stream);
    let _ = sender.join();
    (String::from_utf8_lossy(&answer).into_owned(), seconds)
}

const SLOW: &[u8] = &[b'a'; 80];

fn slow_clients_are_cut_off(backend: Backend) {
    let db = TestDb::new(backend);
    let server = RunningServer::start(db.store());
    let (address, bodies, heads) = (server.address, BODY_SECONDS_MAX, REQUEST_HEAD_SECONDS_MAX);
    let body = std::thread::spawn(move || {
        let head = format!(
            "POST /v1/webhooks/pagerduty HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
        );
        trickle(address, &head, SLOW)
    });
    let head = std::thread::spawn(move || trickle(address, "GET /healthz HTTP/1.1\r\nX-Slow: ", SLOW));
    let (answer, seconds) = body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!((bodies..bodies + 6).contains(&seconds), "cut off after {seconds} s");
    let (answer, seconds) = head.join().unwrap();
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(seconds <= heads + 6, "cut off after {seconds} s");
}

#[test]
fn slow_clients_are_cut_off_sqlite() {
    slow_clients_are_cut_off(Backend::Sqlite);
}

#[test]
fn slow_clients_are_cut_off_postgres() {
    slow_clients_are_cut_off(Backend::Postgres);
}

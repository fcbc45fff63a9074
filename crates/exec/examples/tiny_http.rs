//! A tiny HTTP server for the runtime's tests and benchmark: listens on
//! `127.0.0.1:$PORT` and answers every request `200` with
//! `<pid> <port> <REVISION>`; prints a line at start (with `$TOKEN`, which
//! the tests check is masked in logs) and one per request. `FAIL=1`
//! makes it exit at once with status 3; `DELAY_MS` delays its start.
//! Standard library only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn answer(mut stream: TcpStream, body: &str) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    // The request line and headers, up to the blank line.
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "0".to_owned());
    if std::env::var("FAIL").is_ok_and(|v| v == "1") {
        eprintln!("failing on purpose");
        std::process::exit(3);
    }
    if let Some(ms) = std::env::var("DELAY_MS").ok().and_then(|v| v.parse().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let revision = std::env::var("REVISION").unwrap_or_default();
    let token = std::env::var("TOKEN").unwrap_or_default();
    let listener = match TcpListener::bind(format!("127.0.0.1:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {port}: {e}");
            std::process::exit(2);
        }
    };
    println!("listening on {port} with token={token}");
    let body = format!("{} {port} {revision}\n", std::process::id());
    for stream in listener.incoming().flatten() {
        let body = body.clone();
        std::thread::spawn(move || {
            answer(stream, &body);
            println!("answered a request");
        });
    }
}

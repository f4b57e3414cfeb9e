//! End-to-end runs of `wshd-load`'s echo, rate and handshakes modes against an in-process
//! wshd echo server on 127.0.0.1 port 0: each run must exit 0 with a JSON report whose
//! counts add up, and a server that answers with other bytes must make the run fail.
//! No assertion is about speed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;

use serde_json::Value;
use wshd_server::{Config, Handler, Message, Router, Server, WebSocket};

/// Echoes every message.
struct Echo;

impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(message)) = ws.recv().await {
            if ws.feed(&message).await.is_err() {
                return;
            }
        }
    }
}

/// Echoes every binary message with its bytes reversed.
struct Reverse;

impl Handler for Reverse {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(Message::Binary(mut data))) = ws.recv().await {
            data.reverse();
            if ws.send_binary(&data).await.is_err() {
                return;
            }
        }
    }
}

/// Starts a server with `handler` on a thread of its own; returns its address.
fn start(handler: impl Handler) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let router = Router::new().fallback(handler);
            let server = Server::bind("127.0.0.1:0".parse().unwrap(), router, Config::default())
                .await
                .unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            server.run().await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Runs `wshd-load` with `args` plus `--json FILE`; returns (exit success, the JSON).
fn load(name: &str, args: &[&str]) -> (bool, Value) {
    let json: PathBuf =
        std::env::temp_dir().join(format!("wshd-load-{}-{name}.json", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let out = Command::new(env!("CARGO_BIN_EXE_wshd-load"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&json).unwrap_or_else(|_| "null".to_owned());
    let _ = std::fs::remove_file(&json);
    (out.status.success(), serde_json::from_str(&text).unwrap())
}

const SHORT: [&str; 4] = ["-t", "0.3", "--warmup-secs", "0.1"];

#[test]
fn echo_modes_count_and_close_cleanly() {
    let url = format!("ws://{}/", start(Echo));
    let pid = std::process::id().to_string();
    for extra in [
        &["-c", "4", "-d", "1"][..],
        &["-c", "4", "-d", "8", "--refill", "burst", "--text"],
        &["-c", "3", "-d", "4", "--refill", "each", "-b", "300"],
        &["-c", "2", "-b", "70000"],
        // 4 MiB bursts: more than the socket buffers hold, so writing must not stop reading.
        &["-c", "1", "-d", "64", "-b", "65536"],
        &["-c", "2", "-d", "2", "--extensions", "permessage-deflate"],
    ] {
        let mut args = vec!["echo", "--url", &url, "--server-pid", &pid];
        args.extend(extra);
        args.extend(SHORT);
        let (ok, json) = load("echo", &args);
        assert!(ok, "{extra:?}");
        let conns = json["connections_opened"].as_u64().unwrap();
        assert_eq!(json["clean_closes"].as_u64(), Some(conns), "{extra:?}");
        assert!(json["messages"].as_u64().unwrap() > 0, "{extra:?}");
        assert_eq!(json["latency_us"]["samples"], json["messages"], "{extra:?}");
        assert!(json["msgs_per_server_cpu_sec"].is_number(), "{extra:?}");
        assert!(json["server_rss_end"].as_u64().unwrap() > 0, "{extra:?}");
    }
}

#[test]
fn open_loop_gets_back_every_scheduled_message() {
    let url = format!("ws://{}/", start(Echo));
    let mut args = vec!["rate", "--url", &url, "-c", "4", "-r", "2000", "-b", "100"];
    args.extend(SHORT);
    let (ok, json) = load("rate", &args);
    assert!(ok);
    let scheduled = json["scheduled"].as_u64().unwrap();
    // 2000/s over a 0.3 s window.
    assert!((590..=610).contains(&scheduled), "{scheduled}");
    assert_eq!(json["messages"].as_u64(), Some(scheduled));
    assert_eq!(json["clean_closes"].as_u64(), Some(4));
    assert!(json["send_lag_us"]["samples"].as_u64().unwrap() >= scheduled);
}

#[test]
fn handshake_cycles_complete() {
    let url = format!("ws://{}/", start(Echo));
    let mut args = vec!["handshakes", "--url", &url, "--concurrency", "4"];
    args.extend(SHORT);
    let (ok, json) = load("handshakes", &args);
    assert!(ok);
    let n = json["handshakes"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(json["open_latency_us"]["samples"].as_u64(), Some(n));
    assert_eq!(json["errors"], serde_json::json!({}));
}

#[test]
fn a_wrong_echo_fails_the_run() {
    let url = format!("ws://{}/", start(Reverse));
    let mut args = vec!["echo", "--url", &url, "-c", "2"];
    args.extend(SHORT);
    let (ok, json) = load("wrong", &args);
    assert!(!ok);
    assert_eq!(json["errors"]["echo differs from the message sent"].as_u64(), Some(2));
}

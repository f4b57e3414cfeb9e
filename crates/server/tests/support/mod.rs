//! Support shared by wshd-server's integration test files: a server on a loopback port
//! chosen by the system, running on the test's runtime. Not a test itself; frames built
//! by hand and test doubles live in `wshd_testkit`.
#![allow(dead_code)]

use std::net::SocketAddr;

use wshd_server::{Config, Router, Server, Shutdown};

/// Binds `router` with `config` on 127.0.0.1, port 0, and runs it in the background;
/// returns its address.
pub async fn serve(router: Router, config: Config) -> SocketAddr {
    serve_with_shutdown(router, config).await.0
}

/// [`serve`], also returning the server's shutdown handle and its task, for tests of
/// shutting down.
pub async fn serve_with_shutdown(
    router: Router,
    config: Config,
) -> (SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router, config)
        .await
        .expect("binding a loopback port");
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(async move { server.run().await.expect("the server runs") });
    (addr, shutdown, task)
}

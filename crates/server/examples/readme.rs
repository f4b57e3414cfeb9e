//! The handler example from the README, kept here so the build checks it.

use wshd_server::{Config, Handler, Router, Server, WebSocket};

struct Echo;

impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(message)) = ws.recv().await {
            if ws.send(&message).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let router = Router::new().route("/echo", Echo);
    let server = Server::bind("127.0.0.1:9001".parse().unwrap(), router, Config::default()).await?;
    server.run().await
}

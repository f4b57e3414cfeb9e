//! The plain HTTP side over real loopback sockets: static files, directory listings and
//! redirects, every path traversal form, symlinks, keep-alive (and a WebSocket handshake
//! after HTTP on the same connection), CGI, and Basic auth. Every listener binds
//! 127.0.0.1:0; every document root is a fresh directory under the system temp dir.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wshd_server::{Config, Handler, HttpConfig, Router, Server, WebSocket};
use wshd_testkit::files::TempTree;

/// Generous bound for anything that should happen "soon"; tests never assert speed.
const PATIENCE: Duration = Duration::from_secs(10);

struct Echo;
impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(m)) = ws.recv().await {
            if ws.feed(&m).await.is_err() {
                return;
            }
        }
    }
}

/// A fresh directory, removed on drop: `<tmp>/root` is the document root, and
/// `<tmp>/secret.txt` lies outside it.
struct Tree {
    base: TempTree,
}

impl Tree {
    fn new() -> Tree {
        let base = TempTree::new("http", &[("secret.txt", "TOP SECRET")]);
        std::fs::create_dir_all(base.path().join("root")).unwrap();
        Tree { base }
    }

    fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }

    /// Writes `root/<rel>` (parents created).
    fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        self.base.write(&format!("root/{rel}"), contents)
    }

    /// Writes an executable `root/<rel>`.
    fn script(&self, rel: &str, contents: &str) -> PathBuf {
        self.base.write_executable(&format!("root/{rel}"), contents)
    }
}

fn http_config(tree: &Tree) -> HttpConfig {
    HttpConfig {
        document_root: Some(tree.root()),
        cgi_paths: vec!["/cgi-bin".into(), "/nested/htbin".into()],
        ..HttpConfig::default()
    }
}

async fn start(http: HttpConfig) -> SocketAddr {
    support::serve(Router::new().route("/echo", Echo), Config { http, ..Config::default() }).await
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client that writes exact bytes and reads framed responses.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client { s: TcpStream::connect(addr).await.unwrap(), buf: Vec::new() }
    }

    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.s.write_all(bytes.as_ref()).await.unwrap();
    }

    /// Reads more bytes; false at EOF.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout(PATIENCE, self.s.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn fill_or_panic(&mut self) {
        assert!(
            self.fill().await,
            "connection closed; have {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Reads one response; `head_request` when it answers a HEAD (no body follows).
    async fn response(&mut self, head_request: bool) -> Response {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_panic().await;
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut r = Response { status, head, body: Vec::new() };
        if head_request || status == 304 || status == 101 {
            return r;
        }
        if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                self.fill_or_panic().await;
            }
            r.body = self.buf.drain(..len).collect();
        } else if r.header("transfer-encoding") == Some("chunked") {
            r.body = self.chunked().await;
        } else {
            while self.fill().await {}
            r.body = std::mem::take(&mut self.buf);
        }
        r
    }

    async fn chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                self.fill_or_panic().await;
            };
            let size_line: Vec<u8> = self.buf.drain(..line_end + 2).collect();
            let size =
                usize::from_str_radix(std::str::from_utf8(&size_line[..line_end]).unwrap(), 16)
                    .unwrap();
            while self.buf.len() < size + 2 {
                self.fill_or_panic().await;
            }
            body.extend(self.buf.drain(..size));
            assert_eq!(self.buf.drain(..2).collect::<Vec<_>>(), b"\r\n");
            if size == 0 {
                return body;
            }
        }
    }

    /// Asserts the server closes the connection, with nothing more to read.
    async fn expect_eof(&mut self) {
        while self.fill().await {}
        assert!(self.buf.is_empty(), "unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf));
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// One request on a fresh connection.
async fn fetch(addr: SocketAddr, request: impl AsRef<[u8]>) -> Response {
    let head_request = request.as_ref().starts_with(b"HEAD ");
    let mut c = Client::connect(addr).await;
    c.send(request).await;
    c.response(head_request).await
}

const KEY_HEADER: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{KEY_HEADER}Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn get_and_head_serve_files_with_type_length_and_last_modified() {
    let tree = Tree::new();
    tree.file("index.html", "<p>home</p>");
    tree.file("style.CSS", "p {}");
    tree.file("noext", "x");
    // Larger than the 64 KiB chunk the body is streamed through.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    tree.file("sub/data.bin", &big);
    let addr = start(http_config(&tree)).await;

    let r = fetch(addr, get("/index.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "<p>home</p>"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.header("last-modified").is_some_and(|d| d.ends_with(" GMT")), "{}", r.head);
    assert!(r.header("date").is_some(), "{}", r.head);
    assert_eq!(fetch(addr, get("/style.CSS")).await.header("content-type"), Some("text/css"));
    let r = fetch(addr, get("/noext")).await;
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));

    let r = fetch(addr, get("/sub/data.bin")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, big);

    // HEAD: the same head, no body (the next response on the connection proves it).
    let mut c = Client::connect(addr).await;
    c.send("HEAD /sub/data.bin HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let r = c.response(true).await;
    assert_eq!((r.status, r.header("content-length")), (200, Some("300000")));
    c.send(get("/noext")).await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "x"));
}

#[tokio::test]
async fn if_modified_since_gives_304_and_an_older_date_gives_the_file() {
    let tree = Tree::new();
    tree.file("a.txt", "hello");
    let addr = start(http_config(&tree)).await;
    let r = fetch(addr, get("/a.txt")).await;
    let modified = r.header("last-modified").unwrap().to_owned();
    let conditional =
        format!("GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: {modified}\r\n\r\n");
    let r = fetch(addr, &conditional).await;
    assert_eq!(r.status, 304, "{}", r.head);
    assert!(r.header("content-length").is_none(), "{}", r.head);
    let old = "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
    assert_eq!(fetch(addr, old).await.status, 200);
    // If-None-Match takes precedence (and we have no ETags).
    let both = conditional.replace("\r\n\r\n", "\r\nIf-None-Match: \"x\"\r\n\r\n");
    assert_eq!(fetch(addr, both).await.status, 200);
}

#[tokio::test]
async fn directories_redirect_then_serve_their_index_or_an_escaped_listing() {
    let tree = Tree::new();
    tree.file("list/<b>&'q\".txt", "x");
    tree.file("list/z dir/f", "x");
    tree.file("withindex/index.htm", "the index");
    let addr = start(http_config(&tree)).await;

    let r = fetch(addr, get("/list?a=1")).await;
    assert_eq!((r.status, r.header("location")), (301, Some("/list/?a=1")), "{}", r.head);
    // Never a redirect to another host.
    tree.file("evil.example/x", "x");
    let r = fetch(addr, get("//evil.example")).await;
    assert_eq!((r.status, r.header("location")), (301, Some("/evil.example/")), "{}", r.head);
    let r = fetch(addr, get("/list/z%20dir")).await;
    assert_eq!(r.header("location"), Some("/list/z%20dir/"), "{}", r.head);
    let r = fetch(addr, get("/list/")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("Directory listing for /list/"), "{html}");
    assert!(
        html.contains("<a href=\"%3Cb%3E&amp;&#x27;q%22.txt\">&lt;b&gt;&amp;&#x27;q&quot;.txt</a>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"z%20dir/\">z dir/</a>"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    // The listed link works.
    assert_eq!(fetch(addr, get("/list/%3Cb%3E&'q%22.txt")).await.status, 200);

    let r = fetch(addr, get("/withindex/")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "the index"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(fetch(addr, get("/")).await.status, 200);
}

#[tokio::test]
async fn missing_files_methods_and_malformed_targets() {
    let tree = Tree::new();
    tree.file("a.txt", "a");
    let addr = start(http_config(&tree)).await;
    for (request, status) in [
        (get("/nope.txt"), 404),
        (get("/a.txt/"), 404),
        (get("/a.txt/more"), 404),
        ("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_owned(), 501),
        ("PUT /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 501),
        ("DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 501),
        (get("/a%zz"), 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 400),
        ("GET /a.txt HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_owned(), 400),
    ] {
        let r = fetch(addr, &request).await;
        assert_eq!(r.status, status, "{request:?} -> {}", r.head);
    }
    // A plain GET to a WebSocket resource stays 400.
    let r = fetch(addr, get("/echo")).await;
    assert_eq!(r.status, 400, "{}", r.head);
    // A WebSocket attempt at a path without a handler: 404, and the connection closes.
    let mut c = Client::connect(addr).await;
    c.send(upgrade("/nope", "")).await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.header("connection")), (404, Some("close")), "{}", r.head);
    c.expect_eof().await;
}

#[tokio::test]
async fn every_traversal_form_is_refused_with_403() {
    let tree = Tree::new();
    tree.file("sub/a.txt", "a");
    let addr = start(http_config(&tree)).await;
    for target in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2e/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/sub/..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/sub/..%5C..%5Csecret.txt",
        "/..\\secret.txt",
        "/sub\\..\\..\\secret.txt",
        "/secret.txt%00",
        "/sub/a.txt%00.html",
        "/./sub/a.txt",
        "http://localhost/../secret.txt",
    ] {
        let r = fetch(addr, get(target)).await;
        assert_eq!(r.status, 403, "{target} -> {}", r.head);
        assert!(!r.text().contains("TOP SECRET"), "{target}");
    }
    // The same file by a clean path is served, so the refusals above are not 404s in
    // disguise.
    assert_eq!(fetch(addr, get("/sub/a.txt")).await.status, 200);
}

#[tokio::test]
async fn symlinks_out_of_the_root_are_403_and_inside_it_are_followed() {
    let tree = Tree::new();
    tree.file("real/inside.txt", "inside");
    let root = tree.root();
    std::os::unix::fs::symlink(tree.base.path().join("secret.txt"), root.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(tree.base.path(), root.join("outdir")).unwrap();
    std::os::unix::fs::symlink("real/inside.txt", root.join("in.txt")).unwrap();
    std::os::unix::fs::symlink("real", root.join("indir")).unwrap();
    std::fs::create_dir_all(root.join("idx")).unwrap();
    std::os::unix::fs::symlink(tree.base.path().join("secret.txt"), root.join("idx/index.html"))
        .unwrap();
    let addr = start(http_config(&tree)).await;
    for target in ["/out.txt", "/outdir/secret.txt", "/outdir/", "/idx/"] {
        let r = fetch(addr, get(target)).await;
        assert_eq!(r.status, 403, "{target} -> {}", r.head);
        assert!(!r.text().contains("TOP SECRET"), "{target}");
    }
    assert_eq!(fetch(addr, get("/in.txt")).await.text(), "inside");
    assert_eq!(fetch(addr, get("/indir/inside.txt")).await.text(), "inside");
    // Out and back in: what counts is where the path resolves.
    assert_eq!(fetch(addr, get("/outdir/root/real/inside.txt")).await.text(), "inside");
    assert!(fetch(addr, get("/")).await.text().contains("out.txt@"));
}

#[tokio::test]
async fn keep_alive_serves_several_requests_and_honours_close_and_http10() {
    let tree = Tree::new();
    tree.file("a.txt", "aaa");
    tree.file("b.txt", "bb");
    let addr = start(http_config(&tree)).await;

    // Two requests one after the other, then two pipelined in one write.
    let mut c = Client::connect(addr).await;
    c.send(get("/a.txt")).await;
    assert_eq!(c.response(false).await.text(), "aaa");
    c.send(get("/b.txt")).await;
    assert_eq!(c.response(false).await.text(), "bb");
    c.send(format!("{}{}", get("/b.txt"), get("/nope"))).await;
    assert_eq!(c.response(false).await.text(), "bb");
    let r = c.response(false).await;
    assert_eq!(r.status, 404);
    assert!(r.header("connection").is_none(), "{}", r.head);
    c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let r = c.response(false).await;
    assert_eq!((r.text().as_str(), r.header("connection")), ("aaa", Some("close")));
    c.expect_eof().await;

    // HTTP/1.0: one request unless it asks for keep-alive.
    let mut c = Client::connect(addr).await;
    c.send("GET /a.txt HTTP/1.0\r\n\r\n").await;
    let r = c.response(false).await;
    assert_eq!((r.text().as_str(), r.header("connection")), ("aaa", Some("close")));
    c.expect_eof().await;
    let mut c = Client::connect(addr).await;
    c.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
    assert_eq!(c.response(false).await.header("connection"), Some("keep-alive"));
    c.send("GET /b.txt HTTP/1.0\r\n\r\n").await;
    assert_eq!(c.response(false).await.text(), "bb");
    c.expect_eof().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let tree = Tree::new();
    tree.file("a.txt", "a");
    let http = HttpConfig { idle_timeout: Duration::from_millis(200), ..http_config(&tree) };
    let addr = start(http).await;
    let mut c = Client::connect(addr).await;
    c.send(get("/a.txt")).await;
    assert_eq!(c.response(false).await.status, 200);
    c.expect_eof().await;
}

#[tokio::test]
async fn a_websocket_handshake_can_follow_http_on_the_same_connection() {
    let tree = Tree::new();
    tree.file("a.txt", "aaa");
    let addr = start(http_config(&tree)).await;
    let mut c = Client::connect(addr).await;
    c.send(get("/a.txt")).await;
    assert_eq!(c.response(false).await.text(), "aaa");
    // The handshake and a masked "hi" text frame in one write.
    let mut bytes = upgrade("/echo", "").into_bytes();
    bytes.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    c.send(bytes).await;
    let r = c.response(false).await;
    assert_eq!(r.status, 101, "{}", r.head);
    while c.buf.len() < 4 {
        c.fill_or_panic().await;
    }
    assert_eq!(c.buf[..4], [0x81, 2, b'h', b'i']);
}

#[tokio::test]
async fn without_a_document_root_other_paths_are_404_and_closed() {
    let addr = start(HttpConfig::default()).await;
    let mut c = Client::connect(addr).await;
    c.send(get("/index.html")).await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.header("connection")), (404, Some("close")));
    c.expect_eof().await;
}

#[tokio::test]
async fn bind_fails_for_a_missing_document_root_or_a_bad_cgi_path() {
    let router = Router::new();
    for http in [
        HttpConfig { document_root: Some("/no/such/dir/wshd".into()), ..HttpConfig::default() },
        HttpConfig {
            document_root: Some(std::env::temp_dir()),
            cgi_paths: vec!["cgi-bin".into()],
            ..HttpConfig::default()
        },
    ] {
        let config = Config { http, ..Config::default() };
        let e = Server::bind("127.0.0.1:0".parse().unwrap(), router.clone(), config).await;
        assert!(e.is_err());
    }
}

/// Prints its CGI environment and its stdin.
const ENV_SCRIPT: &str = r#"#!/bin/sh
printf 'Content-Type: text/plain\r\nX-Script: env\r\n\r\n'
for v in REQUEST_METHOD QUERY_STRING CONTENT_LENGTH CONTENT_TYPE SCRIPT_NAME PATH_INFO \
         SERVER_NAME SERVER_PORT SERVER_PROTOCOL REMOTE_ADDR GATEWAY_INTERFACE HTTP_X_CUSTOM \
         HTTP_HOST HTTP_AUTHORIZATION HTTP_PROXY AUTH_TYPE REMOTE_USER; do
  eval "printf '%s=%s\n' $v \"\${$v-unset}\""
done
printf 'cwd=%s\n' "$(pwd)"
printf 'stdin='
cat
"#;

fn env_of(body: &str) -> std::collections::HashMap<String, String> {
    body.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

#[tokio::test]
async fn cgi_gets_rfc3875_environment_and_the_body_on_stdin() {
    let tree = Tree::new();
    tree.script("cgi-bin/env.sh", ENV_SCRIPT);
    tree.script("nested/htbin/sub/env.sh", ENV_SCRIPT);
    let addr = start(http_config(&tree)).await;

    let body = "name=value&x=1";
    let request = format!(
        "POST /cgi-bin/env.sh/extra/path%20info?q=1&r=%2F HTTP/1.1\r\nHost: example.test:8080\r\n\
         X-Custom: one\r\nx-custom: two\r\nProxy: http://evil/\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut c = Client::connect(addr).await;
    c.send(&request).await;
    let r = c.response(false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-script"), Some("env"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let env = env_of(&r.text());
    let expect = [
        ("REQUEST_METHOD", "POST"),
        ("QUERY_STRING", "q=1&r=%2F"),
        ("CONTENT_LENGTH", "14"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("SCRIPT_NAME", "/cgi-bin/env.sh"),
        ("PATH_INFO", "/extra/path info"),
        ("SERVER_NAME", "example.test"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("HTTP_X_CUSTOM", "one, two"),
        ("HTTP_HOST", "example.test:8080"),
        ("HTTP_PROXY", "unset"),
        ("AUTH_TYPE", "unset"),
        ("stdin", body),
    ];
    for (k, v) in expect {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {env:?}");
    }
    assert_eq!(env["SERVER_PORT"], addr.port().to_string());
    let root = std::fs::canonicalize(tree.root()).unwrap();
    assert_eq!(Path::new(&env["cwd"]), root);

    // The connection is still good: GET with no body, through a nested prefix and a
    // subdirectory.
    c.send(get("/nested/htbin/sub/env.sh")).await;
    let env = env_of(&c.response(false).await.text());
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(env["SCRIPT_NAME"], "/nested/htbin/sub/env.sh");
    assert_eq!(env["PATH_INFO"], "");
    assert_eq!(env["CONTENT_LENGTH"], "unset");
    assert_eq!(env["stdin"], "");
}

#[tokio::test]
async fn cgi_status_location_head_and_content_length_are_honoured() {
    let tree = Tree::new();
    tree.script(
        "cgi-bin/teapot",
        "#!/bin/sh\nprintf 'Status: 418 Short And Stout\\nX-Pot: yes\\nContent-Length: 5\\n\\nhello'\n",
    );
    tree.script("cgi-bin/redirect", "#!/bin/sh\nprintf 'Location: http://example.test/\\n\\n'\n");
    tree.script("cgi-bin/noheaders", "#!/bin/sh\necho just a body\n");
    tree.script("cgi-bin/fails", "#!/bin/sh\nexit 3\n");
    tree.script("cgi-bin/short", "#!/bin/sh\nprintf 'Content-Length: 10\\n\\nabc'\n");
    let addr = start(http_config(&tree)).await;

    let mut c = Client::connect(addr).await;
    c.send(get("/cgi-bin/teapot")).await;
    let r = c.response(false).await;
    assert!(r.head.starts_with("HTTP/1.1 418 Short And Stout\r\n"), "{}", r.head);
    assert_eq!((r.header("x-pot"), r.text().as_str()), (Some("yes"), "hello"));
    // HEAD: the same head without the body, and the connection goes on.
    c.send("HEAD /cgi-bin/teapot HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let r = c.response(true).await;
    assert_eq!((r.status, r.header("content-length")), (418, Some("5")));
    c.send(get("/cgi-bin/redirect")).await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.header("location")), (302, Some("http://example.test/")));

    for script in ["/cgi-bin/noheaders", "/cgi-bin/fails"] {
        let r = fetch(addr, get(script)).await;
        assert_eq!(r.status, 500, "{script}: {}", r.head);
    }
    // Fewer bytes than its Content-Length: the client must not wait for the rest.
    let mut c = Client::connect(addr).await;
    c.send(get("/cgi-bin/short")).await;
    let end = loop {
        if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        c.fill_or_panic().await;
    };
    assert!(c.buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    c.buf.drain(..end);
    while c.fill().await {}
    assert_eq!(c.buf, b"abc");
}

#[tokio::test]
async fn cgi_http10_client_gets_the_body_until_close() {
    let tree = Tree::new();
    tree.script("cgi-bin/hi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nHi there'\n");
    let addr = start(http_config(&tree)).await;
    let r = fetch(addr, "GET /cgi-bin/hi HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        (r.status, r.header("connection"), r.text().as_str()),
        (200, Some("close"), "Hi there")
    );
    assert!(r.header("content-length").is_none() && r.header("transfer-encoding").is_none());
}

#[tokio::test]
async fn a_non_executable_file_under_a_cgi_path_is_served_as_static() {
    let tree = Tree::new();
    tree.file("cgi-bin/plain.py", "#!/bin/sh\necho should not run\n");
    let addr = start(http_config(&tree)).await;
    let r = fetch(addr, get("/cgi-bin/plain.py")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "#!/bin/sh\necho should not run\n"));
    assert!(fetch(addr, get("/cgi-bin/")).await.text().contains("plain.py"));
    // A CGI prefix matches whole segments only.
    tree.script("cgi-binx/run", "#!/bin/sh\necho ran\n");
    let r = fetch(addr, get("/cgi-binx/run")).await;
    assert_eq!(r.text(), "#!/bin/sh\necho ran\n");
}

#[tokio::test]
async fn a_cgi_script_past_its_timeout_is_killed_and_reaped() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("pid");
    tree.script(
        "cgi-bin/slow",
        &format!("#!/bin/sh\necho $$ > '{}'\nexec sleep 60\n", pid_file.display()),
    );
    let http = HttpConfig { cgi_timeout: Duration::from_secs(3), ..http_config(&tree) };
    let addr = start(http).await;
    let request = tokio::spawn(fetch(addr, get("/cgi-bin/slow")));
    let wait_for_pid = async {
        loop {
            match std::fs::read_to_string(&pid_file) {
                Ok(pid) if pid.ends_with('\n') => return pid.trim().to_owned(),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    };
    let pid = tokio::time::timeout(PATIENCE, wait_for_pid).await.expect("the script never ran");
    let r = request.await.unwrap();
    assert_eq!(r.status, 500, "{}", r.head);
    // Killed and waited for: no process, not even a zombie, is left (on its own, the
    // `sleep 60` it became would outlast PATIENCE).
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let gone = async {
        while proc.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, gone).await.expect("the CGI child is still there");
}

#[tokio::test]
async fn cgi_output_over_the_cap_is_cut_off() {
    let tree = Tree::new();
    tree.script(
        "cgi-bin/flood",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nhead -c 1000000 /dev/zero\n",
    );
    tree.script(
        "cgi-bin/bighead",
        "#!/bin/sh\nwhile :; do echo 'X-Filler: aaaaaaaaaaaaaaaaaaaa'; done\n",
    );
    let http = HttpConfig { cgi_max_output: 10_000, ..http_config(&tree) };
    let addr = start(http).await;

    // Head already sent: the connection is closed before the body could end.
    let mut c = Client::connect(addr).await;
    c.send(get("/cgi-bin/flood")).await;
    while c.fill().await {}
    let all = String::from_utf8_lossy(&c.buf).into_owned();
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(all.contains("Transfer-Encoding: chunked"), "{all}");
    assert!(!all.ends_with("0\r\n\r\n"), "the body must not look complete");
    assert!(c.buf.len() < 20_000, "{} bytes", c.buf.len());

    // Over the cap inside its header block: 500.
    let r = fetch(addr, get("/cgi-bin/bighead")).await;
    assert_eq!(r.status, 500, "{}", r.head);
}

#[tokio::test]
async fn cgi_request_bodies_need_a_length_within_the_limit() {
    let tree = Tree::new();
    tree.script("cgi-bin/env.sh", ENV_SCRIPT);
    let http = HttpConfig { cgi_max_request_body: 10, ..http_config(&tree) };
    let addr = start(http).await;
    let chunked =
        "POST /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(fetch(addr, chunked).await.status, 411);
    let big = "POST /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890";
    assert_eq!(fetch(addr, big).await.status, 413);
    let put = "PUT /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(fetch(addr, put).await.status, 501);
    // The body arrives after `100 Continue` when the client waits for it.
    let mut c = Client::connect(addr).await;
    c.send("POST /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await;
    assert_eq!(c.response(true).await.status, 100);
    c.send("ping").await;
    let r = c.response(false).await;
    assert_eq!(env_of(&r.text())["stdin"], "ping");
}

#[tokio::test]
async fn basic_auth_guards_files_cgi_and_websocket_handshakes() {
    let tree = Tree::new();
    tree.file("a.txt", "aaa");
    tree.script("cgi-bin/env.sh", ENV_SCRIPT);
    let http = HttpConfig { basic_auth: Some("user:pa:ss".into()), ..http_config(&tree) };
    let addr = start(http).await;
    // base64("user:pa:ss") and base64("user:wrong").
    let good = "Authorization: Basic dXNlcjpwYTpzcw==\r\n";
    let bad = "Authorization: Basic dXNlcjp3cm9uZw==\r\n";
    let with = |path: &str, auth: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n");

    for request in [
        get("/a.txt"),
        with("/a.txt", bad),
        upgrade("/echo", ""),
        upgrade("/echo", bad),
        get("/cgi-bin/env.sh"),
        with("/nope", "Authorization: Bearer x\r\n"),
    ] {
        let mut c = Client::connect(addr).await;
        c.send(&request).await;
        let r = c.response(false).await;
        assert_eq!(r.status, 401, "{request:?} -> {}", r.head);
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"Pywebsocket\""));
        c.expect_eof().await;
    }
    let r = fetch(addr, with("/a.txt", good)).await;
    assert_eq!((r.status, r.text().as_str()), (200, "aaa"));
    let r = fetch(addr, with("/a.txt", &good.replace("Basic", "basic"))).await;
    assert_eq!(r.status, 200);
    let r = fetch(addr, upgrade("/echo", good)).await;
    assert_eq!(r.status, 101, "{}", r.head);
    let env = env_of(&fetch(addr, with("/cgi-bin/env.sh", good)).await.text());
    assert_eq!((env["AUTH_TYPE"].as_str(), env["REMOTE_USER"].as_str()), ("Basic", "user"));
    assert_eq!(env["HTTP_AUTHORIZATION"], "unset");
}

/// Waits (at most PATIENCE) until `path` holds a line; returns it.
async fn read_pid(path: &std::path::Path) -> String {
    let wait = async {
        loop {
            match std::fs::read_to_string(path) {
                Ok(pid) if pid.ends_with('\n') => return pid.trim().to_owned(),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.expect("the script never wrote its child's pid")
}

/// Waits (at most PATIENCE) until process `pid` is gone.
async fn gone(pid: &str, what: &str) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let wait = async {
        while proc.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("{what} is still running"));
}

/// A script that starts `sleep 60` in the background (which keeps the script's stdout)
/// and writes that child's pid to `pid_file`, then runs `rest`.
fn with_child(pid_file: &std::path::Path, rest: &str) -> String {
    format!("#!/bin/sh\nsleep 60 &\necho $! > '{}'\n{rest}", pid_file.display())
}

#[tokio::test]
async fn a_cgi_scripts_children_end_with_it_and_do_not_hold_its_response_open() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("child");
    tree.script(
        "cgi-bin/spawns",
        &with_child(&pid_file, "printf 'Content-Type: text/plain\\n\\ndone\\n'\n"),
    );
    // Longer than PATIENCE: a response held open by the child would fail the fetch.
    let http = HttpConfig { cgi_timeout: Duration::from_secs(60), ..http_config(&tree) };
    let addr = start(http).await;
    let r = fetch(addr, get("/cgi-bin/spawns")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "done\n"), "{}", r.head);
    gone(&read_pid(&pid_file).await, "the script's background child").await;
}

#[tokio::test]
async fn a_timed_out_cgi_script_is_killed_with_its_children() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("child");
    tree.script("cgi-bin/stuck", &with_child(&pid_file, "exec sleep 60\n"));
    let http = HttpConfig { cgi_timeout: Duration::from_secs(1), ..http_config(&tree) };
    let addr = start(http).await;
    let r = fetch(addr, get("/cgi-bin/stuck")).await;
    assert_eq!(r.status, 500, "{}", r.head);
    gone(&read_pid(&pid_file).await, "the timed-out script's child").await;
}

#[tokio::test]
async fn a_cgi_script_whose_client_left_is_killed_with_its_children() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("child");
    let talk = "printf 'Content-Type: text/plain\\n\\n'\nwhile :; do echo tick; sleep 0.05; done\n";
    tree.script("cgi-bin/talks", &with_child(&pid_file, talk));
    let http = HttpConfig { cgi_timeout: Duration::from_secs(60), ..http_config(&tree) };
    let addr = start(http).await;
    let mut c = Client::connect(addr).await;
    c.send(get("/cgi-bin/talks")).await;
    c.fill_or_panic().await;
    let pid = read_pid(&pid_file).await;
    drop(c);
    // The next writes to the client fail; the script and its child go with them.
    gone(&pid, "the child of a script whose client left").await;
}

#[tokio::test]
async fn shutdown_kills_running_cgi_scripts_with_their_children() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("child");
    tree.script("cgi-bin/stuck", &with_child(&pid_file, "exec sleep 60\n"));
    let http = HttpConfig { cgi_timeout: Duration::from_secs(60), ..http_config(&tree) };
    let config = Config { http, shutdown_timeout: Duration::from_millis(100), ..Config::default() };
    let (addr, shutdown, server) = support::serve_with_shutdown(Router::new(), config).await;
    let request = tokio::spawn(fetch(addr, get("/cgi-bin/stuck")));
    let pid = read_pid(&pid_file).await;
    shutdown.trigger();
    tokio::time::timeout(PATIENCE, server).await.expect("the server stops").unwrap();
    gone(&pid, "a CGI child after shutdown").await;
    request.abort();
}

#[tokio::test]
async fn cgi_scripts_over_the_cap_are_answered_503() {
    let tree = Tree::new();
    let pid_file = tree.base.path().join("child");
    let talk = "printf 'Content-Type: text/plain\\n\\n'\nwhile :; do echo tick; sleep 0.05; done\n";
    tree.script("cgi-bin/talks", &with_child(&pid_file, talk));
    tree.script("cgi-bin/quick", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nquick\\n'\n");
    let http = HttpConfig {
        cgi_max_processes: 1,
        cgi_timeout: Duration::from_secs(60),
        ..http_config(&tree)
    };
    let addr = start(http).await;
    let mut first = Client::connect(addr).await;
    first.send(get("/cgi-bin/talks")).await;
    first.fill_or_panic().await;
    let pid = read_pid(&pid_file).await;
    let r = fetch(addr, get("/cgi-bin/quick")).await;
    assert_eq!(r.status, 503, "{}", r.head);
    // The slot comes back once the first script is gone (its client left).
    drop(first);
    gone(&pid, "the first script's child").await;
    let again = async {
        loop {
            let r = fetch(addr, get("/cgi-bin/quick")).await;
            if r.status == 200 {
                return r.text();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let text = tokio::time::timeout(PATIENCE, again).await.expect("the slot never came back");
    assert_eq!(text, "quick\n");
}

//! Static files from the document root: GET and HEAD of regular files (streamed in 64 KiB
//! chunks, never read whole), `index.html`/`index.htm` or a listing for directories, `301`
//! from `/dir` to `/dir/`, `Last-Modified` and `If-Modified-Since`.
//!
//! The filesystem half of staying inside the root is [`resolve`]: the joined path is
//! canonicalized (every symlink followed) and must still lie under the canonical root,
//! compared by path components; otherwise 403. Paths that do not exist are 404. No Range,
//! no ETag, no content negotiation. The check happens per request; a tree that is being
//! rearranged while a request is served is not defended against (the server's own files
//! are trusted, the requests are not).

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;
use wshd_proto::handshake::is_field_value;

use super::response::{Framing, Head, send};
use super::url_path::{UrlPath, percent_encode_segment};
use super::{Exchange, Next, date, listing, mime};

/// Size of the buffer a file body is streamed through.
const CHUNK: u64 = 64 * 1024;

/// Where a request path leads.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// This canonical path, inside the root, with its metadata (symlinks followed).
    Found(PathBuf, std::fs::Metadata),
    NotFound,
    /// Exists but may not be served: permission denied, or it resolves outside the root.
    Forbidden(&'static str),
}

/// Joins `segments` (already checked by [`UrlPath::parse`]) to `root` (canonical) and
/// follows every symlink; see the module doc.
pub(crate) async fn resolve(root: &Path, segments: &[Vec<u8>]) -> Lookup {
    let mut joined = root.to_path_buf();
    for seg in segments {
        joined.push(OsStr::from_bytes(seg));
    }
    let root = root.to_path_buf();
    let lookup = tokio::task::spawn_blocking(move || resolve_blocking(&root, &joined)).await;
    lookup.unwrap_or(Lookup::Forbidden("the lookup failed"))
}

pub(super) fn resolve_blocking(root: &Path, joined: &Path) -> Lookup {
    let canonical = match std::fs::canonicalize(joined) {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Lookup::Forbidden("permission denied");
        }
        Err(e) => {
            if !matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) {
                tracing::debug!("{}: {e}", joined.display());
            }
            return Lookup::NotFound;
        }
    };
    if !canonical.starts_with(root) {
        tracing::warn!(
            "refused {}: it resolves to {}, outside the document root",
            joined.display(),
            canonical.display()
        );
        return Lookup::Forbidden("the path leads outside the document root");
    }
    match std::fs::metadata(&canonical) {
        Ok(meta) => Lookup::Found(canonical, meta),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Lookup::Forbidden("permission denied"),
        Err(_) => Lookup::NotFound,
    }
}

/// Answers a GET or HEAD for `url` from `root`.
pub(crate) async fn serve(ex: &mut Exchange<'_>, root: &Path, url: &UrlPath) -> Next {
    let (path, meta) = match resolve(root, &url.segments).await {
        Lookup::Found(path, meta) => (path, meta),
        Lookup::NotFound => return ex.reply(404, "no such file or directory", &[]).await,
        Lookup::Forbidden(why) => return ex.reply(403, why, &[]).await,
    };
    if meta.is_dir() {
        return directory(ex, root, url, &path).await;
    }
    if !meta.is_file() {
        return ex.reply(403, "not a regular file", &[]).await;
    }
    if url.has_trailing_slash() {
        return ex.reply(404, "not a directory", &[]).await;
    }
    file(ex, &path).await
}

/// `/dir` → 301 to `/dir/`; `/dir/` → its index file, else a listing.
async fn directory(ex: &mut Exchange<'_>, root: &Path, url: &UrlPath, path: &Path) -> Next {
    if !url.has_trailing_slash() {
        // Rebuilt from the segments, so `//host/dir` cannot become a redirect to another
        // host (`Location: //host/dir/`).
        let mut location = String::new();
        for seg in &url.segments {
            location.push('/');
            location.push_str(&percent_encode_segment(seg));
        }
        location.push('/');
        if !url.query.is_empty() {
            location.push('?');
            location.push_str(&url.query);
        }
        if !is_field_value(&location) {
            return ex.reply(400, "request target cannot be redirected", &[]).await;
        }
        return ex.reply(301, "a directory: its URL ends with /", &[("Location", &location)]).await;
    }
    for index in ["index.html", "index.htm"] {
        let mut segments = url.segments.clone();
        segments.push(index.as_bytes().to_vec());
        match resolve(root, &segments).await {
            Lookup::Found(p, m) if m.is_file() => return file(ex, &p).await,
            Lookup::Forbidden(why) => return ex.reply(403, why, &[]).await,
            _ => {}
        }
    }
    match listing::render(path.to_path_buf(), url).await {
        Ok(html) => {
            let head = Head::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .finish(Framing::Length(html.len() as u64), ex.persist);
            ex.log(200, "directory listing");
            let mut bytes = head;
            if !ex.head_only {
                bytes.extend_from_slice(html.as_bytes());
            }
            ex.send_and_finish(&bytes).await
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            ex.reply(403, "the directory cannot be listed: permission denied", &[]).await
        }
        Err(e) => {
            tracing::warn!("cannot list {}: {e}", path.display());
            ex.reply(404, "no such file or directory", &[]).await
        }
    }
}

/// A regular file: 304 when not modified since the client's copy, else 200 and the bytes.
async fn file(ex: &mut Exchange<'_>, path: &Path) -> Next {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return ex.reply(403, "permission denied", &[]).await;
        }
        Err(e) => {
            tracing::debug!("cannot open {}: {e}", path.display());
            return ex.reply(404, "no such file or directory", &[]).await;
        }
    };
    let meta = match file.metadata().await {
        Ok(m) if m.is_file() => m,
        _ => return ex.reply(403, "not a regular file", &[]).await,
    };
    let len = meta.len();
    let modified = meta.modified().ok().map(date::format);
    if let Some(m) = &modified {
        if not_modified(ex, m) {
            let head =
                Head::new(304).header("Last-Modified", m).finish(Framing::NoBody, ex.persist);
            ex.log(304, "not modified");
            return ex.send_and_finish(&head).await;
        }
    }
    let mut head = Head::new(200).header("Content-Type", mime::content_type(path));
    if let Some(m) = &modified {
        head = head.header("Last-Modified", m);
    }
    let head = head.finish(Framing::Length(len), ex.persist);
    ex.log(200, "file");
    let timeout = ex.site.config.idle_timeout;
    if let Err(e) = send(ex.io, &head, timeout).await {
        tracing::debug!(peer = %ex.peer, "HTTP response not delivered: {e}");
        return Next::Close;
    }
    if ex.head_only {
        return ex.finish();
    }
    let mut buf = vec![0u8; CHUNK.min(len) as usize];
    let mut remaining = len;
    while remaining > 0 {
        let want = CHUNK.min(remaining) as usize;
        let n = match file.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => {
                // Shorter than announced: the client must not wait for the rest.
                tracing::warn!("{} shrank or failed while being sent; closing", path.display());
                return Next::Close;
            }
            Ok(n) => n,
        };
        if let Err(e) = send(ex.io, &buf[..n], timeout).await {
            tracing::debug!(peer = %ex.peer, "file body not delivered: {e}");
            return Next::Close;
        }
        remaining -= n as u64;
    }
    ex.finish()
}

/// `If-Modified-Since` at or after the file's time (to the second), and no
/// `If-None-Match` (which takes precedence, RFC 9110 §13.1.3, and we send no ETags).
fn not_modified(ex: &Exchange<'_>, last_modified: &str) -> bool {
    let headers = &ex.request.headers;
    if headers.get("if-none-match").is_some() || ex.request.method != "GET" && !ex.head_only {
        return false;
    }
    let Some(since) = headers.get_str("if-modified-since").and_then(date::parse) else {
        return false;
    };
    date::parse(last_modified).is_some_and(|m| m <= since)
}

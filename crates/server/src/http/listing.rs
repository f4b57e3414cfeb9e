//! The HTML listing of a directory that has no index file, in the shape of Python's
//! `SimpleHTTPRequestHandler.list_directory`: names sorted ignoring case, `/` after
//! directories, `@` after symlinks; every name HTML-escaped in the text and
//! percent-encoded in the link.
//!
//! The listing is built in memory (about 100 bytes per entry). It does not decide whether
//! the directory may be listed: the caller already resolved it inside the root.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::url_path::{UrlPath, percent_encode_segment};

struct Entry {
    name: Vec<u8>,
    is_dir: bool,
    is_link: bool,
}

/// The listing page of `dir`, whose URL is `url`.
pub(crate) async fn render(dir: PathBuf, url: &UrlPath) -> std::io::Result<String> {
    let entries = tokio::task::spawn_blocking(move || read_entries(&dir))
        .await
        .map_err(std::io::Error::other)??;
    let mut title = url.decoded(0..url.segments.len());
    if !title.ends_with('/') {
        title.push('/');
    }
    Ok(page(&title, &entries))
}

fn read_entries(dir: &std::path::Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        // Like Python's os.path.isdir: follows symlinks.
        let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        entries.push(Entry { name: entry.file_name().as_bytes().to_vec(), is_dir, is_link });
    }
    entries.sort_by_cached_key(|e| e.name.to_ascii_lowercase());
    Ok(entries)
}

fn page(title: &str, entries: &[Entry]) -> String {
    let title = escape(title);
    let mut out = format!(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Directory listing for {title}</title>\n</head>\n<body>\n\
         <h1>Directory listing for {title}</h1>\n<hr>\n<ul>\n"
    );
    for e in entries {
        let mut shown = String::from_utf8_lossy(&e.name).into_owned();
        let mut href = percent_encode_segment(&e.name);
        if e.is_dir {
            shown.push('/');
            href.push('/');
        }
        if e.is_link {
            shown.push('@');
        }
        out.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", escape(&href), escape(&shown)));
    }
    out.push_str("</ul>\n<hr>\n</body>\n</html>\n");
    out
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_encoded_and_marked() {
        let entries = [
            Entry { name: b"<b>&'x\".html".to_vec(), is_dir: false, is_link: false },
            Entry { name: b"sub dir".to_vec(), is_dir: true, is_link: true },
            Entry { name: b"caf\xe9".to_vec(), is_dir: false, is_link: false },
        ];
        let html = page("/a<b>/", &entries);
        assert!(html.contains("<title>Directory listing for /a&lt;b&gt;/</title>"), "{html}");
        assert!(
            html.contains("<li><a href=\"%3Cb%3E&amp;&#x27;x%22.html\">&lt;b&gt;&amp;&#x27;x&quot;.html</a></li>"),
            "{html}"
        );
        assert!(html.contains("<li><a href=\"sub%20dir/\">sub dir/@</a></li>"), "{html}");
        assert!(html.contains("<li><a href=\"caf%E9\">caf\u{fffd}</a></li>"), "{html}");
        assert!(!html.contains("<b>"));
    }
}

//! Content types of static files, by file extension: a small built-in table of the types
//! web test pages use, ASCII case ignored. Anything else is `application/octet-stream`,
//! as Python's `SimpleHTTPRequestHandler` answers for unknown types.
//!
//! It does not sniff file contents and adds no `charset` (pywebsocket adds none either).

use std::path::Path;

/// The `Content-Type` for a file at `path`.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return DEFAULT;
    };
    let ext = ext.to_ascii_lowercase();
    TABLE.iter().find(|(e, _)| *e == ext).map_or(DEFAULT, |(_, t)| t)
}

const DEFAULT: &str = "application/octet-stream";

const TABLE: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("htm", "text/html"),
    ("xhtml", "application/xhtml+xml"),
    ("xht", "application/xhtml+xml"),
    ("css", "text/css"),
    ("js", "text/javascript"),
    ("mjs", "text/javascript"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("txt", "text/plain"),
    ("text", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("xml", "text/xml"),
    ("xsl", "text/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("ico", "image/vnd.microsoft.icon"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("wav", "audio/wav"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("mp4", "video/mp4"),
    ("m4a", "audio/mp4"),
    ("webm", "video/webm"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("py", "text/x-python"),
    ("sh", "application/x-sh"),
    ("pem", "application/x-pem-file"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension_ignoring_case() {
        assert_eq!(content_type(Path::new("a/index.HTML")), "text/html");
        assert_eq!(content_type(Path::new("x.js")), "text/javascript");
        assert_eq!(content_type(Path::new("x.tar.gz")), "application/gzip");
        assert_eq!(content_type(Path::new("README")), DEFAULT);
        assert_eq!(content_type(Path::new(".hidden")), DEFAULT);
        assert_eq!(content_type(Path::new("x.unknownext")), DEFAULT);
    }
}

//! Prints the operations a saved `connection_ops` fuzz input decodes to (the target takes
//! raw bytes, so `cargo fuzz fmt` shows only those):
//!
//! ```text
//! cargo run -p wshd-testkit --example connection_ops_input -- fuzz/artifacts/connection_ops/crash-…
//! ```

use arbitrary::Arbitrary;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: connection_ops_input FILE");
        std::process::exit(2);
    };
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let input = wshd_testkit::connection_ops::Input::arbitrary_take_rest(
        arbitrary::Unstructured::new(&data),
    );
    println!("{input:#?}");
}

//! Helpers shared by the runtime's integration tests.

pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// Compares `text` with the golden file `tests/golden/<name>`; with
/// AORTA_WRITE_GOLDEN set, writes it first (after a reviewed change).
pub fn assert_golden(name: &str, text: &str) {
    let path = format!("{GOLDEN}/{name}");
    if std::env::var_os("AORTA_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(text == want, "{name}: golden output changed");
}

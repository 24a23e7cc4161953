//! Converts `docs/openapi.yaml` to JSON at build time: the function serves the same
//! document with no YAML parser in the binary, and a document that is not valid YAML
//! fails the build.

use std::path::PathBuf;

fn main() {
    let source =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../docs/openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source).expect("docs/openapi.yaml");
    let document: serde_json::Value =
        serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is valid YAML");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&document).unwrap()).unwrap();
}

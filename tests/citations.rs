//! Every citation can be checked by anyone: sources in the data files name a public
//! URL or a repository path at a commit, and nothing cites a private search index or a
//! file outside the repository.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The data files whose rows and entries carry sources.
const DATA_FILES: &[&str] = &[
    "shared/calculator/data/models.json",
    "shared/planner/data/catalog.json",
    "shared/calculator/tests/data/measured-memory.json",
    "shared/calculator/tests/data/qwen3-speed-benchmark-extra.json",
    "shared/calculator/tests/data/vllm-startup-logs.json",
    "shared/planner/tests/data/measured-serving.json",
];

/// Whether `text` names a public URL or a repository path pinned to a 40-hex commit.
fn checkable(text: &str) -> bool {
    text.contains("https://") || text.contains("http://") || pinned_commit(text)
}

fn pinned_commit(text: &str) -> bool {
    text.match_indices('@').any(|(at, _)| {
        let hex = &text[at + 1..];
        hex.len() >= 40 && hex[..40].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Every string under a `source` or `sources` key, with its JSON path.
fn sources(value: &Value, path: &str, under_source: bool, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let source = under_source || key == "source" || key == "sources";
                sources(v, &format!("{path}/{key}"), source, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                sources(v, &format!("{path}/{i}"), under_source, out);
            }
        }
        Value::String(s) if under_source => out.push((path.to_owned(), s.clone())),
        _ => {}
    }
}

#[test]
fn every_data_source_is_a_url_or_a_pinned_path() {
    let mut unpinned = Vec::new();
    let mut count = 0;
    for file in DATA_FILES {
        let text = fs::read_to_string(root().join(file)).unwrap();
        let data: Value = serde_json::from_str(&text).unwrap();
        let mut found = Vec::new();
        sources(&data, "", false, &mut found);
        assert!(!found.is_empty(), "{file} has no sources");
        count += found.len();
        for (path, source) in found {
            // A figure no public source was found for says so, in these words.
            if !checkable(&source) && !source.starts_with("no public source located") {
                unpinned.push(format!("{file}{path}: {source}"));
            }
        }
    }
    assert!(count > 300, "only {count} sources found");
    assert!(
        unpinned.is_empty(),
        "sources without a URL or repo@commit:\n{}",
        unpinned.join("\n")
    );
}

/// Words that mark a citation of something a reader cannot open.
fn uncheckable_markers() -> [String; 3] {
    // Built from parts so that this file does not match itself.
    [
        ["find", "_string"].concat(),
        ["code-search", " id"].concat(),
        ["shared/", "reference/"].concat(),
    ]
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".venv" | "node_modules")
                && !name.starts_with('.')
            {
                text_files(&path, out);
            }
        } else if [".rs", ".md", ".json", ".yaml", ".toml", ".sh", ".py"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_cites_a_private_index_or_a_file_outside_the_repository() {
    let mut files = Vec::new();
    for dir in ["docs", "shared", "functions", "tests", "scripts"] {
        text_files(&root().join(dir), &mut files);
    }
    files.push(root().join("README.md"));
    files.push(root().join("template.yaml"));
    let markers = uncheckable_markers();
    let mut hits = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if markers.iter().any(|m| line.contains(m.as_str())) {
                hits.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(files.len() > 100, "only {} files read", files.len());
    assert!(
        hits.is_empty(),
        "uncheckable citations:\n{}",
        hits.join("\n")
    );
}

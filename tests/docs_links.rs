//! Every relative link of every tracked Markdown file resolves to a tracked file or folder (a
//! link into build output such as target/doc is broken on a fresh clone), and every `#anchor`
//! names a heading (or an `id`/`name` anchor) of its target. Links inside code are not links.
//! The shell commands a reader is told to run name only files that exist: a path in a ```sh block
//! that starts in a folder of the checkout is a tracked file or folder (or a glob matching one).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

/// The links of a Markdown text: `[text](target)`, `![alt](target)` and `[label]: target`,
/// outside fenced code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose_lines(text) {
        let line = without_code_spans(&line);
        if let Some(rest) = line.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]: ")
        {
            found.push(target.split_whitespace().next().unwrap_or("").to_string());
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].trim();
            let target = target.split(" \"").next().unwrap();
            found.push(target.trim_matches(['<', '>']).to_string());
            rest = &after[end..];
        }
    }
    found
}

/// The lines of `text` outside fenced code blocks (``` or ~~~).
fn prose_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some(open) if trimmed.starts_with(open) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => lines.push(line.to_string()),
        }
    }
    lines
}

/// `line` with its code spans (`...`, ``...``) removed.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let fence = &rest[start..start + ticks];
        let after = &rest[start + ticks..];
        match after.find(fence) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The anchors of a Markdown text as GitHub makes them: each heading's text, lower case, without
/// punctuation but `-` and `_`, spaces as `-`, `-1`, `-2`, ... after repeats; and the `id="..."`
/// and `name="..."` attributes of its HTML.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in prose_lines(text) {
        for attribute in ["id=\"", "name=\""] {
            for part in line.split(attribute).skip(1) {
                if let Some((value, _)) = part.split_once('"') {
                    found.insert(value.to_string());
                }
            }
        }
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let heading = line[hashes..].trim().trim_end_matches('#').trim();
        let slug: String = link_texts(heading)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = seen.entry(slug.clone()).or_insert(0);
        found.insert(match *repeats {
            0 => slug,
            n => format!("{slug}-{n}"),
        });
        *repeats += 1;
    }
    found
}

/// `text` with each `[label](target)` reduced to its label.
fn link_texts(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let Some(end) = rest[at..].find(')') else {
            break;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out.replace('[', "")
}

/// The path `target` names from the document `doc`, relative to the repository's root, or None
/// when it leaves the repository.
fn resolve(doc: &str, target: &str) -> Option<String> {
    let base = if target.starts_with('/') {
        Path::new("")
    } else {
        Path::new(doc).parent().unwrap()
    };
    let mut parts: Vec<String> = Vec::new();
    for component in base.join(target.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    Some(parts.join("/"))
}

/// Everything wrong with the links of `docs` (path -> text), given the tracked files.
fn broken_links(docs: &BTreeMap<String, String>, tracked: &[String]) -> Vec<String> {
    let files: BTreeSet<&str> = tracked.iter().map(String::as_str).collect();
    let folders: BTreeSet<String> = tracked
        .iter()
        .flat_map(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .chain([String::new()])
        .collect();
    let mut problems = Vec::new();
    for (doc, text) in docs {
        for link in links(text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = match path {
                "" => Some(doc.clone()),
                path => resolve(doc, path.trim_end_matches('/')),
            };
            let Some(target) = target.filter(|t| files.contains(t.as_str()) || folders.contains(t))
            else {
                problems.push(format!("{doc}: ({link}) is no tracked file or folder"));
                continue;
            };
            let Some(anchor) = anchor else { continue };
            let known = match docs.get(&target) {
                Some(text) => anchors(text).contains(anchor),
                None => false,
            };
            if !known {
                problems.push(format!("{doc}: ({link}) names no heading of {target}"));
            }
        }
    }
    problems
}

/// The words of the ```sh blocks of `text` that name a path in the checkout: those whose first
/// component is one of `folders` (the top-level folders of the checkout), without `$`, and not
/// under a `target` folder (build output). Words split at spaces, quotes, `:` and `=`, so that
/// `-cp a.jar:b.jar` and `-out:DIR/x.dll` give their paths.
fn command_paths(text: &str, folders: &BTreeSet<&str>) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_shell = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(info.trim(), "sh" | "bash" | "shell");
            continue;
        }
        if !in_shell {
            continue;
        }
        let words = line.split(|c: char| c.is_whitespace() || "\"'():=,;|&<>".contains(c));
        for word in words.map(|word| word.trim_end_matches('/')) {
            let parts: Vec<&str> = word.split('/').collect();
            if parts.len() > 1
                && folders.contains(parts[0])
                && !word.contains('$')
                && !parts.contains(&"target")
            {
                found.push(word.to_string());
            }
        }
    }
    found
}

/// Whether `pattern` (`*` matches any characters but `/`) matches `path`.
fn glob_matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((head, tail)) => {
            let Some(rest) = path.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .take_while(|&n| !rest[..n].contains('/'))
                .filter(|&n| rest.is_char_boundary(n))
                .any(|n| glob_matches(tail, &rest[n..]))
        }
    }
}

/// The paths that the shell commands of `docs` name and the checkout does not hold.
fn missing_command_paths(docs: &BTreeMap<String, String>, tracked: &[String]) -> Vec<String> {
    let top: BTreeSet<&str> = tracked
        .iter()
        .filter_map(|path| path.split_once('/').map(|(first, _)| first))
        .collect();
    let mut problems = Vec::new();
    for (doc, text) in docs {
        for path in command_paths(text, &top) {
            let exists = tracked.iter().any(|file| {
                glob_matches(&path, file)
                    || file
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
            if !exists {
                problems.push(format!(
                    "{doc}: a command names {path}, which is not in the checkout"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_relative_link_of_the_markdown_files_resolves() {
    let tracked = common::tracked_files();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs: BTreeMap<String, String> = tracked
        .iter()
        .filter(|path| path.ends_with(".md"))
        .map(|path| {
            let text = std::fs::read_to_string(root.join(path)).unwrap();
            (path.clone(), text)
        })
        .collect();
    assert!(
        docs.contains_key("README.md") && docs.len() > 10,
        "{docs:?}"
    );
    let mut problems = broken_links(&docs, &tracked);
    problems.extend(missing_command_paths(&docs, &tracked));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_broken_link_or_anchor_is_found() {
    let tracked: Vec<String> = ["README.md", "docs/c.md", "examples/app.c"]
        .map(String::from)
        .to_vec();
    let readme = "# Quick start\n\n## The C API\n\n## The C API\n\n\
        [ok](docs/c.md#installing-it) [ok](#the-c-api-1) [ok](examples/) [ok](https://x.org/a)\n\
        `[code](nowhere.md)`\n```\n[code](nowhere.md)\n```\n\
        [gone](docs/gone.md) [build output](target/doc/index.html) [anchor](#nothing)\n\
        [out](../../etc/passwd) [source anchor](examples/app.c#main)\n";
    let c = "# Using it\n## Installing it\n[back](../README.md#quick-start)\n";
    let docs = BTreeMap::from([
        ("README.md".to_string(), readme.to_string()),
        ("docs/c.md".to_string(), c.to_string()),
    ]);
    assert_eq!(
        broken_links(&docs, &tracked),
        [
            "README.md: (docs/gone.md) is no tracked file or folder",
            "README.md: (target/doc/index.html) is no tracked file or folder",
            "README.md: (#nothing) names no heading of README.md",
            "README.md: (../../etc/passwd) is no tracked file or folder",
            "README.md: (examples/app.c#main) names no heading of examples/app.c",
        ]
    );
}

#[test]
fn a_command_naming_a_missing_file_is_found() {
    let tracked: Vec<String> = [
        "examples/app.c",
        "bindings/csharp/src/Client.cs",
        "bindings/java/examples/Sample.java",
    ]
    .map(String::from)
    .to_vec();
    let readme = "```sh\n\
        cc examples/app.c -o app && cc examples/ap.c\n\
        mcs -out:out-csharp/x.dll bindings/csharp/src/*.cs bindings/csharp/src/*.vb\n\
        (cd bindings/java && java -cp bindings/java/target/x.jar:bindings/java/lib.jar Sample)\n\
        ./app http://127.0.0.1:8080 \"$PWD/examples/x\" pdfs/ examples/\n\
        ```\n\
        ```c\n#include \"examples/gone.h\"\n```\nexamples/gone.c in prose\n";
    let docs = BTreeMap::from([("README.md".to_string(), readme.to_string())]);
    assert_eq!(
        missing_command_paths(&docs, &tracked),
        [
            "README.md: a command names examples/ap.c, which is not in the checkout",
            "README.md: a command names bindings/csharp/src/*.vb, which is not in the checkout",
            "README.md: a command names bindings/java/lib.jar, which is not in the checkout",
        ]
    );
}

//! The layers of ARCHITECTURE.md, read from the sources of the workspace's three layered crates
//! (`station-core`, `station-sim`, `station`): what each layer may name, the file size limit,
//! and no import loops among the engine's modules. The crates' dependencies already keep the
//! simulator from the engine and the core from both; inside the `station` crate this test
//! holds the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

const MAX_LINES: usize = 700;

/// A source file, its module path as the `station` crate sees it (`station::unit::swd`,
/// `sim::f4`, `hw::bench`), its crate's name for `crate::`, and its code without in-file tests.
struct Source {
    path: PathBuf,
    module: Vec<String>,
    /// What `crate::` means in this file (`sim` in the simulator's crate).
    crate_root: Vec<String>,
    code: String,
    lines: usize,
}

/// The crates' source folders and where their modules sit as the `station` crate sees them.
const CRATES: [(&str, &str); 4] = [
    ("src", ""),
    ("core/src", ""),
    ("sim/src", "sim"),
    ("cpu/src", "cpu"),
];

fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    for (dir, prefix) in CRATES {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files = Vec::new();
        walk(&root, &mut files);
        files.sort();
        let crate_root: Vec<String> = prefix
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        out.extend(files.into_iter().map(|path| read(&root, path, &crate_root)));
    }
    out
}

fn read(root: &Path, path: PathBuf, crate_root: &[String]) -> Source {
    let text = std::fs::read_to_string(&path).unwrap();
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    let mut module: Vec<String> = crate_root.to_vec();
    module.extend(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if module.last().is_some_and(|m| m == "mod" || m == "lib") {
        module.pop();
    }
    // In-file tests may name anything a test needs; the layers are about the code.
    let code = match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text.clone(),
    };
    let code = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    Source {
        lines: text.lines().count(),
        path,
        module,
        crate_root: crate_root.to_vec(),
        code,
    }
}

#[test]
fn every_crate_of_the_layers_is_read() {
    let all = sources();
    for module in [
        "station::unit",
        "sim::f4",
        "hw::bench",
        "chip",
        "image::header::design",
    ] {
        let want: Vec<&str> = module.split("::").collect();
        assert!(
            all.iter().any(|s| s.module == want),
            "{module} was not read"
        );
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every crate-relative module path a file names, resolved (`super::` included), with the
/// brace groups of `use` expanded to their first segment.
fn named_paths(source: &Source) -> BTreeSet<Vec<String>> {
    let path =
        Regex::new(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)(::\{([^}]*)\})?").unwrap();
    let mut out = BTreeSet::new();
    for c in path.captures_iter(&source.code) {
        let mut base: Vec<String> = if &c[1] == "crate" {
            // The simulator reaches the core's modules through its own root.
            let shared = source.crate_root == ["sim"]
                && ["hw", "chip", "image"]
                    .iter()
                    .any(|m| c[2].trim_start_matches("::").split("::").next() == Some(m));
            if shared {
                Vec::new()
            } else {
                source.crate_root.clone()
            }
        } else {
            let mut m = source.module.clone();
            m.pop();
            m
        };
        let rest: Vec<String> = c[2]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let mut rest = rest.into_iter().peekable();
        // `super::super::x`
        while rest.peek().is_some_and(|s| s == "super") {
            rest.next();
            base.pop();
        }
        base.extend(rest);
        match c.get(4) {
            Some(group) => {
                for item in group.as_str().split(',') {
                    let first = item.split("::").next().unwrap_or("").trim();
                    let first = first.split_whitespace().next().unwrap_or("");
                    if first.is_empty() || first == "self" || first == "*" {
                        out.insert(base.clone());
                    } else {
                        let mut p = base.clone();
                        p.push(first.to_string());
                        out.insert(p);
                    }
                }
            }
            None => {
                out.insert(base);
            }
        }
    }
    out
}

fn starts(path: &[String], prefix: &str) -> bool {
    let prefix: Vec<&str> = prefix.split("::").collect();
    path.len() >= prefix.len() && path.iter().zip(&prefix).all(|(a, b)| a == b)
}

fn in_layer(source: &Source, layers: &[&str]) -> bool {
    layers
        .iter()
        .any(|l| source.module.first().is_some_and(|m| m == l))
}

#[test]
fn no_engine_dfu_stm32_config_or_record_file_names_the_simulator() {
    let mut offences = Vec::new();
    for s in sources() {
        if !in_layer(
            &s,
            &[
                "station", "dfu", "stm32", "config", "record", "hw", "image", "chip",
            ],
        ) {
            continue;
        }
        for p in named_paths(&s) {
            for banned in ["sim", "serve", "cli", "tui", "dfu_bench"] {
                if starts(&p, banned) {
                    offences.push(format!("{} names {}", s.path.display(), p.join("::")));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn only_the_fixture_opener_wires_backends_into_the_engine() {
    let mut offences = Vec::new();
    for s in sources() {
        let lower = in_layer(
            &s,
            &["dfu", "stm32", "config", "record", "hw", "image", "chip"],
        );
        let engine = in_layer(&s, &["station"]) && s.module != ["station", "open_unit"];
        if !(lower || engine) {
            continue;
        }
        for p in named_paths(&s) {
            if starts(&p, "backend") {
                offences.push(format!("{} names {}", s.path.display(), p.join("::")));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn the_simulator_names_only_the_seams_and_the_shared_words() {
    let mut offences = Vec::new();
    for s in sources().iter().filter(|s| in_layer(s, &["sim"])) {
        for p in named_paths(s) {
            let allowed = ["sim", "hw", "chip", "image::header"]
                .iter()
                .any(|a| starts(&p, a));
            if !allowed && !p.is_empty() {
                offences.push(format!("{} names {}", s.path.display(), p.join("::")));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn the_shared_words_and_the_seams_name_nothing_above_them() {
    let mut offences = Vec::new();
    for s in sources() {
        let allowed: &[&str] = match s.module.first().map(String::as_str) {
            Some("chip") => &["chip"],
            Some("hw") => &["hw", "chip"],
            Some("image") => &["image", "hw", "chip"],
            _ => continue,
        };
        for p in named_paths(&s) {
            if !allowed.iter().any(|a| starts(&p, a)) {
                offences.push(format!("{} names {}", s.path.display(), p.join("::")));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn no_source_file_exceeds_the_size_limit() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.lines > MAX_LINES)
        .map(|s| format!("{}: {} lines", s.path.display(), s.lines))
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_engines_modules_import_each_other_without_loops() {
    let all = sources();
    let modules: BTreeSet<Vec<String>> = all.iter().map(|s| s.module.clone()).collect();
    // The module a path lands in: its longest prefix that is a source file.
    let owner = |p: &[String]| -> Option<Vec<String>> {
        (1..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for s in all.iter().filter(|s| in_layer(s, &["station"])) {
        let edges = graph.entry(s.module.clone()).or_default();
        for p in named_paths(s) {
            if let Some(m) = owner(&p)
                && m != s.module
                && m.first().is_some_and(|f| f == "station")
            {
                edges.insert(m);
            }
        }
    }
    let mut loops = Vec::new();
    for start in graph.keys() {
        // A path back to `start` from any module it names.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(Vec<String>, Vec<String>)> = graph[start]
            .iter()
            .map(|m| (m.clone(), vec![m.join("::")]))
            .collect();
        while let Some((m, trail)) = stack.pop() {
            if &m == start {
                loops.push(format!("{} -> {}", start.join("::"), trail.join(" -> ")));
                break;
            }
            if !seen.insert(m.clone()) {
                continue;
            }
            for next in graph.get(&m).into_iter().flatten() {
                let mut t = trail.clone();
                t.push(next.join("::"));
                stack.push((next.clone(), t));
            }
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

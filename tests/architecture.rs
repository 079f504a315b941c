//! The workspace's shape, checked so that it stays the one `docs/ARCHITECTURE.md` draws.
//!
//! - Inside every crate (the daemon's `src/` and each `crates/*/src`), dependencies between
//!   modules point one way: the graph of `crate::…` and `super::…` paths is acyclic, both between
//!   single modules and between the top-level modules they belong to. Paths in `#[cfg(test)]`
//!   items and in comments do not count; a module reaching into its own children by a bare path
//!   (`link::ModemLink` in `modem/mod.rs`) is not an edge either.
//! - Between crates, each manifest names only the workspace crates its layer allows, and the
//!   daemon links the simulator and the reference platform only behind a feature.
//!
//! The sources are read as text, not compiled: a small scanner blanks comments and literals,
//! follows `mod` declarations from each `lib.rs`, and collects the paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Between crates: the manifests.

/// Each workspace crate and the workspace crates it may depend on (normal, dev or build). A
/// new crate must be placed here, on purpose.
const LAYERS: &[(&str, &[&str])] = &[
    // The lowest layer: no I/O of their own, depend on no workspace crate.
    ("kufatilia-pdu", &[]),
    ("kufatilia-at", &[]),
    ("kufatilia-config", &[]),
    ("kufatilia-intake", &[]),
    ("kufatilia-platform-api", &[]),
    // The store keeps what the config names and what the PDU codec decodes.
    ("kufatilia-store", &["kufatilia-config", "kufatilia-pdu"]),
    // The simulator speaks AT and PDUs; the reference platform speaks the platform contract.
    ("kufatilia-modem-sim", &["kufatilia-at", "kufatilia-pdu"]),
    ("kufatilia-platform-stub", &["kufatilia-platform-api"]),
];

/// What the daemon may link only behind a feature (`demo`): the boxes carry neither.
const DAEMON_OPTIONAL: &[&str] = &["kufatilia-modem-sim", "kufatilia-platform-stub"];

const DEPENDENCY_TABLES: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];

fn manifest(dir: &Path) -> toml::Table {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn package_name(manifest: &toml::Table) -> String {
    manifest["package"]["name"].as_str().unwrap().to_string()
}

/// The crates under `crates/`: (package name, directory).
fn member_crates() -> Vec<(String, PathBuf)> {
    let mut crates: Vec<(String, PathBuf)> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| (package_name(&manifest(&p)), p))
        .collect();
    crates.sort();
    crates
}

/// One dependency on a workspace crate: its package name and whether it is optional.
#[derive(Debug)]
struct WorkspaceDep {
    table: &'static str,
    package: String,
    optional: bool,
}

/// The dependencies of `manifest` on the crates named in `workspace_crates` (a renamed one is
/// known by its `package` key).
fn workspace_deps(
    manifest: &toml::Table,
    workspace_crates: &BTreeSet<String>,
) -> Vec<WorkspaceDep> {
    let mut deps = Vec::new();
    for &table in DEPENDENCY_TABLES {
        let Some(entries) = manifest.get(table).and_then(toml::Value::as_table) else {
            continue;
        };
        for (key, spec) in entries {
            let package = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key)
                .to_string();
            if workspace_crates.contains(&package) {
                let optional = spec
                    .get("optional")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(false);
                deps.push(WorkspaceDep {
                    table,
                    package,
                    optional,
                });
            }
        }
    }
    deps
}

fn workspace_crate_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = member_crates().into_iter().map(|(n, _)| n).collect();
    names.insert(package_name(&manifest(&workspace())));
    names
}

#[test]
fn every_crate_has_a_place_in_the_layering() {
    let placed: BTreeSet<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
    let found: BTreeSet<String> = member_crates().into_iter().map(|(n, _)| n).collect();
    let unplaced: Vec<&String> = found
        .iter()
        .filter(|n| !placed.contains(n.as_str()))
        .collect();
    let gone: Vec<&&str> = placed.iter().filter(|n| !found.contains(**n)).collect();
    assert!(
        unplaced.is_empty() && gone.is_empty(),
        "the layering in tests/architecture.rs and docs/ARCHITECTURE.md disagree with crates/: \
         not placed {unplaced:?}, no longer there {gone:?}"
    );
}

/// What `manifest` (of crate `name`) depends on against [`LAYERS`], in words.
fn against_layering(
    name: &str,
    manifest: &toml::Table,
    workspace_crates: &BTreeSet<String>,
) -> Vec<String> {
    let allowed = LAYERS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[][..], |(_, allowed)| *allowed);
    workspace_deps(manifest, workspace_crates)
        .into_iter()
        .filter(|dep| !allowed.contains(&dep.package.as_str()))
        .map(|dep| {
            format!(
                "{name} -> {} (in [{}]); allowed: {allowed:?}",
                dep.package, dep.table
            )
        })
        .collect()
}

#[test]
fn crates_depend_only_on_the_layers_below_them() {
    let workspace_crates = workspace_crate_names();
    let wrong: Vec<String> = member_crates()
        .into_iter()
        .flat_map(|(name, dir)| against_layering(&name, &manifest(&dir), &workspace_crates))
        .collect();
    assert!(
        wrong.is_empty(),
        "dependencies against the layering:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_layering_check_sees_a_dependency_upwards() {
    let workspace_crates = workspace_crate_names();
    let pdu: toml::Table = r#"
        [package]
        name = "kufatilia-pdu"
        [dependencies]
        hex = "0.4"
        [dev-dependencies]
        sim = { package = "kufatilia-modem-sim", path = "../modem-sim" }
    "#
    .parse()
    .unwrap();
    assert_eq!(
        against_layering("kufatilia-pdu", &pdu, &workspace_crates),
        ["kufatilia-pdu -> kufatilia-modem-sim (in [dev-dependencies]); allowed: []"]
    );
    let store: toml::Table = r#"
        [dependencies]
        kufatilia-config.workspace = true
        kufatilia-pdu.workspace = true
    "#
    .parse()
    .unwrap();
    assert!(against_layering("kufatilia-store", &store, &workspace_crates).is_empty());
}

#[test]
fn the_daemon_links_the_simulator_and_the_stub_only_behind_a_feature() {
    let root = manifest(&workspace());
    let workspace_crates = workspace_crate_names();
    let optional: BTreeSet<String> = workspace_deps(&root, &workspace_crates)
        .into_iter()
        .filter(|d| d.table == "dependencies" && d.optional)
        .map(|d| d.package)
        .collect();
    let expected: BTreeSet<String> = DAEMON_OPTIONAL.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        optional, expected,
        "the daemon's optional [dependencies] on workspace crates"
    );
    let demo: BTreeSet<String> = root["features"]["demo"]
        .as_array()
        .expect("[features] demo")
        .iter()
        .filter_map(|f| f.as_str()?.strip_prefix("dep:").map(str::to_string))
        .collect();
    assert_eq!(demo, expected, "what the `demo` feature turns on");
    let default: Vec<&str> = root["features"]["default"]
        .as_array()
        .expect("[features] default")
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    for package in DAEMON_OPTIONAL {
        assert!(
            !default.iter().any(|f| f.contains(package)),
            "{package} is in the default features directly: {default:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inside a crate: the module graph.

/// A module, as its path from the crate root (`[]` is the root, `["modem", "link"]` is
/// `crate::modem::link`).
type ModPath = Vec<String>;

fn display(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// One module's own source (its children's text blanked), from its file.
#[derive(Debug)]
struct Module {
    file: PathBuf,
    /// Comments and literals blanked, child modules and `#[cfg(test)]` items blanked; same lines
    /// as the file, so that an offset still gives the line.
    text: String,
    /// Line of the file where the module's text starts (an inline module is inside its file).
    first_line: usize,
}

/// Blanks comments, string, char and byte literals (keeping newlines), so that what is left is
/// code: no `crate::` in a doc comment or a test's config text counts, and braces match.
fn blank_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        match comment_or_literal_end(&c, i) {
            Some(end) => {
                out.extend(
                    c[i..end]
                        .iter()
                        .map(|&ch| if ch == '\n' { '\n' } else { ' ' }),
                );
                i = end;
            }
            None => {
                out.push(c[i]);
                i += 1;
            }
        }
    }
    out
}

/// Where the comment or literal starting at `i` ends, if one starts there.
fn comment_or_literal_end(c: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| c.get(k).copied();
    let ident_before = i > 0 && is_ident_char(c[i - 1]);
    match (c[i], at(i + 1)) {
        ('/', Some('/')) => Some((i..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len())),
        ('/', Some('*')) => Some(block_comment_end(c, i)),
        ('r', _) if !ident_before => raw_string_end(c, i + 1),
        ('b', Some('r')) if !ident_before => raw_string_end(c, i + 2),
        ('"', _) => Some(string_end(c, i)),
        // 'x', '\n', '\u{..}'; a lifetime ('a) is not a literal.
        ('\'', Some('\\')) => (i + 3..c.len()).find(|&k| c[k] == '\'').map(|k| k + 1),
        ('\'', _) if at(i + 2) == Some('\'') => Some(i + 3),
        _ => None,
    }
}

/// Block comments nest in Rust.
fn block_comment_end(c: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i + 1 < c.len() {
        match (c[i], c[i + 1]) {
            ('/', '*') => depth += 1,
            ('*', '/') => depth -= 1,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
        if depth == 0 {
            return i;
        }
    }
    c.len()
}

/// `r"…"`, `r#"…"#`: `hashes_at` is just past the `r`; `None` when no raw string starts there.
fn raw_string_end(c: &[char], hashes_at: usize) -> Option<usize> {
    let quote = (hashes_at..c.len()).find(|&k| c[k] != '#')?;
    if c[quote] != '"' {
        return None;
    }
    let hashes = quote - hashes_at;
    let closes = |k: usize| c[k] == '"' && (1..=hashes).all(|h| c.get(k + h) == Some(&'#'));
    Some(
        (quote + 1..c.len())
            .find(|&k| closes(k))
            .map_or(c.len(), |k| k + 1 + hashes),
    )
}

/// `"…"` with its escapes.
fn string_end(c: &[char], open: usize) -> usize {
    let mut k = open + 1;
    while k < c.len() && c[k] != '"' {
        k += if c[k] == '\\' { 2 } else { 1 };
    }
    (k + 1).min(c.len())
}

fn is_ident_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

fn skip_whitespace(c: &[char], mut i: usize) -> usize {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    i
}

/// The index just past the `}` matching the `{` at `open`.
fn matching_brace(c: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (k, &ch) in c.iter().enumerate().skip(open) {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    c.len()
}

/// The end of the item starting at `i`: past its `;`, or past its body's `}`.
fn item_end(c: &[char], i: usize) -> usize {
    match (i..c.len()).find(|&k| c[k] == ';' || c[k] == '{') {
        Some(k) if c[k] == '{' => matching_brace(c, k),
        Some(k) => k + 1,
        None => c.len(),
    }
}

/// Past the attributes (`#[…]`) starting at `i`.
fn skip_attributes(c: &[char], mut i: usize) -> usize {
    loop {
        i = skip_whitespace(c, i);
        if c.get(i) == Some(&'#') && c.get(i + 1) == Some(&'[') {
            let mut depth = 0;
            while i < c.len() {
                match c[i] {
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            return i;
        }
    }
}

fn word_at(c: &[char], i: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    c.get(i..i + w.len()) == Some(&w[..])
        && (i == 0 || !is_ident_char(c[i - 1]))
        && !c.get(i + w.len()).is_some_and(|&ch| is_ident_char(ch))
}

fn ident_at(c: &[char], i: usize) -> Option<(String, usize)> {
    let end = (i..c.len())
        .find(|&k| !is_ident_char(c[k]))
        .unwrap_or(c.len());
    (end > i).then(|| (c[i..end].iter().collect(), end))
}

/// One module's blanked text, split from its children.
struct Split {
    /// The module's own text: its `#[cfg(test)]` items and inline children blanked.
    own: String,
    /// `mod x;`: their files are read next.
    file_children: Vec<String>,
    /// `mod x { … }`: name, text, and the line of the parent's text where it starts (0-based).
    inline_children: Vec<(String, String, usize)>,
}

/// Splits one module's blanked text from its children and `#[cfg(test)]` items.
fn split_module(text: &str) -> Split {
    let c: Vec<char> = text.chars().collect();
    let mut own: Vec<char> = c.clone();
    let mut file_children = Vec::new();
    let mut inline_children = Vec::new();
    let blank = |own: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut own[from..to] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let line_of = |i: usize| c[..i].iter().filter(|&&ch| ch == '\n').count();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '#' && c.get(i + 1) == Some(&'[') {
            let attr_end = skip_attributes(&c, i);
            let attrs: String = c[i..attr_end]
                .iter()
                .filter(|ch| !ch.is_whitespace())
                .collect();
            if attrs.contains("#[cfg(test)]") {
                let end = item_end(&c, attr_end);
                blank(&mut own, i, end);
                i = end;
                continue;
            }
            i = attr_end;
            continue;
        }
        if word_at(&c, i, "mod") {
            let name_at = skip_whitespace(&c, i + 3);
            if let Some((name, after)) = ident_at(&c, name_at) {
                let next = skip_whitespace(&c, after);
                match c.get(next) {
                    Some(';') => {
                        file_children.push(name);
                        i = next + 1;
                        continue;
                    }
                    Some('{') => {
                        let end = matching_brace(&c, next);
                        let inner: String = c[next + 1..end - 1].iter().collect();
                        inline_children.push((name, inner, line_of(next)));
                        blank(&mut own, next + 1, end - 1);
                        i = end;
                        continue;
                    }
                    _ => {}
                }
            }
        }
        i += 1;
    }
    Split {
        own: own.into_iter().collect(),
        file_children,
        inline_children,
    }
}

/// Every module of the crate whose root file is `root` (a `lib.rs`), by path.
fn crate_modules(root: &Path) -> BTreeMap<ModPath, Module> {
    let mut modules = BTreeMap::new();
    let src = std::fs::read_to_string(root).unwrap();
    // The root's children live beside it.
    let dir = root.parent().unwrap().to_path_buf();
    add_module(
        &mut modules,
        Vec::new(),
        root,
        &dir,
        &blank_comments_and_literals(&src),
        1,
    );
    modules
}

/// Adds the module `path` (text `text`, in `file` from `first_line`) and its children; `dir` is
/// where its file children are.
fn add_module(
    modules: &mut BTreeMap<ModPath, Module>,
    path: ModPath,
    file: &Path,
    dir: &Path,
    text: &str,
    first_line: usize,
) {
    let split = split_module(text);
    for name in split.file_children {
        let (child_file, child_dir) = if dir.join(format!("{name}.rs")).is_file() {
            (dir.join(format!("{name}.rs")), dir.join(&name))
        } else {
            (dir.join(&name).join("mod.rs"), dir.join(&name))
        };
        let src = std::fs::read_to_string(&child_file)
            .unwrap_or_else(|e| panic!("{} (module {name}): {e}", child_file.display()));
        let mut child = path.clone();
        child.push(name);
        add_module(
            modules,
            child,
            &child_file,
            &child_dir,
            &blank_comments_and_literals(&src),
            1,
        );
    }
    for (name, inner, line) in split.inline_children {
        let mut child = path.clone();
        child.push(name.clone());
        // An inline module's file children would be in a directory named after it.
        add_module(
            modules,
            child,
            file,
            &dir.join(&name),
            &inner,
            first_line + line,
        );
    }
    modules.insert(
        path,
        Module {
            file: file.to_path_buf(),
            text: split.own,
            first_line,
        },
    );
}

/// A `crate::`/`super::` path found in a module: the segments after the prefix, resolved
/// against `base` (the root for `crate::`, an ancestor for `super::`).
#[derive(Debug)]
struct PathRef {
    base: ModPath,
    segments: Vec<String>,
    line: usize,
    written: String,
}

/// Every `crate::…` and `super::…` path in a module's text; a `use` group (`crate::{a, b::c}`)
/// gives one path per member.
fn path_refs(module: &ModPath, text: &str, first_line: usize) -> Vec<PathRef> {
    let c: Vec<char> = text.chars().collect();
    let mut refs = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let is_crate = word_at(&c, i, "crate") && c.get(i + 5..i + 7) == Some(&[':', ':'][..]);
        let is_super = word_at(&c, i, "super") && c.get(i + 5..i + 7) == Some(&[':', ':'][..]);
        // `$crate::` in a macro is the same path, seen from outside: not an edge of its own.
        if !(is_crate || is_super) || (i > 0 && c[i - 1] == '$') {
            i += 1;
            continue;
        }
        let line = first_line + c[..i].iter().filter(|&&ch| ch == '\n').count();
        let start = i;
        let mut base = if is_crate {
            Vec::new()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        i += 7;
        // super::super::…
        while word_at(&c, i, "super") && c.get(i + 5..i + 7) == Some(&[':', ':'][..]) {
            base.pop();
            i += 7;
        }
        let (paths, end) = read_use_tree(&c, i);
        let written: String = c[start..end]
            .iter()
            .filter(|ch| !ch.is_whitespace())
            .collect();
        for segments in paths {
            refs.push(PathRef {
                base: base.clone(),
                segments,
                line,
                written: written.clone(),
            });
        }
        i = end.max(i + 1);
    }
    refs
}

/// Reads `a::b::C`, `a::{b, c::D}`, `*` or `self` from `i`: the paths it names (a group's
/// members each prefixed with what precedes the group) and where it ends.
fn read_use_tree(c: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        i = skip_whitespace(c, i);
        match c.get(i) {
            Some('{') => {
                let end = matching_brace(c, i);
                let mut paths = Vec::new();
                let mut k = i + 1;
                while k < end - 1 {
                    let (members, member_end) = read_use_tree(c, k);
                    for m in members {
                        paths.push(prefix.iter().cloned().chain(m).collect());
                    }
                    k = skip_whitespace(c, member_end);
                    if c.get(k) == Some(&',') {
                        k += 1;
                    } else {
                        break;
                    }
                }
                return (paths, end);
            }
            Some('*') => return (vec![prefix], i + 1),
            _ => {}
        }
        let Some((ident, after)) = ident_at(c, i) else {
            return (vec![prefix], i);
        };
        if ident != "self" {
            prefix.push(ident);
        }
        i = after;
        if c.get(i..i + 2) == Some(&[':', ':'][..]) {
            i += 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// The module a path lands in: the deepest module its segments walk through.
fn resolve(modules: &BTreeMap<ModPath, Module>, r: &PathRef) -> ModPath {
    let mut target = r.base.clone();
    for segment in &r.segments {
        let mut deeper = target.clone();
        deeper.push(segment.clone());
        if modules.contains_key(&deeper) {
            target = deeper;
        } else {
            break;
        }
    }
    target
}

/// An edge of the module graph, with where it was written (for the failure message).
type Graph = BTreeMap<ModPath, BTreeMap<ModPath, String>>;

fn module_graph(modules: &BTreeMap<ModPath, Module>, root_dir: &Path) -> Graph {
    let mut graph: Graph = modules
        .keys()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for (path, module) in modules {
        for r in path_refs(path, &module.text, module.first_line) {
            let target = resolve(modules, &r);
            if &target == path {
                continue;
            }
            let file = module.file.strip_prefix(root_dir).unwrap_or(&module.file);
            let at = format!("{}:{}: {}", file.display(), r.line, r.written);
            graph.get_mut(path).unwrap().entry(target).or_insert(at);
        }
    }
    graph
}

/// The same graph between top-level modules (`modem::link -> forward` is `modem -> forward`);
/// edges inside one top-level module vanish.
fn top_level(graph: &Graph) -> Graph {
    let top = |m: &ModPath| m.iter().take(1).cloned().collect::<ModPath>();
    let mut collapsed: Graph = BTreeMap::new();
    for (from, edges) in graph {
        let entry = collapsed.entry(top(from)).or_default();
        for (to, at) in edges {
            if top(to) != top(from) {
                entry.entry(top(to)).or_insert_with(|| at.clone());
            }
        }
    }
    collapsed
}

/// A cycle of `graph`, if it has one, as the modules along it (the first repeated at the end).
fn find_cycle(graph: &Graph) -> Option<Vec<ModPath>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        graph: &Graph,
        node: &ModPath,
        marks: &mut BTreeMap<ModPath, Mark>,
        path: &mut Vec<ModPath>,
    ) -> Option<Vec<ModPath>> {
        marks.insert(node.clone(), Mark::OnPath);
        path.push(node.clone());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let from = path.iter().position(|m| m == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(graph, next, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(cycle) = visit(graph, node, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

/// The cycle in words: each arrow with the line that makes it.
fn explain(graph: &Graph, cycle: &[ModPath]) -> String {
    let mut text = cycle.iter().map(display).collect::<Vec<_>>().join(" -> ");
    for pair in cycle.windows(2) {
        text.push_str(&format!(
            "\n    {} -> {}: {}",
            display(&pair[0]),
            display(&pair[1]),
            graph[&pair[0]][&pair[1]]
        ));
    }
    text
}

/// The crates whose modules are checked: (name, `lib.rs`).
fn crate_roots() -> Vec<(String, PathBuf)> {
    let mut roots = vec![(
        package_name(&manifest(&workspace())),
        workspace().join("src/lib.rs"),
    )];
    for (name, dir) in member_crates() {
        roots.push((name, dir.join("src/lib.rs")));
    }
    roots
}

/// The cycles of every crate's module graph, at both granularities, in words.
fn module_cycles() -> Vec<String> {
    let mut found = Vec::new();
    for (name, root) in crate_roots() {
        let modules = crate_modules(&root);
        let graph = module_graph(&modules, &workspace());
        let top = top_level(&graph);
        // A cycle between modules is one between top-level modules too, or inside one: the
        // finer one says more.
        if let Some(cycle) = find_cycle(&graph) {
            found.push(format!("{name}, modules: {}", explain(&graph, &cycle)));
        } else if let Some(cycle) = find_cycle(&top) {
            found.push(format!(
                "{name}, top-level modules: {}",
                explain(&top, &cycle)
            ));
        }
    }
    found
}

#[test]
fn module_dependencies_inside_each_crate_point_one_way() {
    let cycles = module_cycles();
    assert!(
        cycles.is_empty(),
        "module cycles (break each by moving the shared item to the lower module):\n  {}",
        cycles.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The checker itself, on made-up crates: it must see what it is there to see.

/// A crate written to a temporary directory: (file under src/, text).
fn scratch_crate(files: &[(&str, &str)]) -> (tempfile::TempDir, Graph) {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in files {
        let path = dir.path().join("src").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let modules = crate_modules(&dir.path().join("src/lib.rs"));
    let graph = module_graph(&modules, dir.path());
    (dir, graph)
}

fn names(cycle: &[ModPath]) -> Vec<String> {
    cycle.iter().map(display).collect()
}

#[test]
fn the_checker_finds_a_cycle_between_two_modules() {
    let (_dir, graph) = scratch_crate(&[
        ("lib.rs", "mod dialogue;\nmod reply;\n"),
        ("dialogue.rs", "use crate::reply::{self, NoReply};\n"),
        (
            "reply.rs",
            "pub fn f() -> String {\n    crate::dialogue::question()\n}\n",
        ),
    ]);
    let cycle = find_cycle(&graph).expect("the cycle");
    assert_eq!(names(&cycle), ["dialogue", "reply", "dialogue"]);
    let explained = explain(&graph, &cycle);
    assert!(
        explained.contains("src/reply.rs:2: crate::dialogue::question"),
        "{explained}"
    );
}

#[test]
fn the_checker_ignores_tests_comments_and_literals() {
    let (_dir, graph) = scratch_crate(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\n"),
        (
            "b.rs",
            r##"//! Unlike [`crate::a`], …
pub struct B;
const TEXT: &str = "crate::a::x";
const RAW: &str = r#"crate::a::y"#;
fn lifetimes<'a>(x: &'a str) -> char { '{' }
const QUOTE: char = '\'';
const BYTES: &[u8] = b"crate::a::w";
/* outer /* inner crate::a::v */ still a comment: crate::a::u */
#[cfg(test)]
mod tests {
    use crate::a::*;
}
#[cfg(test)]
use crate::a::Z;
"##,
        ),
    ]);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    assert!(graph[&vec!["a".to_string()]].contains_key(&vec!["b".to_string()]));
}

#[test]
fn the_checker_follows_nested_files_groups_and_super() {
    let (_dir, graph) = scratch_crate(&[
        ("lib.rs", "pub mod modem;\nmod forward;\n"),
        ("modem/mod.rs", "mod link;\nmod status;\n"),
        ("modem/link.rs", "use super::{status::S, *};\nmod send;\n"),
        ("modem/link/send.rs", "use super::super::status::S;\n"),
        ("modem/status.rs", "pub struct S;\n"),
        ("forward.rs", "use crate::{modem::status::S};\n"),
    ]);
    let edges = |m: &[&str]| -> Vec<String> {
        let m: ModPath = m.iter().map(|s| s.to_string()).collect();
        graph[&m].keys().map(display).collect()
    };
    assert_eq!(edges(&["modem", "link"]), ["modem", "modem::status"]);
    assert_eq!(edges(&["modem", "link", "send"]), ["modem::status"]);
    assert_eq!(edges(&["forward"]), ["modem::status"]);
    assert_eq!(find_cycle(&graph), None);
    // Between top-level modules, modem's inner arrows vanish.
    assert_eq!(find_cycle(&top_level(&graph)), None);
}

#[test]
fn the_checker_sees_a_cycle_between_top_level_modules_only() {
    // No module points back at the one it uses, but `modem` and `forward` lean on each other.
    let (_dir, graph) = scratch_crate(&[
        ("lib.rs", "mod modem;\nmod forward;\n"),
        ("modem/mod.rs", "mod link;\nmod status;\n"),
        ("modem/link.rs", "use crate::forward::rfc3339_ms;\n"),
        ("modem/status.rs", "pub struct S;\n"),
        ("forward.rs", "use crate::modem::status::S;\n"),
    ]);
    assert_eq!(find_cycle(&graph), None);
    let top = top_level(&graph);
    let cycle = find_cycle(&top).expect("modem <-> forward");
    assert_eq!(names(&cycle), ["forward", "modem", "forward"]);
}

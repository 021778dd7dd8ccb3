//! The typed `Allocator<A>` and the run-time `DynAllocator` are two fronts over one
//! core: they offer the same methods with the same number of arguments, and so do
//! their requests (`Request`, `DynRequest`). This test reads their sources and fails
//! when a method is added to one front only.

use std::collections::BTreeMap;

/// `pub fn` names and argument counts (without `self`) of the inherent `impl` blocks
/// whose header ends with `target {`, in every source file of the runtime.
fn methods(target: &str) -> BTreeMap<String, usize> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut out = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("src/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a source file");
        let mut inside = false;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.starts_with("impl") && !line.contains(" for ") {
                inside = line.trim_end().ends_with(&format!("{target} {{"));
                continue;
            }
            if line == "}" {
                inside = false;
                continue;
            }
            let Some(rest) = line.strip_prefix("    pub fn ") else {
                continue;
            };
            if !inside {
                continue;
            }
            // The whole signature, up to the body.
            let mut sig = rest.to_string();
            while !sig.contains('{') && !sig.contains(" where") {
                match lines.next() {
                    Some(l) => sig.push_str(l.trim()),
                    None => break,
                }
            }
            let name: String = sig
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name, arguments(&sig));
        }
    }
    out
}

/// Arguments other than `self` in a signature's parameter list.
fn arguments(sig: &str) -> usize {
    let Some(open) = sig.find('(') else { return 0 };
    let mut depth = 0;
    let mut params = String::new();
    let mut prev = ' ';
    for c in sig[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' if depth == 0 => break,
            // `->` is no bracket.
            '>' if prev == '-' => {}
            ')' | '>' | ']' => depth -= 1,
            _ => {}
        }
        prev = c;
        params.push(if depth == 0 { c } else { ' ' });
    }
    params
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.contains("self"))
        .count()
}

fn without(mut m: BTreeMap<String, usize>, names: &[&str]) -> BTreeMap<String, usize> {
    for n in names {
        assert!(
            m.remove(*n).is_some(),
            "`{n}` is listed as front-specific but is gone"
        );
    }
    m
}

#[test]
fn both_fronts_offer_the_same_methods() {
    // Construction differs: a typed allocator knows its type, a dynamic one is given
    // it (`restore` too takes the type there).
    let typed = without(
        methods("Allocator<A>"),
        &[
            "new",
            "with_policy",
            "try_new",
            "try_with_policy",
            "restore",
        ],
    );
    let dynamic = without(
        methods("DynAllocator"),
        &["new", "with_default_pools", "ty", "restore"],
    );
    assert!(typed.len() > 25, "found only {typed:?}");
    assert_eq!(typed, dynamic);
}

#[test]
fn both_requests_offer_the_same_methods() {
    let typed = methods("Request<'a, A>");
    let dynamic = methods("DynRequest<'a>");
    assert!(typed.len() >= 8, "found only {typed:?}");
    assert_eq!(typed, dynamic);
}

//! The plan state file: the assignments of a previous `plan --state FILE` run and each
//! space's whole allocator state (an [`addralloc::Snapshot`], with the next-fit
//! position), as JSON, written atomically.
//!
//! ```json
//! {
//!   "addralloc-plan-state": 1,
//!   "spaces": {
//!     "pci": {
//!       "type": "PciAddress",
//!       "allocator": { "version": 1, "space": "domain=0..=0, ...", "policy": "NextFit",
//!                      "last_choice": "0000:00:02.7", "pools": [...], "reservations": [...] }
//!     }
//!   },
//!   "assignments": [
//!     { "device": "net0", "space": "pci", "first": "0000:00:02.0",
//!       "last": "0000:00:02.7", "kind": "auto" }
//!   ]
//! }
//! ```
//!
//! `allocator` may be absent (a state file of an earlier addralloc): the run then starts
//! from the first address.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use addralloc::Snapshot;
use serde_json::{json, Map, Value};

/// The version this tool writes and reads.
pub const VERSION: u64 = 1;

/// One recorded assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub device: String,
    pub space: String,
    pub first: String,
    pub last: String,
    pub kind: String,
}

/// One space of a state file.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceState {
    pub name: String,
    /// The address type's name.
    pub ty: String,
    /// The allocator's whole state; checked against the type when the plan runs.
    pub allocator: Option<Snapshot>,
}

/// A state file's contents.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub spaces: Vec<SpaceState>,
    pub assignments: Vec<Assignment>,
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("`{key}` of {what} must be a string")),
        None => Err(format!("{what} has no `{key}`")),
    }
}

/// Parses a state file's text; the error is a lowercase reason.
pub fn parse(text: &str) -> Result<State, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "not valid JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            lower_first(&e.to_string())
        )
    })?;
    let Value::Object(root) = v else {
        return Err("expected a JSON object".to_string());
    };
    match root.get("addralloc-plan-state") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(Value::Number(n)) => {
            return Err(format!(
                "state version {n} is not supported; this addralloc reads version {VERSION}"
            ))
        }
        _ => {
            return Err(
                "not an addralloc plan state: `addralloc-plan-state` is missing".to_string(),
            )
        }
    }
    let mut state = State::default();
    match root.get("spaces") {
        Some(Value::Object(spaces)) => {
            for (name, s) in spaces {
                let Value::Object(s) = s else {
                    return Err(format!("space `{name}` must be an object"));
                };
                let ty = field(s, "type", &format!("space `{name}`"))?;
                let allocator = match s.get("allocator") {
                    None => None,
                    Some(a) => {
                        Some(serde_json::from_value::<Snapshot>(a.clone()).map_err(|e| {
                            format!(
                            "the `allocator` of space `{name}` is not an allocator snapshot: {}",
                            lower_first(&e.to_string())
                        )
                        })?)
                    }
                };
                state.spaces.push(SpaceState {
                    name: name.clone(),
                    ty: ty.to_string(),
                    allocator,
                });
            }
        }
        None => {}
        Some(_) => return Err("`spaces` must be an object".to_string()),
    }
    match root.get("assignments") {
        Some(Value::Array(items)) => {
            for (i, a) in items.iter().enumerate() {
                let what = format!("assignment {}", i + 1);
                let Value::Object(a) = a else {
                    return Err(format!("{what} must be an object"));
                };
                let device = field(a, "device", &what)?.to_string();
                let what = format!("the assignment of `{device}`");
                let space = field(a, "space", &what)?.to_string();
                if !state.spaces.iter().any(|s| s.name == space) {
                    return Err(format!(
                        "{what} names space `{space}`, which `spaces` does not list"
                    ));
                }
                if state.assignments.iter().any(|x| x.device == device) {
                    return Err(format!("device `{device}` is assigned twice"));
                }
                state.assignments.push(Assignment {
                    space,
                    first: field(a, "first", &what)?.to_string(),
                    last: field(a, "last", &what)?.to_string(),
                    kind: field(a, "kind", &what)?.to_string(),
                    device,
                });
            }
        }
        None => {}
        Some(_) => return Err("`assignments` must be an array".to_string()),
    }
    Ok(state)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The JSON text of a state.
pub fn to_json(state: &State) -> String {
    let mut spaces = Map::new();
    for s in &state.spaces {
        let mut v = json!({ "type": s.ty });
        if let Some(a) = &s.allocator {
            v["allocator"] = serde_json::to_value(a).unwrap_or(Value::Null);
        }
        spaces.insert(s.name.clone(), v);
    }
    let assignments: Vec<Value> = state
        .assignments
        .iter()
        .map(|a| {
            json!({
                "device": a.device,
                "space": a.space,
                "first": a.first,
                "last": a.last,
                "kind": a.kind,
            })
        })
        .collect();
    let v = json!({
        "addralloc-plan-state": VERSION,
        "spaces": spaces,
        "assignments": assignments,
    });
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`; the directory is synced too where the platform allows.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let create = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        let mut f = match create() {
            // A stale file of an earlier run that died with the same process id.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp)?;
                create()?
            }
            other => other?,
        };
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename durable; not every platform can open a directory.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        use addralloc::dynamic::{DynAllocator, DynSchema};
        use addralloc::Policy;
        let schema = DynSchema::from_toml(include_str!("../../../schemas/pci.toml")).unwrap();
        let ty = schema.get("PciAddress").unwrap().clone();
        let mut alloc = DynAllocator::with_default_pools(ty, Policy::NextFit).unwrap();
        alloc.owned_by("net0").reserve_first("*").unwrap();
        let snapshot = alloc.snapshot();
        assert!(snapshot.last_choice.is_some());
        let s = State {
            spaces: vec![
                SpaceState {
                    name: "old".into(),
                    ty: "PciAddress".into(),
                    allocator: None,
                },
                SpaceState {
                    name: "pci".into(),
                    ty: "PciAddress".into(),
                    allocator: Some(snapshot),
                },
            ],
            assignments: vec![Assignment {
                device: "net0".into(),
                space: "pci".into(),
                first: "0000:00:02.0".into(),
                last: "0000:00:02.7".into(),
                kind: "auto".into(),
            }],
        };
        let back = parse(&to_json(&s)).unwrap();
        assert_eq!(back.assignments, s.assignments);
        assert_eq!(back.spaces, s.spaces);
    }

    #[test]
    fn bad_states() {
        for (text, msg) in [
            ("", "not valid JSON"),
            ("[]", "expected a JSON object"),
            ("{}", "`addralloc-plan-state` is missing"),
            ("{\"addralloc-plan-state\": 9}", "version 9 is not supported"),
            (
                "{\"addralloc-plan-state\": 1, \"assignments\": [{\"device\": \"a\", \"space\": \"x\"}]}",
                "which `spaces` does not list",
            ),
            (
                "{\"addralloc-plan-state\": 1, \"assignments\": [1]}",
                "assignment 1 must be an object",
            ),
            (
                "{\"addralloc-plan-state\": 1, \"spaces\": {\"pci\": {\"type\": \"P\", \"allocator\": {\"version\": 1}}}}",
                "the `allocator` of space `pci` is not an allocator snapshot: missing field",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(msg), "{text}: {e}");
        }
    }
}

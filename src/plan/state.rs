//! The plan state: the assignments of a previous run and each space's whole allocator
//! state (a [`Snapshot`], with the next-fit position), as JSON.
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
//!       "last": "0000:00:02.7", "kind": "auto" },
//!     { "device": "nic", "space": "mac", "first": "52:54:00:00:00:01",
//!       "last": "52:54:00:00:00:01", "kind": "auto", "scope": "vm1" }
//!   ]
//! }
//! ```
//!
//! `allocator` may be absent (a state file of an earlier addralloc): the run then starts
//! from the first address. `scope` is absent for a plan without one.

use std::collections::HashSet;

use crate::Snapshot;
use serde_json::{json, Map, Value};

/// The state format this library writes and reads.
pub const VERSION: u64 = 1;

/// One recorded assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The device's name.
    pub device: String,
    /// The space's name.
    pub space: String,
    /// The first address.
    pub first: String,
    /// The last address (the first, for a single address).
    pub last: String,
    /// How the device first got its address (`auto`, `fixed`, ...).
    pub kind: String,
    /// The scope of the plan that placed it; `None` for a plan without one.
    pub scope: Option<String>,
}

/// One space of a state.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceState {
    /// The space's name.
    pub name: String,
    /// The address type's name.
    pub ty: String,
    /// The allocator's whole state; checked against the type when the plan runs.
    pub allocator: Option<Snapshot>,
}

/// What a run leaves for the next one: each space's allocator and every assignment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    /// The spaces, in plan order.
    pub spaces: Vec<SpaceState>,
    /// The assignments: other scopes' first, then the last run's, in plan order.
    pub assignments: Vec<Assignment>,
}

impl State {
    /// Parses a state's JSON text (a state file).
    ///
    /// # Errors
    ///
    /// The reason, in lowercase words, for text that is not a state of this version.
    pub fn from_json(text: &str) -> Result<State, String> {
        parse(text)
    }

    /// The state as JSON text, as a state file holds it.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
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
    let mut space_names: HashSet<String> = HashSet::new();
    let mut devices: HashSet<(Option<String>, String, String)> = HashSet::new();
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
                space_names.insert(name.clone());
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
                if !space_names.contains(&space) {
                    return Err(format!(
                        "{what} names space `{space}`, which `spaces` does not list"
                    ));
                }
                let scope = match a.get("scope") {
                    None => None,
                    Some(Value::String(s)) => {
                        super::model::check_scope(s).map_err(|why| format!("{what}: {why}"))?;
                        Some(s.clone())
                    }
                    Some(_) => return Err(format!("`scope` of {what} must be a string")),
                };
                // A device has one address per space (a NIC: a PCI slot and a MAC).
                if !devices.insert((scope.clone(), device.clone(), space.clone())) {
                    return Err(match &scope {
                        None => format!("device `{device}` is assigned twice"),
                        Some(s) => format!("device `{device}` of scope `{s}` is assigned twice"),
                    });
                }
                state.assignments.push(Assignment {
                    space,
                    first: field(a, "first", &what)?.to_string(),
                    last: field(a, "last", &what)?.to_string(),
                    kind: field(a, "kind", &what)?.to_string(),
                    scope,
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
            let mut v = json!({
                "device": a.device,
                "space": a.space,
                "first": a.first,
                "last": a.last,
                "kind": a.kind,
            });
            if let Some(s) = &a.scope {
                v["scope"] = json!(s);
            }
            v
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        use crate::dynamic::{DynAllocator, DynSchema};
        use crate::Policy;
        let schema = DynSchema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
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
                scope: None,
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
                "{\"addralloc-plan-state\": 1, \"spaces\": {\"m\": {\"type\": \"T\"}}, \"assignments\": [{\"device\": \"a\", \"space\": \"m\", \"first\": \"1\", \"last\": \"1\", \"kind\": \"auto\", \"scope\": 7}]}",
                "`scope` of the assignment of `a` must be a string",
            ),
            (
                "{\"addralloc-plan-state\": 1, \"spaces\": {\"m\": {\"type\": \"T\"}}, \"assignments\": [{\"device\": \"a\", \"space\": \"m\", \"first\": \"1\", \"last\": \"1\", \"kind\": \"auto\", \"scope\": \"\"}]}",
                "the assignment of `a`: a scope name cannot be empty",
            ),
            (
                "{\"addralloc-plan-state\": 1, \"spaces\": {\"m\": {\"type\": \"T\"}}, \"assignments\": [\
                 {\"device\": \"a\", \"space\": \"m\", \"first\": \"1\", \"last\": \"1\", \"kind\": \"auto\", \"scope\": \"vm1\"},\
                 {\"device\": \"a\", \"space\": \"m\", \"first\": \"2\", \"last\": \"2\", \"kind\": \"auto\"},\
                 {\"device\": \"a\", \"space\": \"m\", \"first\": \"3\", \"last\": \"3\", \"kind\": \"auto\", \"scope\": \"vm1\"}]}",
                "device `a` of scope `vm1` is assigned twice",
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

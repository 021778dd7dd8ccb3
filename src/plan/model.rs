//! The plan model: address spaces, fixed reservations and devices, read from the TOML
//! tree of a plan file with every key checked, or built in code. The file layout is
//! documented in `examples/plans/README.md`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::__private::suggest;
use crate::disk::DiskBus;
use crate::schema::TypeDef;

use super::report::Problem;
use super::toml::{Spanned, Table, Value};

/// A string from the plan with its span.
pub type Text = Spanned<String>;

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub spaces: Vec<SpaceDef>,
    /// `[[fixed]]` entries and `[[device]]` entries, in file order; shared, so that a
    /// run's copy of the model and its attempts copy pointers, not entries.
    pub entries: Vec<Arc<Entry>>,
    /// Whose devices a run keeps and releases (`scope = "vm1"`).
    pub scope: Option<Text>,
    /// Entry names to their index in `entries` (a device's first address need);
    /// shared like the entries, copied when a copy changes it.
    pub names: Arc<HashMap<String, usize>>,
    /// Growth rules (`[[grow]]`), in file order.
    pub rules: Vec<Rule>,
}

/// A pool a controller provides once placed: `pattern` may name the controller's own
/// assigned values, `{space.field}` (or `{field}` in the controller's first space).
#[derive(Clone, Debug)]
pub struct Provide {
    /// The space's index in `Model::spaces`.
    pub space: usize,
    pub pattern: Text,
    pub tags: Vec<Text>,
}

/// One more address a device needs (`[[device.need]]`), beside its first.
#[derive(Clone, Debug)]
pub struct Need {
    pub space: usize,
    pub address: Option<Text>,
    pub block: Option<Text>,
    pub tags: Vec<Text>,
    pub within: Option<Text>,
    pub prefer: Vec<Text>,
}

/// A growth rule: when a device it serves finds no room, add a controller from the
/// template and try again.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The controllers' names: `{n}` is a number, the smallest not yet used.
    pub name: Text,
    /// The controller's address needs; the first is its primary address.
    pub needs: Vec<Need>,
    pub provides: Vec<Provide>,
    /// The device tags it serves: a device is served when it is in a space the rule
    /// provides pools in and every tag it requires is here.
    pub serves: Vec<Text>,
    /// How many controllers it may add at most.
    pub limit: Option<usize>,
    /// How many empty controllers it keeps.
    pub spare: usize,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct SpaceDef {
    pub name: Text,
    /// The schema file, relative to the plan's schema directory; unused with `ty`.
    pub schema: Text,
    /// The address type, for spaces built in code.
    pub ty: Option<TypeDef>,
    pub type_name: Option<Text>,
    pub policy: Option<Text>,
    pub disk_bus: Option<(DiskBus, Range<usize>)>,
    pub pools: Vec<PoolDef>,
    /// How automatic choice searches the pools (`order = "address"`, `"creation"`,
    /// `"depth-first"`).
    pub order: super::space::PoolOrder,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct PoolDef {
    pub pattern: Text,
    pub tags: Vec<Text>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub fixed: bool,
    pub name: Text,
    /// The space's index in `Plan::spaces`.
    pub space: usize,
    pub address: Option<Text>,
    pub disk: Option<Text>,
    pub block: Option<Text>,
    pub tags: Vec<Text>,
    pub within: Option<Text>,
    pub prefer: Vec<Text>,
    /// Which of the device's address needs this is: 0 for the first, whose entry
    /// carries the rest of the device.
    pub part: usize,
    /// The pools the device provides once all its addresses are placed.
    pub provides: Vec<Provide>,
    /// For a controller a growth rule added: the rule's index.
    pub rule: Option<usize>,
    /// For a device with a `block` and `at`: the address of the block it keeps
    /// (`function=7`); its companions take theirs, the rest is given back.
    pub at: Option<Text>,
    /// For a companion: the device whose block it is in, and its place there
    /// (`function=0`).
    pub companion: Option<(Text, Text)>,
}

const TOP_KEYS: &[&str] = &["description", "scope", "space", "fixed", "device", "grow"];
const SPACE_KEYS: &[&str] = &[
    "name", "schema", "type", "policy", "disk-bus", "units", "pool", "order",
];
const NEED_KEYS: &[&str] = &["space", "address", "block", "tags", "within", "prefer"];
const PROVIDE_KEYS: &[&str] = &["space", "pattern", "tags"];
const GROW_KEYS: &[&str] = &[
    "name", "space", "block", "tags", "within", "prefer", "need", "provide", "serves", "limit",
    "spare",
];
const POOL_KEYS: &[&str] = &["pattern", "tags"];
const FIXED_KEYS: &[&str] = &["name", "space", "address", "block", "tags"];
const DEVICE_KEYS: &[&str] = &[
    "name",
    "space",
    "address",
    "disk",
    "block",
    "tags",
    "within",
    "prefer",
    "need",
    "provide",
    "at",
    "companion-of",
    "offset",
];

/// Collects problems while reading a plan.
struct Reader {
    problems: Vec<Problem>,
}

fn unknown_key(key: &Text, allowed: &[&str], what: &str) -> Problem {
    let message = match suggest(&key.value, allowed.iter().copied()) {
        Some(a) => {
            format!("unknown key `{}` in {what}; did you mean `{a}`?", key.value)
        }
        _ => {
            let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            format!(
                "unknown key `{}` in {what}; the keys are {}",
                key.value,
                list.join(", ")
            )
        }
    };
    Problem::at(message, key.span.clone())
}

impl Reader {
    fn check_keys(&mut self, t: &Table, allowed: &[&str], what: &str) {
        for (k, _) in &t.entries {
            if !allowed.contains(&k.value.as_str()) {
                self.problems.push(unknown_key(k, allowed, what));
            }
        }
    }

    fn string(&mut self, t: &Table, key: &str, what: &str) -> Option<Text> {
        let v = t.get(key)?;
        match &v.value {
            Value::Str(s) => Some(Spanned {
                value: s.clone(),
                span: v.span.clone(),
            }),
            other => {
                self.problems.push(Problem::at(
                    format!("`{key}` of {what} must be a string, found {}", other.kind()),
                    v.span.clone(),
                ));
                None
            }
        }
    }

    fn required(&mut self, t: &Table, key: &str, what: &str, span: &Range<usize>) -> Option<Text> {
        if t.get(key).is_none() {
            self.problems
                .push(Problem::at(format!("{what} has no `{key}`"), span.clone()));
            return None;
        }
        self.string(t, key, what)
    }

    fn strings(&mut self, t: &Table, key: &str, what: &str) -> Vec<Text> {
        let Some(v) = t.get(key) else {
            return Vec::new();
        };
        let Value::Array(items) = &v.value else {
            self.problems.push(Problem::at(
                format!(
                    "`{key}` of {what} must be an array of strings, found {}",
                    v.value.kind()
                ),
                v.span.clone(),
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(s) => out.push(Spanned {
                    value: s.clone(),
                    span: item.span.clone(),
                }),
                other => self.problems.push(Problem::at(
                    format!(
                        "`{key}` of {what} must hold strings, found {}",
                        other.kind()
                    ),
                    item.span.clone(),
                )),
            }
        }
        out
    }

    /// The tables of an array of tables `key` (`[[space]]`).
    fn tables<'t>(&mut self, t: &'t Table, key: &str) -> Vec<(&'t Table, Range<usize>)> {
        let Some(v) = t.get(key) else {
            return Vec::new();
        };
        let items: Vec<&Spanned<Value>> = match &v.value {
            Value::Array(items) => items.iter().collect(),
            Value::Table(_) => vec![v],
            other => {
                self.problems.push(Problem::at(
                    format!(
                        "`{key}` must be an array of tables (`[[{key}]]`), found {}",
                        other.kind()
                    ),
                    v.span.clone(),
                ));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Table(inner) => out.push((inner, item.span.clone())),
                other => self.problems.push(Problem::at(
                    format!("`{key}` must hold tables, found {}", other.kind()),
                    item.span.clone(),
                )),
            }
        }
        out
    }
}

/// The index of the space `key` of `t` names, reporting an unknown one; the only
/// space when there is one and `t` names none.
fn space_of(
    r: &mut Reader,
    t: &Table,
    spaces: &[SpaceDef],
    what: &str,
    span: &Range<usize>,
) -> Option<usize> {
    match r.string(t, "space", what) {
        Some(s) => {
            let found = spaces.iter().position(|x| x.name.value == s.value);
            if found.is_none() {
                let names: Vec<String> = spaces
                    .iter()
                    .map(|x| format!("`{}`", x.name.value))
                    .collect();
                r.problems.push(Problem::at(
                    format!(
                        "unknown space `{}`; the spaces are {}",
                        s.value,
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                    s.span.clone(),
                ));
            }
            found
        }
        None if spaces.len() == 1 => Some(0),
        None => {
            if t.get("space").is_none() && !spaces.is_empty() {
                r.problems.push(Problem::at(
                    format!("{what} has no `space`, and the plan has several"),
                    span.clone(),
                ));
            }
            None
        }
    }
}

/// One address need: `space`, `address`, `block`, `tags`, `within`, `prefer`.
fn need(
    r: &mut Reader,
    t: &Table,
    spaces: &[SpaceDef],
    what: &str,
    span: &Range<usize>,
) -> Option<Need> {
    let space = space_of(r, t, spaces, what, span);
    let address = r.string(t, "address", what);
    let block = r.string(t, "block", what);
    let tags = r.strings(t, "tags", what);
    let within = r.string(t, "within", what);
    let prefer = r.strings(t, "prefer", what);
    if let (Some(a), Some(w)) = (&address, within.as_ref().or(prefer.first())) {
        r.problems.push(
            Problem::at(
                "`within` and `prefer` are for automatic placement; this address is fixed",
                w.span.clone(),
            )
            .with_note("the address is here", Some(a.span.clone())),
        );
    }
    if let (Some(w), Some(p)) = (&within, prefer.first()) {
        r.problems.push(
            Problem::at(
                "a need has either `within` or `prefer`, not both; put the constraint into each preference",
                w.span.clone(),
            )
            .with_note("the preferences are here", Some(p.span.clone())),
        );
    }
    Some(Need {
        space: space?,
        address,
        block,
        tags,
        within,
        prefer,
    })
}

/// The `[[<what>.need]]` tables of `t`.
fn needs(r: &mut Reader, t: &Table, spaces: &[SpaceDef], owner: &str) -> Vec<Need> {
    let mut out = Vec::new();
    for (nt, nspan) in r.tables(t, "need") {
        let what = format!("a `[[{owner}.need]]`");
        r.check_keys(nt, NEED_KEYS, &what);
        if let Some(n) = need(r, nt, spaces, &what, &nspan) {
            out.push(n);
        }
    }
    out
}

/// The `[[<what>.provide]]` tables of `t`.
fn provides(r: &mut Reader, t: &Table, spaces: &[SpaceDef], owner: &str) -> Vec<Provide> {
    let mut out = Vec::new();
    for (pt, pspan) in r.tables(t, "provide") {
        let what = format!("a `[[{owner}.provide]]`");
        r.check_keys(pt, PROVIDE_KEYS, &what);
        let space = space_of(r, pt, spaces, &what, &pspan);
        let pattern = r.required(pt, "pattern", &what, &pspan);
        let tags = r.strings(pt, "tags", &what);
        if let (Some(space), Some(pattern)) = (space, pattern) {
            out.push(Provide {
                space,
                pattern,
                tags,
            });
        }
    }
    out
}

/// A non-negative integer `key` of `t`.
fn count(r: &mut Reader, t: &Table, key: &str, what: &str) -> Option<usize> {
    let v = t.get(key)?;
    match &v.value {
        Value::Int(n) => match usize::try_from(*n) {
            Ok(n) if n <= 1 << 20 => Some(n),
            _ => {
                r.problems.push(Problem::at(
                    format!("`{key}` of {what} must be 0 to {}, found {n}", 1 << 20),
                    v.span.clone(),
                ));
                None
            }
        },
        other => {
            r.problems.push(Problem::at(
                format!(
                    "`{key}` of {what} must be an integer, found {}",
                    other.kind()
                ),
                v.span.clone(),
            ));
            None
        }
    }
}

fn disk_bus(r: &mut Reader, t: &Table, what: &str) -> Option<(DiskBus, Range<usize>)> {
    let bus = r.string(t, "disk-bus", what);
    let units = t.get("units");
    let Some(bus) = bus else {
        if let Some(u) = units {
            r.problems.push(Problem::at(
                "`units` is only for `disk-bus = \"scsi-wide\"`",
                u.span.clone(),
            ));
        }
        return None;
    };
    let kinds = ["ide", "sata", "fdc", "scsi-narrow", "scsi-wide"];
    let parsed = match bus.value.as_str() {
        "ide" => DiskBus::Ide,
        "sata" => DiskBus::Sata,
        "fdc" => DiskBus::Fdc,
        "scsi-narrow" => DiskBus::ScsiNarrow,
        "scsi-wide" => {
            let n = match units {
                None => 16,
                Some(Spanned {
                    value: Value::Int(n),
                    span,
                }) => match u32::try_from(*n) {
                    Ok(n) if n > 0 => n,
                    _ => {
                        r.problems.push(Problem::at(
                            format!("`units` must be 1 to {}, found {n}", u32::MAX),
                            span.clone(),
                        ));
                        return None;
                    }
                },
                Some(other) => {
                    r.problems.push(Problem::at(
                        format!("`units` must be an integer, found {}", other.value.kind()),
                        other.span.clone(),
                    ));
                    return None;
                }
            };
            return Some((DiskBus::ScsiWide { units: n }, bus.span));
        }
        other => {
            let list: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
            r.problems.push(Problem::at(
                format!(
                    "unknown disk bus `{other}`; the disk buses are {}",
                    list.join(", ")
                ),
                bus.span,
            ));
            return None;
        }
    };
    if let Some(u) = units {
        r.problems.push(Problem::at(
            "`units` is only for `disk-bus = \"scsi-wide\"`",
            u.span.clone(),
        ));
    }
    Some((parsed, bus.span))
}

/// Reads a plan from its TOML tree; every problem is collected.
pub fn read(root: &Table) -> Result<Model, Vec<Problem>> {
    let mut r = Reader {
        problems: Vec::new(),
    };
    r.check_keys(root, TOP_KEYS, "the plan");
    if let Some(d) = root.get("description") {
        if !matches!(d.value, Value::Str(_)) {
            r.problems.push(Problem::at(
                format!("`description` must be a string, found {}", d.value.kind()),
                d.span.clone(),
            ));
        }
    }

    let scope = r.string(root, "scope", "the plan");
    if let Some(s) = &scope {
        if let Err(why) = check_scope(&s.value) {
            r.problems.push(Problem::at(why, s.span.clone()));
        }
    }

    let mut spaces: Vec<SpaceDef> = Vec::new();
    for (t, span) in r.tables(root, "space") {
        let what = "a `[[space]]`";
        r.check_keys(t, SPACE_KEYS, what);
        let name = r.required(t, "name", what, &span);
        let schema = r.required(t, "schema", what, &span);
        let type_name = r.string(t, "type", what);
        let policy = r.string(t, "policy", what);
        if let Some(p) = &policy {
            if let Err(e) = p.value.parse::<crate::Policy>() {
                r.problems.push(Problem::at(e.to_string(), p.span.clone()));
            }
        }
        let disk_bus = disk_bus(&mut r, t, what);
        let order = r.string(t, "order", what);
        let pool_order = match order.as_ref() {
            None => super::space::PoolOrder::Address,
            Some(o) => super::space::PoolOrder::parse(&o.value).unwrap_or_else(|| {
                r.problems.push(Problem::at(
                    format!(
                        "unknown pool order `{}`; the orders are `address`, `creation`, `depth-first`",
                        o.value
                    ),
                    o.span.clone(),
                ));
                super::space::PoolOrder::Address
            }),
        };
        let mut pools = Vec::new();
        for (pt, pspan) in r.tables(t, "pool") {
            let pwhat = "a `[[space.pool]]`";
            r.check_keys(pt, POOL_KEYS, pwhat);
            let pattern = r.required(pt, "pattern", pwhat, &pspan);
            let tags = r.strings(pt, "tags", pwhat);
            if let Some(pattern) = pattern {
                pools.push(PoolDef { pattern, tags });
            }
        }
        let (Some(name), Some(schema)) = (name, schema) else {
            continue;
        };
        if let Some(first) = spaces.iter().find(|s| s.name.value == name.value) {
            r.problems.push(
                Problem::at(
                    format!("space `{}` is defined twice", name.value),
                    name.span.clone(),
                )
                .with_note("first defined here", Some(first.name.span.clone())),
            );
            continue;
        }
        spaces.push(SpaceDef {
            name,
            schema,
            ty: None,
            type_name,
            policy,
            disk_bus,
            pools,
            order: pool_order,
            span,
        });
    }
    if spaces.is_empty() && r.problems.is_empty() {
        r.problems.push(Problem::new(
            "the plan defines no address space: add a `[[space]]` with a `name` and a `schema`",
            None,
        ));
    }

    let mut entries: Vec<Arc<Entry>> = Vec::new();
    // Entry names, for duplicates in plans of many thousand devices.
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut raw: Vec<(bool, &Table, Range<usize>)> = Vec::new();
    for fixed in [true, false] {
        let key = if fixed { "fixed" } else { "device" };
        for (t, span) in r.tables(root, key) {
            raw.push((fixed, t, span));
        }
    }
    // File order: by span start.
    raw.sort_by_key(|(_, _, span)| span.start);
    for (fixed, t, span) in raw {
        let what = if fixed {
            "a `[[fixed]]`"
        } else {
            "a `[[device]]`"
        };
        r.check_keys(t, if fixed { FIXED_KEYS } else { DEVICE_KEYS }, what);
        let disk = if fixed {
            None
        } else {
            r.string(t, "disk", what)
        };
        let name = match (r.string(t, "name", what), &disk) {
            (Some(n), _) => Some(n),
            (None, Some(d)) if t.get("name").is_none() => Some(d.clone()),
            (None, _) => {
                if t.get("name").is_none() {
                    r.problems
                        .push(Problem::at(format!("{what} has no `name`"), span.clone()));
                }
                None
            }
        };
        let address = r.string(t, "address", what);
        let block = r.string(t, "block", what);
        let tags = r.strings(t, "tags", what);
        let within = if fixed {
            None
        } else {
            r.string(t, "within", what)
        };
        let prefer = if fixed {
            Vec::new()
        } else {
            r.strings(t, "prefer", what)
        };
        if fixed && address.is_none() && t.get("address").is_none() {
            r.problems.push(Problem::at(
                "a `[[fixed]]` has no `address`; a fixed reservation is at an address",
                span.clone(),
            ));
        }
        if let (Some(a), Some(d)) = (&address, &disk) {
            r.problems.push(
                Problem::at(
                    "a device has either an `address` or a `disk` name, not both",
                    d.span.clone(),
                )
                .with_note("the address is here", Some(a.span.clone())),
            );
        }
        let placed = address.is_some() || disk.is_some();
        for (k, v) in [("within", &within), ("prefer", &prefer.first().cloned())] {
            if let (true, Some(v)) = (placed, v) {
                r.problems.push(Problem::at(
                    format!("`{k}` is for automatic placement; this device has a fixed address"),
                    v.span.clone(),
                ));
            }
        }
        if let (Some(w), Some(p)) = (&within, prefer.first()) {
            r.problems.push(
                Problem::at(
                    "a device has either `within` or `prefer`, not both; put the constraint into each preference",
                    w.span.clone(),
                )
                .with_note("the preferences are here", Some(p.span.clone())),
            );
        }
        let space = space_of(&mut r, t, &spaces, what, &span);
        if let (Some(d), Some(i)) = (&disk, space) {
            if spaces[i].disk_bus.is_none() {
                r.problems.push(Problem::at(
                    format!(
                        "`disk` needs a space with a `disk-bus`; space `{}` has none",
                        spaces[i].name.value
                    ),
                    d.span.clone(),
                ));
            }
        }
        let at = if fixed { None } else { r.string(t, "at", what) };
        let companion_of = if fixed {
            None
        } else {
            r.string(t, "companion-of", what)
        };
        let offset = if fixed {
            None
        } else {
            r.string(t, "offset", what)
        };
        if let (Some(a), None) = (&at, &block) {
            r.problems.push(Problem::at(
                "`at` is the address a device keeps of its `block`; this device has no `block`",
                a.span.clone(),
            ));
        }
        let companion = match (companion_of, offset) {
            (Some(c), Some(o)) => {
                for (k, v) in [
                    ("address", &address),
                    ("disk", &disk),
                    ("block", &block),
                    ("within", &within),
                ] {
                    if let Some(v) = v {
                        r.problems.push(Problem::at(
                            format!("a companion's address is its `offset` in its device's block; it has no `{k}`"),
                            v.span.clone(),
                        ));
                    }
                }
                Some((c, o))
            }
            (Some(c), None) => {
                r.problems.push(Problem::at(
                    "a companion needs an `offset`: its place in the block (`function=0`)",
                    c.span.clone(),
                ));
                None
            }
            (None, Some(o)) => {
                r.problems.push(Problem::at(
                    "`offset` is for a companion; add `companion-of`",
                    o.span.clone(),
                ));
                None
            }
            (None, None) => None,
        };
        let (extra, provided) = if fixed {
            (Vec::new(), Vec::new())
        } else {
            (
                needs(&mut r, t, &spaces, "device"),
                provides(&mut r, t, &spaces, "device"),
            )
        };
        let (Some(name), Some(space)) = (name, space) else {
            continue;
        };
        if let Some(first) = names.get(&name.value).map(|&i| &entries[i]) {
            r.problems.push(
                Problem::at(
                    format!("`{}` is named twice", name.value),
                    name.span.clone(),
                )
                .with_note("first named here", Some(first.name.span.clone())),
            );
            continue;
        }
        names.insert(name.value.clone(), entries.len());
        entries.push(Arc::new(Entry {
            fixed,
            name: name.clone(),
            space,
            address,
            disk,
            block,
            tags,
            within,
            prefer,
            part: 0,
            provides: provided,
            rule: None,
            at,
            companion,
        }));
        for (i, n) in extra.into_iter().enumerate() {
            entries.push(Arc::new(need_entry(&name, n, i + 1, None)));
        }
    }

    let mut rules = Vec::new();
    for (t, span) in r.tables(root, "grow") {
        let what = "a `[[grow]]`";
        r.check_keys(t, GROW_KEYS, what);
        let name = r.required(t, "name", what, &span);
        let first = need(&mut r, t, &spaces, what, &span);
        let mut extra = needs(&mut r, t, &spaces, "grow");
        let provided = provides(&mut r, t, &spaces, "grow");
        let serves = r.strings(t, "serves", what);
        let limit = count(&mut r, t, "limit", what);
        let spare = count(&mut r, t, "spare", what).unwrap_or(0);
        if let Some(n) = &name {
            if !n.value.contains("{n}") {
                r.problems.push(Problem::at(
                    "the `name` of a `[[grow]]` needs `{n}`, the number of each controller it adds",
                    n.span.clone(),
                ));
            }
        }
        if provided.is_empty() {
            r.problems.push(Problem::at(
                "a `[[grow]]` provides no pool: add a `[[grow.provide]]`",
                span.clone(),
            ));
        }
        let (Some(name), Some(first)) = (name, first) else {
            continue;
        };
        extra.insert(0, first);
        rules.push(Rule {
            name,
            needs: extra,
            provides: provided,
            serves,
            limit,
            spare,
            span,
        });
    }

    if r.problems.is_empty() {
        Ok(Model {
            spaces,
            entries,
            scope,
            names: Arc::new(names),
            rules,
        })
    } else {
        r.problems
            .sort_by_key(|p| p.span.as_ref().map_or(usize::MAX, |s| s.start));
        Err(r.problems)
    }
}

/// The entry of a device's address need number `part`.
pub fn need_entry(name: &Text, n: Need, part: usize, rule: Option<usize>) -> Entry {
    Entry {
        fixed: false,
        name: name.clone(),
        space: n.space,
        address: n.address,
        disk: None,
        block: n.block,
        tags: n.tags,
        within: n.within,
        prefer: n.prefer,
        part,
        provides: Vec::new(),
        rule,
        at: None,
        companion: None,
    }
}

/// Checks a scope name: 1 to 128 characters, none of them control characters.
pub fn check_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Err("a scope name cannot be empty".to_string());
    }
    if scope.chars().count() > 128 {
        return Err(format!(
            "the scope name {} is longer than 128 characters",
            super::report::quote(scope)
        ));
    }
    if scope.chars().any(char::is_control) {
        return Err(format!(
            "the scope name {} has a control character",
            super::report::quote(scope)
        ));
    }
    Ok(())
}

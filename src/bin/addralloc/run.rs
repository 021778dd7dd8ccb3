//! `addralloc plan FILE`: load the spaces, reserve fixed and explicit addresses, keep
//! the assignments of a state file, place the rest in file order, print and save.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use addralloc::disk;
use addralloc::schema::{Schema, TypeDef};
use addralloc::{Count, Error, Policy};
use serde_json::json;

use crate::plan::{Entry, Plan, SpaceDef, Text};
use crate::report::{render, Problem};
use crate::space::{Space, Values};
use crate::state::{self, Assignment, SpaceState, State};
use crate::Failure;

/// How a device got its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `[[fixed]]` reservation.
    Fixed,
    /// A device with an `address`.
    Explicit,
    /// A device with a `disk` name: the address the disk bus gives that name.
    Disk,
    /// Kept from the state file.
    Kept,
    /// From the device's preference list.
    Preferred,
    /// Chosen automatically.
    Auto,
    /// In the state file, but no longer in the plan: given back.
    Released,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Fixed => "fixed",
            Kind::Explicit => "explicit",
            Kind::Disk => "disk",
            Kind::Kept => "kept",
            Kind::Preferred => "preferred",
            Kind::Auto => "auto",
            Kind::Released => "released",
        }
    }
}

/// One row of the result.
#[derive(Clone, Debug)]
pub struct Row {
    pub device: String,
    pub space: String,
    pub first: String,
    pub last: String,
    pub kind: Kind,
    /// For `preferred`: the 1-based position in the preference list.
    pub preference: Option<usize>,
    /// For `disk`: the disk name.
    pub disk: Option<String>,
    /// For `kept`: the kind recorded in the state file, which the new state keeps.
    pub state_kind: Option<String>,
}

/// The number of addresses in `pattern` for a type, or `None` when either does not
/// load (for `describe`).
pub fn pool_capacity(t: &TypeDef, pattern: &str) -> Option<Count> {
    let mut s = Space::new(t, Policy::LowestFirst).ok()?;
    s.add_pool(pattern, &[]).ok()?;
    Some(s.capacity())
}

/// A span inside a quoted TOML string: the 1-based character `column` of its text,
/// when the literal has no escapes (its span is the text plus two quotes).
fn column_span(t: &Text, column: usize) -> Range<usize> {
    if t.span.len() == t.value.len() + 2 {
        let off = t
            .value
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(t.value.len(), |(i, _)| i);
        let len = t.value[off..].chars().next().map_or(0, char::len_utf8);
        let start = t.span.start + 1 + off;
        start..start + len.max(1)
    } else {
        t.span.clone()
    }
}

/// A problem about the value `t`, pointing at the column of a parse error.
fn at_value(t: &Text, message: String, e: &Error) -> Problem {
    let span = match e {
        Error::Parse { column, .. } => column_span(t, *column),
        _ => t.span.clone(),
    };
    Problem::at(message, span)
}

struct Runner<'p> {
    plan: &'p Plan,
    spaces: Vec<Space>,
    problems: Vec<Problem>,
    /// The names of the entries placed so far.
    placed: HashSet<String>,
    rows: Vec<(usize, Row)>,
}

pub fn run(path: &Path, json: bool, state_path: Option<&Path>) -> Result<(), Failure> {
    let text = crate::read_file(path)?;
    let shown = path.display().to_string();
    let fail = |problems: &[Problem]| {
        for p in problems {
            eprint!("{}", render(&shown, &text, p));
        }
        eprintln!(
            "error: the plan `{shown}` has {} error{}; nothing was written",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        if json {
            print_errors_json(&shown, &text, problems);
        }
        Failure::Input
    };
    let root = crate::toml::parse(&text).map_err(|errors| {
        let problems: Vec<Problem> = errors
            .into_iter()
            .map(|e| Problem::new(format!("invalid TOML: {}", e.message), e.span))
            .collect();
        fail(&problems)
    })?;
    let plan = crate::plan::read(&root).map_err(|p| fail(&p))?;

    // Load the schemas, relative to the plan file.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut spaces = Vec::new();
    let mut problems = Vec::new();
    let mut cache: HashMap<PathBuf, Option<Schema>> = HashMap::new();
    for def in &plan.spaces {
        match load_space(def, &base, &mut cache) {
            Ok(s) => spaces.push(s),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        return Err(fail(&problems));
    }

    let state = match state_path {
        Some(sp) if sp.exists() => {
            let st = std::fs::read_to_string(sp).map_err(|e| {
                eprintln!(
                    "error: cannot read the state file `{}`: {}",
                    sp.display(),
                    crate::io_reason(&e)
                );
                Failure::Input
            })?;
            Some(state::parse(&st).map_err(|reason| {
                eprintln!(
                    "error: the state file `{}` is unusable: {reason}; nothing was written",
                    sp.display()
                );
                Failure::Input
            })?)
        }
        _ => None,
    };
    // Each space continues from its allocator in the state file (the next-fit position),
    // which must pass every check of a restore. Spaces whose type changed are reported
    // by `Runner::keep`.
    if let (Some(st), Some(sp)) = (&state, state_path) {
        for saved in &st.spaces {
            let Some(allocator) = &saved.allocator else {
                continue;
            };
            let Some(i) = plan.spaces.iter().position(|d| d.name.value == saved.name) else {
                continue;
            };
            if spaces[i].type_name() != saved.ty {
                continue;
            }
            if let Err(e) = spaces[i].continue_from(allocator) {
                eprintln!(
                    "error: the state file `{}` is unusable: space `{}`: {e}; nothing was written",
                    sp.display(),
                    saved.name
                );
                return Err(Failure::Input);
            }
        }
    }

    let mut r = Runner {
        plan: &plan,
        spaces,
        problems: Vec::new(),
        placed: HashSet::new(),
        rows: Vec::new(),
    };
    r.fixed_and_explicit();
    if let Some(st) = &state {
        r.keep(
            st,
            state_path
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default(),
        );
    }
    // Failed reservations change nothing, so the automatic phase still runs and
    // reports its own problems alongside.
    r.automatic();
    if !r.problems.is_empty() {
        return Err(fail(&r.problems));
    }
    // Released: in the state, no longer in the plan.
    let mut released = Vec::new();
    if let Some(st) = &state {
        let names: HashSet<&str> = plan.entries.iter().map(|e| e.name.value.as_str()).collect();
        for a in &st.assignments {
            if !names.contains(a.device.as_str()) {
                released.push(Row {
                    device: a.device.clone(),
                    space: a.space.clone(),
                    first: a.first.clone(),
                    last: a.last.clone(),
                    kind: Kind::Released,
                    preference: None,
                    disk: None,
                    state_kind: None,
                });
            }
        }
    }
    let mut rows: Vec<(usize, Row)> = std::mem::take(&mut r.rows);
    rows.sort_by_key(|(order, _)| *order);
    let mut rows: Vec<Row> = rows.into_iter().map(|(_, row)| row).collect();

    if let Some(sp) = state_path {
        let new_state = State {
            spaces: plan
                .spaces
                .iter()
                .zip(&r.spaces)
                .map(|(d, s)| SpaceState {
                    name: d.name.value.clone(),
                    ty: s.type_name().to_string(),
                    allocator: Some(s.snapshot()),
                })
                .collect(),
            assignments: rows
                .iter()
                .map(|row| Assignment {
                    device: row.device.clone(),
                    space: row.space.clone(),
                    first: row.first.clone(),
                    last: row.last.clone(),
                    kind: row
                        .state_kind
                        .clone()
                        .unwrap_or_else(|| row.kind.name().to_string()),
                })
                .collect(),
        };
        if let Err(e) = state::write_atomic(sp, &state::to_json(&new_state)) {
            eprintln!(
                "error: cannot write the state file `{}`: {}",
                sp.display(),
                crate::io_reason(&e)
            );
            return Err(Failure::Input);
        }
    }

    rows.extend(released);
    if json {
        print_json(&rows, &plan, &r.spaces);
    } else {
        print_table(&rows);
    }
    Ok(())
}

fn load_space(
    def: &SpaceDef,
    base: &Path,
    cache: &mut HashMap<PathBuf, Option<Schema>>,
) -> Result<Space, Vec<Problem>> {
    let file = base.join(&def.schema.value);
    let schema = cache.entry(file.clone()).or_insert_with(|| {
        let text = std::fs::read_to_string(&file).ok()?;
        Schema::from_toml(&text).ok()
    });
    let Some(schema) = schema else {
        // Say why: unreadable, or errors (which `check` shows in full).
        let why = match std::fs::read_to_string(&file) {
            Err(e) => crate::io_reason(&e),
            Ok(text) => match Schema::from_toml(&text) {
                Err(d) => {
                    let first = d
                        .first()
                        .map(|d| d.render(&file.display().to_string(), &text))
                        .unwrap_or_default();
                    format!(
                        "it has errors; the first: {first} (run `addralloc check {}`)",
                        file.display()
                    )
                }
                Ok(_) => "it could not be loaded".to_string(),
            },
        };
        return Err(vec![Problem::at(
            format!("cannot load the schema `{}`: {why}", file.display()),
            def.schema.span.clone(),
        )]);
    };
    let ty = match &def.type_name {
        Some(n) => match schema.get(&n.value) {
            Some(t) => t,
            None => {
                let names: Vec<String> = schema
                    .types
                    .iter()
                    .map(|t| format!("`{}`", t.name))
                    .collect();
                return Err(vec![Problem::at(
                    format!(
                        "the schema `{}` has no type `{}`; its types are {}",
                        def.schema.value,
                        n.value,
                        names.join(", ")
                    ),
                    n.span.clone(),
                )]);
            }
        },
        None => match schema.types.as_slice() {
            [one] => one,
            types => {
                let names: Vec<String> = types.iter().map(|t| format!("`{}`", t.name)).collect();
                return Err(vec![Problem::at(
                    format!(
                        "the schema `{}` has several types ({}); say which with `type = \"...\"`",
                        def.schema.value,
                        names.join(", ")
                    ),
                    def.span.clone(),
                )]);
            }
        },
    };
    // An unknown name is reported when the plan is read.
    let policy: Policy = def
        .policy
        .as_ref()
        .and_then(|p| p.value.parse().ok())
        .unwrap_or_default();
    let mut space = Space::new(ty, policy).map_err(|e| {
        vec![Problem::at(
            format!("cannot use type `{}`: {e}", ty.name),
            def.schema.span.clone(),
        )]
    })?;
    if let Some((_, span)) = &def.disk_bus {
        let names: Vec<&str> = ty.fields.iter().map(|f| f.name.as_str()).collect();
        if names != ["controller", "bus", "target", "unit"] {
            return Err(vec![Problem::at(
                format!(
                    "`disk-bus` needs a drive address type with the fields `controller`, `bus`, \
                     `target`, `unit`; `{}` has {}",
                    ty.name,
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                span.clone(),
            )]);
        }
    }
    let mut problems = Vec::new();
    if def.pools.is_empty() {
        // The schema's default pools.
        for p in &ty.pools {
            let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
            if let Err(e) = space.add_pool(&p.pattern, &tags) {
                problems.push(Problem::at(
                    format!("the schema's pool `{}` is unusable: {e}", p.pattern),
                    def.schema.span.clone(),
                ));
            }
        }
        if ty.pools.is_empty() {
            problems.push(Problem::at(
                format!(
                    "space `{}` has no pools, and type `{}` has no default pools: add a \
                     `[[space.pool]]` with a `pattern`",
                    def.name.value, ty.name
                ),
                def.span.clone(),
            ));
        }
    }
    for p in &def.pools {
        let tags: Vec<&str> = p.tags.iter().map(|t| t.value.as_str()).collect();
        if let Err(e) = space.add_pool(&p.pattern.value, &tags) {
            problems.push(Problem::at(format!("{e}"), p.pattern.span.clone()));
        }
    }
    if problems.is_empty() {
        Ok(space)
    } else {
        Err(problems)
    }
}

impl Runner<'_> {
    fn space_name(&self, e: &Entry) -> String {
        self.plan.spaces[e.space].name.value.clone()
    }

    fn extents(&mut self, e: &Entry) -> Option<Vec<u128>> {
        let space = &self.spaces[e.space];
        match &e.block {
            None => Some(vec![1; space.field_count()]),
            Some(b) => match space.parse_block(&b.value) {
                Ok(x) => Some(x),
                Err(err) => {
                    self.problems
                        .push(Problem::at(format!("{err}"), b.span.clone()));
                    None
                }
            },
        }
    }

    fn tags(e: &Entry) -> Vec<&str> {
        e.tags.iter().map(|t| t.value.as_str()).collect()
    }

    /// The problem for a failed reservation of `e` at `where_` (the span to point at).
    fn failure(&self, e: &Entry, err: &Error, at: Range<usize>) -> Problem {
        let space = self.space_name(e);
        match err {
            Error::AlreadyReserved {
                address,
                owner: Some(owner),
            } => {
                let p = Problem::at(
                    format!(
                        "address {address} of `{}` is already reserved by `{owner}`",
                        e.name.value
                    ),
                    at,
                );
                match self.plan.entries.iter().find(|x| x.name.value == *owner) {
                    Some(other) => {
                        let span = other
                            .address
                            .as_ref()
                            .or(other.disk.as_ref())
                            .map_or(other.name.span.clone(), |t| t.span.clone());
                        p.note(format!("`{owner}` reserves it here"), Some(span))
                    }
                    None => p.note(format!("`{owner}` holds it in the state file"), None),
                }
            }
            other => Problem::at(
                format!(
                    "cannot place `{}` in space `{space}`: {other}",
                    e.name.value
                ),
                at,
            ),
        }
    }

    fn record(
        &mut self,
        order: usize,
        e: &Entry,
        first: Values,
        last: Values,
        kind: Kind,
        pref: Option<usize>,
    ) {
        let s = &self.spaces[e.space];
        let row = Row {
            device: e.name.value.clone(),
            space: self.space_name(e),
            first: s.show(&first),
            last: s.show(&last),
            kind,
            preference: pref,
            disk: e.disk.as_ref().map(|d| d.value.clone()),
            state_kind: None,
        };
        self.placed.insert(e.name.value.clone());
        self.rows.push((order, row));
    }

    /// Phase 1: `[[fixed]]` and devices with an `address` or a `disk`, in file order.
    fn fixed_and_explicit(&mut self) {
        let plan = self.plan;
        for (order, e) in plan.entries.iter().enumerate() {
            let (first, at, kind) = if let Some(a) = &e.address {
                match self.spaces[e.space].parse(&a.value) {
                    Ok(v) => (v, a, if e.fixed { Kind::Fixed } else { Kind::Explicit }),
                    Err(err) => {
                        self.problems.push(at_value(a, format!("{err}"), &err));
                        continue;
                    }
                }
            } else if let Some(d) = &e.disk {
                match self.disk_address(e, d) {
                    Some(v) => (v, d, Kind::Disk),
                    None => continue,
                }
            } else {
                continue;
            };
            let Some(ext) = self.extents(e) else { continue };
            let space = &mut self.spaces[e.space];
            let last = match space.block_end(&first, &ext) {
                Ok(l) => l,
                Err(msg) => {
                    self.problems.push(Problem::at(msg, at.span.clone()));
                    continue;
                }
            };
            let tags = Self::tags(e);
            match space.reserve_range(&first, &last, &e.name.value, &tags) {
                Ok(()) => self.record(order, e, first, last, kind, None),
                Err(err) => {
                    let p = self.failure(e, &err, at.span.clone());
                    self.problems.push(p);
                }
            }
        }
    }

    fn disk_address(&mut self, e: &Entry, d: &Text) -> Option<Values> {
        let bus = self.plan.spaces[e.space].disk_bus.as_ref()?.0;
        let index = match disk::index(&d.value) {
            Ok(i) => i,
            Err(err) => {
                self.problems
                    .push(Problem::at(format!("{err}"), d.span.clone()));
                return None;
            }
        };
        let drive = match disk::drive_address(bus, index) {
            Ok(a) => a,
            Err(err) => {
                self.problems
                    .push(Problem::at(format!("{err}"), d.span.clone()));
                return None;
            }
        };
        let v = vec![
            drive.controller.into(),
            drive.bus.into(),
            drive.target.into(),
            drive.unit.into(),
        ];
        match self.spaces[e.space].check_values(&v) {
            Ok(()) => Some(v),
            Err(err) => {
                self.problems.push(Problem::at(
                    format!(
                        "disk `{}` maps to drive address {drive} on a `{}` bus, which type `{}` cannot hold: {err}",
                        d.value,
                        bus.name(),
                        self.spaces[e.space].type_name()
                    ),
                    d.span.clone(),
                ));
                None
            }
        }
    }

    /// Phase 2: automatic devices recorded in the state file keep their addresses.
    fn keep(&mut self, st: &State, state_name: String) {
        let plan = self.plan;
        for SpaceState { name, ty, .. } in &st.spaces {
            if let Some(i) = plan.spaces.iter().position(|s| s.name.value == *name) {
                let have = self.spaces[i].type_name();
                if have != ty {
                    self.problems.push(Problem::at(
                        format!(
                            "the state file `{state_name}` holds space `{name}` of type `{ty}`, \
                             but the plan's space `{name}` has type `{have}`; use a new state file"
                        ),
                        plan.spaces[i].name.span.clone(),
                    ));
                }
            }
        }
        if !self.problems.is_empty() {
            return;
        }
        let recorded: HashMap<&str, &Assignment> = st
            .assignments
            .iter()
            .map(|a| (a.device.as_str(), a))
            .collect();
        for (order, e) in plan.entries.iter().enumerate() {
            if e.address.is_some() || e.disk.is_some() {
                continue;
            }
            let Some(a) = recorded.get(e.name.value.as_str()) else {
                continue;
            };
            if a.space != self.space_name(e) {
                continue; // Moved to another space: placed afresh.
            }
            let Some(ext) = self.extents(e) else { continue };
            let space = &mut self.spaces[e.space];
            let (first, last) = match (space.parse(&a.first), space.parse(&a.last)) {
                (Ok(f), Ok(l)) => (f, l),
                (Err(err), _) | (_, Err(err)) => {
                    self.problems.push(Problem::at(
                        format!(
                            "the state file `{state_name}` has an unusable address for `{}`: {err}",
                            e.name.value
                        ),
                        e.name.span.clone(),
                    ));
                    continue;
                }
            };
            // The block shape changed: placed afresh.
            if space.block_end(&first, &ext).ok().as_ref() != Some(&last) {
                continue;
            }
            let tags = Self::tags(e);
            match space.reserve_range(&first, &last, &e.name.value, &tags) {
                Ok(()) => {
                    self.record(order, e, first, last, Kind::Kept, None);
                    if let Some((_, row)) = self.rows.last_mut() {
                        row.state_kind = Some(a.kind.clone());
                    }
                }
                Err(err) => {
                    let p = self.failure(e, &err, e.name.span.clone()).note(
                        format!(
                            "`{}` is at {} in the state file `{state_name}`; remove it from the \
                             state file to place it again",
                            e.name.value, a.first
                        ),
                        None,
                    );
                    self.problems.push(p);
                }
            }
        }
    }

    /// Phase 3: every other device, in file order.
    fn automatic(&mut self) {
        let plan = self.plan;
        for (order, e) in plan.entries.iter().enumerate() {
            if self.placed.contains(&e.name.value) || e.address.is_some() || e.disk.is_some() {
                continue;
            }
            let Some(ext) = self.extents(e) else { continue };
            let tags = Self::tags(e);
            let space = &mut self.spaces[e.space];
            if !e.prefer.is_empty() {
                let prefs: Vec<&str> = e.prefer.iter().map(|p| p.value.as_str()).collect();
                match space.reserve_preferred(&prefs, &ext, &e.name.value, &tags) {
                    Ok((first, last, i)) => {
                        self.record(order, e, first, last, Kind::Preferred, Some(i + 1))
                    }
                    Err((err, i)) => {
                        let at = i
                            .and_then(|i| e.prefer.get(i))
                            .map_or(e.name.span.clone(), |p| p.span.clone());
                        let p = self.failure(e, &err, at);
                        self.problems.push(p);
                    }
                }
                continue;
            }
            let within = e.within.as_ref().map(|w| w.value.as_str());
            match space.reserve_first(within, &ext, &e.name.value, &tags) {
                Ok((first, last)) => self.record(order, e, first, last, Kind::Auto, None),
                Err(err) => {
                    let at = match (&err, &e.within, &e.block) {
                        (Error::BadPattern { .. } | Error::OutOfRange { .. }, Some(w), _) => {
                            w.span.clone()
                        }
                        (Error::BadBlock { .. }, _, Some(b)) => b.span.clone(),
                        _ => e.name.span.clone(),
                    };
                    let p = self.failure(e, &err, at);
                    self.problems.push(p);
                }
            }
        }
    }
}

fn address_text(row: &Row) -> String {
    if row.first == row.last {
        row.first.clone()
    } else {
        format!("{}..={}", row.first, row.last)
    }
}

fn kind_text(row: &Row) -> String {
    match (row.kind, row.preference, &row.disk) {
        (Kind::Preferred, Some(i), _) => format!("preferred #{i}"),
        _ => row.kind.name().to_string(),
    }
}

fn print_table(rows: &[Row]) {
    let header = ["DEVICE", "SPACE", "ADDRESS", "KIND"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.device.clone(),
                r.space.clone(),
                address_text(r),
                kind_text(r),
            ]
        })
        .collect();
    let mut w = header.map(str::len);
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: [&str; 4]| {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        ));
        out.push('\n');
    };
    line(&mut out, header);
    for c in &cells {
        line(&mut out, [&c[0], &c[1], &c[2], &c[3]]);
    }
    print!("{out}");
}

/// With `--json`, the errors also go to standard output, for machines.
fn print_errors_json(path: &str, source: &str, problems: &[Problem]) {
    let errors: Vec<serde_json::Value> = problems
        .iter()
        .map(|p| {
            let mut v = json!({ "message": p.message, "file": path });
            if let Some(span) = &p.span {
                let (line, column) = crate::report::line_col(source, span.start);
                v["line"] = json!(line);
                v["column"] = json!(column);
            }
            v
        })
        .collect();
    let v = json!({ "errors": errors });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn print_json(rows: &[Row], plan: &Plan, spaces: &[Space]) {
    let assignments: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = json!({
                "device": r.device,
                "space": r.space,
                "first": r.first,
                "last": r.last,
                "kind": r.kind.name(),
            });
            if let Some(i) = r.preference {
                v["preference"] = json!(i);
            }
            if let Some(d) = &r.disk {
                v["disk"] = json!(d);
            }
            v
        })
        .collect();
    let space_info: Vec<serde_json::Value> = plan
        .spaces
        .iter()
        .zip(spaces)
        .map(|(d, s)| {
            json!({
                "space": d.name.value,
                "type": s.type_name(),
                "capacity": s.capacity().to_string(),
                "free": s.free_count().to_string(),
            })
        })
        .collect();
    let v = json!({ "assignments": assignments, "spaces": space_info });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

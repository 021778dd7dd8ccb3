//! Running a plan: load the spaces, take other scopes' reservations, reserve fixed and
//! explicit addresses, keep the assignments of the previous state, place the rest in
//! plan order; and single-device changes to a placed plan.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::disk;
use crate::dynamic::{DynBlock, DynPattern};
use crate::schema::{Schema, TypeDef};
use crate::{Count, Error, Policy};

use super::model::{Entry, Model, SpaceDef, Text};
use super::report::{quote, Problem};
use super::space::{Space, Values};
use super::state::{Assignment, SpaceState, State};

mod topology;

pub use topology::{Node, ProvidedPool};

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
    /// A controller a growth rule added.
    Added,
}

impl Kind {
    /// The kind's word in tables, JSON and state files: `fixed`, `auto`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Fixed => "fixed",
            Kind::Explicit => "explicit",
            Kind::Disk => "disk",
            Kind::Kept => "kept",
            Kind::Preferred => "preferred",
            Kind::Auto => "auto",
            Kind::Released => "released",
            Kind::Added => "added",
        }
    }
}

/// One device's addresses: a row of a run's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The device's name.
    pub device: String,
    /// The space's name.
    pub space: String,
    /// The first address, in the type's format.
    pub first: String,
    /// The last address (the first, for a single address).
    pub last: String,
    /// How the device got its address.
    pub kind: Kind,
    /// For [`Kind::Preferred`]: the 1-based position in the preference list.
    pub preference: Option<usize>,
    /// For [`Kind::Disk`]: the disk name.
    pub disk: Option<String>,
    /// For [`Kind::Kept`]: the kind recorded in the previous state, which the new
    /// state keeps.
    pub(crate) state_kind: Option<String>,
}

impl Placement {
    /// `first`, or `first..=last` for a block.
    pub fn address_text(&self) -> String {
        if self.first == self.last {
            self.first.clone()
        } else {
            format!("{}..={}", self.first, self.last)
        }
    }

    /// The kind as printed: `auto`, `preferred #2`, ...
    pub fn kind_text(&self) -> String {
        match (self.kind, self.preference) {
            (Kind::Preferred, Some(i)) => format!("preferred #{i}"),
            _ => self.kind.name().to_string(),
        }
    }
}

type Row = Placement;

/// A reservation outside every pool, which a controller placed later may provide.
#[derive(Clone)]
enum Deferred {
    Explicit(usize),
    Kept(usize, Assignment),
}

/// The number of addresses in each pool of a type, in order (`None` for a pool that
/// does not load), each counted on its own; the type is checked once.
pub fn pool_capacities(t: &TypeDef) -> Vec<Option<Count>> {
    let Ok(space) = Space::new(t, Policy::LowestFirst) else {
        return vec![None; t.pools.len()];
    };
    t.pools
        .iter()
        .map(|p| {
            let mut s = space.empty_copy();
            s.add_pool(&p.pattern, &[]).ok()?;
            Some(s.capacity())
        })
        .collect()
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

/// How a plan runs: where its schema files are, the state of the previous run, and
/// whose devices it places.
#[derive(Clone, Debug, Default)]
pub struct RunOptions<'a> {
    schema_dir: PathBuf,
    previous: Option<&'a State>,
    state_name: String,
    scope: Option<String>,
}

impl<'a> RunOptions<'a> {
    /// A first run; the plan's `schema` paths are relative to `schema_dir` (a plan
    /// file's directory).
    pub fn new(schema_dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            schema_dir: schema_dir.into(),
            ..RunOptions::default()
        }
    }

    /// Continues from the state of a previous run; `name` names it in messages (the
    /// state file's path).
    pub fn previous(mut self, state: &'a State, name: impl Into<String>) -> Self {
        self.previous = Some(state);
        self.state_name = name.into();
        self
    }

    /// Places the devices of `scope`, overriding the plan's own `scope`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// A first run again: no previous state (a store that holds none).
    pub(super) fn without_previous(mut self) -> Self {
        self.previous = None;
        self.state_name.clear();
        self
    }
}

/// Why a plan could not be placed; nothing was placed.
#[derive(Clone, Debug)]
pub enum PlanError {
    /// Problems in the plan, each pointing into its text where it has one.
    Problems(Vec<Problem>),
    /// The previous state cannot be used: the reason, in lowercase words.
    State(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Problems(ps) => {
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    f.write_str(&p.message)?;
                }
                Ok(())
            }
            PlanError::State(reason) => write!(f, "the previous state is unusable: {reason}"),
        }
    }
}

impl std::error::Error for PlanError {}

/// One space's size after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceCount {
    /// The space's name.
    pub space: String,
    /// Its address type.
    pub type_name: String,
    /// The number of addresses in its pools.
    pub capacity: Count,
    /// How many of them are free.
    pub free: Count,
}

/// A placed plan: every device's addresses, what the previous state held that the
/// plan no longer has, the new state, and single-device changes.
pub struct Placed {
    r: Runner,
    released: Vec<Placement>,
    /// Other scopes' assignments, carried into the new state unchanged.
    others: Vec<Assignment>,
    /// The spaces of the previous state that this plan has not but other scopes'
    /// assignments name, carried over unchanged.
    other_spaces: Vec<SpaceState>,
}

#[derive(Clone)]
struct Runner {
    plan: Model,
    scope: Option<String>,
    spaces: Vec<Space>,
    problems: Vec<Problem>,
    /// Which entries of `plan.entries` are placed, by index (kept in step with the
    /// entries when devices are added, removed or instantiated).
    done: Vec<bool>,
    /// Each placed controller's first addresses, by space, for the patterns it
    /// provides (devices that provide nothing are not kept).
    values: HashMap<String, Vec<(usize, Values)>>,
    /// The pools each controller provides: space and pattern.
    provided: HashMap<String, Vec<(usize, String)>>,
    /// The growth rules whose controller found no room, for the next round.
    starved: Vec<bool>,
    /// Reservations outside every pool, tried again once controllers are placed.
    deferred: Vec<Deferred>,
    /// Parsed `within` patterns and block shapes by space and text, shared by every
    /// copy of the runner (a parse depends on the text only).
    parsed: std::rc::Rc<std::cell::RefCell<Parsed>>,
    /// Controllers growth may still try to add in this run, shared by every copy of
    /// the runner (rules that serve each other cannot make a run take forever).
    growth_budget: std::rc::Rc<std::cell::Cell<usize>>,
    rows: Vec<(usize, Row)>,
    /// The previous state's name in messages.
    state_name: String,
}

/// Parsed `within` patterns and block shapes, one map per space, by text.
struct Parsed {
    within: Vec<HashMap<String, DynPattern>>,
    shapes: Vec<HashMap<String, DynBlock>>,
}

/// Spans of a plan built in code point nowhere.
fn unspanned(mut problems: Vec<Problem>) -> Vec<Problem> {
    for p in &mut problems {
        p.span = None;
        for n in &mut p.notes {
            n.span = None;
        }
    }
    problems
}

pub(crate) fn run(plan: &Model, spanned: bool, opts: &RunOptions<'_>) -> Result<Placed, PlanError> {
    let fail = |problems: Vec<Problem>| {
        PlanError::Problems(if spanned {
            problems
        } else {
            unspanned(problems)
        })
    };
    // Load the schemas, relative to the schema directory.
    let mut spaces = Vec::new();
    let mut problems = Vec::new();
    let mut cache: HashMap<PathBuf, Result<Schema, String>> = HashMap::new();
    for def in &plan.spaces {
        match load_space(def, &opts.schema_dir, &mut cache) {
            Ok(s) => spaces.push(s),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let scope = opts
        .scope
        .clone()
        .or_else(|| plan.scope.as_ref().map(|s| s.value.clone()));
    if let Some(s) = &opts.scope {
        super::model::check_scope(s).map_err(|why| fail(vec![Problem::new(why, None)]))?;
    }
    let space_index: HashMap<&str, usize> = plan
        .spaces
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.value.as_str(), i))
        .collect();

    // Each space continues from its allocator in the state (the next-fit position),
    // which must pass every check of a restore. Spaces whose type changed are reported
    // by `Runner::keep`.
    if let Some(st) = opts.previous {
        for saved in &st.spaces {
            let Some(allocator) = &saved.allocator else {
                continue;
            };
            let Some(&i) = space_index.get(saved.name.as_str()) else {
                continue;
            };
            if spaces[i].type_name() != saved.ty {
                continue;
            }
            spaces[i]
                .continue_from(allocator)
                .map_err(|e| PlanError::State(format!("space `{}`: {e}", saved.name)))?;
        }
    }

    let mut r = Runner {
        plan: plan.clone(),
        scope,
        spaces,
        problems: Vec::new(),
        done: vec![false; plan.entries.len()],
        values: HashMap::new(),
        provided: HashMap::new(),
        starved: vec![false; plan.rules.len()],
        deferred: Vec::new(),
        parsed: std::rc::Rc::new(std::cell::RefCell::new(Parsed {
            within: vec![HashMap::new(); plan.spaces.len()],
            shapes: vec![HashMap::new(); plan.spaces.len()],
        })),
        growth_budget: std::rc::Rc::new(std::cell::Cell::new(GROWTH_BUDGET)),
        // One row per address need, as a rule.
        rows: Vec::with_capacity(plan.entries.len()),
        state_name: opts.state_name.clone(),
    };
    let mut others = Vec::new();
    if let Some(st) = opts.previous {
        r.check_types(st);
        if !r.problems.is_empty() {
            return Err(fail(std::mem::take(&mut r.problems)));
        }
        others = r.take_others(st, &space_index)?;
    }
    r.fixed_and_explicit();
    if let Some(st) = opts.previous {
        r.recreate_added(st);
        r.keep(st);
    }
    r.retry_deferred();
    // Failed reservations change nothing, so the automatic phase still runs and
    // reports its own problems alongside.
    r.automatic_rounds();
    if !r.problems.is_empty() {
        return Err(fail(std::mem::take(&mut r.problems)));
    }
    // Released: this scope's devices in the state, no longer in the plan.
    let mut released = Vec::new();
    if let Some(st) = opts.previous {
        for a in &st.assignments {
            if a.scope == r.scope && !r.plan.names.contains_key(&a.device) {
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
    r.sort_rows();
    let mut other_spaces = Vec::new();
    if let Some(st) = opts.previous {
        let named: HashSet<&str> = others.iter().map(|a| a.space.as_str()).collect();
        other_spaces = st
            .spaces
            .iter()
            .filter(|s| {
                !space_index.contains_key(s.name.as_str()) && named.contains(s.name.as_str())
            })
            .cloned()
            .collect();
    }
    Ok(Placed {
        r,
        released,
        others,
        other_spaces,
    })
}

impl Placed {
    /// Every device of the plan with its addresses, in plan order.
    pub fn placements(&self) -> impl Iterator<Item = &Placement> + '_ {
        self.r.rows.iter().map(|(_, row)| row)
    }

    /// The devices of the previous state (of this scope) that the plan no longer has:
    /// their addresses are free again.
    pub fn released(&self) -> &[Placement] {
        &self.released
    }

    /// The placed topology: every device once, in placement order, with the
    /// controller it sits behind and the pools it provides (what `addralloc plan
    /// --tree` draws).
    pub fn topology(&self) -> Vec<Node> {
        self.r.topology()
    }

    /// Each space's name and address type, in plan order (for a store that keeps
    /// addresses in its own form, such as a packed index).
    pub fn space_types(
        &self,
    ) -> impl Iterator<Item = (&str, &std::sync::Arc<crate::DynType>)> + '_ {
        self.r
            .plan
            .spaces
            .iter()
            .zip(&self.r.spaces)
            .map(|(d, s)| (d.name.value.as_str(), s.ty()))
    }

    /// The scope this run placed.
    pub fn scope(&self) -> Option<&str> {
        self.r.scope.as_deref()
    }

    /// Each space's capacity and free count, in plan order.
    pub fn space_counts(&self) -> Vec<SpaceCount> {
        self.r
            .plan
            .spaces
            .iter()
            .zip(&self.r.spaces)
            .map(|(d, s)| SpaceCount {
                space: d.name.value.clone(),
                type_name: s.type_name().to_string(),
                capacity: s.capacity(),
                free: s.free_count(),
            })
            .collect()
    }

    /// The state to keep for the next run: other scopes' assignments as they were,
    /// then this run's; each space's allocator, then the other scopes' spaces that
    /// this plan does not have, as they were.
    pub fn state(&self) -> State {
        let r = &self.r;
        let mut assignments = self.others.clone();
        assignments.extend(r.rows.iter().map(|(_, row)| {
            Assignment {
                device: row.device.clone(),
                space: row.space.clone(),
                first: row.first.clone(),
                last: row.last.clone(),
                kind: row
                    .state_kind
                    .clone()
                    .unwrap_or_else(|| row.kind.name().to_string()),
                scope: r.scope.clone(),
            }
        }));
        State {
            spaces: r
                .plan
                .spaces
                .iter()
                .zip(&r.spaces)
                .map(|(d, s)| SpaceState {
                    name: d.name.value.clone(),
                    ty: s.type_name().to_string(),
                    allocator: Some(s.snapshot()),
                })
                .chain(self.other_spaces.iter().cloned())
                .collect(),
            assignments,
        }
    }

    /// Adds one device to the placed plan and places it, as a run of the plan with
    /// the device added (last) and this state would. On failure nothing changes.
    ///
    /// # Errors
    ///
    /// [`PlanError::Problems`] for a device the plan cannot take (a name already used,
    /// an unknown space, conflicting keys) or cannot place.
    pub fn add_device(&mut self, device: super::DeviceSpec) -> Result<&Placement, PlanError> {
        let checkpoint = self.r.clone();
        let r = &mut self.r;
        let end = r.plan.entries.len();
        super::add_entry(&mut r.plan, device).map_err(|p| PlanError::Problems(unspanned(p)))?;
        // Before the controllers growth added, where a re-run has it: the plan's
        // devices come first, then the added controllers the state brings back.
        let order = r
            .plan
            .entries
            .iter()
            .position(|e| e.rule.is_some())
            .unwrap_or(end)
            .min(end);
        let k = r.plan.entries.len() - end;
        r.plan.entries[order..].rotate_right(k);
        r.done.resize(r.plan.entries.len(), false);
        r.done[order..].rotate_right(k);
        for (o, _) in &mut r.rows {
            if *o >= order {
                *o += k;
            }
        }
        r.plan.names = std::sync::Arc::new(
            r.plan
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.part == 0)
                .map(|(i, e)| (e.name.value.clone(), i))
                .collect(),
        );
        let name = r.plan.entries[order].name.value.clone();
        for i in r.parts(&name) {
            let e = r.plan.entries[i].clone();
            if e.address.is_some() || e.disk.is_some() {
                r.place_explicit(i, &e, false);
            } else {
                r.place_auto(i, &e);
            }
        }
        if !r.problems.is_empty() {
            let problems = unspanned(std::mem::take(&mut r.problems));
            *r = checkpoint;
            return Err(PlanError::Problems(problems));
        }
        // As a re-run would: the growth rules' spare controllers.
        r.spares();
        // Controllers added for it come after it in plan order.
        r.sort_rows();
        match r.rows.iter().find(|(o, _)| *o == order) {
            Some((_, row)) => Ok(row),
            None => Err(PlanError::Problems(Vec::new())),
        }
    }

    /// Removes one device from the placed plan and frees its addresses (in every
    /// space), as a run of the plan without it and this state would; a controller's
    /// pools go with it. Returns what it held in its first space, as a
    /// [`Kind::Released`] placement; [`Placed::released`] lists every address.
    ///
    /// # Errors
    ///
    /// [`PlanError::Problems`] when the plan has no device of that name, or when it is
    /// a controller with devices still in its pools (the message names them); nothing
    /// changes.
    pub fn remove_device(&mut self, name: &str) -> Result<Placement, PlanError> {
        let r = &mut self.r;
        let fail = |message: String| PlanError::Problems(vec![Problem::new(message, None)]);
        let parts = r.parts(name);
        if parts.is_empty() {
            return Err(fail(format!("the plan has no device {}", quote(name))));
        }
        let behind = r.behind(name);
        if !behind.is_empty() {
            let list: Vec<String> = behind.iter().map(|b| quote(b)).collect();
            return Err(fail(format!(
                "cannot remove {}: {} still {} addresses in the pools it provides; remove {} first",
                quote(name),
                list.join(", "),
                if list.len() == 1 { "holds" } else { "hold" },
                if list.len() == 1 { "it" } else { "them" },
            )));
        }
        let positions: Vec<usize> = r
            .rows
            .iter()
            .enumerate()
            .filter(|(_, (order, _))| parts.contains(order))
            .map(|(i, _)| i)
            .collect();
        if positions.is_empty() {
            return Err(fail(format!("device {} has no address", quote(name))));
        }
        // On a copy, so that a failure changes nothing.
        let mut spaces = r.spaces.clone();
        for (space, pattern) in r.provided.get(name).into_iter().flatten() {
            spaces[*space].remove_pool(pattern).map_err(|e| {
                fail(format!(
                    "cannot remove the pool `{pattern}` of {}: {e}",
                    quote(name)
                ))
            })?;
        }
        for &pos in &positions {
            let order = r.rows[pos].0;
            let row = &r.rows[pos].1;
            spaces[r.plan.entries[order].space]
                .release_owned(name, &row.first, &row.last)
                .map_err(|e| fail(format!("cannot release {}: {e}", quote(name))))?;
        }
        r.spaces = spaces;
        r.provided.remove(name);
        r.values.remove(name);
        let mut removed = Vec::new();
        for &pos in positions.iter().rev() {
            removed.push(r.rows.remove(pos).1);
        }
        removed.reverse();
        r.plan.entries.drain(parts.clone());
        r.done.drain(parts.clone());
        let gone = parts.len();
        for (order, _) in &mut r.rows {
            if *order >= parts.end {
                *order -= gone;
            }
        }
        r.plan.names = std::sync::Arc::new(
            r.plan
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.part == 0)
                .map(|(i, e)| (e.name.value.clone(), i))
                .collect(),
        );
        for row in &mut removed {
            row.kind = Kind::Released;
            row.preference = None;
            row.disk = None;
            row.state_kind = None;
            self.released.push(row.clone());
        }
        Ok(removed.swap_remove(0))
    }
}

/// Reads and checks a schema file; the error says why not, in lowercase words.
fn read_schema(file: &Path) -> Result<Schema, String> {
    let text = super::files::read_text(file).map_err(|e| super::files::io_reason(&e))?;
    Schema::from_toml(&text).map_err(|d| {
        // The first error; `check` shows them all.
        let first = d
            .first()
            .map(|d| d.render(&file.display().to_string(), &text))
            .unwrap_or_default();
        format!(
            "it has errors; the first: {first} (run `addralloc check {}`)",
            file.display()
        )
    })
}

fn load_space(
    def: &SpaceDef,
    base: &Path,
    cache: &mut HashMap<PathBuf, Result<Schema, String>>,
) -> Result<Space, Vec<Problem>> {
    let built;
    let schema = match &def.ty {
        Some(ty) => {
            built = Schema::new(vec![ty.clone()]);
            &built
        }
        None => {
            let file = base.join(&def.schema.value);
            match cache
                .entry(file.clone())
                .or_insert_with(|| read_schema(&file))
            {
                Ok(schema) => &*schema,
                Err(why) => {
                    return Err(vec![Problem::at(
                        format!("cannot load the schema `{}`: {why}", file.display()),
                        def.schema.span.clone(),
                    )])
                }
            }
        }
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
    space.set_creation_order(def.order);
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

impl Runner {
    fn space_name(&self, e: &Entry) -> String {
        self.plan.spaces[e.space].name.value.clone()
    }

    fn extents(&mut self, e: &Entry) -> Option<Vec<u128>> {
        Some(match self.shape(e)? {
            None => vec![1; self.spaces[e.space].field_count()],
            Some(b) => b.extents().to_vec(),
        })
    }

    /// The parsed `block` of `e` (`None` without one), parsed once per space and
    /// text; a bad one is reported at its span.
    fn shape(&mut self, e: &Entry) -> Option<Option<DynBlock>> {
        let Some(b) = &e.block else {
            return Some(None);
        };
        if let Some(x) = self.parsed.borrow().shapes[e.space].get(&b.value) {
            return Some(Some(x.clone()));
        }
        match self.spaces[e.space].parse_shape(&b.value) {
            Ok(x) => {
                self.parsed.borrow_mut().shapes[e.space].insert(b.value.clone(), x.clone());
                Some(Some(x))
            }
            Err(err) => {
                self.problems
                    .push(Problem::at(format!("{err}"), b.span.clone()));
                None
            }
        }
    }

    /// The parsed `within` of `e` (every address without one), parsed once per
    /// space and text.
    fn within(&self, e: &Entry) -> Result<DynPattern, Error> {
        let text = e.within.as_ref().map_or("*", |w| w.value.as_str());
        if let Some(x) = self.parsed.borrow().within[e.space].get(text) {
            return Ok(x.clone());
        }
        let x = self.spaces[e.space].parse_within(Some(text))?;
        self.parsed.borrow_mut().within[e.space].insert(text.to_string(), x.clone());
        Ok(x)
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
                // A device of this plan placed in this run, or someone in the state.
                let placed = self.parts(owner).any(|i| self.done[i]);
                match self
                    .plan
                    .names
                    .get(owner.as_str())
                    .filter(|_| placed)
                    .map(|&i| &self.plan.entries[i])
                {
                    Some(other) => {
                        let span = other
                            .address
                            .as_ref()
                            .or(other.disk.as_ref())
                            .map_or(other.name.span.clone(), |t| t.span.clone());
                        p.with_note(format!("`{owner}` reserves it here"), Some(span))
                    }
                    None => p.with_note(format!("`{owner}` holds it in the state file"), None),
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
        let kind = match (e.rule, kind) {
            (Some(_), Kind::Auto | Kind::Preferred | Kind::Explicit) => Kind::Added,
            _ => kind,
        };
        if e.at.is_some() && kind != Kind::Kept {
            self.split_block(order, e, first, last, kind, pref);
            return;
        }
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
        self.done[order] = true;
        // Only a controller's values are read (to fill in the patterns it provides).
        let provides = if e.part == 0 {
            !e.provides.is_empty()
        } else {
            self.plan
                .names
                .get(e.name.value.as_str())
                .is_some_and(|&i| !self.plan.entries[i].provides.is_empty())
        };
        if provides {
            self.values
                .entry(e.name.value.clone())
                .or_default()
                .push((e.space, first));
        }
        self.rows.push((order, row));
        if provides {
            self.provide_when_complete(&e.name.value);
        }
    }

    /// Phase 1: `[[fixed]]` and devices with an `address` or a `disk`, in file order.
    fn fixed_and_explicit(&mut self) {
        for order in 0..self.plan.entries.len() {
            let e = &self.plan.entries[order];
            if e.companion.is_none() && (e.address.is_some() || e.disk.is_some()) {
                let e = e.clone();
                self.place_explicit(order, &e, true);
            }
        }
    }

    /// Reserves the `address` or `disk` address of one entry.
    fn place_explicit(&mut self, order: usize, e: &Entry, defer: bool) {
        let (first, at, kind) = if let Some(a) = &e.address {
            match self.spaces[e.space].parse(&a.value) {
                Ok(v) => (v, a, if e.fixed { Kind::Fixed } else { Kind::Explicit }),
                Err(err) => {
                    self.problems.push(at_value(a, format!("{err}"), &err));
                    return;
                }
            }
        } else if let Some(d) = &e.disk {
            match self.disk_address(e, d) {
                Some(v) => (v, d, Kind::Disk),
                None => return,
            }
        } else {
            return;
        };
        let Some(ext) = self.extents(e) else { return };
        let space = &mut self.spaces[e.space];
        let last = match space.block_end(&first, &ext) {
            Ok(l) => l,
            Err(msg) => {
                self.problems.push(Problem::at(msg, at.span.clone()));
                return;
            }
        };
        let tags = Self::tags(e);
        match space.reserve_range(&first, &last, &e.name.value, &tags) {
            Ok(()) => self.record(order, e, first, last, kind, None),
            Err(Error::OutsidePools { .. } | Error::UnknownTag { .. })
                if defer && self.has_controllers() =>
            {
                self.deferred.push(Deferred::Explicit(order));
            }
            Err(err) => {
                let p = self.failure(e, &err, at.span.clone());
                self.problems.push(p);
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

    /// Before phase 1: a space of the state whose type changed is unusable.
    fn check_types(&mut self, st: &State) {
        let state_name = &self.state_name;
        for SpaceState { name, ty, .. } in &st.spaces {
            if let Some(i) = self.plan.spaces.iter().position(|s| s.name.value == *name) {
                let have = self.spaces[i].type_name();
                if have != ty {
                    self.problems.push(Problem::at(
                        format!(
                            "the state file `{state_name}` holds space `{name}` of type `{ty}`, \
                             but the plan's space `{name}` has type `{have}`; use a new state file"
                        ),
                        self.plan.spaces[i].name.span.clone(),
                    ));
                }
            }
        }
    }

    /// Before phase 1: other scopes' devices hold their addresses; returns their
    /// assignments, to carry into the new state.
    fn take_others(
        &mut self,
        st: &State,
        space_index: &HashMap<&str, usize>,
    ) -> Result<Vec<Assignment>, PlanError> {
        let mut others = Vec::new();
        for a in &st.assignments {
            if a.scope == self.scope {
                continue;
            }
            others.push(a.clone());
            let Some(&i) = space_index.get(a.space.as_str()) else {
                continue; // A space this plan does not use.
            };
            let space = &mut self.spaces[i];
            let (first, last) = match (space.parse(&a.first), space.parse(&a.last)) {
                (Ok(f), Ok(l)) => (f, l),
                (Err(err), _) | (_, Err(err)) => {
                    return Err(PlanError::State(format!(
                        "device {} of scope {} has an unusable address: {err}",
                        quote(&a.device),
                        scope_text(a.scope.as_deref())
                    )))
                }
            };
            if last < first {
                return Err(PlanError::State(format!(
                    "device {} of scope {} has `last` {} before `first` {}",
                    quote(&a.device),
                    scope_text(a.scope.as_deref()),
                    quote(&a.last),
                    quote(&a.first)
                )));
            }
            // Labelled with the scope, so that a conflict names whose device it is.
            let owner = match &a.scope {
                Some(scope) => format!("{scope}/{}", a.device),
                None => a.device.clone(),
            };
            match space.reserve_range(&first, &last, &owner, &[]) {
                Ok(()) => {}
                // Outside this plan's pools: nothing here can take it anyway.
                Err(Error::OutsidePools { .. }) => {}
                Err(err) => {
                    return Err(PlanError::State(format!(
                        "device {} of scope {}: {err}",
                        quote(&a.device),
                        scope_text(a.scope.as_deref())
                    )))
                }
            }
        }
        Ok(others)
    }

    /// Phase 2: automatic devices recorded in the state file keep their addresses.
    fn keep(&mut self, st: &State) {
        let recorded: HashMap<(&str, &str), &Assignment> = st
            .assignments
            .iter()
            .filter(|a| a.scope == self.scope)
            .map(|a| ((a.device.as_str(), a.space.as_str()), a))
            .collect();
        for order in 0..self.plan.entries.len() {
            let e = &self.plan.entries[order];
            if e.address.is_some() || e.disk.is_some() {
                continue;
            }
            let space = self.space_name(e);
            let Some(&a) = recorded.get(&(e.name.value.as_str(), space.as_str())) else {
                continue; // New, or moved to another space: placed afresh.
            };
            let a = a.clone();
            self.keep_one(order, &a, true);
        }
    }

    /// Keeps the address `a` of the state for entry `order`; with `defer`, an address
    /// outside every pool waits for controllers placed later.
    fn keep_one(&mut self, order: usize, a: &Assignment, defer: bool) {
        let state_name = self.state_name.clone();
        let e = self.plan.entries[order].clone();
        let e = &e;
        let Some(ext) = self.extents(e) else { return };
        // A device that kept one address of its block has that one.
        let ext = if e.at.is_some() {
            vec![1; ext.len()]
        } else {
            ext
        };
        let has_controllers = self.has_controllers();
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
                return;
            }
        };
        if last < first {
            self.problems.push(Problem::at(
                format!(
                    "the state file `{state_name}` has `last` {} before `first` {} for `{}`",
                    quote(&a.last),
                    quote(&a.first),
                    e.name.value
                ),
                e.name.span.clone(),
            ));
            return;
        }
        // The block shape changed: placed afresh.
        if space.block_end(&first, &ext).ok().as_ref() != Some(&last) {
            return;
        }
        let tags = Self::tags(e);
        match space.reserve_range(&first, &last, &e.name.value, &tags) {
            Ok(()) => {
                self.record(order, e, first, last, Kind::Kept, None);
                if let Some((_, row)) = self.rows.last_mut() {
                    row.state_kind = Some(a.kind.clone());
                }
            }
            Err(Error::OutsidePools { .. } | Error::UnknownTag { .. })
                if defer && has_controllers =>
            {
                self.deferred.push(Deferred::Kept(order, a.clone()));
            }
            Err(err) => {
                let p = self.failure(e, &err, e.name.span.clone()).with_note(
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

    /// Whether the plan has controllers: devices or growth rules that provide pools.
    fn has_controllers(&self) -> bool {
        !self.plan.rules.is_empty() || self.plan.entries.iter().any(|e| !e.provides.is_empty())
    }

    /// The deferred reservations, again and again while controllers placed in between
    /// provide pools for some of them; what still fails is reported.
    fn retry_deferred(&mut self) {
        loop {
            let pending = std::mem::take(&mut self.deferred);
            if pending.is_empty() {
                return;
            }
            let before = pending.len();
            for d in &pending {
                self.place_deferred(d, true);
            }
            if self.deferred.len() == before {
                let last = std::mem::take(&mut self.deferred);
                for d in &last {
                    self.place_deferred(d, false);
                }
                return;
            }
        }
    }

    fn place_deferred(&mut self, d: &Deferred, defer: bool) {
        match d {
            Deferred::Explicit(order) => {
                let e = self.plan.entries[*order].clone();
                self.place_explicit(*order, &e, defer);
            }
            Deferred::Kept(order, a) => self.keep_one(*order, a, defer),
        }
    }

    /// The rows in plan order. Placed in plan order they are so already, and a stable
    /// sort would copy them all into a buffer of its own.
    fn sort_rows(&mut self) {
        if !self.rows.is_sorted_by_key(|(order, _)| *order) {
            self.rows.sort_by_key(|(order, _)| *order);
        }
    }

    /// Whether the first address need of device `name` is placed.
    fn is_first_done(&self, name: &str) -> bool {
        self.plan.names.get(name).is_some_and(|&i| self.done[i])
    }

    /// Phase 3: every other device, in file order.
    fn automatic(&mut self) {
        for order in 0..self.plan.entries.len() {
            let e = &self.plan.entries[order];
            if e.rule.is_some()
                || e.companion.is_some()
                || self.done[order]
                || e.address.is_some()
                || e.disk.is_some()
            {
                continue;
            }
            let e = e.clone();
            self.place_auto(order, &e);
        }
        // Companions come with their device; one left over has none placed in this run.
        for order in 0..self.plan.entries.len() {
            let e = &self.plan.entries[order];
            if let Some((of, _)) = &e.companion {
                if !self.done[order] && self.is_first_done(&of.value) {
                    self.problems.push(Problem::at(
                        format!(
                            "companion `{}` has no place: `{}` was placed in an earlier run \
                             without it; companions are placed together with their device",
                            e.name.value, of.value
                        ),
                        e.name.span.clone(),
                    ));
                } else if !self.plan.names.contains_key(&of.value) {
                    self.problems.push(Problem::at(
                        format!(
                            "`{}` is a companion of `{}`, which the plan does not have",
                            e.name.value, of.value
                        ),
                        of.span.clone(),
                    ));
                }
            }
        }
    }

    /// Places one entry automatically: by its preferences, or within its pattern;
    /// when it finds no room, a growth rule that serves it may add a controller.
    fn place_auto(&mut self, order: usize, e: &Entry) {
        self.place_auto_at(order, e, 0);
    }

    /// [`Runner::place_auto`] at growth depth `depth` (a controller placed for a
    /// controller placed for a device ...).
    fn place_auto_at(&mut self, order: usize, e: &Entry, depth: usize) {
        let (p, exhausted) = match self.try_auto(order, e) {
            Ok(()) => return,
            Err(x) => x,
        };
        if exhausted && depth < MAX_GROWTH_DEPTH && self.grow_for(order, e, depth) {
            return;
        }
        self.problems.push(p);
    }

    /// One attempt at placing an entry automatically; on failure the problem and
    /// whether the request found no room (which growth may cure).
    fn try_auto(&mut self, order: usize, e: &Entry) -> Result<(), (Problem, bool)> {
        let Some(shape) = self.shape(e) else {
            let p = self
                .problems
                .pop()
                .unwrap_or_else(|| Problem::new("bad block", None));
            return Err((p, false));
        };
        let tags = Self::tags(e);
        if !e.prefer.is_empty() {
            let space = &mut self.spaces[e.space];
            let ext = match &shape {
                None => vec![1; space.field_count()],
                Some(b) => b.extents().to_vec(),
            };
            let prefs: Vec<&str> = e.prefer.iter().map(|p| p.value.as_str()).collect();
            return match space.reserve_preferred(&prefs, &ext, &e.name.value, &tags) {
                Ok((first, last, i)) => {
                    self.record(order, e, first, last, Kind::Preferred, Some(i + 1));
                    Ok(())
                }
                Err((err, i)) => {
                    let at = i
                        .and_then(|i| e.prefer.get(i))
                        .map_or(e.name.span.clone(), |p| p.span.clone());
                    let exhausted =
                        matches!(err, Error::Exhausted { .. } | Error::UnknownTag { .. });
                    Err((self.failure(e, &err, at), exhausted))
                }
            };
        }
        let got = self.within(e).and_then(|w| {
            self.spaces[e.space].reserve_first_parsed(&w, shape.as_ref(), &e.name.value, &tags)
        });
        match got {
            Ok((first, last)) => {
                self.record(order, e, first, last, Kind::Auto, None);
                Ok(())
            }
            Err(err) => {
                let at = match (&err, &e.within, &e.block) {
                    (Error::BadPattern { .. } | Error::OutOfRange { .. }, Some(w), _) => {
                        w.span.clone()
                    }
                    (Error::BadBlock { .. }, _, Some(b)) => b.span.clone(),
                    _ => e.name.span.clone(),
                };
                let exhausted = matches!(err, Error::Exhausted { .. } | Error::UnknownTag { .. });
                Err((self.failure(e, &err, at), exhausted))
            }
        }
    }
}

impl Runner {
    /// A device with `at` got its whole block: it keeps the `at` address, its
    /// companions take theirs (their `offset` in the block), the rest is given back.
    fn split_block(
        &mut self,
        order: usize,
        e: &Entry,
        first: Values,
        last: Values,
        kind: Kind,
        pref: Option<usize>,
    ) {
        let name = e.name.value.clone();
        let space = e.space;
        let problems = self.problems.len();
        let companions: Vec<(usize, std::sync::Arc<Entry>)> = self
            .plan
            .entries
            .iter()
            .enumerate()
            .filter(|(_, c)| c.companion.as_ref().is_some_and(|(of, _)| of.value == name))
            .map(|(i, c)| (i, c.clone()))
            .collect();
        let s = &self.spaces[space];
        let (first_text, last_text) = (s.show(&first), s.show(&last));
        let mut places = Vec::new();
        let at = e.at.as_ref().map_or("", |a| a.value.as_str());
        match s.apply(&first, at) {
            Ok(v) => places.push((order, e.clone(), v)),
            Err(why) => {
                let span =
                    e.at.as_ref()
                        .map_or(e.name.span.clone(), |a| a.span.clone());
                self.problems.push(Problem::at(why, span));
            }
        }
        for (i, c) in &companions {
            let Some((_, offset)) = &c.companion else {
                continue;
            };
            if c.space != space {
                self.problems.push(Problem::at(
                    format!(
                        "companion `{}` is in space `{}`, its device `{name}` in `{}`",
                        c.name.value,
                        self.space_name(c),
                        self.space_name(e)
                    ),
                    c.name.span.clone(),
                ));
                continue;
            }
            match s.apply(&first, &offset.value) {
                Ok(v) if v >= first && v <= last => places.push((*i, Entry::clone(c), v)),
                Ok(v) => self.problems.push(Problem::at(
                    format!(
                        "the offset `{}` of `{}` is {}, outside the block {first_text}..={last_text} of `{name}`",
                        offset.value,
                        c.name.value,
                        s.show(&v)
                    ),
                    offset.span.clone(),
                )),
                Err(why) => self.problems.push(Problem::at(why, offset.span.clone())),
            }
        }
        for w in 1..places.len() {
            if let Some(dup) = places[..w].iter().find(|p| p.2 == places[w].2) {
                self.problems.push(Problem::at(
                    format!(
                        "`{}` and `{}` have the same place {} in the block of `{name}`",
                        dup.1.name.value,
                        places[w].1.name.value,
                        s.show(&places[w].2)
                    ),
                    places[w].1.name.span.clone(),
                ));
            }
        }
        let space_ref = &mut self.spaces[space];
        let before = space_ref.clone();
        if self.problems.len() == problems {
            if let Err(err) = space_ref.release_owned(&name, &first_text, &last_text) {
                self.problems
                    .push(Problem::at(format!("{err}"), e.name.span.clone()));
            }
        }
        let mut ok = Vec::new();
        if self.problems.len() == problems {
            for (i, c, v) in &places {
                let tags = Self::tags(c);
                match self.spaces[space].reserve_range(v, v, &c.name.value, &tags) {
                    Ok(()) => ok.push((*i, c.clone(), v.clone())),
                    Err(err) => {
                        let p = self.failure(c, &err, c.name.span.clone());
                        self.problems.push(p);
                    }
                }
            }
        }
        if self.problems.len() > problems {
            // The block stays the device's, as it was reserved; the run fails anyway.
            self.spaces[space] = before;
            return;
        }
        for (i, c, v) in ok {
            let mut c = c;
            c.at = None;
            let k = if i == order {
                kind
            } else {
                companion_kind(kind)
            };
            self.record(i, &c, v.clone(), v, k, if i == order { pref } else { None });
        }
    }
}

/// A companion's kind: how its device was placed.
fn companion_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Preferred => Kind::Auto,
        k => k,
    }
}

/// How many controllers growth may try to add in one run.
const GROWTH_BUDGET: usize = 4096;

/// How deep growth may nest: a controller for a controller for ... a device.
const MAX_GROWTH_DEPTH: usize = 8;

/// A scope in messages: `vm1`, or "none".
fn scope_text(scope: Option<&str>) -> String {
    scope.map_or_else(|| "none".to_string(), quote)
}

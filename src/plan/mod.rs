//! Placement: give every device of a plan its addresses, and keep them stable from one
//! run to the next.
//!
//! A [`Plan`] has address **spaces** (a schema type with its pools and policy) and
//! **devices** (fixed, explicit, preferred or automatic, single addresses or blocks). It
//! is read from a plan file ([`Plan::from_toml`], the layout of
//! `examples/plans/README.md`, with every problem pointing into the text) or built in
//! code ([`Plan::new`], [`SpaceSpec`], [`DeviceSpec`]). [`Plan::run`] places it, from
//! the [`State`] of a previous run if there is one, and returns a [`Placed`] plan: the
//! [`Placement`]s, the new state, each space's counts, and single-device
//! [`add_device`](Placed::add_device) / [`remove_device`](Placed::remove_device). A
//! [`StateFile`] keeps the state on disk, locked while a run reads and writes it.
//!
//! **Topology**: a device may need addresses in several spaces ([`DeviceSpec::need`],
//! [`NeedSpec`]: one [`Placement`] per device and space) and may **provide** pools once
//! placed ([`DeviceSpec::provide`]: a root port of index 5 provides `bus=5`); the pools
//! go when it goes, and [`Placed::remove_device`] refuses a controller that still has
//! devices in them. A **growth rule** ([`GrowSpec`], [`Plan::add_grow`]) adds
//! controllers ([`Kind::Added`]) when a device it serves finds no room, keeps spares,
//! stops at a limit. [`Placed::topology`] gives the parent/child links. See
//! `examples/q35_manager.rs`.
//!
//! A **scope** (`scope = "vm1"` in a plan file, [`Plan::set_scope`] or
//! [`RunOptions::scope`]) says whose devices a run keeps and releases: other scopes'
//! devices in the state stay as they are, and their addresses are taken.
//!
//! ```
//! use addralloc::plan::{DeviceSpec, Kind, Plan, RunOptions, SpaceSpec};
//! use addralloc::schema::Schema;
//!
//! let schema = Schema::from_toml(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/pci.toml")))
//!     .map_err(|d| d[0].message.clone())?;
//! let mut plan = Plan::new();
//! plan.add_space(SpaceSpec::new("pci", schema.types[0].clone()).pool("bus=0, slot=1..=31", &[]))?;
//! plan.add_device(DeviceSpec::new("net0", "pci").block("function=8"))?;
//! plan.add_device(DeviceSpec::new("disk0", "pci").address("0000:00:05.0"))?;
//!
//! let mut placed = plan.run(&RunOptions::default())?;
//! let rows: Vec<String> = placed.placements().map(|p| format!("{} {}", p.device, p.address_text())).collect();
//! assert_eq!(rows, ["net0 0000:00:01.0..=0000:00:01.7", "disk0 0000:00:05.0"]);
//!
//! // Hot-plug: the same as running the plan with the device added and this state.
//! let rng = placed.add_device(DeviceSpec::new("rng", "pci"))?;
//! assert_eq!((rng.first.as_str(), rng.kind), ("0000:00:02.0", Kind::Auto));
//! placed.remove_device("net0")?;
//! let state = placed.state();
//! assert_eq!(state.assignments.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod files;
mod model;
mod report;
mod runner;
mod space;
mod state;
mod store;
mod toml;

pub use files::{io_reason, read_text, MAX_FILE_SIZE};
pub use report::{line_col, quote, render, Note, Problem, Source, QUOTE_LIMIT};
pub use runner::{
    pool_capacities, Kind, Node, Placed, Placement, PlanError, ProvidedPool, RunOptions, SpaceCount,
};

pub use state::{Assignment, SpaceState, State, VERSION as STATE_VERSION};
pub use store::{RunError, StateFile, Store, StoreError};

use crate::disk::DiskBus;
use crate::schema::TypeDef;
use model::{Entry, Model, PoolDef, SpaceDef, Text};

use toml::Spanned;

/// A plan: address spaces and the devices to place in them.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    model: Model,
    /// Whether spans point into a plan text.
    spanned: bool,
}

/// An address space for a plan built in code: a schema type, its pools (the type's
/// default pools when none are given) and its policy.
#[derive(Clone, Debug)]
pub struct SpaceSpec {
    name: String,
    ty: TypeDef,
    policy: Option<String>,
    pools: Vec<(String, Vec<String>)>,
    disk_bus: Option<DiskBus>,
    order: space::PoolOrder,
}

impl SpaceSpec {
    /// A space `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: TypeDef) -> Self {
        SpaceSpec {
            name: name.into(),
            ty,
            policy: None,
            pools: Vec::new(),
            disk_bus: None,
            order: space::PoolOrder::Address,
        }
    }

    /// Automatic choice searches the pools in the order they came into being (the
    /// space's own, then each controller's as it is placed: libvirt's order for USB
    /// hubs) rather than by address (`order = "creation"` in a plan file).
    pub fn creation_order(mut self) -> Self {
        self.order = space::PoolOrder::Creation;
        self
    }

    /// Automatic choice searches the pools one after the other by each pool's first
    /// address (`order = "depth-first"` in a plan file): for USB port paths, the root
    /// hub's ports, then each hub's in port order with a hub's sub-hubs right after
    /// it, as libvirt's `virDomainUSBAddressFindFreePort` searches.
    ///
    /// ```
    /// use addralloc::plan::{DeviceSpec, Plan, RunOptions, SpaceSpec};
    /// use addralloc::schema::Schema;
    ///
    /// let usb = Schema::from_toml(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/usb.toml")))
    ///     .map_err(|d| d[0].message.clone())?;
    /// let ty = usb.types.iter().find(|t| t.name == "UsbAddress").unwrap().clone();
    /// // A hub on root port 1 (its ports 0-1.1 to 0-1.8) made after root ports 1 and 2.
    /// let space = SpaceSpec::new("usb", ty)
    ///     .pool("bus=0, p1=1..=2, p2=0, p3=0, p4=0", &[])
    ///     .pool("bus=0, p1=1, p2=1..=8, p3=0, p4=0", &[])
    ///     .depth_first_order();
    /// let mut plan = Plan::new();
    /// plan.add_space(space)?;
    /// plan.add_device(DeviceSpec::new("hub", "usb").address("0-1"))?;
    /// for d in ["tablet", "keyboard"] {
    ///     plan.add_device(DeviceSpec::new(d, "usb"))?;
    /// }
    /// let placed = plan.run(&RunOptions::default())?;
    /// let ports: Vec<String> = placed.placements().map(|p| p.address_text()).collect();
    /// // The root hub's free port 2 first, then the hub's ports.
    /// assert_eq!(ports, ["0-1", "0-2", "0-1.1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn depth_first_order(mut self) -> Self {
        self.order = space::PoolOrder::DepthFirst;
        self
    }

    /// A pool in pattern syntax, with its tags.
    pub fn pool(mut self, pattern: impl Into<String>, tags: &[&str]) -> Self {
        self.pools.push((
            pattern.into(),
            tags.iter().map(|t| (*t).to_string()).collect(),
        ));
        self
    }

    /// The policy: `lowest-first` (the default), `next-fit` or `highest-first`.
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// The disk bus that maps disk names (`sda`) to drive addresses.
    pub fn disk_bus(mut self, bus: DiskBus) -> Self {
        self.disk_bus = Some(bus);
        self
    }
}

/// A device for a plan built in code (a `[[device]]`, or a `[[fixed]]` with
/// [`DeviceSpec::fixed`]).
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    name: String,
    space: String,
    fixed: bool,
    address: Option<String>,
    disk: Option<String>,
    block: Option<String>,
    tags: Vec<String>,
    within: Option<String>,
    prefer: Vec<String>,
    needs: Vec<NeedSpec>,
    provides: Vec<(String, String, Vec<String>)>,
}

/// One more address a device needs, in another space (a NIC's MAC beside its PCI slot;
/// a root port's controller index beside its PCI function).
#[derive(Clone, Debug)]
pub struct NeedSpec {
    space: String,
    address: Option<String>,
    block: Option<String>,
    tags: Vec<String>,
    within: Option<String>,
}

impl NeedSpec {
    /// An automatic address in `space`.
    pub fn new(space: impl Into<String>) -> Self {
        NeedSpec {
            space: space.into(),
            address: None,
            block: None,
            tags: Vec::new(),
            within: None,
        }
    }

    /// This exact address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// A block shape instead of a single address.
    pub fn block(mut self, block: impl Into<String>) -> Self {
        self.block = Some(block.into());
        self
    }

    /// Pool tags the address must carry.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| (*t).to_string()).collect();
        self
    }

    /// Automatic placement inside this pattern.
    pub fn within(mut self, pattern: impl Into<String>) -> Self {
        self.within = Some(pattern.into());
        self
    }
}

/// A growth rule for a plan built in code (a `[[grow]]`): when a device it serves finds
/// no room, a controller from this template is added and placed, and the device is
/// placed again.
///
/// ```
/// use addralloc::plan::{DeviceSpec, GrowSpec, Kind, NeedSpec, Plan, RunOptions, SpaceSpec};
/// use addralloc::schema::Schema;
///
/// let dir = env!("CARGO_MANIFEST_DIR");
/// let load = |path: &str| -> Result<Schema, String> {
///     let text = std::fs::read_to_string(format!("{dir}/{path}")).map_err(|e| e.to_string())?;
///     Schema::from_toml(&text).map_err(|d| d[0].message.clone())
/// };
/// let pci = load("schemas/pci.toml")?;
/// let index = load("examples/plans/schemas/controller-index.toml")?;
/// let mut plan = Plan::new();
/// plan.add_space(SpaceSpec::new("pci", pci.types[0].clone()).pool("domain=0, bus=0, slot=1..=2, function=0", &[]))?;
/// plan.add_space(SpaceSpec::new("index", index.types[0].clone()).pool("index=1..=255", &[]))?;
/// // A bridge: a slot and an index; it provides slots 1 to 31 of its bus.
/// plan.add_grow(
///     GrowSpec::new("bridge{n}", "pci")
///         .need(NeedSpec::new("index"))
///         .provide("pci", "domain=0, bus={index.index}, slot=1..=31, function=0", &[])
///         .limit(4),
/// )?;
/// for name in ["a", "b", "c"] {
///     plan.add_device(DeviceSpec::new(name, "pci"))?;
/// }
/// let placed = plan.run(&RunOptions::default())?;
/// let rows: Vec<String> = placed
///     .placements()
///     .map(|p| format!("{} {} {}", p.device, p.address_text(), p.kind_text()))
///     .collect();
/// // Two slots on bus 0: the bridge is placed ahead of the devices and takes one.
/// assert_eq!(
///     rows,
///     [
///         "a 0000:00:02.0 auto",
///         "b 0000:01:01.0 auto",
///         "c 0000:01:02.0 auto",
///         "bridge0 0000:00:01.0 added",
///         "bridge0 1 added",
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct GrowSpec {
    name: String,
    first: NeedSpec,
    prefer: Vec<String>,
    needs: Vec<NeedSpec>,
    provides: Vec<(String, String, Vec<String>)>,
    serves: Vec<String>,
    limit: Option<usize>,
    spare: usize,
}

impl GrowSpec {
    /// Controllers named `name` (`{n}` is replaced by the smallest free number from 0)
    /// with their first address in `space`.
    pub fn new(name: impl Into<String>, space: impl Into<String>) -> Self {
        GrowSpec {
            name: name.into(),
            first: NeedSpec::new(space),
            prefer: Vec::new(),
            needs: Vec::new(),
            provides: Vec::new(),
            serves: Vec::new(),
            limit: None,
            spare: 0,
        }
    }

    /// Pool tags the controller's first address must carry.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.first = self.first.tags(tags);
        self
    }

    /// The controller's first address: the first of these patterns with room.
    pub fn prefer(mut self, patterns: &[&str]) -> Self {
        self.prefer = patterns.iter().map(|p| (*p).to_string()).collect();
        self
    }

    /// One more address the controller needs.
    pub fn need(mut self, need: NeedSpec) -> Self {
        self.needs.push(need);
        self
    }

    /// A pool the controller provides once placed (see [`DeviceSpec::provide`]).
    pub fn provide(
        mut self,
        space: impl Into<String>,
        pattern: impl Into<String>,
        tags: &[&str],
    ) -> Self {
        self.provides.push((
            space.into(),
            pattern.into(),
            tags.iter().map(|t| (*t).to_string()).collect(),
        ));
        self
    }

    /// The device tags it serves.
    pub fn serves(mut self, tags: &[&str]) -> Self {
        self.serves = tags.iter().map(|t| (*t).to_string()).collect();
        self
    }

    /// At most this many controllers.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Keep this many of them empty.
    pub fn spare(mut self, spare: usize) -> Self {
        self.spare = spare;
        self
    }
}

impl DeviceSpec {
    /// A device `name` in the space `space`, placed automatically.
    pub fn new(name: impl Into<String>, space: impl Into<String>) -> Self {
        DeviceSpec {
            name: name.into(),
            space: space.into(),
            fixed: false,
            address: None,
            disk: None,
            block: None,
            tags: Vec::new(),
            within: None,
            prefer: Vec::new(),
            needs: Vec::new(),
            provides: Vec::new(),
        }
    }

    /// One more address, in another space; the device has one row per space.
    pub fn need(mut self, need: NeedSpec) -> Self {
        self.needs.push(need);
        self
    }

    /// A pool the device provides once placed, in `space`: `pattern` may name the
    /// device's own values, `{space.field}` or `{field}` of its first space
    /// (`bus={index.index}, slot=0`). The pool goes when the device goes.
    pub fn provide(
        mut self,
        space: impl Into<String>,
        pattern: impl Into<String>,
        tags: &[&str],
    ) -> Self {
        self.provides.push((
            space.into(),
            pattern.into(),
            tags.iter().map(|t| (*t).to_string()).collect(),
        ));
        self
    }

    /// A fixed reservation at `address` (a `[[fixed]]`).
    pub fn fixed(mut self, address: impl Into<String>) -> Self {
        self.fixed = true;
        self.address = Some(address.into());
        self
    }

    /// This exact address (the first of the block).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The address the space's disk bus gives this disk name (`sdb`).
    pub fn disk(mut self, disk: impl Into<String>) -> Self {
        self.disk = Some(disk.into());
        self
    }

    /// A block shape (`function=8`) instead of a single address.
    pub fn block(mut self, block: impl Into<String>) -> Self {
        self.block = Some(block.into());
        self
    }

    /// Pool tags the address must carry.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| (*t).to_string()).collect();
        self
    }

    /// Automatic placement inside this pattern.
    pub fn within(mut self, pattern: impl Into<String>) -> Self {
        self.within = Some(pattern.into());
        self
    }

    /// Automatic placement in the first of these patterns that has room.
    pub fn prefer(mut self, patterns: &[&str]) -> Self {
        self.prefer = patterns.iter().map(|p| (*p).to_string()).collect();
        self
    }
}

/// A value without a place in a text.
fn unplaced(value: impl Into<String>) -> Text {
    Spanned {
        value: value.into(),
        span: 0..0,
    }
}

impl Plan {
    /// An empty plan, to build in code.
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Reads a plan file's text; every problem is reported, each with its span in
    /// `text` (render them with [`Source::render`]). Schema files are read by
    /// [`Plan::run`].
    ///
    /// # Errors
    ///
    /// The problems: TOML syntax, unknown or repeated keys, values of the wrong kind,
    /// unknown spaces, names used twice, conflicting keys.
    ///
    /// ```
    /// use addralloc::plan::{Plan, Source};
    ///
    /// let text = "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n[[device]]\nnmae = \"net0\"\n";
    /// let problems = Plan::from_toml(text).unwrap_err();
    /// let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    /// assert_eq!(
    ///     messages,
    ///     ["a `[[device]]` has no `name`", "unknown key `nmae` in a `[[device]]`; did you mean `name`?"]
    /// );
    /// let shown = Source::new(text).render("vm.toml", &problems[1]);
    /// assert!(shown.contains("--> vm.toml:5:1"), "{shown}");
    /// ```
    pub fn from_toml(text: &str) -> Result<Plan, Vec<Problem>> {
        let root = toml::parse(text).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| Problem::new(format!("invalid TOML: {}", e.message), e.span))
                .collect::<Vec<_>>()
        })?;
        let model = model::read(&root)?;
        Ok(Plan {
            model,
            spanned: true,
        })
    }

    /// The plan's scope, if it has one.
    pub fn scope(&self) -> Option<&str> {
        self.model.scope.as_ref().map(|s| s.value.as_str())
    }

    /// Sets the plan's scope.
    ///
    /// # Errors
    ///
    /// An empty name, one of more than 128 characters or with control characters.
    pub fn set_scope(&mut self, scope: impl Into<String>) -> Result<(), Problem> {
        let scope = scope.into();
        model::check_scope(&scope).map_err(|why| Problem::new(why, None))?;
        self.model.scope = Some(unplaced(scope));
        Ok(())
    }

    /// The names of the devices (fixed reservations included), in plan order.
    pub fn devices(&self) -> impl Iterator<Item = &str> + '_ {
        self.model
            .entries
            .iter()
            .filter(|e| e.part == 0)
            .map(|e| e.name.value.as_str())
    }

    /// Adds a space.
    ///
    /// # Errors
    ///
    /// A space of that name exists; an unknown policy.
    pub fn add_space(&mut self, space: SpaceSpec) -> Result<(), Problem> {
        if self.model.spaces.iter().any(|s| s.name.value == space.name) {
            return Err(Problem::new(
                format!("space {} is defined twice", quote(&space.name)),
                None,
            ));
        }
        if let Some(p) = &space.policy {
            if let Err(e) = p.parse::<crate::Policy>() {
                return Err(Problem::new(e.to_string(), None));
            }
        }
        self.model.spaces.push(SpaceDef {
            name: unplaced(space.name),
            schema: unplaced(""),
            type_name: Some(unplaced(space.ty.name.clone())),
            ty: Some(space.ty),
            policy: space.policy.map(unplaced),
            disk_bus: space.disk_bus.map(|b| (b, 0..0)),
            pools: space
                .pools
                .into_iter()
                .map(|(pattern, tags)| PoolDef {
                    pattern: unplaced(pattern),
                    tags: tags.into_iter().map(unplaced).collect(),
                })
                .collect(),
            order: space.order,
            span: 0..0,
        });
        Ok(())
    }

    /// Adds a growth rule, tried after those already in the plan.
    ///
    /// # Errors
    ///
    /// A name without `{n}`, no pool provided, an unknown space.
    pub fn add_grow(&mut self, grow: GrowSpec) -> Result<(), Problem> {
        if !grow.name.contains("{n}") {
            return Err(Problem::new(
                "the `name` of a growth rule needs `{n}`, the number of each controller it adds",
                None,
            ));
        }
        if grow.provides.is_empty() {
            return Err(Problem::new("a growth rule provides no pool", None));
        }
        let space = |name: &str| {
            self.model
                .spaces
                .iter()
                .position(|s| s.name.value == name)
                .ok_or_else(|| Problem::new(format!("unknown space {}", quote(name)), None))
        };
        let need = |n: &NeedSpec, prefer: &[String]| -> Result<model::Need, Problem> {
            Ok(model::Need {
                space: space(&n.space)?,
                address: n.address.clone().map(unplaced),
                block: n.block.clone().map(unplaced),
                tags: n.tags.iter().cloned().map(unplaced).collect(),
                within: n.within.clone().map(unplaced),
                prefer: prefer.iter().cloned().map(unplaced).collect(),
            })
        };
        let mut needs = vec![need(&grow.first, &grow.prefer)?];
        for n in &grow.needs {
            needs.push(need(n, &[])?);
        }
        let mut provides = Vec::new();
        for (s, pattern, tags) in &grow.provides {
            provides.push(model::Provide {
                space: space(s)?,
                pattern: unplaced(pattern.clone()),
                tags: tags.iter().cloned().map(unplaced).collect(),
            });
        }
        self.model.rules.push(model::Rule {
            name: unplaced(grow.name),
            needs,
            provides,
            serves: grow.serves.into_iter().map(unplaced).collect(),
            limit: grow.limit,
            spare: grow.spare,
            span: 0..0,
        });
        Ok(())
    }

    /// Adds a device, placed after those already in the plan.
    ///
    /// # Errors
    ///
    /// [`PlanError::Problems`]: a name already used, an unknown space, conflicting
    /// keys.
    pub fn add_device(&mut self, device: DeviceSpec) -> Result<(), PlanError> {
        add_entry(&mut self.model, device).map_err(PlanError::Problems)
    }

    /// Removes a device (or fixed reservation) by name; whether the plan had it.
    pub fn remove_device(&mut self, name: &str) -> bool {
        let Some(i) = std::sync::Arc::make_mut(&mut self.model.names).remove(name) else {
            return false;
        };
        // The device's first address need and its others after it.
        let mut j = i + 1;
        while self
            .model
            .entries
            .get(j)
            .is_some_and(|e| e.part > 0 && e.name.value == name)
        {
            j += 1;
        }
        self.model.entries.drain(i..j);
        let gone = j - i;
        for e in &self.model.entries[i..] {
            if e.part == 0 {
                if let Some(n) =
                    std::sync::Arc::make_mut(&mut self.model.names).get_mut(&e.name.value)
                {
                    *n -= gone;
                }
            }
        }
        true
    }

    /// Places the plan: loads the spaces' schemas, takes other scopes' reservations,
    /// reserves the fixed and explicit addresses, keeps what the previous state
    /// assigned, and places the rest in plan order.
    ///
    /// # Errors
    ///
    /// [`PlanError::Problems`] with every problem found (each pointing into the plan's
    /// text, for a plan read from one), or [`PlanError::State`] for a previous state
    /// that cannot be used. Nothing is placed then.
    pub fn run(&self, options: &RunOptions<'_>) -> Result<Placed, PlanError> {
        runner::run(&self.model, self.spanned, options)
    }
}

/// Checks a device built in code and adds it to the model.
fn add_entry(model: &mut Model, d: DeviceSpec) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let what = if d.fixed {
        "a fixed reservation"
    } else {
        "a device"
    };
    if d.name.is_empty() {
        problems.push(Problem::new(format!("{what} has an empty name"), None));
    }
    if model.names.contains_key(&d.name) {
        problems.push(Problem::new(
            format!("{} is named twice", quote(&d.name)),
            None,
        ));
    }
    let space = model.spaces.iter().position(|s| s.name.value == d.space);
    match space {
        None => {
            let names: Vec<String> = model.spaces.iter().map(|x| quote(&x.name.value)).collect();
            problems.push(Problem::new(
                format!(
                    "unknown space {}; the spaces are {}",
                    quote(&d.space),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
                None,
            ));
        }
        Some(i) if d.disk.is_some() && model.spaces[i].disk_bus.is_none() => {
            problems.push(Problem::new(
                format!(
                    "`disk` needs a space with a `disk-bus`; space {} has none",
                    quote(&d.space)
                ),
                None,
            ));
        }
        Some(_) => {}
    }
    if d.address.is_some() && d.disk.is_some() {
        problems.push(Problem::new(
            "a device has either an `address` or a `disk` name, not both",
            None,
        ));
    }
    let placed = d.address.is_some() || d.disk.is_some();
    if placed && (d.within.is_some() || !d.prefer.is_empty()) {
        problems.push(Problem::new(
            "`within` and `prefer` are for automatic placement; this device has a fixed address",
            None,
        ));
    }
    if d.within.is_some() && !d.prefer.is_empty() {
        problems.push(Problem::new(
            "a device has either `within` or `prefer`, not both; put the constraint into each preference",
            None,
        ));
    }
    let space_index = |name: &str, problems: &mut Vec<Problem>| {
        let i = model.spaces.iter().position(|s| s.name.value == name);
        if i.is_none() {
            problems.push(Problem::new(format!("unknown space {}", quote(name)), None));
        }
        i
    };
    let mut needs = Vec::new();
    for n in &d.needs {
        if let Some(i) = space_index(&n.space, &mut problems) {
            needs.push(model::Need {
                space: i,
                address: n.address.clone().map(unplaced),
                block: n.block.clone().map(unplaced),
                tags: n.tags.iter().cloned().map(unplaced).collect(),
                within: n.within.clone().map(unplaced),
                prefer: Vec::new(),
            });
        }
    }
    let mut provides = Vec::new();
    for (s, pattern, tags) in &d.provides {
        if let Some(i) = space_index(s, &mut problems) {
            provides.push(model::Provide {
                space: i,
                pattern: unplaced(pattern.clone()),
                tags: tags.iter().cloned().map(unplaced).collect(),
            });
        }
    }
    let Some(space) = space else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let name = unplaced(d.name.clone());
    let at = model.entries.len();
    std::sync::Arc::make_mut(&mut model.names).insert(d.name.clone(), at);
    model.entries.push(std::sync::Arc::new(Entry {
        fixed: d.fixed,
        name: unplaced(d.name),
        space,
        address: d.address.map(unplaced),
        disk: d.disk.map(unplaced),
        block: d.block.map(unplaced),
        tags: d.tags.into_iter().map(unplaced).collect(),
        within: d.within.map(unplaced),
        prefer: d.prefer.into_iter().map(unplaced).collect(),
        part: 0,
        provides,
        rule: None,
        at: None,
        companion: None,
    }));
    for (i, n) in needs.into_iter().enumerate() {
        model
            .entries
            .push(model::need_entry(&name, n, i + 1, None).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

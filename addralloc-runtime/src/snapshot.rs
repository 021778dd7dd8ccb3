//! [`Snapshot`]: an allocator's whole state as plain data, and its validated restore.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::address::Address;
use crate::allocator::Allocator;
use crate::allocator_core::{Child, Core, LinearPool, Space};
use crate::engine::grid::{Grid, Layout};
use crate::engine::state::{Engine, Fail, Part, Restored, Shape};
use crate::error::Error;
use crate::front;
use crate::pattern::{FieldInfo, RawPattern};
use crate::policy::Policy;

/// The newest snapshot format this build writes and reads: version 3 adds
/// [`Snapshot::linear`] and [`Snapshot::children`]. A snapshot with neither is written
/// as version 2, which earlier builds read too. This build also reads version 1, whose
/// reservations are runs: an unlabelled run is read as single-address reservations and
/// a labelled run as one reservation.
pub const SNAPSHOT_VERSION: u32 = 3;

/// An allocator's state as plain data: pools with tags, policy and next-fit positions,
/// and reservations with owners, every address in its type's own format.
///
/// With the `serde` feature it serializes to JSON, TOML or any serde format;
/// [`Allocator::restore`] validates it completely before building anything.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct Snapshot {
    /// The snapshot format ([`SNAPSHOT_VERSION`]).
    pub version: u32,
    /// The address space, field by field (`bus=0..=255, slot=0..=31`), so that a
    /// snapshot of another address type is refused.
    pub space: String,
    /// The allocation policy.
    pub policy: Policy,
    /// The previous automatic choice of `reserve_any` (next-fit resumes after it).
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub last_choice: Option<String>,
    /// The previous automatic choice of every other next-fit search (a pattern, or
    /// required tags).
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub next_fit: Vec<NextFitSnapshot>,
    /// Every pool tag, numbered in this order (the order of first use); absent in
    /// version 1, where it is the order tags first appear in `pools`.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub tags: Vec<String>,
    /// The pools, in address order.
    #[cfg_attr(any(feature = "serde", feature = "schema"), serde(default))]
    pub pools: Vec<PoolSnapshot>,
    /// The reservations, in address order.
    #[cfg_attr(any(feature = "serde", feature = "schema"), serde(default))]
    pub reservations: Vec<ReservationSnapshot>,
    /// The pools added as linear ranges (version 3), each listed in `pools` as the
    /// boxes it was cut into: with this, [`Allocator::pools`] lists each range as one
    /// pool after a restore.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub linear: Vec<LinearSnapshot>,
    /// The subdivided blocks (version 3, see [`Allocator::subdivide`]), in the order
    /// they were subdivided, each with its children's allocator, recursively.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub children: Vec<ChildSnapshot>,
}

/// A pool of a [`Snapshot`] added as a linear range: every address from `first` to
/// `last` in address order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct LinearSnapshot {
    /// The range's first address.
    pub first: String,
    /// The range's last address.
    pub last: String,
}

/// A subdivided block of a [`Snapshot`]: one whole reservation of the parent, from
/// `first` to `last`, and the allocator of its children.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct ChildSnapshot {
    /// The block's first address.
    pub first: String,
    /// The block's last address.
    pub last: String,
    /// The children's allocator, whose pools lie inside the block.
    pub allocator: Snapshot,
}

/// Where one next-fit search of a [`Snapshot`] resumes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct NextFitSnapshot {
    /// The search's pattern (`*` for none).
    pub pattern: String,
    /// The tags it required.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub tags: Vec<String>,
    /// Its previous automatic choice.
    pub last_choice: String,
}

/// One pool of a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct PoolSnapshot {
    /// The pool in pattern syntax.
    pub pattern: String,
    /// Its tags.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub tags: Vec<String>,
}

/// One entry of a [`Snapshot`]'s reservations.
///
/// Without a `shape`, an unlabelled entry is a run of single-address reservations
/// (`first..=last` in address order, each address its own) and a labelled one is one
/// reservation of that run. `shape = "run"` makes an unlabelled run one reservation;
/// `shape = "box"` is one reservation of the box with corners `first` and `last`
/// (a block whose addresses are not contiguous).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub struct ReservationSnapshot {
    /// The first address.
    pub first: String,
    /// The last address; absent for a single address.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub last: Option<String>,
    /// The owner label.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub owner: Option<String>,
    /// `run` or `box`: see the type's documentation.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub shape: Option<String>,
}

/// `bus=0..=255, slot=0..=31`: the address space a snapshot belongs to.
pub(crate) fn space_text<F: FieldInfo>(fields: &[F]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}={}..={}", f.name(), f.min(), f.max()))
        .collect();
    parts.join(", ")
}

fn bad(reason: String) -> Error {
    Error::Snapshot { reason }
}

/// The snapshot of an engine; `addr` prints an index in the type's format.
pub(crate) fn take<F: FieldInfo>(
    engine: &Engine,
    fields: &[F],
    addr: impl Fn(u128) -> String,
) -> Snapshot {
    let e = engine;
    let tag_names = |mask: u64| -> Vec<String> {
        e.tags
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| t.to_string())
            .collect()
    };
    let pools = e
        .pools
        .iter()
        .map(|p| PoolSnapshot {
            pattern: front::raw_of_grid(&p.grid, fields).display(fields),
            tags: tag_names(p.tags),
        })
        .collect();
    let mut reservations = Vec::new();
    let mut push = |s: u128, x: u128, owner: Option<&str>, shape: Option<&str>| {
        reservations.push(ReservationSnapshot {
            first: addr(s),
            last: (x != s).then(|| addr(x)),
            owner: owner.map(String::from),
            shape: shape.map(String::from),
        })
    };
    let recs = &e.records;
    for (s, x, sealed) in e.reserved_entries() {
        if sealed {
            // A whole unlabelled run kept by the set itself.
            push(s, x, None, Some("run"));
            continue;
        }
        // Between records: single-address reservations. A record is written once, at
        // its first run.
        let mut cur = Some(s);
        for (rs, r) in recs.overlapping(s, x) {
            let Some(c) = cur else { break };
            if rs > c {
                push(c, rs - 1, None, None);
            }
            if rs == r.head {
                let owner = recs.owner(&r);
                match recs.extent(r.head) {
                    Some((f, l, true)) => push(f, l, owner, Some("box")),
                    _ => push(rs, r.end, owner, owner.is_none().then_some("run")),
                }
            }
            cur = r.end.checked_add(1).filter(|n| *n <= x);
        }
        if let Some(c) = cur {
            push(c, x, None, None);
        }
    }
    let mut last_choice = None;
    let mut next_fit = Vec::new();
    for (&(explicit, lo, hi, mask), &next) in &e.cursors {
        let Some(last) = next.checked_sub(1) else {
            continue;
        };
        if !explicit && mask == 0 {
            last_choice = Some(addr(last));
            continue;
        }
        let pattern = if !explicit {
            "*".to_string()
        } else {
            match Grid::spanned(&e.layout, lo, hi) {
                Some(g) => explicit_pattern(&g, fields),
                None => continue,
            }
        };
        next_fit.push(NextFitSnapshot {
            pattern,
            tags: tag_names(mask),
            last_choice: addr(last),
        });
    }
    Snapshot {
        version: 2,
        space: space_text(fields),
        policy: e.policy,
        last_choice,
        next_fit,
        tags: e.tags.iter().map(|t| t.to_string()).collect(),
        pools,
        reservations,
        linear: Vec::new(),
        children: Vec::new(),
    }
}

/// The snapshot of a core: its engine, linear pools and children, recursively.
pub(crate) fn take_core<S: Space>(core: &Core<S>) -> Snapshot {
    let layout = &core.engine.layout;
    let mut snap = take(&core.engine, core.space.fields(), |i| core.text(i));
    snap.linear = core
        .linear
        .iter()
        .filter(|p| core.is_live(p))
        .filter_map(|p| {
            let (first, last) = (p.boxes.first()?, p.boxes.last()?);
            Some(LinearSnapshot {
                first: core.text(first.first(layout)),
                last: core.text(last.last(layout)),
            })
        })
        .collect();
    snap.children = core
        .children
        .iter()
        .map(|c| ChildSnapshot {
            first: core.text(c.first),
            last: core.text(c.last),
            allocator: take_core(&c.core),
        })
        .collect();
    if !snap.linear.is_empty() || !snap.children.is_empty() {
        snap.version = SNAPSHOT_VERSION;
    }
    snap
}

/// Builds a core from a snapshot, checking everything (the engine as [`restore`], then
/// the linear pools, then every child: on a whole reservation of this core, its pools
/// inside that block); `parse` turns address text into a valid index.
pub(crate) fn restore_core<S: Space + Clone>(
    snapshot: &Snapshot,
    space: S,
    layout: Layout,
    parse: &dyn Fn(&str) -> Result<u128, String>,
) -> Result<Core<S>, Error> {
    let engine = restore(snapshot, space.fields(), layout.clone(), parse)?;
    let mut core = Core::from_engine(engine, space);
    let n = core.space.fields().len();
    for (i, l) in snapshot.linear.iter().enumerate() {
        let what = || format!("linear pool {} `{}..={}`", i + 1, l.first, l.last);
        let idx =
            |text: &str| parse(text).map_err(|e| bad(format!("{}: address `{text}`: {e}", what())));
        let (first, last) = (idx(&l.first)?, idx(&l.last)?);
        if last < first {
            return Err(bad(format!(
                "{}: the last address comes before the first",
                what()
            )));
        }
        let values = |x: u128| -> Vec<u128> { (0..n).map(|k| layout.value(x, k)).collect() };
        let raw = RawPattern::linear(&values(first), &values(last), n);
        let boxes = core
            .linear_boxes(&raw)
            .map_err(|e| bad(format!("{}: {e}", what())))?;
        if !boxes
            .iter()
            .all(|b| core.engine.pools().any(|(g, _)| g == b))
        {
            return Err(bad(format!(
                "{}: its boxes are not all among the pools",
                what()
            )));
        }
        if let Some(j) = core
            .linear
            .iter()
            .position(|p| p.boxes.iter().any(|b| boxes.contains(b)))
        {
            return Err(bad(format!(
                "{}: it shares a pool with linear pool {}",
                what(),
                j + 1
            )));
        }
        core.linear.push(LinearPool { raw, boxes });
    }
    for (i, c) in snapshot.children.iter().enumerate() {
        let what = || format!("child {} `{}..={}`", i + 1, c.first, c.last);
        let idx =
            |text: &str| parse(text).map_err(|e| bad(format!("{}: address `{text}`: {e}", what())));
        let (first, last) = (idx(&c.first)?, idx(&c.last)?);
        match core.engine.reservation_at(first) {
            Some((f, l, _, _)) if f == first && l == last => {}
            Some((f, l, _, _)) => {
                return Err(bad(format!(
                "{}: the block is not one whole reservation (the reservation there is `{}..={}`)",
                what(),
                core.text(f),
                core.text(l)
            )))
            }
            None => return Err(bad(format!("{}: the block is not reserved", what()))),
        }
        if core.child_index(first, last).is_some() {
            return Err(bad(format!("{}: the block is listed twice", what())));
        }
        let Some(block) = Grid::spanned(&layout, first, last) else {
            return Err(bad(format!(
                "{}: the first address exceeds the last on a field",
                what()
            )));
        };
        let child =
            restore_core(&c.allocator, core.space.clone(), layout.clone(), parse).map_err(|e| {
                match e {
                    Error::Snapshot { reason } => bad(format!("{}: {reason}", what())),
                    e => e,
                }
            })?;
        if let Some((g, _)) = child.engine.pools().find(|(g, _)| !block.contains_box(g)) {
            let fields = core.space.fields();
            return Err(bad(format!(
                "{}: its pool `{}` lies outside the block",
                what(),
                front::raw_of_grid(g, fields).display(fields)
            )));
        }
        core.children.push(Child {
            first,
            last,
            core: child,
        });
    }
    Ok(core)
}

/// A box as a pattern naming every field, so that a box covering the whole space
/// stays distinct from `*`.
fn explicit_pattern<F: FieldInfo>(g: &Grid, fields: &[F]) -> String {
    let mut raw = RawPattern::ANY;
    for (i, f) in fields.iter().enumerate() {
        raw.set_range(i, g.axes[i].lo + f.min(), g.axes[i].hi + f.min());
    }
    raw.display(fields)
}

/// Builds an engine from a snapshot, checking everything; `parse` turns address text
/// into a valid index or says why it can't.
pub(crate) fn restore<F: FieldInfo>(
    snapshot: &Snapshot,
    fields: &[F],
    layout: Layout,
    parse: impl Fn(&str) -> Result<u128, String>,
) -> Result<Engine, Error> {
    if !(1..=SNAPSHOT_VERSION).contains(&snapshot.version) {
        return Err(bad(format!(
            "unsupported snapshot version {}; this build reads versions 1 to {SNAPSHOT_VERSION}",
            snapshot.version
        )));
    }
    let space = space_text(fields);
    if snapshot.space != space {
        return Err(bad(format!(
            "the snapshot is of address space `{}`, not `{space}`",
            snapshot.space
        )));
    }
    // Pools: parsed here, checked by the engine.
    let mut pools = Vec::with_capacity(snapshot.pools.len());
    for (i, p) in snapshot.pools.iter().enumerate() {
        let g = RawPattern::parse(&p.pattern, fields)
            .and_then(|raw| raw.resolve(fields))
            .map(|r| Grid::new(&layout, |k| r[k]))
            .map_err(|e| bad(format!("pool {} `{}`: {e}", i + 1, p.pattern)))?;
        pools.push((g, p.tags.iter().map(String::as_str).collect::<Vec<&str>>()));
    }
    let mut reservations = Vec::with_capacity(snapshot.reservations.len());
    for (i, r) in snapshot.reservations.iter().enumerate() {
        let i = i + 1;
        let idx = |text: &str| {
            parse(text).map_err(|e| bad(format!("reservation {i}: address `{text}`: {e}")))
        };
        let first = idx(&r.first)?;
        let last = match &r.last {
            Some(l) => idx(l)?,
            None => first,
        };
        let text = || match &r.last {
            Some(l) => format!("{}..={l}", r.first),
            None => r.first.clone(),
        };
        if last < first {
            return Err(bad(format!(
                "reservation {i} `{}`: the last address comes before the first",
                text()
            )));
        }
        let shape = match (r.shape.as_deref(), &r.owner) {
            (None, None) => Shape::Singles,
            (None, Some(_)) | (Some("run"), _) => Shape::Run,
            (Some("box"), _) => {
                if Grid::spanned(&layout, first, last).is_none() {
                    return Err(bad(format!(
                        "reservation {i} `{}`: a box's first address must not exceed its last on any field",
                        text()
                    )));
                }
                Shape::Box
            }
            (Some(other), _) => {
                return Err(bad(format!(
                    "reservation {i} `{}`: unknown shape `{other}`; expected `run` or `box`",
                    text()
                )))
            }
        };
        reservations.push(Restored {
            first,
            last,
            shape,
            owner: r.owner.as_deref(),
        });
    }
    // Next-fit positions.
    // A position need not lie in a pool: the pool of a previous choice may have been
    // removed since, and searches continue after it all the same.
    let next_of = |text: &str, what: &str| -> Result<u128, Error> {
        let idx = parse(text).map_err(|e| bad(format!("{what} `{text}`: {e}")))?;
        Ok(if idx >= layout.max_index() {
            0
        } else {
            idx + 1
        })
    };
    let mut cursors = Vec::new();
    // The tag registry: as written, else (version 1) in pool order.
    let mut registry: Vec<&str> = snapshot.tags.iter().map(String::as_str).collect();
    for (_, ts) in &pools {
        for t in ts {
            if !registry.contains(t) {
                registry.push(t);
            }
        }
    }
    let tag_mask = |tags: &[String]| -> Result<u64, Error> {
        let mut mask = 0u64;
        for t in tags {
            match registry.iter().position(|o| o == t) {
                Some(k) if k < 64 => mask |= 1 << k,
                _ => return Err(bad(format!("next-fit position: no pool carries tag `{t}`"))),
            }
        }
        Ok(mask)
    };
    if let Some(text) = &snapshot.last_choice {
        cursors.push(((false, 0, 0, 0), next_of(text, "last choice")?));
    }
    for n in &snapshot.next_fit {
        let mask = tag_mask(&n.tags)?;
        let key = if n.pattern.trim() == "*" {
            (false, 0, 0, mask)
        } else {
            let r = RawPattern::parse(&n.pattern, fields)
                .and_then(|raw| raw.resolve(fields))
                .map_err(|e| bad(format!("next-fit pattern `{}`: {e}", n.pattern)))?;
            let g = Grid::new(&layout, |k| r[k]);
            (true, g.first(&layout), g.last(&layout), mask)
        };
        cursors.push((key, next_of(&n.last_choice, "next-fit last choice")?));
    }
    let policy = snapshot.policy;
    let engine = Engine::from_parts(layout, policy, &registry, &pools, &reservations, &cursors)
        .map_err(|(part, fail)| match part {
            Part::Pool(i) => {
                let p = &snapshot.pools[i];
                let why = match fail {
                    Fail::PoolOverlap { .. } => Error::PoolOverlap {
                        pool: p.pattern.clone(),
                        existing: pools[..i]
                            .iter()
                            .zip(&snapshot.pools)
                            .find(|((g, _), _)| g.meets(&pools[i].0))
                            .map_or_else(String::new, |(_, q)| q.pattern.clone()),
                    },
                    _ => Error::TooManyTags,
                };
                bad(format!("pool {} `{}`: {why}", i + 1, p.pattern))
            }
            Part::Reservation(i) => {
                let r = &snapshot.reservations[i];
                let text = match &r.last {
                    Some(l) => format!("{}..={l}", r.first),
                    None => r.first.clone(),
                };
                let why = match fail {
                    Fail::OutsidePools { .. } => "is not inside the pools",
                    _ => "overlaps an earlier reservation",
                };
                bad(format!("reservation {} `{text}` {why}", i + 1))
            }
        })?;
    Ok(engine)
}

impl<A: Address> Allocator<A> {
    /// The allocator's whole state as plain data.
    ///
    /// ```
    /// # use addralloc_runtime::{Address, Allocator, Field, Pattern};
    /// # use core::{fmt, str::FromStr};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # struct Port(u8);
    /// # impl Address for Port {
    /// #     const FIELDS: &'static [Field] = &[Field::new("port", 0, 31)];
    /// #     fn field(&self, _: usize) -> u128 { self.0 as u128 }
    /// #     fn from_fields(v: &[u128]) -> Self { Port(v[0] as u8) }
    /// # }
    /// # impl fmt::Display for Port {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
    /// # }
    /// # impl FromStr for Port {
    /// #     type Err = core::num::ParseIntError;
    /// #     fn from_str(s: &str) -> Result<Self, Self::Err> { s.parse().map(Port) }
    /// # }
    /// let mut a = Allocator::<Port>::new();
    /// a.add_pool("port=1..=31".parse::<Pattern<Port>>()?)?;
    /// a.owned_by("console").reserve(Port(1))?;
    /// let snap = a.snapshot();
    /// let b = Allocator::<Port>::restore(&snap)?;
    /// assert_eq!(b.owner_of(Port(1)), Some("console"));
    /// assert_eq!(b.snapshot(), snap);
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        take_core(&self.core)
    }

    /// Rebuilds an allocator from a snapshot, checking everything first: the version,
    /// the address space, every pool (syntax, ranges, overlaps) and every reservation
    /// (address syntax, ranges, order, overlaps, inside the pools). Any problem is an
    /// [`Error::Snapshot`] naming the entry; no allocator is returned half-built.
    pub fn restore(snapshot: &Snapshot) -> Result<Self, Error>
    where
        A: FromStr,
        A::Err: fmt::Display,
    {
        let template = Allocator::<A>::try_with_policy(snapshot.policy)?;
        let layout = template.core.engine.layout.clone();
        let parse = |text: &str| -> Result<u128, String> {
            let a: A = text.parse().map_err(|e: A::Err| e.to_string())?;
            template.index(&a).map_err(|e| e.to_string())
        };
        let core = restore_core(snapshot, template.core.space.clone(), layout, &parse)?;
        Ok(Allocator { core })
    }
}

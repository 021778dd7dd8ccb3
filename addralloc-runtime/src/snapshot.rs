//! [`Snapshot`]: an allocator's whole state as plain data, and its validated restore.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::address::Address;
use crate::allocator::Allocator;
use crate::count::Count;
use crate::engine::grid::Layout;
use crate::engine::state::{with_set, Engine};
use crate::error::Error;
use crate::front;
use crate::pattern::FieldInfo;
use crate::policy::Policy;

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// An allocator's state as plain data: pools with tags, policy and next-fit position,
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
    /// The previous automatic choice; next-fit resumes after it.
    #[cfg_attr(
        any(feature = "serde", feature = "schema"),
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub last_choice: Option<String>,
    /// The pools, in address order.
    #[cfg_attr(any(feature = "serde", feature = "schema"), serde(default))]
    pub pools: Vec<PoolSnapshot>,
    /// Reserved runs, in address order.
    #[cfg_attr(any(feature = "serde", feature = "schema"), serde(default))]
    pub reservations: Vec<ReservationSnapshot>,
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

/// One reserved run of a [`Snapshot`]: every address from `first` to `last` in address
/// order.
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
    let pools = e
        .pools
        .iter()
        .map(|p| PoolSnapshot {
            pattern: front::raw_of_grid(&p.grid, fields).display(fields),
            tags: e
                .tags
                .iter()
                .enumerate()
                .filter(|(i, _)| p.tags & (1 << i) != 0)
                .map(|(_, t)| t.to_string())
                .collect(),
        })
        .collect();
    let mut reservations = Vec::new();
    let mut push = |s: u128, x: u128, owner: Option<&str>| {
        reservations.push(ReservationSnapshot {
            first: addr(s),
            last: (x != s).then(|| addr(x)),
            owner: owner.map(String::from),
        })
    };
    for (s, x) in e.reserved_ranges() {
        // Split the run where owner labels start and end. Labels overlapping the run
        // start at most one entry before it.
        let before = e.owners.range(..s).next_back();
        let inside = e.owners.range(s..=x);
        let mut cur = Some(s);
        for (&os, (oe, name)) in before.into_iter().chain(inside) {
            let Some(c) = cur else { break };
            if *oe < c {
                continue;
            }
            let (os, oe) = (os.max(c), (*oe).min(x));
            if os > c {
                push(c, os - 1, None);
            }
            push(os, oe, Some(name));
            cur = oe.checked_add(1).filter(|n| *n <= x);
        }
        if let Some(c) = cur {
            push(c, x, None);
        }
    }
    let last_choice = e.cursor.checked_sub(1).map(&addr);
    Snapshot {
        version: SNAPSHOT_VERSION,
        space: space_text(fields),
        policy: e.policy,
        last_choice,
        pools,
        reservations,
    }
}

/// Builds an engine from a snapshot, checking everything; `parse` turns address text
/// into a valid index or says why it can't.
pub(crate) fn restore<F: FieldInfo>(
    snapshot: &Snapshot,
    fields: &[F],
    layout: Layout,
    parse: impl Fn(&str) -> Result<u128, String>,
) -> Result<Engine, Error> {
    if snapshot.version != SNAPSHOT_VERSION {
        return Err(bad(format!(
            "unsupported snapshot version {}; this build reads version {SNAPSHOT_VERSION}",
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
    let mut engine = Engine::new(layout, snapshot.policy);
    for (i, p) in snapshot.pools.iter().enumerate() {
        let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
        front::add_pool_text(&mut engine, fields, &p.pattern, &tags)
            .map_err(|e| bad(format!("pool {} `{}`: {e}", i + 1, p.pattern)))?;
    }
    for (i, r) in snapshot.reservations.iter().enumerate() {
        let i = i + 1;
        let idx = |text: &str| {
            parse(text).map_err(|e| bad(format!("reservation {i}: address `{text}`: {e}")))
        };
        let s = idx(&r.first)?;
        let x = match &r.last {
            Some(l) => idx(l)?,
            None => s,
        };
        let text = || match &r.last {
            Some(l) => format!("{}..={l}", r.first),
            None => r.first.clone(),
        };
        if x < s {
            return Err(bad(format!(
                "reservation {i} `{}`: the last address comes before the first",
                text()
            )));
        }
        let span = Count::span(s, x);
        let in_pools = engine.pools.iter().fold(Count::ZERO, |c, p| {
            c.add(p.grid.count_in(&engine.layout, s, x))
        });
        if in_pools != span {
            return Err(bad(format!(
                "reservation {i} `{}` is not inside the pools",
                text()
            )));
        }
        if !with_set!(&mut engine.set, st => st.try_insert(s, x)) {
            return Err(bad(format!(
                "reservation {i} `{}` overlaps an earlier reservation",
                text()
            )));
        }
        if let Some(o) = &r.owner {
            engine.owners.insert(s, (x, o.as_str().into()));
        }
        engine.reserved = engine.reserved.add(span);
    }
    if let Some(text) = &snapshot.last_choice {
        let idx = parse(text).map_err(|e| bad(format!("last choice `{text}`: {e}")))?;
        engine.cursor = if idx >= engine.layout.max_index() {
            0
        } else {
            idx + 1
        };
    }
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
        take(&self.engine, A::FIELDS, |i| self.addr(i).to_string())
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
        let mut alloc = Allocator::<A>::try_with_policy(snapshot.policy)?;
        let layout = alloc.engine.layout.clone();
        alloc.engine = restore(snapshot, A::FIELDS, layout, |text| {
            let a: A = text.parse().map_err(|e: A::Err| e.to_string())?;
            alloc.index(&a).map_err(|e| e.to_string())
        })?;
        Ok(alloc)
    }
}

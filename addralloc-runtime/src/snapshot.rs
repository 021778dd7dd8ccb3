//! [`Snapshot`]: an allocator's whole state as plain data, and its validated restore.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::address::Address;
use crate::allocator::Allocator;
use crate::count::Count;
use crate::engine::state::Set;
use crate::error::Error;
use crate::pattern::Pattern;
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

fn space_of<A: Address>() -> String {
    let parts: Vec<String> = A::FIELDS
        .iter()
        .map(|f| format!("{}={}..={}", f.name, f.min, f.max))
        .collect();
    parts.join(", ")
}

fn bad(reason: String) -> Error {
    Error::Snapshot { reason }
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
        let e = &self.engine;
        let pools = e
            .pools
            .iter()
            .map(|p| PoolSnapshot {
                pattern: self.pattern_of(&p.grid).to_string(),
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
                first: self.addr(s).to_string(),
                last: (x != s).then(|| self.addr(x).to_string()),
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
        let last_choice = e
            .cursor
            .checked_sub(1)
            .filter(|_| e.cursor != 0)
            .map(|i| self.addr(i).to_string());
        Snapshot {
            version: SNAPSHOT_VERSION,
            space: space_of::<A>(),
            policy: e.policy,
            last_choice,
            pools,
            reservations,
        }
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
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(bad(format!(
                "unsupported snapshot version {}; this build reads version {SNAPSHOT_VERSION}",
                snapshot.version
            )));
        }
        let space = space_of::<A>();
        if snapshot.space != space {
            return Err(bad(format!(
                "the snapshot is of address space `{}`, not `{space}`",
                snapshot.space
            )));
        }
        let mut alloc = Allocator::<A>::try_with_policy(snapshot.policy)?;
        for (i, p) in snapshot.pools.iter().enumerate() {
            let pattern: Pattern<A> = p
                .pattern
                .parse()
                .map_err(|e| bad(format!("pool {} `{}`: {e}", i + 1, p.pattern)))?;
            let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
            alloc
                .add_pool_tagged(pattern, &tags)
                .map_err(|e| bad(format!("pool {} `{}`: {e}", i + 1, p.pattern)))?;
        }
        fn parse<A: Address + FromStr>(alloc: &Allocator<A>, i: usize, text: &str) -> Result<u128, Error>
        where
            A::Err: fmt::Display,
        {
            let a: A = text
                .parse()
                .map_err(|e| bad(format!("reservation {i}: address `{text}`: {e}")))?;
            alloc
                .index(&a)
                .map_err(|e| bad(format!("reservation {i}: address `{text}`: {e}")))
        }
        let mut runs = Vec::with_capacity(snapshot.reservations.len());
        for (i, r) in snapshot.reservations.iter().enumerate() {
            let i = i + 1;
            let s = parse(&alloc, i, &r.first)?;
            let x = match &r.last {
                Some(l) => parse(&alloc, i, l)?,
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
            let layout = &alloc.engine.layout;
            let in_pools = alloc
                .engine
                .pools
                .iter()
                .fold(Count::ZERO, |c, p| c.add(p.grid.count_in(layout, s, x)));
            if in_pools != span {
                return Err(bad(format!(
                    "reservation {i} `{}` is not inside the pools",
                    text()
                )));
            }
            let free = match &alloc.engine.set {
                Set::Narrow(st) => st.is_free(s, x),
                Set::Wide(st) => st.is_free(s, x),
            };
            if !free {
                return Err(bad(format!(
                    "reservation {i} `{}` overlaps an earlier reservation",
                    text()
                )));
            }
            match &mut alloc.engine.set {
                Set::Narrow(st) => st.insert(s, x),
                Set::Wide(st) => st.insert(s, x),
            }
            if let Some(o) = &r.owner {
                alloc.engine.owners.insert(s, (x, o.as_str().into()));
            }
            alloc.engine.reserved = alloc.engine.reserved.add(span);
            runs.push((s, x));
        }
        if let Some(text) = &snapshot.last_choice {
            let a: A = text
                .parse()
                .map_err(|e| bad(format!("last choice `{text}`: {e}")))?;
            let idx = alloc
                .index(&a)
                .map_err(|e| bad(format!("last choice `{text}`: {e}")))?;
            alloc.engine.cursor = if idx >= alloc.engine.layout.max_index() {
                0
            } else {
                idx + 1
            };
        }
        Ok(alloc)
    }
}

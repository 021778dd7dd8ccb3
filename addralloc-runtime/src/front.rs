//! What the typed ([`Allocator`](crate::Allocator)) and dynamic
//! (`DynAllocator`) front ends share: turning engine failures into [`Error`]s with
//! addresses in the type's own format, request descriptions, and pool patterns.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::engine::grid::{Grid, LayoutError};
use crate::engine::state::{Engine, Fail};
use crate::engine::MAX_FIELDS;
use crate::error::Error;
use crate::pattern::{FieldInfo, RawPattern};

/// [`Error::Layout`] for fields that cannot be packed.
pub(crate) fn layout_error<F: FieldInfo>(e: LayoutError, fields: &[F]) -> Error {
    let reason = match e {
        LayoutError::NoFields => "an address type needs at least one field".to_string(),
        LayoutError::TooManyFields(n) => {
            format!("{n} fields; at most {MAX_FIELDS} are supported")
        }
        LayoutError::EmptyRange(i) => format!(
            "field `{}` has an empty range",
            fields.get(i).map_or("?", |f| f.name())
        ),
        LayoutError::TooWide(bits) => {
            format!("the fields' ranges need {bits} bits together; at most 128 are supported")
        }
    };
    Error::Layout { reason }
}

/// The pattern of a pool's box: fields that cover their whole range stay open.
pub(crate) fn raw_of_grid<F: FieldInfo>(g: &Grid, fields: &[F]) -> RawPattern {
    let mut raw = RawPattern::ANY;
    for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
        let a = g.axes[i];
        if !(a.lo == 0 && a.hi == f.max() - f.min()) {
            raw.set_range(i, a.lo + f.min(), a.hi + f.min());
        }
    }
    raw
}

/// "address in `bus=0`" plus the required tags, for [`Error::Exhausted`].
pub(crate) fn describe(what: String, tags: &[&str]) -> String {
    if tags.is_empty() {
        what
    } else {
        let t: Vec<String> = tags.iter().map(|t| format!("`{t}`")).collect();
        format!("{what} in pools tagged {}", t.join(", "))
    }
}

/// The public error for an engine failure; `addr` prints an index in the type's format.
pub(crate) fn fail_error<F: FieldInfo>(
    engine: &Engine,
    fields: &[F],
    fail: Fail,
    tags: &[&str],
    addr: impl Fn(u128) -> String,
) -> Error {
    match fail {
        Fail::AlreadyReserved { index, owner } => Error::AlreadyReserved {
            address: addr(index),
            owner,
        },
        Fail::OutsidePools { index } => Error::OutsidePools {
            address: addr(index),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        },
        Fail::NotReserved { index } => Error::NotReserved {
            address: addr(index),
        },
        Fail::Exhausted => Error::Exhausted {
            request: String::new(),
        },
        Fail::PoolOverlap { existing } => Error::PoolOverlap {
            pool: String::new(),
            existing: engine
                .pools
                .get(existing)
                .map(|p| raw_of_grid(&p.grid, fields).display(fields))
                .unwrap_or_default(),
        },
        Fail::UnknownTag(tag) => Error::UnknownTag { tag },
        Fail::TooManyTags => Error::TooManyTags,
        Fail::PartOf {
            index,
            first,
            last,
            owner,
            ..
        } => Error::NotWhole {
            request: None,
            address: addr(index),
            reservation: if first == last {
                addr(first)
            } else {
                format!("{}..={}", addr(first), addr(last))
            },
            owner,
        },
        Fail::NoSuchPool => Error::NoSuchPool {
            pool: String::new(),
        },
        Fail::PoolInUse { index } => Error::PoolInUse {
            pool: String::new(),
            address: addr(index),
            owner: engine.owner_of(index).map(String::from),
        },
    }
}

/// Adds a pool; an overlap names both pools.
pub(crate) fn add_pool_raw<F: FieldInfo>(
    engine: &mut Engine,
    fields: &[F],
    raw: &RawPattern,
    tags: &[&str],
) -> Result<(), Error> {
    let r = raw.resolve(fields)?;
    let g = Grid::new(&engine.layout, |i| r[i]);
    engine.add_pool(g, tags).map_err(|f| {
        match fail_error(engine, fields, f, tags, |i| format!("#{i}")) {
            Error::PoolOverlap { existing, .. } => Error::PoolOverlap {
                pool: raw.display(fields),
                existing,
            },
            e => e,
        }
    })
}

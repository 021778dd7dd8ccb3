//! [`Error`]: everything that can go wrong, with words a person can act on.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// An allocator, address or pattern error.
///
/// Addresses are printed in their type's own format. Every failing operation leaves the
/// allocator exactly as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The address is already reserved.
    AlreadyReserved {
        /// The address, formatted.
        address: String,
        /// Who holds it, when the reservation carried an owner label.
        owner: Option<String>,
    },
    /// The address lies in no pool (or in no pool carrying the required tags).
    OutsidePools {
        /// The address, formatted.
        address: String,
        /// The tags the request required.
        tags: Vec<String>,
    },
    /// A field value is outside the field's declared range.
    OutOfRange {
        /// The field's name.
        field: String,
        /// The value given.
        value: u128,
        /// The smallest allowed value.
        min: u128,
        /// The largest allowed value.
        max: u128,
    },
    /// No free address, or no free block, matches the request.
    Exhausted {
        /// What was asked for: "address in `bus=0, slot=1..=31`", "block of
        /// `function=8` in `*`", with the required tags.
        request: String,
    },
    /// The address (or an address of the block) is not reserved.
    NotReserved {
        /// The address, formatted.
        address: String,
    },
    /// A pattern is unusable: syntax, an unknown field, an empty range.
    BadPattern {
        /// The pattern text, or the field it concerns.
        pattern: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A block shape is unusable.
    BadBlock {
        /// The field whose extent is wrong.
        field: String,
        /// The extent given.
        extent: u128,
        /// What is allowed.
        reason: String,
    },
    /// A block shape's text (`function=8`) does not parse.
    BlockSyntax {
        /// The block text.
        block: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A new pool overlaps a pool added before.
    PoolOverlap {
        /// The new pool, in pattern syntax.
        pool: String,
        /// The pool it overlaps, in pattern syntax.
        existing: String,
    },
    /// A request requires a tag that no pool carries.
    UnknownTag {
        /// The tag.
        tag: String,
    },
    /// More than 64 distinct pool tags.
    TooManyTags,
    /// An address text does not parse.
    Parse {
        /// The input text.
        input: String,
        /// The field concerned, if any.
        field: Option<String>,
        /// The 1-based column (in characters) where the problem is.
        column: usize,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A snapshot cannot be restored; nothing was changed.
    Snapshot {
        /// What is wrong, naming the entry.
        reason: String,
    },
    /// The address type's fields cannot be packed (more than 16 fields, more than
    /// 128 bits in all, or an empty range).
    Layout {
        /// What is wrong.
        reason: String,
    },
    /// A release asked for part of a reservation, or for more than one: a release
    /// frees exactly one whole reservation (`release_range` cuts explicitly).
    NotWhole {
        /// The block asked for, when it was a block.
        request: Option<String>,
        /// The address that lies in another reservation, formatted.
        address: String,
        /// That reservation: `first..=last`, or one address.
        reservation: String,
        /// Its owner label.
        owner: Option<String>,
    },
    /// A block or range whose extents leave gaps between its rows would be too many
    /// separate runs to represent.
    TooManyRuns {
        /// The block or range.
        what: String,
        /// How many runs it has (saturating at `u128::MAX`).
        runs: u128,
        /// The most supported.
        limit: u128,
    },
    /// No pool is exactly this pattern.
    NoSuchPool {
        /// The pattern asked for.
        pool: String,
    },
    /// A pool cannot be removed while it holds reservations.
    PoolInUse {
        /// The pool.
        pool: String,
        /// A reserved address in it, formatted.
        address: String,
        /// Its owner label.
        owner: Option<String>,
    },
    /// An optional field is present after an absent one (`p2` = 0, `p3` = 5): an
    /// absent optional field (0) makes every later optional field absent.
    AbsentBefore {
        /// The present field.
        field: String,
        /// Its value.
        value: u128,
        /// The absent optional field before it.
        absent: String,
    },
    /// An exact start breaks the request's alignment (a bad request, not a full
    /// space).
    Unaligned {
        /// The start asked for, formatted.
        address: String,
        /// The alignment (a power of two) of the packed index.
        alignment: u128,
    },
    /// An alignment that is not a power of two (zero included).
    BadAlignment {
        /// The alignment given.
        alignment: u128,
    },
    /// A sized request for zero addresses.
    ZeroSize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyReserved {
                address,
                owner: Some(o),
            } => {
                write!(f, "address {address} is already reserved by `{o}`")
            }
            Error::AlreadyReserved {
                address,
                owner: None,
            } => {
                write!(f, "address {address} is already reserved")
            }
            Error::OutsidePools { address, tags } if tags.is_empty() => {
                write!(f, "address {address} is outside every pool")
            }
            Error::OutsidePools { address, tags } => {
                write!(f, "address {address} is outside every pool tagged ")?;
                write_list(f, tags)
            }
            Error::OutOfRange {
                field,
                value,
                min,
                max,
            } => write!(
                f,
                "field `{field}` value {value} is out of range {min}..={max}"
            ),
            Error::Exhausted { request } => write!(f, "no free {request}"),
            Error::NotReserved { address } => write!(f, "address {address} is not reserved"),
            Error::BadPattern { pattern, reason } => {
                write!(f, "invalid pattern `{pattern}`: {reason}")
            }
            Error::BadBlock {
                field,
                extent,
                reason,
            } => write!(
                f,
                "invalid block extent {extent} for field `{field}`: {reason}"
            ),
            Error::BlockSyntax { block, reason } => {
                write!(f, "invalid block `{block}`: {reason}")
            }
            Error::PoolOverlap { pool, existing } => {
                write!(f, "pool `{pool}` overlaps pool `{existing}`")
            }
            Error::UnknownTag { tag } => write!(f, "no pool carries tag `{tag}`"),
            Error::TooManyTags => f.write_str("too many pool tags: at most 64 are supported"),
            Error::Parse {
                input,
                field,
                column,
                reason,
            } => {
                write!(f, "invalid address `{input}` at column {column}")?;
                if let Some(field) = field {
                    write!(f, " (field `{field}`)")?;
                }
                write!(f, ": {reason}")
            }
            Error::Snapshot { reason } => write!(f, "invalid snapshot: {reason}"),
            Error::Layout { reason } => write!(f, "unusable address layout: {reason}"),
            Error::NotWhole {
                request,
                address,
                reservation,
                owner,
            } => {
                match request {
                    Some(r) => write!(
                        f,
                        "{r} is not one whole reservation: address {address} is in the reservation {reservation}"
                    )?,
                    None => write!(f, "address {address} is inside the reservation {reservation}")?,
                }
                if let Some(o) = owner {
                    write!(f, " of `{o}`")?;
                }
                f.write_str("; release that, or use release_range")
            }
            Error::TooManyRuns { what, runs, limit } => write!(
                f,
                "{what} is {runs} separate runs (its extents leave gaps between them); at most {limit} are supported"
            ),
            Error::NoSuchPool { pool } => write!(f, "no pool is exactly `{pool}`"),
            Error::PoolInUse {
                pool,
                address,
                owner,
            } => {
                write!(f, "pool `{pool}` still holds address {address}")?;
                if let Some(o) = owner {
                    write!(f, " of `{o}`")?;
                }
                f.write_str("; release its reservations first")
            }
            Error::AbsentBefore {
                field,
                value,
                absent,
            } => write!(
                f,
                "field `{field}` is {value} but the optional field `{absent}` before it is 0 (absent); an absent optional field makes every later one absent"
            ),
            Error::Unaligned { address, alignment } => write!(
                f,
                "start {address} is not aligned to {alignment:#x} ({alignment}): an exact start must be a multiple of the alignment"
            ),
            Error::BadAlignment { alignment } => write!(
                f,
                "alignment {alignment:#x} ({alignment}) is not a power of two: use 1, 2, 4, 8, …"
            ),
            Error::ZeroSize => f.write_str("a request for 0 addresses: the size must be at least 1"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[String]) -> fmt::Result {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "`{t}`")?;
    }
    Ok(())
}

impl core::error::Error for Error {}

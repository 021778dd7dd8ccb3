//! Helpers shared by `tests/allocator.rs`, `tests/model.rs` and `tests/fronts.rs`:
//! hand-written address types (each with the run-time schema of its twin type) and a
//! full observable snapshot of an allocator.
#![allow(dead_code, unused_macros, unused_imports)]

use addralloc_runtime::{Address, Allocator, Count, Error, Pattern, Policy};

/// Defines `pub struct $name(pub [u128; $n])` implementing [`Address`] with the given
/// fields, displayed as the values joined by `$sep`. Any value can be stored, so tests
/// can build out-of-range addresses.
macro_rules! address_type {
    ($name:ident, $n:literal, $sep:literal, [$(($f:literal, $min:expr, $max:expr)),+ $(,)?]) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u128; $n]);

        impl addralloc_runtime::Address for $name {
            const FIELDS: &'static [addralloc_runtime::Field] =
                &[$(addralloc_runtime::Field::new($f, $min, $max)),+];
            fn field(&self, i: usize) -> u128 {
                self.0[i]
            }
            fn from_fields(v: &[u128]) -> Self {
                let mut a = [0u128; $n];
                a.copy_from_slice(v);
                $name(a)
            }
        }

        impl $crate::common::Twin for $name {
            const SEP: &'static str = $sep;
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let parts: Vec<&str> = s.split($sep).collect();
                if parts.len() != $n {
                    return Err(format!("`{s}`: expected {} values", $n));
                }
                let mut a = [0u128; $n];
                for (v, t) in a.iter_mut().zip(parts) {
                    *v = t.parse().map_err(|e| format!("`{s}`: {e}"))?;
                }
                Ok($name(a))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                for (i, v) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str($sep)?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use address_type;

/// A test address type that can describe itself as a run-time schema.
pub trait Twin: Address {
    /// The text between two field values.
    const SEP: &'static str;
}

/// The schema TOML of an address type named `T` with the same fields and ranges as `A`
/// and a format that prints the same text as `A`'s `Display`.
pub fn twin_toml<A: Twin>() -> String {
    let format: Vec<String> = A::FIELDS
        .iter()
        .map(|f| format!("{{{}}}", f.name))
        .collect();
    let mut s = format!(
        "[[address]]\nname = \"T\"\nformat = \"{}\"\n",
        format.join(A::SEP)
    );
    for f in A::FIELDS {
        let ty = match f.max {
            m if m <= u8::MAX as u128 => "u8",
            m if m <= u16::MAX as u128 => "u16",
            m if m <= u32::MAX as u128 => "u32",
            m if m <= u64::MAX as u128 => "u64",
            _ => "u128",
        };
        s += &format!(
            "\n[[address.field]]\nname = \"{}\"\ntype = \"{ty}\"\nrange = \"{}..={}\"\n",
            f.name, f.min, f.max
        );
    }
    s
}

/// The run-time type equivalent to `A` (see [`twin_toml`]).
pub fn twin<A: Twin>() -> std::sync::Arc<addralloc_runtime::DynType> {
    let toml = twin_toml::<A>();
    match addralloc_runtime::DynSchema::from_toml(&toml) {
        Ok(s) => s.types()[0].clone(),
        Err(e) => panic!("schema of the twin type:\n{toml}\n{e:?}"),
    }
}

/// Everything an allocator lets a user observe, with addresses formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snap {
    pub policy: Policy,
    pub reserved: Vec<(String, String)>,
    pub owners: Vec<(String, String, String)>,
    pub free_ranges: Vec<(String, String)>,
    pub free_count: Count,
    pub capacity: Count,
    pub reserved_count: Count,
    pub pools: Vec<(String, Vec<String>)>,
    /// The next automatic choice, taken on a clone.
    pub next: Result<String, Error>,
}

/// Takes a [`Snap`] of `a` (the next automatic choice is made on a clone).
pub fn snapshot<A: Address>(a: &Allocator<A>) -> Snap {
    Snap {
        policy: a.policy(),
        reserved: a
            .reserved()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect(),
        owners: a
            .owners()
            .map(|(s, e, o)| (s.to_string(), e.to_string(), o.to_string()))
            .collect(),
        free_ranges: a
            .free_ranges()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect(),
        free_count: a.free_count(),
        capacity: a.capacity(),
        reserved_count: a.reserved_count(),
        pools: a
            .pools()
            .map(|(p, t)| (p.to_string(), t.iter().map(|t| t.to_string()).collect()))
            .collect(),
        next: a.clone().reserve_any().map(|x| x.to_string()),
    }
}

/// Runs `f` on `a`, which must fail with exactly `msg` and leave `a` unchanged.
pub fn fails<A: Address, T: std::fmt::Debug>(
    a: &mut Allocator<A>,
    msg: &str,
    f: impl FnOnce(&mut Allocator<A>) -> Result<T, Error>,
) -> Error {
    let before = snapshot(a);
    let err = match f(a) {
        Ok(v) => panic!("expected the error `{msg}`, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(err.to_string(), msg);
    assert_eq!(snapshot(a), before, "a failing call changed the allocator");
    err
}

/// Shorthand: a pattern from its text.
pub fn pat<A: Address>(s: &str) -> Pattern<A> {
    match s.parse() {
        Ok(p) => p,
        Err(e) => panic!("pattern `{s}`: {e}"),
    }
}

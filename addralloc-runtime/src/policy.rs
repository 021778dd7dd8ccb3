//! [`Policy`]: which free address automatic choice takes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::pattern::suggest;

/// Which free address [`reserve_first`](crate::Allocator::reserve_first),
/// [`reserve_any`](crate::Allocator::reserve_any) and
/// [`reserve_block`](crate::Allocator::reserve_block) take.
///
/// Written in plan files and on the command line as `lowest-first`, `next-fit` and
/// `highest-first`: [`Display`](fmt::Display) prints these names and
/// [`FromStr`] reads them.
///
/// ```
/// use addralloc_runtime::Policy;
/// assert_eq!(Policy::default(), Policy::LowestFirst);
/// assert_eq!("next-fit".parse::<Policy>(), Ok(Policy::NextFit));
/// assert_eq!(Policy::HighestFirst.to_string(), "highest-first");
/// assert_eq!(
///     "nextfit".parse::<Policy>().unwrap_err().to_string(),
///     "unknown policy `nextfit`; did you mean `next-fit`?"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    any(feature = "serde", feature = "schema"),
    derive(serde::Serialize, serde::Deserialize)
)]
pub enum Policy {
    /// The lowest free address (the order of the fields, first field most significant).
    #[default]
    LowestFirst,
    /// The lowest free address at or after the one after the previous automatic choice,
    /// wrapping around at the end. A just-released address is not handed straight back:
    /// monotonic allocation, as cloud users of libvirt ask for.
    NextFit,
    /// The highest free address: allocation from the top down.
    HighestFirst,
}

impl Policy {
    /// Every policy, in the order of their documentation.
    pub const ALL: [Policy; 3] = [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst];

    /// The policy's name in plan files: `lowest-first`, `next-fit`, `highest-first`.
    ///
    /// ```
    /// use addralloc_runtime::Policy;
    /// let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
    /// assert_eq!(names, ["lowest-first", "next-fit", "highest-first"]);
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Policy::LowestFirst => "lowest-first",
            Policy::NextFit => "next-fit",
            Policy::HighestFirst => "highest-first",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Policy {
    type Err = ParsePolicyError;

    /// Reads a policy's name ([`Policy::name`]), exactly as written.
    fn from_str(s: &str) -> Result<Policy, ParsePolicyError> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ParsePolicyError { name: s.into() })
    }
}

/// A name that is no [`Policy`]; says which policy was probably meant, or lists them.
///
/// ```
/// use addralloc_runtime::Policy;
/// let err = "best-effort".parse::<Policy>().unwrap_err();
/// assert_eq!(err.name(), "best-effort");
/// assert_eq!(
///     err.to_string(),
///     "unknown policy `best-effort`; the policies are `lowest-first`, `next-fit`, `highest-first`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParsePolicyError {
    name: String,
}

impl ParsePolicyError {
    /// The name that was given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParsePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = Policy::ALL.map(Policy::name);
        match suggest(&self.name, names) {
            Some(n) => write!(f, "unknown policy `{}`; did you mean `{n}`?", self.name),
            None => {
                let list: Vec<String> = names.iter().map(|n| alloc::format!("`{n}`")).collect();
                write!(
                    f,
                    "unknown policy `{}`; the policies are {}",
                    self.name,
                    list.join(", ")
                )
            }
        }
    }
}

impl core::error::Error for ParsePolicyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.to_string().parse::<Policy>(), Ok(p));
        }
        assert_eq!(alloc::format!("{:>10}", Policy::NextFit), "  next-fit");
    }

    #[test]
    fn unknown_names() {
        let msg = |s: &str| s.parse::<Policy>().unwrap_err().to_string();
        assert_eq!(
            msg("highest-frist"),
            "unknown policy `highest-frist`; did you mean `highest-first`?"
        );
        assert_eq!(
            msg("Next-Fit"),
            "unknown policy `Next-Fit`; did you mean `next-fit`?"
        );
        assert_eq!(
            msg(""),
            "unknown policy ``; the policies are `lowest-first`, `next-fit`, `highest-first`"
        );
        assert_eq!(
            msg("NextFit"),
            "unknown policy `NextFit`; did you mean `next-fit`?"
        );
    }
}

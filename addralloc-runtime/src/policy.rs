//! [`Policy`]: which free address automatic choice takes.

/// Which free address [`reserve_first`](crate::Allocator::reserve_first),
/// [`reserve_any`](crate::Allocator::reserve_any) and
/// [`reserve_block`](crate::Allocator::reserve_block) take.
///
/// ```
/// use addralloc_runtime::Policy;
/// assert_eq!(Policy::default(), Policy::LowestFirst);
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

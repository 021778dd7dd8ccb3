//! "did you mean" suggestions.

/// The closest candidate, when close enough to suggest.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (addralloc_runtime::edit_distance(name, c), c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= 2.max(name.len() / 3))
        .map(|(_, c)| c)
}

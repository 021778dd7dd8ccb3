//! Reservations as callers made them: who holds them, and where each reservation of
//! more than one address begins and ends.
//!
//! The range set coalesces adjacent reserved runs; these records keep the boundaries
//! that coalescing loses, so that a release frees exactly one whole reservation and
//! an owner label never spreads to a neighbour. Only reservations that need it have a
//! record: a labelled one, or one of more than one address. An unlabelled single
//! address (the common case of sequential filling) costs nothing here.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// The owner id of an unlabelled record.
pub(crate) const NO_OWNER: u32 = u32::MAX;

/// One run of one reservation: `start..=end` (the map key is `start`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) end: u128,
    /// The first index of the whole reservation (the key of its first run).
    pub(crate) head: u128,
    /// An id in [`Names`], or [`NO_OWNER`].
    pub(crate) owner: u32,
}

/// Owner labels, interned: a reservation stores a 4-byte id, and labelling many
/// reservations with one name allocates once. A name whose last reservation went
/// stays interned (so that churn under one name allocates nothing) until unused names
/// outnumber the used ones and 64; then they are all freed at once.
///
/// Names are found by hash (an open-addressing table of ids, at most half full), so a
/// look-up costs one string comparison whatever the number of names, and each name is
/// stored once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// Name and number of records using it; an empty name marks a free slot.
    slots: Vec<(Box<str>, u32)>,
    /// Ids of the interned names by hash, linear probing; `NO_OWNER` is empty. Its
    /// length is zero or a power of two.
    table: Vec<u32>,
    /// Interned names.
    count: usize,
    free: Vec<u32>,
    /// Interned names that no record uses.
    unused: usize,
}

/// FNV-1a: short names, no dependency, no per-process seed needed (ids, not
/// security, depend on it).
fn hash(name: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize
}

impl Names {
    /// The id of `name`, or the empty table position where it would go.
    fn find(&self, name: &str) -> Result<u32, usize> {
        if self.table.is_empty() {
            return Err(usize::MAX);
        }
        let mask = self.table.len() - 1;
        let mut i = hash(name) & mask;
        loop {
            let id = self.table[i];
            if id == NO_OWNER {
                return Err(i);
            }
            if self.slots.get(id as usize).is_some_and(|s| &*s.0 == name) {
                return Ok(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Rebuilds the table with `len` positions from the interned names.
    fn rebuild(&mut self, len: usize) {
        let mut is_free = alloc::vec![false; self.slots.len()];
        for &f in &self.free {
            if let Some(x) = is_free.get_mut(f as usize) {
                *x = true;
            }
        }
        self.table = alloc::vec![NO_OWNER; len];
        let mask = len - 1;
        for (id, s) in self.slots.iter().enumerate() {
            if is_free[id] {
                continue;
            }
            let mut i = hash(&s.0) & mask;
            while self.table[i] != NO_OWNER {
                i = (i + 1) & mask;
            }
            self.table[i] = id as u32;
        }
    }

    /// The id of `name`, creating it (with no users) when new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        let pos = match self.find(name) {
            Ok(id) => return id,
            Err(pos) => pos,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = (Box::from(name), 0);
                id
            }
            None => {
                self.slots.push((Box::from(name), 0));
                (self.slots.len() - 1) as u32
            }
        };
        self.count += 1;
        if 2 * self.count > self.table.len() {
            self.rebuild((2 * self.table.len()).max(8));
        } else {
            self.table[pos] = id;
        }
        self.unused += 1;
        id
    }

    pub(crate) fn id_of(&self, name: &str) -> Option<u32> {
        self.find(name).ok()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&str> {
        if id == NO_OWNER {
            return None;
        }
        self.slots.get(id as usize).map(|s| &*s.0)
    }

    pub(crate) fn inc(&mut self, id: u32) {
        if let Some(s) = self.slots.get_mut(id as usize) {
            if s.1 == 0 {
                self.unused -= 1;
            }
            s.1 += 1;
        }
    }

    pub(crate) fn dec(&mut self, id: u32) {
        if let Some(s) = self.slots.get_mut(id as usize) {
            if s.1 == 1 {
                self.unused += 1;
            }
            s.1 = s.1.saturating_sub(1);
        }
    }

    /// Frees every unused name when they outnumber the used ones and 64. Never called
    /// while a transaction is open, whose journal may still name them.
    pub(crate) fn sweep(&mut self) {
        let used = self.count - self.unused;
        if self.unused <= used.max(64) {
            return;
        }
        for (id, s) in self.slots.iter_mut().enumerate() {
            if s.1 == 0 && !s.0.is_empty() {
                s.0 = Box::from("");
                self.free.push(id as u32);
                self.count -= 1;
            }
        }
        self.unused = 0;
        let len = (2 * self.count).next_power_of_two().max(8);
        self.rebuild(len);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let names: usize = self.slots.iter().map(|s| s.0.len()).sum();
        names
            + self.slots.capacity() * core::mem::size_of::<(Box<str>, u32)>()
            + self.table.capacity() * core::mem::size_of::<u32>()
            + self.free.capacity() * core::mem::size_of::<u32>()
    }
}

/// The records: runs of labelled or multi-address reservations by first index, and
/// the last corner of every reservation whose box has more than one run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Records {
    pub(crate) runs: BTreeMap<u128, Rec>,
    /// head -> last corner, for box reservations of several runs.
    pub(crate) boxes: BTreeMap<u128, u128>,
    pub(crate) names: Names,
}

impl Records {
    /// The record run containing `idx`, as `(start, rec)`.
    pub(crate) fn containing(&self, idx: u128) -> Option<(u128, Rec)> {
        let (&s, &r) = self.runs.range(..=idx).next_back()?;
        (r.end >= idx).then_some((s, r))
    }

    /// The first and last index of the reservation starting at `head`, and whether it
    /// is a box of several runs (else one run).
    pub(crate) fn extent(&self, head: u128) -> Option<(u128, u128, bool)> {
        if let Some(&last) = self.boxes.get(&head) {
            return Some((head, last, true));
        }
        self.runs.get(&head).map(|r| (head, r.end, false))
    }

    /// Record runs overlapping `s..=e`, in order.
    pub(crate) fn overlapping(&self, s: u128, e: u128) -> impl Iterator<Item = (u128, Rec)> + '_ {
        let before = self.runs.range(..s).next_back().filter(|(_, r)| r.end >= s);
        before
            .into_iter()
            .chain(self.runs.range(s..=e))
            .map(|(&k, &r)| (k, r))
    }

    pub(crate) fn owner(&self, r: &Rec) -> Option<&str> {
        self.names.get(r.owner)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        // A B-tree entry costs its key and value plus about a third more in the node.
        let run = (core::mem::size_of::<u128>() + core::mem::size_of::<Rec>()) * 4 / 3;
        let corner = 2 * core::mem::size_of::<u128>() * 4 / 3;
        self.runs.len() * run + self.boxes.len() * corner + self.names.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    /// Interning, look-ups, the sweep of unused names and reuse of their ids, against
    /// a plain list.
    #[test]
    fn names_by_hash_survive_sweeps() {
        let mut n = Names::default();
        let mut held: Vec<(String, u32)> = Vec::new();
        for round in 0..4 {
            for k in 0..300 {
                let name = format!("dev{round}-{k}");
                let id = n.intern(&name);
                assert_eq!(n.intern(&name), id);
                if k % 10 == 0 {
                    n.inc(id);
                    held.push((name, id));
                }
            }
            // Nine tenths unused: swept.
            n.sweep();
            for (name, id) in &held {
                assert_eq!(n.id_of(name), Some(*id));
                assert_eq!(n.get(*id), Some(name.as_str()));
            }
            assert_eq!(n.id_of(&format!("dev{round}-1")), None);
        }
        assert_eq!(n.id_of(""), None);
        let e = n.intern("");
        assert_eq!(n.id_of(""), Some(e));
    }
}

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
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// Name and number of records using it; an empty name marks a free slot.
    slots: Vec<(Box<str>, u32)>,
    ids: BTreeMap<Box<str>, u32>,
    free: Vec<u32>,
    /// Interned names that no record uses.
    unused: usize,
}

impl Names {
    /// The id of `name`, creating it (with no users) when new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
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
        self.ids.insert(Box::from(name), id);
        self.unused += 1;
        id
    }

    pub(crate) fn id_of(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
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
        let used = self.ids.len() - self.unused;
        if self.unused <= used.max(64) {
            return;
        }
        for (id, s) in self.slots.iter_mut().enumerate() {
            if s.1 == 0 && !s.0.is_empty() {
                let name = core::mem::take(&mut s.0);
                self.ids.remove(&name);
                self.free.push(id as u32);
            }
        }
        self.unused = 0;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let names: usize = self.slots.iter().map(|s| 2 * s.0.len() + 48).sum();
        names + self.slots.capacity() * core::mem::size_of::<(Box<str>, u32)>()
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

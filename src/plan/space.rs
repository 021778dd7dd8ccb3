//! One address space of a plan: a schema type and its run-time allocator
//! ([`DynAllocator`]), with addresses as field values.

use std::sync::Arc;

use crate::dynamic::{DynAddress, DynAllocator, DynBlock, DynBlockRange, DynPattern, DynType};
use crate::schema::TypeDef;
use crate::{Count, Error, Policy, Snapshot};

/// An address as one value per field.
pub type Values = Vec<u128>;

/// How automatic choice searches a space's pools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolOrder {
    /// The first free address of all pools by the policy (`order = "address"`).
    #[default]
    Address,
    /// Pool after pool, in the order they came into being (`order = "creation"`).
    Creation,
    /// Pool after pool, by each pool's first address, the earlier-made pool first on a
    /// tie (`order = "depth-first"`). For a tree of ports whose children extend their
    /// parent's path (USB: a hub at `0-1` provides `0-1.1` to `0-1.8`, a hub at
    /// `0-1.8` provides `0-1.8.1` ...), that is the root's ports, then each hub's in
    /// port order, a hub's sub-hubs right after it: libvirt's
    /// `virDomainUSBAddressFindFreePort`.
    DepthFirst,
}

impl PoolOrder {
    /// The plan-file word.
    pub fn parse(word: &str) -> Option<PoolOrder> {
        match word {
            "address" => Some(PoolOrder::Address),
            "creation" => Some(PoolOrder::Creation),
            "depth-first" => Some(PoolOrder::DepthFirst),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Space {
    ty: Arc<DynType>,
    alloc: DynAllocator,
    /// The pools in the order they came into being, with their tags.
    pools: Vec<(String, Vec<String>)>,
    /// How automatic choice searches the pools.
    order: PoolOrder,
    /// Reserved blocks that provide a pool over themselves (a rack's /24 holding its
    /// hosts): each has its own allocator, whose one pool is the block; requests
    /// carrying every tag of the pool are placed there.
    nested: Vec<Nested>,
}

/// A block that provides a pool over itself.
#[derive(Clone)]
struct Nested {
    pattern: String,
    first: Values,
    last: Values,
    tags: Vec<String>,
    alloc: DynAllocator,
}

fn range_values(r: &DynBlockRange) -> (Values, Values) {
    (r.first().values().to_vec(), r.last().values().to_vec())
}

fn single(a: &DynAddress) -> (Values, Values) {
    (a.values().to_vec(), a.values().to_vec())
}

impl Space {
    /// A space of type `def` with no pools.
    pub fn new(def: &TypeDef, policy: Policy) -> Result<Space, String> {
        let ty = DynType::from_def(def.clone()).map_err(|d| {
            d.iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let ty = Arc::new(ty);
        Ok(Space {
            alloc: DynAllocator::new(Arc::clone(&ty), policy),
            ty,
            pools: Vec::new(),
            order: PoolOrder::Address,
            nested: Vec::new(),
        })
    }

    pub fn type_name(&self) -> &str {
        self.ty.name()
    }

    pub fn ty(&self) -> &Arc<DynType> {
        &self.ty
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.ty.field_index(name)
    }

    pub fn field_count(&self) -> usize {
        self.ty.fields().len()
    }

    pub fn add_pool(&mut self, pattern: &str, tags: &[&str]) -> Result<(), Error> {
        if let Some((first, last)) = self.whole_reservation(pattern) {
            // A device's own block provides a pool over itself: it stays reserved here,
            // and its own allocator places inside it.
            let mut alloc = DynAllocator::new(Arc::clone(&self.ty), self.alloc.policy());
            alloc.add_pool(pattern)?;
            self.nested.push(Nested {
                pattern: pattern.to_string(),
                first,
                last,
                tags: tags.iter().map(|t| (*t).to_string()).collect(),
                alloc,
            });
            self.pools.push((
                pattern.to_string(),
                tags.iter().map(|t| (*t).to_string()).collect(),
            ));
            return Ok(());
        }
        self.alloc.add_pool_tagged(pattern, tags)?;
        self.pools.push((
            pattern.to_string(),
            tags.iter().map(|t| (*t).to_string()).collect(),
        ));
        Ok(())
    }

    /// The ends of `pattern` when it is a box that is exactly one whole reservation.
    fn whole_reservation(&self, pattern: &str) -> Option<(Values, Values)> {
        let p = self.ty.parse_pattern(pattern).ok()?;
        if p.is_linear() || p.is_any() {
            return None;
        }
        let (first, last): (Values, Values) = self
            .ty
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                p.range(i)
                    .map_or((f.min, f.max), |r| (*r.start(), *r.end()))
            })
            .unzip();
        let (f, l, _) = self.alloc.reservation(self.ty.address(&first).ok()?)?;
        (f.values() == first.as_slice() && l.values() == last.as_slice()).then_some((first, last))
    }

    /// The nested pool a request goes to: the first whose tags include every tag of
    /// `tags` (none for a request without tags).
    fn nested_for(&self, tags: &[&str]) -> Option<usize> {
        if tags.is_empty() {
            return None;
        }
        self.nested
            .iter()
            .position(|n| tags.iter().all(|t| n.tags.iter().any(|x| x == t)))
    }

    /// The nested pool holding `first..=last` inside its block (not the block itself).
    fn nested_holding(&self, first: &[u128], last: &[u128]) -> Option<usize> {
        self.nested.iter().position(|n| {
            !(n.first == first && n.last == last)
                && (0..first.len())
                    .all(|i| n.first[i] <= first[i] && last[i] <= n.last[i] && first[i] <= last[i])
        })
    }

    /// Whether a pool was added with exactly this pattern.
    pub fn has_pool(&self, pattern: &str) -> bool {
        self.pools.iter().any(|(p, _)| p == pattern)
    }

    /// `base` with the fields `pattern` names set to its single values (`function=7`).
    pub fn apply(&self, base: &[u128], pattern: &str) -> Result<Values, String> {
        let p = self.ty.parse_pattern(pattern).map_err(|e| e.to_string())?;
        let mut out = base.to_vec();
        for (i, f) in self.ty.fields().iter().enumerate() {
            if let Some(r) = p.range(i) {
                if r.start() != r.end() {
                    return Err(format!(
                        "`{pattern}` gives `{}` a range; a place in a block needs one value per field",
                        f.name
                    ));
                }
                if let Some(v) = out.get_mut(i) {
                    *v = *r.start();
                }
            }
        }
        Ok(out)
    }

    /// How automatic choice searches the pools.
    pub fn set_creation_order(&mut self, order: PoolOrder) {
        self.order = order;
    }

    /// Removes a pool added with `pattern`; refused while it holds a reservation.
    pub fn remove_pool(&mut self, pattern: &str) -> Result<(), Error> {
        if let Some(k) = self.nested.iter().position(|n| n.pattern == pattern) {
            if let Some((first, last, owner)) = self.nested[k].alloc.owners().next() {
                return Err(Error::PoolInUse {
                    pool: pattern.to_string(),
                    address: if first == last {
                        first.to_string()
                    } else {
                        format!("{first}..={last}")
                    },
                    owner: Some(owner.to_string()),
                });
            }
            self.nested.remove(k);
            if let Some(i) = self.pools.iter().rposition(|(p, _)| p == pattern) {
                self.pools.remove(i);
            }
            return Ok(());
        }
        self.alloc.remove_pool(pattern)?;
        if let Some(i) = self.pools.iter().rposition(|(p, _)| p == pattern) {
            self.pools.remove(i);
        }
        Ok(())
    }

    /// The owners of the reservations that lie in `pattern`, other than `except`, in
    /// address order.
    pub fn owners_in(&self, pattern: &str, except: &str) -> Result<Vec<String>, Error> {
        let p = self.ty.parse_pattern(pattern)?;
        let mut out: Vec<String> = Vec::new();
        let nested = self.nested.iter().flat_map(|n| n.alloc.owners());
        for (first, last, owner) in self.alloc.owners().chain(nested) {
            if owner != except
                && (p.matches(&first) || p.matches(&last))
                && !out.iter().any(|o| o == owner)
            {
                out.push(owner.to_string());
            }
        }
        Ok(out)
    }

    /// The pools that carry every tag of `tags`, each narrowed to `within` (a pool
    /// that shares no address with `within` is left out), in the space's order:
    /// creation, or by the pool's first address (depth-first; a stable sort keeps
    /// creation order on a tie).
    fn ordered_pools(&self, within: &DynPattern, tags: &[&str]) -> Vec<DynPattern> {
        let mut out: Vec<(Values, DynPattern)> = Vec::new();
        for (pattern, ptags) in &self.pools {
            if !tags.iter().all(|t| ptags.iter().any(|p| p == t)) {
                continue;
            }
            let Ok(pool) = self.ty.parse_pattern(pattern) else {
                continue;
            };
            // The pool's first address (of a linear pool too: its ranges are then the
            // fields of its first and last address), the key of the depth-first order.
            let first: Values = self
                .ty
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| pool.range(i).map_or(f.min, |r| *r.start()))
                .collect();
            if pool.is_linear() || within.is_linear() {
                // Not boxes: narrow only when one side is every address.
                match (within.is_any(), pool.is_any()) {
                    (true, _) => out.push((first, pool)),
                    (_, true) => out.push((first, within.clone())),
                    _ => {}
                }
                continue;
            }
            let mut narrowed = within.clone();
            let mut empty = false;
            for i in 0..self.field_count() {
                let (lo, hi) = match (pool.range(i), within.range(i)) {
                    (None, None) => continue,
                    (Some(r), None) | (None, Some(r)) => (*r.start(), *r.end()),
                    (Some(a), Some(b)) => ((*a.start()).max(*b.start()), (*a.end()).min(*b.end())),
                };
                if lo > hi {
                    empty = true;
                    break;
                }
                narrowed = narrowed.with_range(i, lo, hi);
            }
            if !empty {
                out.push((first, narrowed));
            }
        }
        if self.order == PoolOrder::DepthFirst {
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Parses an address in the type's format.
    pub fn parse(&self, text: &str) -> Result<Values, Error> {
        self.ty.parse_address(text).map(|a| a.values().to_vec())
    }

    /// Prints an address in the type's format.
    pub fn show(&self, v: &[u128]) -> String {
        self.ty.format_values(v)
    }

    /// Checks one value per field against the fields' ranges.
    pub fn check_values(&self, v: &[u128]) -> Result<(), Error> {
        self.ty.address(v).map(|_| ())
    }

    fn block_text(&self, ext: &[u128]) -> String {
        let parts: Vec<String> = self
            .ty
            .fields()
            .iter()
            .zip(ext)
            .filter(|(_, e)| **e != 1)
            .map(|(f, e)| format!("{}={e}", f.name))
            .collect();
        if parts.is_empty() {
            "1".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The last address of the block of extents `ext` starting at `first`.
    pub fn block_end(&self, first: &[u128], ext: &[u128]) -> Result<Values, String> {
        let mut last = Vec::with_capacity(first.len());
        for ((f, &v), &e) in self.ty.fields().iter().zip(first).zip(ext) {
            match v.checked_add(e - 1) {
                Some(l) if l <= f.max => last.push(l),
                _ => {
                    return Err(format!(
                        "the block `{}` from {} runs past the largest `{}` ({})",
                        self.block_text(ext),
                        self.show(first),
                        f.name,
                        f.max
                    ))
                }
            }
        }
        Ok(last)
    }

    fn is_single(ext: &[u128]) -> bool {
        ext.iter().all(|&e| e == 1)
    }

    /// Reserves every address from `first` to `last` for `owner`, in pools carrying
    /// `tags`.
    pub fn reserve_range(
        &mut self,
        first: &[u128],
        last: &[u128],
        owner: &str,
        tags: &[&str],
    ) -> Result<(), Error> {
        let f = self.ty.address(first)?;
        let l = self.ty.address(last)?;
        if let Some(k) = self
            .nested_for(tags)
            .or_else(|| self.nested_holding(first, last))
        {
            let req = self.nested[k].alloc.owned_by(owner);
            return if first == last {
                req.reserve(f).map(|_| ())
            } else {
                req.reserve_range(f, l).map(|_| ())
            };
        }
        let req = self.alloc.owned_by(owner).requiring(tags);
        if first == last {
            req.reserve(f).map(|_| ())
        } else {
            req.reserve_range(f, l).map(|_| ())
        }
    }

    /// The first free address (or aligned block) inside `within`, by policy.
    pub fn reserve_first(
        &mut self,
        within: Option<&str>,
        ext: &[u128],
        owner: &str,
        tags: &[&str],
    ) -> Result<(Values, Values), Error> {
        let within = self.ty.parse_pattern(within.unwrap_or("*"))?;
        let block = if Self::is_single(ext) {
            None
        } else {
            Some(self.ty.parse_block(&self.block_text(ext))?)
        };
        self.reserve_first_parsed(&within, block.as_ref(), owner, tags)
    }

    /// Parses a `within` pattern (`*` when none), for [`Space::reserve_first_parsed`].
    pub fn parse_within(&self, within: Option<&str>) -> Result<DynPattern, Error> {
        self.ty.parse_pattern(within.unwrap_or("*"))
    }

    /// Parses a block shape (`function=8`), for [`Space::reserve_first_parsed`].
    pub fn parse_shape(&self, text: &str) -> Result<DynBlock, Error> {
        self.ty.parse_block(text)
    }

    /// [`Space::reserve_first`] with the pattern and the block shape parsed (`None`,
    /// or a shape of one address, for a single address).
    pub fn reserve_first_parsed(
        &mut self,
        within: &DynPattern,
        block: Option<&DynBlock>,
        owner: &str,
        tags: &[&str],
    ) -> Result<(Values, Values), Error> {
        let block = block.filter(|b| !Self::is_single(b.extents()));
        if let Some(k) = self.nested_for(tags) {
            let alloc = &mut self.nested[k].alloc;
            return match block {
                None => alloc
                    .owned_by(owner)
                    .reserve_first(within)
                    .map(|a| single(&a)),
                Some(b) => alloc
                    .owned_by(owner)
                    .reserve_block(within, b)
                    .map(|r| range_values(&r)),
            };
        }
        if self.order != PoolOrder::Address {
            for narrowed in self.ordered_pools(within, tags) {
                let got = match block {
                    None => self
                        .alloc
                        .owned_by(owner)
                        .requiring(tags)
                        .reserve_first(narrowed)
                        .map(|a| single(&a)),
                    Some(b) => self
                        .alloc
                        .owned_by(owner)
                        .requiring(tags)
                        .reserve_block(narrowed, b)
                        .map(|r| range_values(&r)),
                };
                match got {
                    Err(Error::Exhausted { .. }) => continue,
                    other => return other,
                }
            }
        }
        match block {
            None => self
                .alloc
                .owned_by(owner)
                .requiring(tags)
                .reserve_first(within)
                .map(|a| single(&a)),
            Some(b) => self
                .alloc
                .owned_by(owner)
                .requiring(tags)
                .reserve_block(within, b)
                .map(|r| range_values(&r)),
        }
    }

    /// The first free address (or aligned block) of the first preference that has
    /// one, with the preference's position. On failure, the position of the
    /// preference at fault, if one is.
    pub fn reserve_preferred(
        &mut self,
        prefs: &[&str],
        ext: &[u128],
        owner: &str,
        tags: &[&str],
    ) -> Result<(Values, Values, usize), (Error, Option<usize>)> {
        // Check every preference first, so that a typo in the last one is reported
        // even when an earlier one has room.
        for (i, p) in prefs.iter().enumerate() {
            self.ty.parse_pattern(p).map_err(|e| (e, Some(i)))?;
        }
        for (i, p) in prefs.iter().enumerate() {
            match self.reserve_first(Some(p), ext, owner, tags) {
                Ok((f, l)) => return Ok((f, l, i)),
                Err(Error::Exhausted { .. }) => continue,
                Err(e) => return Err((e, Some(i))),
            }
        }
        let list: Vec<String> = prefs.iter().map(|p| format!("`{p}`")).collect();
        let what = if Self::is_single(ext) {
            "address".to_string()
        } else {
            format!("block of `{}`", self.block_text(ext))
        };
        let mut request = format!("{what} in any of {}", list.join(", "));
        if !tags.is_empty() {
            let t: Vec<String> = tags.iter().map(|t| format!("`{t}`")).collect();
            request.push_str(&format!(" in pools tagged {}", t.join(", ")));
        }
        Err((Error::Exhausted { request }, None))
    }

    /// The allocator's whole state, for the state file.
    pub fn snapshot(&self) -> Snapshot {
        self.alloc.snapshot()
    }

    /// Continues automatic choice from a previous run: `saved` (the allocator of the
    /// state file) is checked in full, and its next-fit position carried over to this
    /// allocator, which must hold no reservations yet. The plan gives the pools and the
    /// reservations; only the position comes from `saved`.
    pub fn continue_from(&mut self, saved: &Snapshot) -> Result<(), Error> {
        DynAllocator::restore(Arc::clone(&self.ty), saved)?;
        // A plan's pools only grow with the plan, so a position outside the saved pools
        // is a damaged state file (the runtime accepts positions anywhere: an
        // allocator's pools may have been removed since its last choice).
        let positions = saved
            .last_choice
            .iter()
            .chain(saved.next_fit.iter().map(|n| &n.last_choice));
        for last in positions {
            let addr = self.ty.parse_address(last)?;
            let mut in_pool = false;
            for p in &saved.pools {
                if self.ty.parse_pattern(&p.pattern)?.matches(&addr) {
                    in_pool = true;
                    break;
                }
            }
            if !in_pool {
                return Err(Error::Snapshot {
                    reason: format!("the last choice `{last}` is outside every pool"),
                });
            }
        }
        let mut now = self.alloc.snapshot();
        now.last_choice = saved.last_choice.clone();
        now.next_fit = saved.next_fit.clone();
        self.alloc = DynAllocator::restore(Arc::clone(&self.ty), &now)?;
        Ok(())
    }

    /// A space of the same type and policy with no pools, without checking the type
    /// again.
    pub fn empty_copy(&self) -> Space {
        Space {
            ty: Arc::clone(&self.ty),
            alloc: DynAllocator::new(Arc::clone(&self.ty), self.alloc.policy()),
            pools: Vec::new(),
            order: self.order,
            nested: Vec::new(),
        }
    }

    /// Gives back the reservation of `owner` from `first` to `last`: the allocator
    /// becomes what it would be had that reservation never been made (the next-fit
    /// position stays).
    pub fn release_owned(&mut self, owner: &str, first: &str, last: &str) -> Result<(), Error> {
        let (f, l) = (self.parse(first)?, self.parse(last)?);
        if let Some(k) = self.nested_holding(&f, &l) {
            let n = &mut self.nested[k];
            let mut snap = n.alloc.snapshot();
            let before = snap.reservations.len();
            snap.reservations.retain(|r| {
                !(r.owner.as_deref() == Some(owner)
                    && r.first == first
                    && r.last.as_deref().unwrap_or(first) == last)
            });
            if snap.reservations.len() == before {
                return Err(Error::Snapshot {
                    reason: format!("no reservation of `{owner}` from {first} to {last}"),
                });
            }
            n.alloc = DynAllocator::restore(Arc::clone(&self.ty), &snap)?;
            return Ok(());
        }
        if let Some(n) = self.nested.iter().find(|n| n.first == f && n.last == l) {
            if let Some((a, b, o)) = n.alloc.owners().next() {
                return Err(Error::PoolInUse {
                    pool: n.pattern.clone(),
                    address: if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..={b}")
                    },
                    owner: Some(o.to_string()),
                });
            }
        }
        self.nested.retain(|n| !(n.first == f && n.last == l));
        let mut snap = self.alloc.snapshot();
        let before = snap.reservations.len();
        snap.reservations.retain(|r| {
            !(r.owner.as_deref() == Some(owner)
                && r.first == first
                && r.last.as_deref().unwrap_or(first) == last)
        });
        if snap.reservations.len() == before {
            return Err(Error::Snapshot {
                reason: format!("no reservation of `{owner}` from {first} to {last}"),
            });
        }
        self.alloc = DynAllocator::restore(Arc::clone(&self.ty), &snap)?;
        Ok(())
    }

    pub fn capacity(&self) -> Count {
        self.alloc.capacity()
    }

    pub fn free_count(&self) -> Count {
        self.alloc.free_count()
    }
}

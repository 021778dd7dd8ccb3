//! Shared spaces: single reservations and releases, one transaction each, placed from
//! a client's cached view and refused by the database when they overlap; block claims
//! (affinity) and their reclaiming.

use std::path::Path;
use std::sync::Arc;

use addralloc::dynamic::{DynAddress, DynAllocator, DynPattern, DynSchema, DynType};
use addralloc::Policy;
use postgres::Row;

use crate::{pack, Error, PgStore, MAX_ATTEMPTS};

/// A space shared through the database: a name (the `space` column), an address type
/// and the pools to place in, and this client's cached view of what is taken.
///
/// ```
/// use addralloc_postgres::SharedSpace;
///
/// let macs = SharedSpace::from_schema_text(
///     "macs",
///     include_str!("../../schemas/mac.toml"),
///     None,
///     &["a=0x52, b=0x54, c=0"],
/// )?;
/// assert_eq!(macs.name(), "macs");
/// assert_eq!(macs.ty().name(), "MacAddress");
/// # Ok::<(), addralloc_postgres::Error>(())
/// ```
pub struct SharedSpace {
    name: String,
    ty: Arc<DynType>,
    pools: Vec<String>,
    /// What this client believes is taken in the pools; refreshed on conflicts.
    view: Option<DynAllocator>,
    /// Inserts refused since the view was last loaded.
    conflicts: usize,
    /// The host whose claims `affine` covers, and its view of them.
    affine: Option<(String, DynAllocator)>,
}

impl std::fmt::Debug for SharedSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSpace")
            .field("name", &self.name)
            .field("type", &self.ty.name())
            .field("pools", &self.pools)
            .finish_non_exhaustive()
    }
}

/// One reservation row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The space's name.
    pub space: String,
    /// The first address.
    pub first: String,
    /// The last address (the first, for one address).
    pub last: String,
    /// Who holds it.
    pub owner: String,
    /// The host whose claimed block it is in, for a reservation placed with affinity.
    pub host: Option<String>,
}

/// A block of a space claimed by a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The space's name.
    pub space: String,
    /// The block's first address.
    pub first: String,
    /// The block's last address.
    pub last: String,
    /// The host holding it.
    pub host: String,
}

fn check_name(what: &str, s: &str) -> Result<(), Error> {
    if s.is_empty() {
        return Err(Error::Input(format!("{what} cannot be empty")));
    }
    if s.len() > 1024 {
        return Err(Error::Input(format!(
            "{what} is {} bytes long; at most 1024 are allowed",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(Error::Input(format!(
            "{what} `{}` contains a NUL character, which the database cannot store",
            s.escape_debug()
        )));
    }
    Ok(())
}

impl SharedSpace {
    /// A space named `name` of type `ty`, placing in `pools` (patterns; none: the
    /// type's whole range).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an empty name or a pool that does not parse or overlaps
    /// another.
    pub fn new(name: &str, ty: Arc<DynType>, pools: &[&str]) -> Result<SharedSpace, Error> {
        check_name("a space name", name)?;
        let space = SharedSpace {
            name: name.to_string(),
            ty,
            pools: pools.iter().map(|p| p.to_string()).collect(),
            view: None,
            conflicts: 0,
            affine: None,
        };
        space.empty_view()?;
        Ok(space)
    }

    /// A space of a type read from schema text (TOML): `type_name`, or the schema's only
    /// type.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a schema with errors, an unknown type, or (without
    /// `type_name`) a schema of several types; as [`SharedSpace::new`].
    pub fn from_schema_text(
        name: &str,
        schema: &str,
        type_name: Option<&str>,
        pools: &[&str],
    ) -> Result<SharedSpace, Error> {
        let s = DynSchema::from_toml(schema).map_err(|d| {
            Error::Input(format!(
                "the schema has errors: {}",
                d.iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let names: Vec<&str> = s.types().iter().map(|t| t.name()).collect();
        let ty = match type_name {
            Some(t) => s.get(t).cloned().ok_or_else(|| {
                Error::Input(format!(
                    "the schema has no type `{t}`; its types are {}",
                    names.join(", ")
                ))
            })?,
            None if s.types().len() == 1 => s.types()[0].clone(),
            None => {
                return Err(Error::Input(format!(
                    "the schema has {} types ({}); name one",
                    names.len(),
                    names.join(", ")
                )))
            }
        };
        SharedSpace::new(name, ty, pools)
    }

    /// As [`SharedSpace::from_schema_text`], the schema read from a file.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the file cannot be read, as
    /// [`SharedSpace::from_schema_text`] otherwise.
    pub fn from_schema_file(
        name: &str,
        path: &Path,
        type_name: Option<&str>,
        pools: &[&str],
    ) -> Result<SharedSpace, Error> {
        let text = addralloc::plan::read_text(path).map_err(|e| {
            Error::Input(format!(
                "cannot read the schema `{}`: {}",
                path.display(),
                addralloc::plan::io_reason(&e)
            ))
        })?;
        SharedSpace::from_schema_text(name, &text, type_name, pools)
    }

    /// The space's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address type.
    pub fn ty(&self) -> &Arc<DynType> {
        &self.ty
    }

    fn empty_view(&self) -> Result<DynAllocator, Error> {
        if self.pools.is_empty() {
            Ok(DynAllocator::with_default_pools(
                self.ty.clone(),
                Policy::LowestFirst,
            )?)
        } else {
            let mut a = DynAllocator::new(self.ty.clone(), Policy::LowestFirst);
            for p in &self.pools {
                a.add_pool(p.as_str())?;
            }
            Ok(a)
        }
    }

    fn index(&self, a: &DynAddress) -> Result<u128, Error> {
        pack::index(&self.ty, a.values())
    }
}

/// Marks a row's addresses taken in a view; rows outside its pools are skipped.
fn take(view: &mut DynAllocator, ty: &Arc<DynType>, first: &str, last: &str, owner: &str) {
    let (Ok(f), Ok(l)) = (ty.parse_address(first), ty.parse_address(last)) else {
        return;
    };
    if f == l {
        let _ = view.owned_by(owner).reserve(&f);
    } else {
        let _ = view.owned_by(owner).reserve_range(&f, &l);
    }
}

fn reservation(r: &Row) -> Reservation {
    Reservation {
        space: r.get(0),
        first: r.get(1),
        last: r.get(2),
        owner: r.get(3),
        host: r.get(4),
    }
}

/// Conflicts after which a view is reloaded whole.
const RELOAD_AFTER: usize = 256;

impl PgStore {
    /// Loads every reservation of the space into a fresh view.
    fn load_view(&mut self, space: &mut SharedSpace) -> Result<(), Error> {
        let mut view = space.empty_view()?;
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT first, last, owner FROM \"{}\".reservations WHERE space = $1",
                    self.ns
                ),
                &[&space.name],
            )
            .map_err(|e| self.db(e))?;
        for r in &rows {
            take(&mut view, &space.ty, r.get(0), r.get(1), r.get(2));
        }
        space.view = Some(view);
        space.conflicts = 0;
        Ok(())
    }

    /// Inserts one reservation row in its own transaction.
    fn insert(
        &mut self,
        space: &SharedSpace,
        first: &DynAddress,
        last: &DynAddress,
        owner: &str,
        host: Option<&str>,
    ) -> Result<Reservation, Error> {
        let (fi, li) = (space.index(first)?, space.index(last)?);
        let row = Reservation {
            space: space.name.clone(),
            first: first.to_string(),
            last: last.to_string(),
            owner: owner.to_string(),
            host: host.map(str::to_string),
        };
        self.client
            .execute(
                &format!(
                    "INSERT INTO \"{}\".reservations (space, first_index, last_index, first, last, owner, host) \
                     VALUES ($1, $2::text::numeric, $3::text::numeric, $4, $5, $6, $7)",
                    self.ns
                ),
                &[
                    &row.space,
                    &fi.to_string(),
                    &li.to_string(),
                    &row.first,
                    &row.last,
                    &row.owner,
                    &row.host,
                ],
            )
            .map_err(|e| self.db(e))?;
        Ok(row)
    }

    /// Reserves the first free address matching `pattern` in the space's pools for
    /// `owner`, as one transaction. The address is picked from the client's cached view;
    /// when another client took it meanwhile (the database refuses the overlap) the view
    /// marks it taken and the next one is tried, at most
    /// [`MAX_ATTEMPTS`](crate::MAX_ATTEMPTS) times. The whole view is reloaded when it
    /// has no free address left, and after 256 conflicts (to see others' releases).
    ///
    /// # Errors
    ///
    /// [`Error::Full`] when no free address matches (after a fresh look at the
    /// table), [`Error::Contention`] after too many conflicts, [`Error::Input`] for a
    /// bad pattern or owner, [`Error::Database`].
    pub fn reserve(
        &mut self,
        space: &mut SharedSpace,
        pattern: &str,
        owner: &str,
    ) -> Result<Reservation, Error> {
        check_name("an owner", owner)?;
        let pattern = space.ty.parse_pattern(pattern)?;
        let mut fresh = false;
        for _ in 0..MAX_ATTEMPTS {
            if space.view.is_none() || space.conflicts >= RELOAD_AFTER {
                self.load_view(space)?;
                fresh = true;
            }
            let Some(view) = space.view.as_mut() else {
                continue;
            };
            let addr = match view.owned_by(owner).reserve_first(&pattern) {
                Ok(a) => a,
                Err(addralloc::Error::Exhausted { request }) => {
                    if fresh {
                        return Err(Error::Full {
                            space: space.name.clone(),
                            request,
                        });
                    }
                    // Others may have released since the view was loaded.
                    space.view = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match self.insert(space, &addr, &addr, owner, None) {
                Ok(r) => return Ok(r),
                Err(e) if e.is_conflict() => {
                    space.conflicts += 1;
                    fresh = false;
                }
                Err(e) => {
                    if let Some(v) = space.view.as_mut() {
                        let _ = v.release(&addr);
                    }
                    return Err(e);
                }
            }
        }
        Err(Error::Contention {
            space: space.name.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Releases every reservation of `owner` in the space, as one transaction; returns
    /// them (none: nothing was held). A plan run's rows are the plan's: only a plan run
    /// releases them.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an empty owner, [`Error::Database`].
    pub fn release(
        &mut self,
        space: &mut SharedSpace,
        owner: &str,
    ) -> Result<Vec<Reservation>, Error> {
        check_name("an owner", owner)?;
        let rows = self
            .client
            .query(
                &format!(
                    "DELETE FROM \"{}\".reservations WHERE space = $1 AND owner = $2 \
                     AND source = 'op' RETURNING space, first, last, owner, host",
                    self.ns
                ),
                &[&space.name, &owner],
            )
            .map_err(|e| self.db(e))?;
        let gone: Vec<Reservation> = rows.iter().map(reservation).collect();
        for r in &gone {
            for view in [space.view.as_mut(), space.affine.as_mut().map(|(_, v)| v)]
                .into_iter()
                .flatten()
            {
                if let (Ok(f), Ok(l)) = (
                    space.ty.parse_address(&r.first),
                    space.ty.parse_address(&r.last),
                ) {
                    if f == l {
                        let _ = view.release(&f);
                    } else {
                        let _ = view.release_range(&f, &l);
                    }
                }
            }
        }
        Ok(gone)
    }

    /// Every reservation of the space named `space`, in address order.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub fn reservations(&mut self, space: &str) -> Result<Vec<Reservation>, Error> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT space, first, last, owner, host FROM \"{}\".reservations \
                     WHERE space = $1 ORDER BY first_index",
                    self.ns
                ),
                &[&space],
            )
            .map_err(|e| self.db(e))?;
        Ok(rows.iter().map(reservation).collect())
    }

    /// Claims for `host` the first free naturally aligned block of shape `block`
    /// (`d=64`: a /26 of IPv4) inside `pattern` and the space's pools, as one
    /// transaction. Blocks of one space never overlap (the database refuses it), and a
    /// block holding another client's reservations is not claimed.
    ///
    /// # Errors
    ///
    /// [`Error::Full`] when no such block is free, [`Error::Input`] for a bad pattern,
    /// block shape or host, or a shape whose blocks are not contiguous in address order,
    /// [`Error::Contention`], [`Error::Database`].
    pub fn claim_block(
        &mut self,
        space: &mut SharedSpace,
        pattern: &str,
        block: &str,
        host: &str,
    ) -> Result<Claim, Error> {
        check_name("a host", host)?;
        let pattern = space.ty.parse_pattern(pattern)?;
        let shape = space.ty.parse_block(block)?;
        let ns = self.ns.clone();
        for _ in 0..MAX_ATTEMPTS {
            // What is taken: every claim, and every reservation (by anyone).
            let mut view = space.empty_view()?;
            let claims = self
                .client
                .query(
                    &format!("SELECT first, last, host FROM \"{ns}\".claims WHERE space = $1"),
                    &[&space.name],
                )
                .map_err(|e| self.db(e))?;
            for c in &claims {
                take(&mut view, &space.ty, c.get(0), c.get(1), c.get(2));
            }
            let rows = self
                .client
                .query(
                    &format!(
                        "SELECT first, last, owner FROM \"{ns}\".reservations WHERE space = $1"
                    ),
                    &[&space.name],
                )
                .map_err(|e| self.db(e))?;
            for r in &rows {
                take(&mut view, &space.ty, r.get(0), r.get(1), r.get(2));
            }
            let got = view.reserve_block(&pattern, &shape).map_err(|e| match e {
                addralloc::Error::Exhausted { request } => Error::Full {
                    space: space.name.clone(),
                    request,
                },
                e => e.into(),
            })?;
            let (fi, li) = (space.index(got.first())?, space.index(got.last())?);
            if (li - fi).saturating_add(1) != shape_count(&got) {
                return Err(Error::Input(format!(
                    "a block of shape `{block}` is not contiguous in address order \
                     (`{got}`); claim blocks of the last fields"
                )));
            }
            let claim = Claim {
                space: space.name.clone(),
                first: got.first().to_string(),
                last: got.last().to_string(),
                host: host.to_string(),
            };
            // The claim only if no reservation lies in the block, checked in the same
            // statement: a reservation made meanwhile makes it insert nothing.
            let inserted = self
                .client
                .execute(
                    &format!(
                        "INSERT INTO \"{ns}\".claims (space, first_index, last_index, first, last, host) \
                         SELECT $1, $2::text::numeric, $3::text::numeric, $4, $5, $6 \
                         WHERE NOT EXISTS (SELECT 1 FROM \"{ns}\".reservations \
                         WHERE space = $1 AND r && numrange($2::text::numeric, $3::text::numeric, '[]'))"
                    ),
                    &[
                        &claim.space,
                        &fi.to_string(),
                        &li.to_string(),
                        &claim.first,
                        &claim.last,
                        &claim.host,
                    ],
                )
                .map_err(|e| self.db(e));
            match inserted {
                Ok(1) => {
                    if let Some((h, v)) = space.affine.as_mut() {
                        if h == host {
                            let p = space_box(&space.ty, got.first(), got.last());
                            let _ = v.add_pool(&p);
                        }
                    }
                    return Ok(claim);
                }
                Ok(_) => {}
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention {
            space: space.name.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The claims of the space named `space`, of one host or of all, in address order.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub fn claims(&mut self, space: &str, host: Option<&str>) -> Result<Vec<Claim>, Error> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT space, first, last, host FROM \"{}\".claims \
                     WHERE space = $1 AND ($2::text IS NULL OR host = $2) ORDER BY first_index",
                    self.ns
                ),
                &[&space, &host],
            )
            .map_err(|e| self.db(e))?;
        Ok(rows.iter().map(claim_of).collect())
    }

    /// Reserves one address for `owner` inside a block `host` has claimed, claiming a
    /// new block of shape `block` when the host's blocks are full: most reservations
    /// then touch no address another host places in. Falls back to
    /// [`reserve`](PgStore::reserve) anywhere in the space when no block can be claimed.
    ///
    /// # Errors
    ///
    /// As [`reserve`](PgStore::reserve) and [`claim_block`](PgStore::claim_block).
    pub fn reserve_affine(
        &mut self,
        space: &mut SharedSpace,
        block: &str,
        host: &str,
        owner: &str,
    ) -> Result<Reservation, Error> {
        check_name("an owner", owner)?;
        check_name("a host", host)?;
        if space.affine.as_ref().is_none_or(|(h, _)| h != host) {
            self.load_affine(space, host)?;
        }
        for _ in 0..MAX_ATTEMPTS {
            let picked = match space.affine.as_mut() {
                Some((_, view)) if view.pools().next().is_some() => {
                    view.owned_by(owner).reserve_any()
                }
                _ => Err(addralloc::Error::Exhausted {
                    request: String::new(),
                }),
            };
            let addr = match picked {
                Ok(a) => a,
                Err(addralloc::Error::Exhausted { .. }) => {
                    match self.claim_block(space, "*", block, host) {
                        Ok(_) => {
                            self.load_affine(space, host)?;
                            continue;
                        }
                        Err(Error::Full { .. }) => return self.reserve(space, "*", owner),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            match self.insert(space, &addr, &addr, owner, Some(host)) {
                Ok(r) => return Ok(r),
                // Someone reserved inside the block without affinity; the view keeps
                // the address taken.
                Err(e) if e.is_conflict() => {}
                Err(e) => {
                    if let Some((_, v)) = space.affine.as_mut() {
                        let _ = v.release(&addr);
                    }
                    return Err(e);
                }
            }
        }
        Err(Error::Contention {
            space: space.name.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Loads the view of `host`'s claimed blocks: the blocks as pools, the
    /// reservations in them taken.
    fn load_affine(&mut self, space: &mut SharedSpace, host: &str) -> Result<(), Error> {
        let ns = self.ns.clone();
        let claims = self.claims(&space.name.clone(), Some(host))?;
        let mut view = DynAllocator::new(space.ty.clone(), Policy::LowestFirst);
        for c in &claims {
            let (f, l) = (
                space.ty.parse_address(&c.first)?,
                space.ty.parse_address(&c.last)?,
            );
            view.add_pool(space_box(&space.ty, &f, &l))?;
        }
        if !claims.is_empty() {
            let rows = self
                .client
                .query(
                    &format!(
                        "SELECT r.first, r.last, r.owner FROM \"{ns}\".reservations r \
                         JOIN \"{ns}\".claims c ON c.space = r.space AND c.r && r.r \
                         WHERE r.space = $1 AND c.host = $2"
                    ),
                    &[&space.name, &host],
                )
                .map_err(|e| self.db(e))?;
            for r in &rows {
                take(&mut view, &space.ty, r.get(0), r.get(1), r.get(2));
            }
        }
        space.affine = Some((host.to_string(), view));
        Ok(())
    }

    /// Gives up every block `host` claimed in the space named `space` (a host that is
    /// gone), as one transaction; their reservations stay, held by their owners.
    /// Returns the claims removed.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an empty host, [`Error::Database`].
    pub fn reclaim(&mut self, space: &str, host: &str) -> Result<Vec<Claim>, Error> {
        check_name("a host", host)?;
        let rows = self
            .client
            .query(
                &format!(
                    "DELETE FROM \"{}\".claims WHERE space = $1 AND host = $2 \
                     RETURNING space, first, last, host",
                    self.ns
                ),
                &[&space, &host],
            )
            .map_err(|e| self.db(e))?;
        Ok(rows.iter().map(claim_of).collect())
    }
}

/// A claim from a row of `space, first, last, host`.
fn claim_of(r: &Row) -> Claim {
    Claim {
        space: r.get(0),
        first: r.get(1),
        last: r.get(2),
        host: r.get(3),
    }
}

/// The pattern of the box `first..=last`.
fn space_box(ty: &Arc<DynType>, first: &DynAddress, last: &DynAddress) -> DynPattern {
    let mut p = ty.any();
    for (i, (lo, hi)) in first.values().iter().zip(last.values()).enumerate() {
        p = p.with_range(i, *lo, *hi);
    }
    p
}

/// How many addresses a block range holds.
fn shape_count(b: &addralloc::dynamic::DynBlockRange) -> u128 {
    b.first()
        .values()
        .iter()
        .zip(b.last().values())
        .fold(1u128, |n, (lo, hi)| {
            n.saturating_mul((hi - lo).saturating_add(1))
        })
}

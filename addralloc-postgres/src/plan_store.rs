//! The plan state as rows: `plan_spaces` and `plan_assignments`, read and rewritten in
//! one transaction that holds `plan_lock`'s row.

use std::sync::Arc;

use addralloc::dynamic::DynType;
use addralloc::plan::{Assignment, Placed, SpaceState, State, Store};
use addralloc::Snapshot;
use postgres::Client;

use crate::pack;

use crate::url::DatabaseUrl;
use crate::{Error, PgStore};

pub(crate) fn read(
    client: &mut Client,
    ns: &str,
    url: &DatabaseUrl,
) -> Result<Option<State>, Error> {
    let pg = |e| Error::from_pg(e, url);
    let spaces = client
        .query(
            &format!("SELECT name, type, allocator FROM \"{ns}\".plan_spaces ORDER BY position"),
            &[],
        )
        .map_err(pg)?;
    let rows = client
        .query(
            &format!(
                "SELECT device, space, first, last, kind, scope FROM \"{ns}\".plan_assignments \
                 ORDER BY position"
            ),
            &[],
        )
        .map_err(pg)?;
    if spaces.is_empty() && rows.is_empty() {
        return Ok(None);
    }
    let mut state = State::default();
    for s in spaces {
        let name: String = s.get(0);
        let allocator = match s.get::<_, Option<String>>(2) {
            None => None,
            Some(text) => Some(serde_json::from_str::<Snapshot>(&text).map_err(|e| {
                Error::Unusable(format!(
                    "the allocator of space `{name}` is not an allocator snapshot: {e}"
                ))
            })?),
        };
        state.spaces.push(SpaceState {
            ty: s.get(1),
            name,
            allocator,
        });
    }
    for r in rows {
        state.assignments.push(Assignment {
            device: r.get(0),
            space: r.get(1),
            first: r.get(2),
            last: r.get(3),
            kind: r.get(4),
            scope: r.get(5),
        });
    }
    // The same checks as a state file's (spaces named, no device twice).
    State::from_json(&state.to_json()).map_err(Error::Unusable)?;
    Ok(Some(state))
}

fn write(client: &mut Client, ns: &str, url: &DatabaseUrl, state: &State) -> Result<(), Error> {
    let pg = |e| Error::from_pg(e, url);
    client
        .batch_execute(&format!(
            "DELETE FROM \"{ns}\".plan_assignments; DELETE FROM \"{ns}\".plan_spaces;"
        ))
        .map_err(pg)?;
    let insert_space = client
        .prepare(&format!(
            "INSERT INTO \"{ns}\".plan_spaces (position, name, type, allocator) \
             VALUES ($1, $2, $3, $4)"
        ))
        .map_err(pg)?;
    for (i, s) in state.spaces.iter().enumerate() {
        let snapshot = match &s.allocator {
            None => None,
            Some(a) => Some(serde_json::to_string(a).map_err(|e| {
                Error::Unusable(format!("the allocator of space `{}`: {e}", s.name))
            })?),
        };
        let position = i as i32;
        client
            .execute(&insert_space, &[&position, &s.name, &s.ty, &snapshot])
            .map_err(pg)?;
    }
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{ns}\".plan_assignments (position, device, space, first, last, kind, scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .map_err(pg)?;
    for (i, a) in state.assignments.iter().enumerate() {
        let position = i as i32;
        client
            .execute(
                &insert,
                &[
                    &position, &a.device, &a.space, &a.first, &a.last, &a.kind, &a.scope,
                ],
            )
            .map_err(pg)?;
    }
    Ok(())
}

/// At most this many rows for one assigned block (a box whose addresses are not
/// contiguous in address order is recorded as its contiguous runs).
const MAX_RUNS: u128 = 4096;

/// One reservation row of a plan run.
struct PlanRow {
    space: String,
    first_index: String,
    last_index: String,
    first: String,
    last: String,
    owner: String,
    scope: Option<String>,
}

/// The contiguous runs (in address order) of the box `first..=last`.
fn runs(ty: &Arc<DynType>, a: &Assignment) -> Result<Vec<PlanRow>, Error> {
    let parse = |t: &str| {
        ty.parse_address(t).map_err(|e| {
            Error::Unusable(format!(
                "the address `{t}` of device `{}` does not parse as a `{}`: {e}",
                a.device,
                ty.name()
            ))
        })
    };
    let (f, l) = (parse(&a.first)?, parse(&a.last)?);
    let (f, l) = (f.values().to_vec(), l.values().to_vec());
    let fields = ty.fields();
    // Fields after `k` cover their whole range: each run spans them.
    let mut k = fields.len() - 1;
    while k > 0 && f[k] == fields[k].min && l[k] == fields[k].max {
        k -= 1;
    }
    let count = (0..k).fold(1u128, |n, j| {
        n.saturating_mul((l[j] - f[j]).saturating_add(1))
    });
    if count > MAX_RUNS {
        return Err(Error::Unusable(format!(
            "the block `{}..={}` of device `{}` is {count} separate runs of addresses;              at most {MAX_RUNS} are recorded",
            a.first, a.last, a.device
        )));
    }
    let mut rows = Vec::new();
    let mut prefix: Vec<u128> = f[..k].to_vec();
    loop {
        let mut lo = prefix.clone();
        lo.push(f[k]);
        lo.extend_from_slice(&f[k + 1..]);
        let mut hi = prefix.clone();
        hi.push(l[k]);
        hi.extend_from_slice(&l[k + 1..]);
        rows.push(PlanRow {
            space: a.space.clone(),
            first_index: pack::index(ty, &lo)?.to_string(),
            last_index: pack::index(ty, &hi)?.to_string(),
            first: ty.format_values(&lo),
            last: ty.format_values(&hi),
            owner: a.device.clone(),
            scope: a.scope.clone(),
        });
        // The next prefix, odometer style, within f[..k]..=l[..k].
        let mut j = k;
        loop {
            if j == 0 {
                return Ok(rows);
            }
            j -= 1;
            if prefix[j] < l[j] {
                prefix[j] += 1;
                break;
            }
            prefix[j] = f[j];
        }
    }
}

/// Rewrites the plan rows of `spaces` in `reservations`.
fn write_rows(
    client: &mut Client,
    ns: &str,
    url: &DatabaseUrl,
    spaces: &[String],
    rows: &[PlanRow],
) -> Result<(), Error> {
    let pg = |e| Error::from_pg(e, url);
    client
        .execute(
            &format!("DELETE FROM \"{ns}\".reservations WHERE source = 'plan' AND space = ANY($1)"),
            &[&spaces],
        )
        .map_err(pg)?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{ns}\".reservations \
             (space, first_index, last_index, first, last, owner, scope, source) \
             VALUES ($1, $2::text::numeric, $3::text::numeric, $4, $5, $6, $7, 'plan')"
        ))
        .map_err(pg)?;
    for r in rows {
        client
            .execute(
                &insert,
                &[
                    &r.space,
                    &r.first_index,
                    &r.last_index,
                    &r.first,
                    &r.last,
                    &r.owner,
                    &r.scope,
                ],
            )
            .map_err(pg)?;
    }
    Ok(())
}

/// The PostgreSQL store as a plan [`Store`]: [`load`](Store::load) opens a transaction
/// and locks `plan_lock`'s row (a concurrent run waits for it), [`commit`](Store::commit)
/// rewrites the state's rows and commits. A store dropped in between rolls back.
impl Store for PgStore {
    type Error = Error;

    fn name(&self) -> String {
        format!("{} (namespace `{}`)", self.url.redacted(), self.ns)
    }

    fn load(&mut self) -> Result<Option<State>, Error> {
        self.rollback_plan();
        let ns = self.ns.clone();
        // At least 1 ms: 0 would mean no timeout at all.
        let ms = self.lock_timeout.as_millis().clamp(1, i32::MAX as u128);
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .map_err(|e| self.db(e))?;
        self.in_plan = true;
        let locked = self.client.batch_execute(&format!(
            "SET LOCAL lock_timeout = {ms}; SELECT id FROM \"{ns}\".plan_lock FOR UPDATE;"
        ));
        if let Err(e) = locked {
            let e = match self.db(e) {
                Error::Database { code: Some(c), .. } if c == "55P03" => {
                    Error::Locked(self.lock_timeout)
                }
                e => e,
            };
            self.rollback_plan();
            return Err(e);
        }
        match self.read_state() {
            Ok(s) => Ok(s),
            Err(e) => {
                self.rollback_plan();
                Err(e)
            }
        }
    }

    fn abort(&mut self) {
        self.rollback_plan();
    }

    fn commit(&mut self, state: &State) -> Result<(), Error> {
        self.finish(state, None)
    }

    /// Also writes every assignment of the plan's spaces (all scopes') as reservation
    /// rows, in the same transaction: the exclusion constraint then refuses a plan run
    /// whose addresses overlap reservations made by single operations in a space of
    /// the same name.
    fn commit_placed(&mut self, placed: &Placed) -> Result<(), Error> {
        let state = placed.state();
        let types: Vec<(String, Arc<DynType>)> = placed
            .space_types()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        let mut rows = Vec::new();
        for a in &state.assignments {
            if let Some((_, ty)) = types.iter().find(|(n, _)| *n == a.space) {
                match runs(ty, a) {
                    Ok(r) => rows.extend(r),
                    Err(e) => {
                        self.rollback_plan();
                        return Err(e);
                    }
                }
            }
        }
        let spaces: Vec<String> = types.into_iter().map(|(n, _)| n).collect();
        self.finish(&state, Some((&spaces, &rows)))
    }
}

impl PgStore {
    /// Writes the state (and the plan's rows) and commits; rolls back on an error.
    fn finish(
        &mut self,
        state: &State,
        rows: Option<(&[String], &[PlanRow])>,
    ) -> Result<(), Error> {
        if !self.in_plan {
            // A commit without a load: take the lock now.
            self.load()?;
        }
        let ns = self.ns.clone();
        let url = self.url.clone();
        let result = write(&mut self.client, &ns, &url, state)
            .and_then(|()| match rows {
                Some((spaces, rows)) => write_rows(&mut self.client, &ns, &url, spaces, rows),
                None => Ok(()),
            })
            .and_then(|()| self.client.batch_execute("COMMIT").map_err(|e| self.db(e)));
        match result {
            Ok(()) => {
                self.in_plan = false;
                Ok(())
            }
            Err(e) => {
                self.rollback_plan();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use addralloc::dynamic::DynSchema;

    fn rows(first: &str, last: &str) -> Vec<(String, String, String, String)> {
        let s = DynSchema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
        let ty = s.get("PciAddress").unwrap();
        let a = Assignment {
            device: "d".into(),
            space: "pci".into(),
            first: first.into(),
            last: last.into(),
            kind: "auto".into(),
            scope: None,
        };
        runs(ty, &a)
            .unwrap()
            .into_iter()
            .map(|r| (r.first, r.last, r.first_index, r.last_index))
            .collect()
    }

    #[test]
    fn blocks_are_recorded_as_contiguous_runs() {
        let s = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_string(), b.to_string(), c.to_string(), d.to_string())
        };
        assert_eq!(
            rows("0000:00:01.0", "0000:00:01.0"),
            [s("0000:00:01.0", "0000:00:01.0", "8", "8")]
        );
        assert_eq!(
            rows("0000:00:01.0", "0000:00:02.7"),
            [s("0000:00:01.0", "0000:00:02.7", "8", "23")]
        );
        // A box whose rows are not adjacent: one run per slot.
        assert_eq!(
            rows("0000:00:01.0", "0000:00:02.3"),
            [
                s("0000:00:01.0", "0000:00:01.3", "8", "11"),
                s("0000:00:02.0", "0000:00:02.3", "16", "19")
            ]
        );
    }
}

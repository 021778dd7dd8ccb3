//! The plan state as rows: `plan_spaces` and `plan_assignments`, read and rewritten in
//! one transaction that holds `plan_lock`'s row.

use addralloc::plan::{Assignment, SpaceState, State, Store};
use addralloc::Snapshot;
use postgres::Client;

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
        if !self.in_plan {
            // A commit without a load: take the lock now.
            self.load()?;
        }
        let ns = self.ns.clone();
        let url = self.url.clone();
        let result = write(&mut self.client, &ns, &url, state)
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

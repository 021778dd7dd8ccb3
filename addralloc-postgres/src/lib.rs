//! A PostgreSQL store for addralloc: plan state and reservations shared by many hosts,
//! with the database itself refusing overlapping reservations.
//!
//! [`PgStore`] keeps its tables in one PostgreSQL schema (a namespace, `addralloc`
//! unless told otherwise), created and versioned on first use:
//!
//! - `schema_version`: the table layout's version ([`SCHEMA_VERSION`]);
//! - `plan_spaces`, `plan_assignments`, `plan_lock`: a plan's [`State`], as rows; a
//!   plan run ([`Plan::run_with_store`](addralloc::plan::Plan::run_with_store)) reads
//!   and rewrites them in one transaction, holding `plan_lock`'s row, so runs take
//!   turns and other scopes' devices stay as they were;
//! - `reservations`: one row per reservation of a shared space (space, packed first
//!   and last index, the addresses as text, owner, host) and per address (or run of
//!   a block) a plan run assigned (`source = 'plan'`, owner the device, its scope),
//!   rewritten by each plan run for its spaces; with an exclusion
//!   constraint `EXCLUDE USING gist (space WITH =, r WITH &&)` over
//!   `r = numrange(first_index, last_index, '[]')`: no two reservations of a space
//!   overlap, whatever a client does;
//! - `claims`: blocks of a space claimed by a host (Calico-style affinity), under the
//!   same kind of constraint.
//!
//! Single operations ([`PgStore::reserve`], [`PgStore::release`],
//! [`PgStore::reserve_affine`]) are one transaction each. A client places from its
//! cached view of the space ([`SharedSpace`]), inserts, and on a conflict (another
//! client took the address first: SQLSTATE 23P01, or a serialization failure or
//! deadlock) marks the address taken and tries the next one, reloading the view when
//! it is full or stale, a bounded number of times. Every statement is parameterised; the namespace, the only
//! name written into SQL text, is checked to be a plain lowercase identifier.
//!
//! The connection string ([`DatabaseUrl`]) comes from the caller or
//! `ADDRALLOC_DATABASE_URL` and is never printed with its password.
//!
//! ```no_run
//! use addralloc_postgres::{DatabaseUrl, PgStore, SharedSpace};
//!
//! let url = DatabaseUrl::from_env().expect("ADDRALLOC_DATABASE_URL is set");
//! let mut store = PgStore::connect(&url, "addralloc")?;
//! let mut macs = SharedSpace::from_schema_text(
//!     "macs",
//!     include_str!("../../schemas/mac.toml"),
//!     None,
//!     &["a=0x52, b=0x54, c=0"],
//! )?;
//! let r = store.reserve(&mut macs, "*", "vm1-nic0")?;
//! println!("{} for {}", r.first, r.owner);
//! store.release(&mut macs, "vm1-nic0")?;
//! # Ok::<(), addralloc_postgres::Error>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod pack;
mod plan_store;
mod shared;
mod url;

pub use error::Error;
pub use shared::{Claim, Reservation, SharedSpace};
pub use url::{DatabaseUrl, DATABASE_URL_VAR};

use addralloc::plan::State;
use postgres::{Client, NoTls};

/// The layout of the tables this crate creates; a database holding another version is
/// refused rather than changed.
pub const SCHEMA_VERSION: i32 = 1;

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "addralloc";

/// How many times one operation places again after a conflict before giving up.
pub const MAX_ATTEMPTS: usize = 1000;

/// A connection to a PostgreSQL database holding addralloc's tables in one namespace
/// (a PostgreSQL schema). It is a plan [`Store`](addralloc::plan::Store) and performs
/// single reservations on [`SharedSpace`]s.
pub struct PgStore {
    client: Client,
    url: DatabaseUrl,
    ns: String,
    /// A plan transaction is open (between `load` and `commit`).
    in_plan: bool,
    /// How long a plan run waits for another to finish.
    lock_timeout: std::time::Duration,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .field("namespace", &self.ns)
            .finish_non_exhaustive()
    }
}

/// Checks a namespace: a lowercase SQL identifier, so that it can be written into
/// statements.
fn check_namespace(ns: &str) -> Result<(), Error> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !ns.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "the namespace `{}` is not usable: it must be 1 to 63 lowercase letters, digits \
             and underscores, start with a letter or underscore, and not start with `pg_`",
            ns.escape_debug()
        )))
    }
}

/// A lock key that only addralloc's table creation takes, so that clients starting
/// together create the tables once.
const SETUP_LOCK: i64 = 0x6164_6472_616c_6c6f;

impl PgStore {
    /// Connects (without TLS) and creates the tables in `namespace` if they do not exist
    /// yet (and the `btree_gist` extension, which needs the right to create it: the
    /// database's owner has it).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] (the URL shown without its password),
    /// [`Error::Version`] for tables of another layout version, [`Error::Input`] for a
    /// namespace that is not a plain identifier, [`Error::Database`] for a failed
    /// statement.
    pub fn connect(url: &DatabaseUrl, namespace: &str) -> Result<PgStore, Error> {
        check_namespace(namespace)?;
        let client = Client::connect(url.expose(), NoTls).map_err(|e| Error::Connect {
            url: url.redacted(),
            reason: url.scrub(&error::reason(&e)),
        })?;
        let mut store = PgStore {
            client,
            url: url.clone(),
            ns: namespace.to_string(),
            in_plan: false,
            lock_timeout: std::time::Duration::from_secs(60),
        };
        store.setup()?;
        Ok(store)
    }

    /// Sets how long a plan run ([`Store::load`](addralloc::plan::Store::load)) waits
    /// for another run of the same namespace to commit (60 s unless set); then it
    /// fails with [`Error::Locked`].
    pub fn set_lock_timeout(&mut self, timeout: std::time::Duration) {
        self.lock_timeout = timeout;
    }

    /// The namespace holding the tables.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// The connection string, redacted.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    fn db(&self, e: postgres::Error) -> Error {
        Error::from_pg(e, &self.url)
    }

    fn setup(&mut self) -> Result<(), Error> {
        let ns = self.ns.clone();
        let url = self.url.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| Error::from_pg(e, &url))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])
            .map_err(|e| Error::from_pg(e, &url))?;
        tx.batch_execute(&format!(
            "CREATE EXTENSION IF NOT EXISTS btree_gist;
             CREATE SCHEMA IF NOT EXISTS \"{ns}\";
             CREATE TABLE IF NOT EXISTS \"{ns}\".schema_version (version integer NOT NULL);"
        ))
        .map_err(|e| Error::from_pg(e, &url))?;
        let row = tx
            .query_opt(&format!("SELECT version FROM \"{ns}\".schema_version"), &[])
            .map_err(|e| Error::from_pg(e, &url))?;
        match row.map(|r| r.get::<_, i32>(0)) {
            Some(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(Error::Version {
                    namespace: ns,
                    found,
                })
            }
            None => {
                tx.batch_execute(&tables_sql(&ns))
                    .map_err(|e| Error::from_pg(e, &url))?;
                tx.execute(
                    &format!("INSERT INTO \"{ns}\".schema_version (version) VALUES ($1)"),
                    &[&SCHEMA_VERSION],
                )
                .map_err(|e| Error::from_pg(e, &url))?;
            }
        }
        tx.commit().map_err(|e| Error::from_pg(e, &url))
    }

    /// Ends an open plan transaction without committing it.
    fn rollback_plan(&mut self) {
        if self.in_plan {
            self.in_plan = false;
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }

    /// The plan state held in the database, read inside the open transaction.
    fn read_state(&mut self) -> Result<Option<State>, Error> {
        plan_store::read(&mut self.client, &self.ns, &self.url)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.rollback_plan();
    }
}

/// The tables of layout version 1.
fn tables_sql(ns: &str) -> String {
    format!(
        "CREATE TABLE \"{ns}\".plan_lock (id integer PRIMARY KEY);
         INSERT INTO \"{ns}\".plan_lock (id) VALUES (1);
         CREATE TABLE \"{ns}\".plan_spaces (
             position integer NOT NULL,
             name text PRIMARY KEY,
             type text NOT NULL,
             allocator text
         );
         CREATE TABLE \"{ns}\".plan_assignments (
             position integer NOT NULL,
             device text NOT NULL,
             space text NOT NULL,
             first text NOT NULL,
             last text NOT NULL,
             kind text NOT NULL,
             scope text,
             UNIQUE NULLS NOT DISTINCT (scope, device, space)
         );
         CREATE TABLE \"{ns}\".reservations (
             space text NOT NULL,
             first_index numeric NOT NULL,
             last_index numeric NOT NULL,
             first text NOT NULL,
             last text NOT NULL,
             owner text NOT NULL,
             host text,
             source text NOT NULL DEFAULT 'op' CHECK (source IN ('op', 'plan')),
             scope text,
             r numrange GENERATED ALWAYS AS (numrange(first_index, last_index, '[]')) STORED,
             CHECK (first_index <= last_index),
             EXCLUDE USING gist (space WITH =, r WITH &&)
         );
         CREATE INDEX ON \"{ns}\".reservations (space, owner);
         CREATE TABLE \"{ns}\".claims (
             space text NOT NULL,
             first_index numeric NOT NULL,
             last_index numeric NOT NULL,
             first text NOT NULL,
             last text NOT NULL,
             host text NOT NULL,
             r numrange GENERATED ALWAYS AS (numrange(first_index, last_index, '[]')) STORED,
             CHECK (first_index <= last_index),
             EXCLUDE USING gist (space WITH =, r WITH &&)
         );
         CREATE INDEX ON \"{ns}\".claims (space, host);"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_plain_identifiers() {
        for ok in ["addralloc", "_x", "t_1_abc"] {
            check_namespace(ok).unwrap();
        }
        for bad in [
            "",
            "A",
            "1x",
            "x-y",
            "x\"; DROP TABLE r; --",
            "pg_x",
            &"a".repeat(64),
        ] {
            let e = check_namespace(bad).unwrap_err();
            assert!(e.to_string().contains("is not usable"), "{bad}: {e}");
        }
    }

    #[test]
    fn connect_errors_do_not_show_the_password() {
        // Nothing listens on port 1: the connection is refused at once.
        let url = DatabaseUrl::new("postgres://me:hunter2secret@127.0.0.1:1/db");
        let e = PgStore::connect(&url, "addralloc").unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(
            shown.contains("postgres://me:***@127.0.0.1:1/db"),
            "{shown}"
        );
    }
}

//! `addralloc reserve | release | claim | reclaim`: single operations on a space shared
//! through a PostgreSQL store, each one transaction; thin callers of
//! `addralloc-postgres`.

use std::path::Path;

use addralloc_postgres::{DatabaseUrl, PgStore, SharedSpace};

use crate::output::{eprintln, println};
use crate::Failure;

/// The connection string: `--store`, else `ADDRALLOC_DATABASE_URL`.
pub fn database_url(flag: Option<&str>) -> Result<DatabaseUrl, Failure> {
    match flag.filter(|s| !s.is_empty()) {
        Some(s) if DatabaseUrl::is_postgres_url(s) => Ok(DatabaseUrl::new(s)),
        Some(s) => {
            eprintln!(
                "error: `--store` takes a PostgreSQL URL (postgres://...), not `{}`; \
                 for a state file use `--state FILE`",
                DatabaseUrl::new(s)
            );
            Err(Failure::Usage)
        }
        None => DatabaseUrl::from_env().ok_or_else(|| {
            eprintln!(
                "error: no database: give `--store postgres://...` or set {}",
                addralloc_postgres::DATABASE_URL_VAR
            );
            Failure::Usage
        }),
    }
}

fn connect(url: &DatabaseUrl, namespace: &str) -> Result<PgStore, Failure> {
    PgStore::connect(url, namespace).map_err(|e| {
        eprintln!("error: {e}");
        Failure::Input
    })
}

/// Where a shared space is and what it is.
pub struct SpaceArgs<'a> {
    pub name: &'a str,
    pub schema: &'a Path,
    pub type_name: Option<&'a str>,
    pub pools: &'a [String],
}

fn space(a: &SpaceArgs<'_>) -> Result<SharedSpace, Failure> {
    let pools: Vec<&str> = a.pools.iter().map(String::as_str).collect();
    SharedSpace::from_schema_file(a.name, a.schema, a.type_name, &pools).map_err(|e| {
        eprintln!("error: {e}");
        Failure::Input
    })
}

fn failed(e: addralloc_postgres::Error) -> Failure {
    eprintln!("error: {e}; nothing was changed");
    Failure::Input
}

/// Reserves one address for `owner` (inside `host`'s claimed blocks of shape `block`
/// when both are given) and prints it.
#[allow(clippy::too_many_arguments)]
pub fn reserve(
    url: &DatabaseUrl,
    namespace: &str,
    args: &SpaceArgs<'_>,
    pattern: &str,
    owner: &str,
    affinity: Option<(&str, &str)>,
) -> Result<(), Failure> {
    let mut sp = space(args)?;
    let mut store = connect(url, namespace)?;
    let r = match affinity {
        Some((host, block)) => store.reserve_affine(&mut sp, block, host, owner),
        None => store.reserve(&mut sp, pattern, owner),
    }
    .map_err(failed)?;
    if r.first == r.last {
        println!("{}", r.first);
    } else {
        println!("{}..={}", r.first, r.last);
    }
    Ok(())
}

/// Releases every reservation of `owner` in the space and prints them.
pub fn release(
    url: &DatabaseUrl,
    namespace: &str,
    args: &SpaceArgs<'_>,
    owner: &str,
) -> Result<(), Failure> {
    let mut sp = space(args)?;
    let mut store = connect(url, namespace)?;
    let gone = store.release(&mut sp, owner).map_err(failed)?;
    if gone.is_empty() {
        eprintln!(
            "error: `{}` holds nothing in space `{}`",
            owner.escape_debug(),
            args.name.escape_debug()
        );
        return Err(Failure::Input);
    }
    for r in gone {
        println!("{}", r.first);
    }
    Ok(())
}

/// Gives up every block `host` claimed in the space and prints them.
pub fn reclaim(
    url: &DatabaseUrl,
    namespace: &str,
    space_name: &str,
    host: &str,
) -> Result<(), Failure> {
    let mut store = connect(url, namespace)?;
    let gone = store.reclaim(space_name, host).map_err(failed)?;
    for c in &gone {
        println!("{}..={}", c.first, c.last);
    }
    eprintln!(
        "reclaimed {} block(s) of host `{}`",
        gone.len(),
        host.escape_debug()
    );
    Ok(())
}

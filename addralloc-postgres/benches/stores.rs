//! Reservations per second for 1, 4 and 8 clients, with and without block affinity,
//! against the PostgreSQL store, the state file and an in-process allocator.
//!
//! Each client (a thread with its own connection or file handle) repeats: reserve one
//! address of 10.0.0.0/16 for a new owner, release it again; a row counts one such
//! pair, each half committed on its own (one transaction, one locked file write). With
//! affinity each client places inside its own /26: in PostgreSQL a block it claims
//! through the database (`reserve_affine`), in the state file a pattern of its own
//! block, in process an allocator of its own (no shared lock).
//!
//! ```text
//! scripts/with-postgres cargo bench -p addralloc-postgres --bench stores
//! ADDRALLOC_BENCH_QUICK=1 ...   a smoke run (0.2 s a cell)
//! ADDRALLOC_BENCH_SECONDS=5 ... longer cells
//! ```
//!
//! Without `ADDRALLOC_DATABASE_URL` the PostgreSQL rows say `skipped`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use addralloc::dynamic::{DynAllocator, DynSchema, DynType};
use addralloc::plan::{SpaceState, State, StateFile, Store};
use addralloc::Policy;
use addralloc_postgres::{DatabaseUrl, PgStore, SharedSpace};

const CLIENTS: [usize; 3] = [1, 4, 8];
const POOL: &str = "a=10, b=0";

fn ipv4() -> Arc<DynType> {
    DynSchema::from_toml(include_str!("../../schemas/ipv4.toml"))
        .unwrap()
        .types()[0]
        .clone()
}

/// The /26 of client `i`: 10.0.(i/4).(64*(i%4))..
fn block_of(i: usize) -> String {
    let lo = 64 * (i % 4);
    format!("a=10, b=0, c={}, d={}..={}", i / 4, lo, lo + 63)
}

/// Runs `clients` threads of `work(client, iteration)` for `time`; iterations per
/// second in all.
fn run<F>(clients: usize, time: Duration, work: F) -> f64
where
    F: Fn(usize, usize) + Sync,
{
    let start = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let work = &work;
                s.spawn(move || {
                    let mut n = 0;
                    while start.elapsed() < time {
                        work(c, n);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn in_process(clients: usize, affinity: bool, time: Duration) -> f64 {
    let ty = ipv4();
    if affinity {
        let allocs: Vec<Mutex<DynAllocator>> = (0..clients)
            .map(|i| {
                let mut a = DynAllocator::new(ty.clone(), Policy::LowestFirst);
                a.add_pool(block_of(i).as_str()).unwrap();
                Mutex::new(a)
            })
            .collect();
        run(clients, time, |c, n| {
            let mut a = allocs[c].lock().unwrap();
            let owner = format!("c{c}-{n}");
            a.owned_by(&owner).reserve_any().unwrap();
            a.release_owner(&owner);
        })
    } else {
        let mut a = DynAllocator::new(ty, Policy::LowestFirst);
        a.add_pool(POOL).unwrap();
        let shared = Mutex::new(a);
        run(clients, time, |c, n| {
            let owner = format!("c{c}-{n}");
            shared
                .lock()
                .unwrap()
                .owned_by(&owner)
                .reserve_first("*")
                .unwrap();
            shared.lock().unwrap().release_owner(&owner);
        })
    }
}

/// One operation on the state file's space `pool`, under the file's lock.
fn with_file(path: &Path, ty: &Arc<DynType>, op: impl FnOnce(&mut DynAllocator)) {
    let mut file = StateFile::open(path, Duration::from_secs(60)).unwrap();
    let state = Store::load(&mut file).unwrap().unwrap();
    let snapshot = state.spaces[0].allocator.as_ref().unwrap();
    let mut a = DynAllocator::restore(ty.clone(), snapshot).unwrap();
    op(&mut a);
    file.save(&file_state(&a)).unwrap();
}

fn file_state(a: &DynAllocator) -> State {
    State {
        spaces: vec![SpaceState {
            name: "pool".into(),
            ty: "Ipv4Address".into(),
            allocator: Some(a.snapshot()),
        }],
        assignments: Vec::new(),
    }
}

fn file_store(dir: &Path, clients: usize, affinity: bool, time: Duration) -> f64 {
    let ty = ipv4();
    let path: PathBuf = dir.join(format!("bench-{clients}-{affinity}.json"));
    let mut a = DynAllocator::new(ty.clone(), Policy::LowestFirst);
    a.add_pool(POOL).unwrap();
    let _ = std::fs::remove_file(&path);
    StateFile::open(&path, Duration::from_secs(5))
        .unwrap()
        .save(&file_state(&a))
        .unwrap();
    let rate = run(clients, time, |c, n| {
        let owner = format!("c{c}-{n}");
        let pattern = if affinity { block_of(c) } else { "*".into() };
        with_file(&path, &ty, |a| {
            a.owned_by(&owner).reserve_first(pattern.as_str()).unwrap();
        });
        with_file(&path, &ty, |a| {
            a.release_owner(&owner);
        });
    });
    let _ = std::fs::remove_file(&path);
    rate
}

fn postgres(url: &DatabaseUrl, clients: usize, affinity: bool, time: Duration) -> f64 {
    let ns = format!(
        "bench_{clients}_{}",
        if affinity { "affine" } else { "shared" }
    );
    let mut raw = postgres::Client::connect(url.expose(), postgres::NoTls).unwrap();
    raw.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{ns}\" CASCADE"))
        .unwrap();
    PgStore::connect(url, &ns).unwrap();
    let stores: Vec<Mutex<(PgStore, SharedSpace)>> = (0..clients)
        .map(|_| {
            let store = PgStore::connect(url, &ns).unwrap();
            let space = SharedSpace::new("pool", ipv4(), &[POOL]).unwrap();
            Mutex::new((store, space))
        })
        .collect();
    let rate = run(clients, time, |c, n| {
        let mut guard = stores[c].lock().unwrap();
        let (store, space) = &mut *guard;
        let owner = format!("c{c}-{n}");
        if affinity {
            store
                .reserve_affine(space, "d=64", &format!("host{c}"), &owner)
                .unwrap();
        } else {
            store.reserve(space, "*", &owner).unwrap();
        }
        store.release(space, &owner).unwrap();
    });
    raw.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{ns}\" CASCADE"))
        .unwrap();
    rate
}

fn main() {
    let quick = std::env::var_os("ADDRALLOC_BENCH_QUICK").is_some();
    let seconds: f64 = std::env::var("ADDRALLOC_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.2 } else { 2.0 });
    let time = Duration::from_secs_f64(seconds);
    let url = DatabaseUrl::from_env();
    let dir = std::env::temp_dir().join(format!("addralloc-bench-stores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    println!("reserve+release pairs per second, {seconds} s a cell (10.0.0.0/16)");
    println!(
        "{:<12} {:<9} {:>12} {:>12} {:>12}",
        "store", "affinity", "1 client", "4 clients", "8 clients"
    );
    for affinity in [false, true] {
        let aff = if affinity { "/26 each" } else { "none" };
        let row = |name: &str, f: &dyn Fn(usize) -> Option<f64>| {
            let cells: Vec<String> = CLIENTS
                .iter()
                .map(|&n| match f(n) {
                    Some(r) => format!("{r:>12.0}"),
                    None => format!("{:>12}", "skipped"),
                })
                .collect();
            println!("{name:<12} {aff:<9} {}", cells.join(" "));
        };
        row("in-process", &|n| Some(in_process(n, affinity, time)));
        row("state file", &|n| Some(file_store(&dir, n, affinity, time)));
        row("postgres", &|n| {
            url.as_ref().map(|u| postgres(u, n, affinity, time))
        });
    }
    if url.is_none() {
        println!("postgres: set ADDRALLOC_DATABASE_URL or run through scripts/with-postgres");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

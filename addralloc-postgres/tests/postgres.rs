//! The PostgreSQL store against a real server: many client processes, a client killed
//! in the middle, hostile names, redacted passwords, scopes, and the plan run through
//! the PostgreSQL store against the file store.
//!
//! Every test here needs a server: run them with
//! `scripts/with-postgres cargo test --workspace postgres -- --include-ignored`.
//! Each test works in its own namespace (a PostgreSQL schema), so they run in parallel.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use addralloc::plan::{Plan, RunOptions, StateFile, Store};
use addralloc_postgres::{DatabaseUrl, Error, PgStore, SharedSpace};
use postgres::{Client, NoTls};

const NEEDS: &str = "set ADDRALLOC_DATABASE_URL, or run through scripts/with-postgres";

/// The server's URL; a test run without one fails rather than passes.
fn url() -> DatabaseUrl {
    DatabaseUrl::from_env().expect(NEEDS)
}

/// A fresh namespace for one test: dropped if a previous run left it.
fn fresh(name: &str) -> String {
    let ns = format!("t_{name}");
    let mut c = raw();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{ns}\" CASCADE"))
        .unwrap();
    ns
}

fn raw() -> Client {
    Client::connect(url().expose(), NoTls).unwrap()
}

fn ipv4(name: &str) -> SharedSpace {
    SharedSpace::from_schema_text(
        name,
        include_str!("../../schemas/ipv4.toml"),
        None,
        &["a=10, b=0"],
    )
    .unwrap()
}

/// Rows with overlapping ranges in one space: the exclusion constraint keeps it zero.
fn overlaps(c: &mut Client, ns: &str, table: &str) -> i64 {
    c.query_one(
        &format!(
            "SELECT count(*) FROM \"{ns}\".{table} x JOIN \"{ns}\".{table} y \
             ON x.space = y.space AND x.ctid <> y.ctid AND x.r && y.r"
        ),
        &[],
    )
    .unwrap()
    .get(0)
}

/// Child mode of `postgres_client_process`: `ADDRALLOC_PG_CHILD=ns,client,iterations`.
/// Each iteration reserves an address for a new owner and releases it again unless
/// the iteration is a multiple of 4; prints `kept OWNER ADDRESS` for each kept one and
/// `error ...` for any failure, then `done`.
fn child(spec: &str) {
    let mut parts = spec.split(',');
    let (ns, client, n) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap().parse::<usize>().unwrap(),
    );
    let mut store = PgStore::connect(&url(), ns).unwrap();
    let mut space = ipv4("pool");
    for j in 0..n {
        let owner = format!("c{client}-{j}");
        match store.reserve(&mut space, "*", &owner) {
            Ok(r) => {
                if j.is_multiple_of(4) {
                    println!("kept {owner} {}", r.first);
                } else {
                    match store.release(&mut space, &owner) {
                        Ok(gone) if gone.len() == 1 && gone[0].first == r.first => {}
                        Ok(gone) => println!("error: release of {owner} gave {gone:?}"),
                        Err(e) => println!("error: release of {owner}: {e}"),
                    }
                }
            }
            Err(e) => println!("error: reserve for {owner}: {e}"),
        }
    }
    println!("done");
}

/// `OWNER ADDRESS` of a child's `kept` line (the test harness may print its own
/// `test NAME ... ` before the first one).
fn kept_line(l: &str) -> Option<&str> {
    l.find("kept ").map(|i| &l[i + 5..])
}

fn spawn_child(ns: &str, client: usize, iterations: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "postgres_client_process",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ADDRALLOC_PG_CHILD", format!("{ns},{client},{iterations}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// As a child process: one client's run (see [`child`]). Run directly: one client of
/// 200 iterations, whose kept reservations are exactly the table's.
#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_client_process() {
    if let Ok(spec) = std::env::var("ADDRALLOC_PG_CHILD") {
        return child(&spec);
    }
    let ns = fresh("one_client");
    let out = spawn_child(&ns, 0, 200).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\ndone\n"), "{text}");
    assert!(!text.contains("error"), "{text}");
    let kept = text.lines().filter_map(kept_line).count();
    assert_eq!(kept, 50);
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    assert_eq!(store.reservations("pool").unwrap().len(), 50);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_eight_processes_no_duplicates_none_lost() {
    let ns = fresh("eight");
    // Create the tables once before the clients race (they would cope, but the
    // test is about reservations).
    PgStore::connect(&url(), &ns).unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..8).map(|i| spawn_child(&ns, i, 1000)).collect();
    let mut kept: BTreeSet<(String, String)> = BTreeSet::new();
    let mut addresses: BTreeSet<String> = BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\ndone\n"), "a client did not finish: {text}");
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
        assert!(errors.is_empty(), "{errors:?}");
        for l in text.lines().filter_map(kept_line) {
            let (owner, addr) = l.split_once(' ').unwrap();
            kept.insert((owner.to_string(), addr.to_string()));
            assert!(
                addresses.insert(addr.to_string()),
                "{addr} handed out twice"
            );
        }
    }
    eprintln!(
        "8 clients x 1000 reserve (+750 releases each) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(kept.len(), 8 * 250);
    let mut c = raw();
    let rows = c
        .query(
            &format!("SELECT owner, first FROM \"{ns}\".reservations WHERE space = 'pool'"),
            &[],
        )
        .unwrap();
    let table: BTreeSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Zero lost, nothing else: the table holds exactly the kept reservations.
    assert_eq!(rows.len(), table.len());
    assert_eq!(table, kept);
    assert_eq!(overlaps(&mut c, &ns, "reservations"), 0);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_killed_client_leaves_no_partial_reservation() {
    let ns = fresh("killed");
    PgStore::connect(&url(), &ns).unwrap();
    let mut child = spawn_child(&ns, 7, 1_000_000);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for 20 kept reservations (80 iterations), then SIGKILL it mid-run.
    let mut seen = 0;
    while seen < 20 {
        let l = lines.next().unwrap().unwrap();
        assert!(!l.starts_with("error"), "{l}");
        if kept_line(&l).is_some() {
            seen += 1;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut kept: BTreeSet<(String, String)> = BTreeSet::new();
    for l in lines.map_while(Result::ok) {
        if let Some(l) = kept_line(&l) {
            let (o, a) = l.split_once(' ').unwrap();
            kept.insert((o.to_string(), a.to_string()));
        }
    }
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    let rows = store.reservations("pool").unwrap();
    // Every row is whole: its index is its address's, and it is one address.
    let mut c = raw();
    let bad: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{ns}\".reservations WHERE first <> last \
                 OR first_index <> last_index \
                 OR first_index <> (split_part(first, '.', 1)::numeric * 16777216 \
                   + split_part(first, '.', 2)::numeric * 65536 \
                   + split_part(first, '.', 3)::numeric * 256 + split_part(first, '.', 4)::numeric)"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bad, 0);
    // Each row is a kept owner's (multiple of 4) or the one in flight when killed.
    let in_flight = rows
        .iter()
        .filter(|r| {
            let j: usize = r.owner.rsplit('-').next().unwrap().parse().unwrap();
            !j.is_multiple_of(4)
        })
        .count();
    assert!(in_flight <= 1, "{rows:?}");
    assert!(rows.len() >= 20);
    // The killed client's session is gone: a new client reserves at once.
    let mut space = ipv4("pool");
    let start = Instant::now();
    store.reserve(&mut space, "*", "after").unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));

    // A plan run killed between load and commit (holding the plan lock) leaves the
    // state as it was, and the next run goes ahead.
    let plan_path = examples().join("q35.toml");
    let plan = Plan::from_toml(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let options = RunOptions::new(examples());
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    plan.run_with_store(&mut store, &options).unwrap();
    let before = store.load().unwrap();
    drop(store);
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "postgres_plan_holder",
            "--include-ignored",
            "--nocapture",
        ])
        .env("ADDRALLOC_PG_HOLD", &ns)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = out.next() {
        if l == "holding" {
            break;
        }
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    assert_eq!(store.load().unwrap(), before);
    plan.run_with_store(&mut store, &options).unwrap();
}

/// As a child process (`ADDRALLOC_PG_HOLD=ns`): loads the plan state (taking the plan
/// lock), says `holding` and waits to be killed. Run directly: checks that a
/// store dropped between load and commit leaves the state unchanged.
#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_plan_holder() {
    if let Ok(ns) = std::env::var("ADDRALLOC_PG_HOLD") {
        let mut store = PgStore::connect(&url(), &ns).unwrap();
        store.load().unwrap();
        println!("holding");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let ns = fresh("holder");
    let plan_path = examples().join("q35.toml");
    let plan = Plan::from_toml(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let options = RunOptions::new(examples());
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    plan.run_with_store(&mut store, &options).unwrap();
    let before = store.load().unwrap();
    assert!(before.is_some());
    // While this run holds the plan lock another waits, then gives up with a reason.
    let mut other = PgStore::connect(&url(), &ns).unwrap();
    other.set_lock_timeout(Duration::from_millis(200));
    let start = Instant::now();
    let e = other.load().unwrap_err();
    assert!(matches!(e, Error::Locked(_)), "{e}");
    assert!(e.to_string().contains("gave up after 0.2 s"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // Loaded, then dropped without a commit.
    drop(store);
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    assert_eq!(store.load().unwrap(), before);
}

fn taken_device(pg: &mut PgStore) -> String {
    pg.load().unwrap().unwrap().assignments[0].device.clone()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans")
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_plan_runs_match_the_file_store() {
    let dir = std::env::temp_dir().join(format!("addralloc-pg-plans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "q35.toml",
        "i440fx.toml",
        "ipam.toml",
        "disks.toml",
        "q35-pcie.toml",
    ] {
        let ns = fresh(&format!("plan_{}", name.replace(['.', '-'], "_")));
        let plan_path = examples().join(name);
        let plan = Plan::from_toml(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
        let options = RunOptions::new(examples());
        let file = dir.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&file);
        let mut pg = PgStore::connect(&url(), &ns).unwrap();
        for round in 0..2 {
            let mut sf = StateFile::open(&file, Duration::from_secs(10)).unwrap();
            let by_file = plan.run_with_store(&mut sf, &options).unwrap();
            drop(sf);
            let by_pg = plan.run_with_store(&mut pg, &options).unwrap();
            let rows = |p: &addralloc::plan::Placed| -> Vec<(String, String, String, String)> {
                p.placements()
                    .map(|x| {
                        (
                            x.device.clone(),
                            x.space.clone(),
                            x.address_text(),
                            x.kind_text(),
                        )
                    })
                    .collect()
            };
            assert_eq!(rows(&by_file), rows(&by_pg), "{name}, round {round}");
            let from_file = StateFile::open(&file, Duration::from_secs(10))
                .unwrap()
                .load()
                .unwrap();
            let from_pg = pg.load().unwrap();
            // A state file keeps its spaces by name (a JSON object), the database in
            // plan order: compare them by name.
            let by_name = |s: Option<addralloc::plan::State>| {
                let mut s = s.unwrap();
                s.spaces.sort_by(|a, b| a.name.cmp(&b.name));
                s
            };
            assert_eq!(
                by_name(from_file),
                by_name(from_pg),
                "{name}, round {round}"
            );
        }
        // The assignments as the table holds them.
        let mut c = raw();
        let n: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM \"{ns}\".plan_assignments"),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n as usize, pg.load().unwrap().unwrap().assignments.len());
        // Each assignment is also reservation rows, none overlapping.
        let rows: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM \"{ns}\".reservations WHERE source = 'plan'"),
                &[],
            )
            .unwrap()
            .get(0);
        assert!(
            rows as usize >= n as usize,
            "{name}: {rows} rows, {n} assignments"
        );
        assert_eq!(overlaps(&mut c, &ns, "reservations"), 0);
        if name == "q35.toml" {
            // A single reservation in the plan's space takes a free address; a
            // buggy insert over a device's address is refused by the database.
            let mut pci = SharedSpace::from_schema_text(
                "pci",
                include_str!("../../schemas/pci.toml"),
                None,
                &["domain=0, bus=0"],
            )
            .unwrap();
            let r = pg.reserve(&mut pci, "*", "lone").unwrap();
            let taken: Vec<String> = pg
                .load()
                .unwrap()
                .unwrap()
                .assignments
                .iter()
                .map(|a| a.first.clone())
                .collect();
            assert!(!taken.contains(&r.first), "{r:?} is a device's");
            let e = c
                .execute(
                    &format!(
                        "INSERT INTO \"{ns}\".reservations (space, first_index, last_index, first, last, owner) \
                         SELECT space, first_index, first_index, first, first, 'bug' \
                         FROM \"{ns}\".reservations WHERE source = 'plan' LIMIT 1"
                    ),
                    &[],
                )
                .unwrap_err();
            assert_eq!(e.code().unwrap().code(), "23P01");
            // Releasing a device's name as an owner does not touch the plan's rows.
            let device = taken_device(&mut pg);
            assert!(pg.release(&mut pci, &device).unwrap().is_empty());
            // The plan runs again: its devices keep their addresses.
            plan.run_with_store(&mut pg, &options).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_scopes_leave_other_scopes_untouched() {
    let ns = fresh("scopes");
    let mut pg = PgStore::connect(&url(), &ns).unwrap();
    let plan = |scope: &str, devices: &[&str]| {
        let mut text = format!(
            "scope = \"{scope}\"\n[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n"
        );
        for d in devices {
            text.push_str(&format!("[[device]]\nname = \"{d}\"\n"));
        }
        Plan::from_toml(&text).unwrap()
    };
    let options = RunOptions::new(examples());
    plan("vm1", &["a", "b"])
        .run_with_store(&mut pg, &options)
        .unwrap();
    let p = plan("vm2", &["c"])
        .run_with_store(&mut pg, &options)
        .unwrap();
    assert_eq!(p.placements().next().unwrap().first, "0000:00:01.2");
    plan("vm1", &["a"])
        .run_with_store(&mut pg, &options)
        .unwrap();
    // A plan that cannot be placed gives the lock back at once and changes nothing.
    let bad =
        Plan::from_toml("scope = \"vm1\"\n[[space]]\nname = \"pci\"\nschema = \"missing.toml\"\n")
            .unwrap();
    assert!(bad.run_with_store(&mut pg, &options).is_err());
    let mut other = PgStore::connect(&url(), &ns).unwrap();
    other.set_lock_timeout(Duration::from_millis(500));
    other.load().unwrap();
    drop(other);
    // A single reservation takes 01.1 in the plan's space; a run that would place a
    // device there is refused by the database as a whole, and nothing changes.
    let mut pci = SharedSpace::from_schema_text(
        "pci",
        include_str!("../../schemas/pci.toml"),
        None,
        &["domain=0, bus=0, slot=1"],
    )
    .unwrap();
    assert_eq!(
        pg.reserve(&mut pci, "*", "lone").unwrap().first,
        "0000:00:01.1"
    );
    let before = pg.load().unwrap();
    let Err(e) = plan("vm1", &["a", "d"]).run_with_store(&mut pg, &options) else {
        panic!("a plan run over a reserved address was committed");
    };
    assert!(e.to_string().contains("23P01"), "{e}");
    assert_eq!(pg.load().unwrap(), before);
    pg.release(&mut pci, "lone").unwrap();
    let state = pg.load().unwrap().unwrap();
    let rows: Vec<(Option<&str>, &str, &str)> = state
        .assignments
        .iter()
        .map(|a| (a.scope.as_deref(), a.device.as_str(), a.first.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            (Some("vm2"), "c", "0000:00:01.2"),
            (Some("vm1"), "a", "0000:00:01.0")
        ]
    );
}

const HOSTILE: &[&str] = &[
    "x'); DROP TABLE r; --",
    "x\"; DROP SCHEMA public CASCADE; --",
    "Robert'); DROP TABLE reservations;--",
    "\\' OR '1'='1",
    "$1 $$ $tag$ ::text",
    "名前 🦀 \t tab",
];

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_hostile_names_are_data() {
    let ns = fresh("hostile");
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    let mut space = SharedSpace::from_schema_text(
        "x'); DROP TABLE r; --",
        include_str!("../../schemas/ipv4.toml"),
        None,
        &["a=10, b=0"],
    )
    .unwrap();
    for owner in HOSTILE {
        let r = store.reserve(&mut space, "*", owner).unwrap();
        assert_eq!(&r.owner, owner);
    }
    let rows = store.reservations("x'); DROP TABLE r; --").unwrap();
    let owners: Vec<&str> = rows.iter().map(|r| r.owner.as_str()).collect();
    assert_eq!(owners, HOSTILE);
    for owner in HOSTILE {
        assert_eq!(store.release(&mut space, owner).unwrap().len(), 1);
    }
    assert!(store.reservations(space.name()).unwrap().is_empty());
    // A NUL cannot be stored: refused with a reason, nothing sent.
    let e = store.reserve(&mut space, "*", "a\0b").unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");

    // Hostile device names through a plan run.
    let mut text = "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n".to_string();
    for d in HOSTILE {
        text.push_str(&format!("[[device]]\nname = {}\n", toml_string(d)));
    }
    let plan = Plan::from_toml(&text).unwrap();
    plan.run_with_store(&mut store, &RunOptions::new(examples()))
        .unwrap();
    let state = store.load().unwrap().unwrap();
    let devices: Vec<&str> = state
        .assignments
        .iter()
        .map(|a| a.device.as_str())
        .collect();
    assert_eq!(devices, HOSTILE);
    // Every table is still there.
    let mut c = raw();
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&ns],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 6);
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_password_is_never_shown() {
    // The throwaway cluster trusts local logins; a password in the URL is ignored by
    // the server but must still never be printed: not by the URL, the store, nor an
    // error naming a database that does not exist.
    let base = url();
    let with_password = base
        .expose()
        .replacen("://addralloc@", "://addralloc:Sup3rSecretPw@", 1)
        .replacen("/postgres", "/no_such_db", 1);
    assert!(with_password.contains("Sup3rSecretPw"), "{with_password}");
    let url = DatabaseUrl::new(with_password);
    let e = PgStore::connect(&url, "addralloc").unwrap_err();
    let shown = format!("{e} | {e:?} | {url} | {url:?}");
    assert!(!shown.contains("Sup3rSecretPw"), "{shown}");
    assert!(shown.contains("no_such_db"), "{shown}");
    let ok = DatabaseUrl::new(base.expose().replacen(
        "://addralloc@",
        "://addralloc:Sup3rSecretPw@",
        1,
    ));
    let store = PgStore::connect(&ok, &fresh("password")).unwrap();
    let shown = format!("{} {store:?}", store.name());
    assert!(!shown.contains("Sup3rSecretPw"), "{shown}");
    assert!(shown.contains("***"), "{shown}");
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_database_refuses_overlaps_and_other_versions() {
    let ns = fresh("refuses");
    let mut store = PgStore::connect(&url(), &ns).unwrap();
    let mut space = ipv4("pool");
    let r = store.reserve(&mut space, "*", "first").unwrap();
    assert_eq!(r.first, "10.0.0.0");
    // A client with a bug inserting an overlapping range is refused by the database.
    let mut c = raw();
    let e = c
        .execute(
            &format!(
                "INSERT INTO \"{ns}\".reservations (space, first_index, last_index, first, last, owner) \
                 VALUES ('pool', 167772160 - 4, 167772160 + 4, 'a', 'b', 'bug')"
            ),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "23P01");
    // Another client whose view is stale still gets a distinct address.
    let mut other = PgStore::connect(&url(), &ns).unwrap();
    let mut stale = ipv4("pool");
    assert_eq!(
        other.reserve(&mut stale, "*", "second").unwrap().first,
        "10.0.0.1"
    );
    let third = store.reserve(&mut space, "*", "third").unwrap();
    assert_eq!(third.first, "10.0.0.2");
    // A full pattern: refused with the reason.
    let e = store
        .reserve(&mut space, "a=10, b=0, c=0, d=0..=2", "x")
        .unwrap_err();
    assert!(matches!(e, Error::Full { .. }), "{e}");
    // Tables of another layout version are left alone.
    c.execute(
        &format!("UPDATE \"{ns}\".schema_version SET version = 99"),
        &[],
    )
    .unwrap();
    let e = PgStore::connect(&url(), &ns).unwrap_err();
    assert!(matches!(e, Error::Version { found: 99, .. }), "{e}");
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_block_affinity_and_reclaim() {
    let ns = fresh("affinity");
    let mut a = PgStore::connect(&url(), &ns).unwrap();
    let mut b = PgStore::connect(&url(), &ns).unwrap();
    let (mut sa, mut sb) = (ipv4("pool"), ipv4("pool"));
    // Each host places in its own /26 (a block of 64 of the last octet).
    for i in 0..70 {
        a.reserve_affine(&mut sa, "d=64", "host-a", &format!("a{i}"))
            .unwrap();
        b.reserve_affine(&mut sb, "d=64", "host-b", &format!("b{i}"))
            .unwrap();
    }
    let ca = a.claims("pool", Some("host-a")).unwrap();
    let cb = a.claims("pool", Some("host-b")).unwrap();
    assert_eq!((ca.len(), cb.len()), (2, 2), "{ca:?} {cb:?}");
    for r in a.reservations("pool").unwrap() {
        let host = r.host.clone().unwrap();
        let mine = a.claims("pool", Some(&host)).unwrap();
        let last: u32 = r.first.rsplit('.').next().unwrap().parse().unwrap();
        let third: u32 = r.first.split('.').nth(2).unwrap().parse().unwrap();
        assert!(
            mine.iter().any(|c| {
                let lo: u32 = c.first.rsplit('.').next().unwrap().parse().unwrap();
                let c3: u32 = c.first.split('.').nth(2).unwrap().parse().unwrap();
                c3 == third && (lo..lo + 64).contains(&last)
            }),
            "{r:?} outside {host}'s blocks {mine:?}"
        );
    }
    let mut c = raw();
    assert_eq!(overlaps(&mut c, &ns, "claims"), 0);
    assert_eq!(overlaps(&mut c, &ns, "reservations"), 0);
    // host-b is gone: its blocks are reclaimed explicitly; its reservations stay.
    assert_eq!(a.reclaim("pool", "host-b").unwrap().len(), 2);
    assert!(a.claims("pool", Some("host-b")).unwrap().is_empty());
    assert_eq!(a.reservations("pool").unwrap().len(), 140);
    // A block holding reservations is not claimed again by another host.
    let claim = a.claim_block(&mut sa, "*", "d=64", "host-c").unwrap();
    assert!(
        cb.iter().all(|x| x.first != claim.first),
        "{claim:?} was host-b's, still in use"
    );
}

//! `addralloc plan FILE`: read the plan (and the state file, locked, or the PostgreSQL
//! store's state, in a transaction), call the plan library, print the table or JSON,
//! save the new state.

use std::path::Path;
use std::time::Duration;

use addralloc::plan::{
    io_reason, Kind, Node, Placed, Placement, Plan, PlanError, Problem, RunError, RunOptions,
    Source, SpaceCount, StateFile, Store, StoreError,
};
use addralloc_postgres::{DatabaseUrl, PgStore};
use serde_json::json;

use crate::output::{eprint, eprintln, print, println};
use crate::Failure;

/// How a run's result is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Tree,
}

impl Output {
    pub fn new(json: bool, tree: bool) -> Output {
        match (json, tree) {
            (true, _) => Output::Json,
            (false, true) => Output::Tree,
            _ => Output::Table,
        }
    }
}

/// A PostgreSQL store for `--store`: the connection string and the namespace.
pub struct PgTarget<'a> {
    pub url: &'a DatabaseUrl,
    pub namespace: &'a str,
}

pub fn run(
    path: &Path,
    output: Output,
    state_path: Option<&Path>,
    pg: Option<PgTarget<'_>>,
    scope: Option<&str>,
    lock_timeout: Duration,
) -> Result<(), Failure> {
    let json = output == Output::Json;
    let text = crate::read_file(path)?;
    let shown = path.display().to_string();
    let source = Source::new(&text);
    let fail = |problems: &[Problem]| {
        for p in problems {
            eprint!("{}", source.render(&shown, p));
        }
        eprintln!(
            "error: the plan `{shown}` has {} error{}; nothing was written",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        if json {
            print_errors_json(&shown, &source, problems);
        }
        Failure::Input
    };
    let plan = Plan::from_toml(&text).map_err(|p| fail(&p))?;

    if let Some(pg) = pg {
        let mut store = PgStore::connect(pg.url, pg.namespace).map_err(|e| {
            eprintln!("error: {e}; nothing was written");
            Failure::Input
        })?;
        store.set_lock_timeout(lock_timeout);
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut options = RunOptions::new(base);
        if let Some(s) = scope {
            options = options.scope(s);
        }
        let placed = match plan.run_with_store(&mut store, &options) {
            Ok(p) => p,
            Err(RunError::Plan(PlanError::Problems(p))) => return Err(fail(&p)),
            Err(RunError::Plan(PlanError::State(reason))) => {
                eprintln!(
                    "error: the state in {} is unusable: {reason}; nothing was written",
                    store.name()
                );
                return Err(Failure::Input);
            }
            Err(RunError::Store(e)) => {
                eprintln!("error: {e}; nothing was written");
                return Err(Failure::Input);
            }
        };
        print_placed(&placed, output);
        return Ok(());
    }

    // The state file stays locked from here until the new state is renamed in.
    let store = match state_path {
        Some(sp) => Some(StateFile::open(sp, lock_timeout).map_err(|e| {
            state_error(sp, &e);
            Failure::Input
        })?),
        None => None,
    };
    let previous = match (&store, state_path) {
        (Some(store), Some(sp)) => store.load().map_err(|e| {
            state_error(sp, &e);
            Failure::Input
        })?,
        _ => None,
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut options = RunOptions::new(base);
    if let (Some(st), Some(sp)) = (&previous, state_path) {
        options = options.previous(st, sp.display().to_string());
    }
    if let Some(s) = scope {
        options = options.scope(s);
    }
    let placed = match plan.run(&options) {
        Ok(p) => p,
        Err(PlanError::Problems(p)) => return Err(fail(&p)),
        Err(PlanError::State(reason)) => {
            eprintln!(
                "error: the state file `{}` is unusable: {reason}; nothing was written",
                state_path
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            return Err(Failure::Input);
        }
    };

    if let (Some(store), Some(sp)) = (store, state_path) {
        if let Err(e) = store.save(&placed.state()) {
            eprintln!(
                "error: cannot write the state file `{}`: {}",
                sp.display(),
                io_reason(&e)
            );
            return Err(Failure::Input);
        }
    }

    print_placed(&placed, output);
    Ok(())
}

fn print_placed(placed: &Placed, output: Output) {
    let rows: Vec<&Placement> = placed.placements().chain(placed.released()).collect();
    let topology = placed.topology();
    match output {
        Output::Json => print_json(&rows, &placed.space_counts(), &topology),
        Output::Tree => print_tree(&rows, &topology),
        Output::Table => print_table(&rows),
    }
}

fn state_error(sp: &Path, e: &StoreError) {
    match e {
        StoreError::Read(e) => eprintln!(
            "error: cannot read the state file `{}`: {}",
            sp.display(),
            io_reason(e)
        ),
        StoreError::Create(e) => eprintln!(
            "error: cannot write the state file `{}`: {}",
            sp.display(),
            io_reason(e)
        ),
        StoreError::Locked(waited) => eprintln!(
            "error: the state file `{}` is locked by another run; gave up after {} s \
             (--lock-timeout); nothing was written",
            sp.display(),
            waited.as_secs()
        ),
        StoreError::Unusable(reason) => eprintln!(
            "error: the state file `{}` is unusable: {reason}; nothing was written",
            sp.display()
        ),
    }
}

fn print_table(rows: &[&Placement]) {
    let header = ["DEVICE", "SPACE", "ADDRESS", "KIND"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.device.clone(),
                r.space.clone(),
                r.address_text(),
                r.kind_text(),
            ]
        })
        .collect();
    let mut w = header.map(str::len);
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: [&str; 4]| {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        ));
        out.push('\n');
    };
    line(&mut out, header);
    for c in &cells {
        line(&mut out, [&c[0], &c[1], &c[2], &c[3]]);
    }
    print!("{out}");
}

/// With `--json`, the errors also go to standard output, for machines.
fn print_errors_json(path: &str, source: &Source<'_>, problems: &[Problem]) {
    let errors: Vec<serde_json::Value> = problems
        .iter()
        .map(|p| {
            let mut v = json!({ "message": p.message, "file": path });
            if let Some(span) = &p.span {
                let (line, column) = source.line_col(span.start);
                v["line"] = json!(line);
                v["column"] = json!(column);
            }
            v
        })
        .collect();
    let v = json!({ "errors": errors });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// The tree of `addralloc plan --tree`: devices on the spaces' own pools at the root,
/// each controller's pools under it, the devices in each pool under that.
fn print_tree(rows: &[&Placement], topology: &[Node]) {
    let mut out = String::new();
    let roots: Vec<&Node> = topology.iter().filter(|n| n.parent.is_none()).collect();
    for (i, n) in roots.iter().enumerate() {
        tree_node(&mut out, rows, topology, n, "", i + 1 == roots.len(), true);
    }
    let released: Vec<&&Placement> = rows.iter().filter(|r| r.kind == Kind::Released).collect();
    for r in released {
        out.push_str(&format!(
            "{}  {} {}  released\n",
            r.device,
            r.space,
            r.address_text()
        ));
    }
    print!("{out}");
}

fn tree_node(
    out: &mut String,
    rows: &[&Placement],
    topology: &[Node],
    n: &Node,
    prefix: &str,
    last: bool,
    root: bool,
) {
    let mine: Vec<&&Placement> = rows
        .iter()
        .filter(|r| r.device == n.device && r.kind != Kind::Released)
        .collect();
    let addresses: Vec<String> = mine
        .iter()
        .map(|r| format!("{} {}", r.space, r.address_text()))
        .collect();
    let kind = mine.first().map(|r| r.kind_text()).unwrap_or_default();
    let (branch, next) = match (root, last) {
        (true, _) => ("", String::new()),
        (false, true) => ("└── ", format!("{prefix}    ")),
        (false, false) => ("├── ", format!("{prefix}│   ")),
    };
    out.push_str(&format!(
        "{prefix}{branch}{}  {}  {kind}\n",
        n.device,
        addresses.join(", ")
    ));
    for (i, pool) in n.provides.iter().enumerate() {
        let pool_last = i + 1 == n.provides.len();
        let (pb, pnext) = if pool_last {
            ("└── ", format!("{next}    "))
        } else {
            ("├── ", format!("{next}│   "))
        };
        out.push_str(&format!("{next}{pb}{}: {}\n", pool.space, pool.pattern));
        let children: Vec<&Node> = topology
            .iter()
            .filter(|c| {
                c.parent
                    .as_ref()
                    .is_some_and(|(p, via)| *p == n.device && via == pool)
            })
            .collect();
        for (j, c) in children.iter().enumerate() {
            tree_node(
                out,
                rows,
                topology,
                c,
                &pnext,
                j + 1 == children.len(),
                false,
            );
        }
    }
}

fn print_json(rows: &[&Placement], spaces: &[SpaceCount], topology: &[Node]) {
    let assignments: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = json!({
                "device": r.device,
                "space": r.space,
                "first": r.first,
                "last": r.last,
                "kind": r.kind.name(),
            });
            if let Some(i) = r.preference {
                v["preference"] = json!(i);
            }
            if let Some(d) = &r.disk {
                v["disk"] = json!(d);
            }
            let node = topology.iter().find(|n| n.device == r.device);
            if let Some((parent, pool)) = node.and_then(|n| n.parent.as_ref()) {
                v["parent"] =
                    json!({ "device": parent, "space": pool.space, "pool": pool.pattern });
            }
            if let Some(n) = node.filter(|n| !n.provides.is_empty()) {
                let pools: Vec<serde_json::Value> = n
                    .provides
                    .iter()
                    .map(|p| json!({ "space": p.space, "pattern": p.pattern }))
                    .collect();
                v["provides"] = json!(pools);
            }
            v
        })
        .collect();
    let space_info: Vec<serde_json::Value> = spaces
        .iter()
        .map(|s| {
            json!({
                "space": s.space,
                "type": s.type_name,
                "capacity": s.capacity.to_string(),
                "free": s.free.to_string(),
            })
        })
        .collect();
    let v = json!({ "assignments": assignments, "spaces": space_info });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

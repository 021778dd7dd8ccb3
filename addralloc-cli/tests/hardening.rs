//! Hardening of `addralloc plan` and the other commands (issue 10): a closed standard
//! output, files that are not regular or too large, a state file behind a symbolic
//! link, temporary files of killed runs, and concurrent runs on one state file, each
//! with its own scope.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent().unwrap_or(cli)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the addralloc binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("addralloc-hardening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::copy(root().join("schemas/mac.toml"), dir.join("mac.toml")).expect("mac.toml");
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

const PLAN: &str = "[[space]]\nname = \"mac\"\nschema = \"mac.toml\"\n\n[[space.pool]]\n\
                    pattern = \"a=0x52, b=0x54, c=0, d=0, e=0..=255, f=0..=255\"\n\n\
                    [[device]]\nname = \"nic0\"\n";

/// Runs with standard output closed before anything is written: no panic, the usual
/// exit status, the state saved.
fn closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the addralloc binary runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("it ends")
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    let dir = scratch("closed");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    let o = closed_stdout(&dir, &["plan", "plan.toml", "--state", "state.json"]);
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read_to_string(dir.join("state.json"))
        .unwrap()
        .contains("\"nic0\""));
    let o = closed_stdout(&dir, &["plan", "plan.toml", "--json"]);
    assert_eq!((stderr(&o).as_str(), o.status.code()), ("", Some(0)));
    for args in [
        &["check", "mac.toml", "mac.toml"][..],
        &["describe", "mac.toml"],
        &["gen", "mac.toml"],
    ] {
        let o = closed_stdout(&dir, args);
        assert_eq!(stderr(&o), "", "{args:?}");
        assert_eq!(o.status.code(), Some(0), "{args:?}");
    }
    // A failing check keeps its exit status.
    std::fs::write(dir.join("bad.toml"), "[[address]]\nname = 1\n").unwrap();
    let o = closed_stdout(&dir, &["check", "mac.toml", "bad.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for a run at most 20 s: a file that blocks reading would hang the test.
fn run_with_deadline(dir: &Path, args: &[&str]) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the addralloc binary runs");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{args:?} blocked");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

#[cfg(unix)]
#[test]
fn devices_fifos_and_huge_files_are_refused_by_name() {
    let dir = scratch("special");
    let fifo = dir.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let not_regular = "it is not a regular file (a device, a FIFO or a socket)";
    let mut cases = vec![(
        vec!["check", "/dev/zero"],
        format!("error: cannot read `/dev/zero`: {not_regular}\n"),
    )];
    if made.map(|s| s.success()).unwrap_or(false) {
        cases.push((
            vec!["describe", "fifo.toml"],
            format!("error: cannot read `fifo.toml`: {not_regular}\n"),
        ));
        cases.push((
            vec!["plan", "fifo.toml"],
            format!("error: cannot read `fifo.toml`: {not_regular}\n"),
        ));
        cases.push((
            vec!["plan", "plan.toml", "--state", "fifo.toml"],
            format!("error: cannot read the state file `fifo.toml`: {not_regular}\n"),
        ));
    }
    // A schema path in a plan.
    std::fs::write(
        dir.join("plan.toml"),
        PLAN.replace("schema = \"mac.toml\"", "schema = \"/dev/zero\""),
    )
    .unwrap();
    let huge = dir.join("huge.toml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    cases.push((
        vec!["check", "huge.toml"],
        "error: cannot read `huge.toml`: it is larger than the limit of 64 MiB\n".to_string(),
    ));
    for (args, expected) in &cases {
        let o = run_with_deadline(&dir, args);
        // `check` adds its count of failed files.
        let first_line = stderr(&o).lines().next().unwrap_or("").to_string() + "\n";
        assert_eq!(&first_line, expected, "{args:?}");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
    }
    let o = run_with_deadline(&dir, &["plan", "plan.toml"]);
    assert_eq!(
        stderr(&o).lines().next(),
        Some(format!("error: cannot load the schema `/dev/zero`: {not_regular}").as_str())
    );
    assert_eq!(o.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn the_state_is_written_through_a_symbolic_link() {
    let dir = scratch("symlink");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    std::fs::create_dir(dir.join("real")).unwrap();
    std::os::unix::fs::symlink("real/state.json", dir.join("state.json")).unwrap();
    for _ in 0..2 {
        let o = run_in(&dir, &["plan", "plan.toml", "--state", "state.json"]);
        assert_eq!(stderr(&o), "");
        assert!(std::fs::symlink_metadata(dir.join("state.json"))
            .unwrap()
            .file_type()
            .is_symlink());
        let text = std::fs::read_to_string(dir.join("real/state.json")).unwrap();
        assert!(text.contains("\"nic0\""), "{text}");
    }
    assert_eq!(files_in(&dir.join("real")), ["state.json"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_temporary_files_stay() {
    let dir = scratch("tmp");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    // What a run killed while writing leaves: a temporary file and an empty state file.
    std::fs::write(dir.join(".state.json.tmp"), "{\"half\": ").unwrap();
    std::fs::write(dir.join("state.json"), "").unwrap();
    let o = run_in(&dir, &["plan", "plan.toml", "--state", "state.json"]);
    assert_eq!(stderr(&o), "");
    assert_eq!(files_in(&dir), ["mac.toml", "plan.toml", "state.json"]);
    // A failed first run leaves no state file behind.
    std::fs::write(
        dir.join("bad.toml"),
        PLAN.replace("nic0", "nic0\nwithin = \"z=1\""),
    )
    .unwrap();
    let o = run_in(&dir, &["plan", "bad.toml", "--state", "new.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        files_in(&dir),
        ["bad.toml", "mac.toml", "plan.toml", "state.json"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_held_lock_times_out_with_a_message() {
    let dir = scratch("lock");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    let o = run_in(&dir, &["plan", "plan.toml", "--state", "state.json"]);
    assert_eq!(stderr(&o), "");
    let before = std::fs::read(dir.join("state.json")).unwrap();
    let held = std::fs::File::open(dir.join("state.json")).unwrap();
    held.lock().unwrap();
    let o = run_in(
        &dir,
        &[
            "plan",
            "plan.toml",
            "--state",
            "state.json",
            "--lock-timeout",
            "0",
        ],
    );
    assert_eq!(
        stderr(&o),
        "error: the state file `state.json` is locked by another run; gave up after 0 s \
         (--lock-timeout); nothing was written\n"
    );
    assert_eq!(o.status.code(), Some(1));
    drop(held);
    assert_eq!(std::fs::read(dir.join("state.json")).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

fn scope_plan(scope: usize, devices: usize) -> String {
    let mut text = format!(
        "scope = \"vm{scope}\"\n{}",
        PLAN.replace("[[device]]\nname = \"nic0\"\n", "")
    );
    for d in 0..devices {
        text.push_str(&format!("[[device]]\nname = \"nic{d}\"\n"));
    }
    text
}

/// 8 concurrent runs on one state file, one scope each, every round adding one device
/// per scope: every run succeeds, and every device keeps the distinct address it was
/// first told.
#[test]
fn concurrent_runs_with_scopes_share_one_state_file() {
    const SCOPES: usize = 8;
    const ROUNDS: usize = 50;
    let dir = scratch("concurrent");
    let mut told: BTreeMap<(usize, String), String> = BTreeMap::new();
    for round in 1..=ROUNDS {
        for s in 0..SCOPES {
            std::fs::write(dir.join(format!("vm{s}.toml")), scope_plan(s, round)).unwrap();
        }
        let children: Vec<_> = (0..SCOPES)
            .map(|s| {
                bin()
                    .args(["plan", &format!("vm{s}.toml"), "--state", "state.json"])
                    .current_dir(&dir)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("the addralloc binary runs")
            })
            .collect();
        for (s, child) in children.into_iter().enumerate() {
            let o = child.wait_with_output().expect("it ends");
            assert_eq!(stderr(&o), "", "round {round}, vm{s}");
            assert_eq!(o.status.code(), Some(0));
            for line in String::from_utf8_lossy(&o.stdout).lines().skip(1) {
                let cells: Vec<&str> = line.split_whitespace().collect();
                let [device, _, address, _] = cells[..] else {
                    panic!("{line}");
                };
                let first = told
                    .entry((s, device.to_string()))
                    .or_insert_with(|| address.to_string());
                assert_eq!(first, address, "vm{s} {device} moved in round {round}");
            }
        }
    }
    assert_eq!(told.len(), SCOPES * ROUNDS);
    let distinct: HashSet<&String> = told.values().collect();
    assert_eq!(
        distinct.len(),
        told.len(),
        "an address was handed out twice"
    );
    let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
    assert_eq!(state.matches("\"device\"").count(), SCOPES * ROUNDS);
    assert_eq!(files_in(&dir).len(), 2 + SCOPES, "{:?}", files_in(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_scope_option_overrides_the_plan() {
    let dir = scratch("scope");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    let o = run_in(
        &dir,
        &[
            "plan",
            "plan.toml",
            "--state",
            "state.json",
            "--scope",
            "vm1",
        ],
    );
    assert_eq!(stderr(&o), "");
    assert!(String::from_utf8_lossy(&o.stdout).contains("nic0    mac    52:54:00:00:00:00  auto"));
    // Without a scope, vm1's nic0 is someone else's: this nic0 goes around it.
    let o = run_in(&dir, &["plan", "plan.toml", "--state", "state.json"]);
    assert_eq!(stderr(&o), "");
    assert!(String::from_utf8_lossy(&o.stdout).contains("nic0    mac    52:54:00:00:00:01  auto"));
    let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
    assert_eq!(state.matches("\"device\": \"nic0\"").count(), 2, "{state}");
    assert_eq!(state.matches("\"scope\": \"vm1\"").count(), 1, "{state}");
    let o = run_in(&dir, &["plan", "plan.toml", "--scope", ""]);
    assert_eq!(
        stderr(&o),
        "error: a scope name cannot be empty\n  --> plan.toml\nerror: the plan `plan.toml` has 1 error; nothing was written\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `describe` of a schema with many pools checks the schema once, not once per pool:
/// the time for doubled pool counts is printed (not asserted;
/// `cargo test -p addralloc-cli --test hardening describe -- --nocapture`).
#[test]
fn describe_growth_in_pools() {
    let dir = scratch("describe");
    let mut previous: Option<f64> = None;
    for n in [250usize, 500, 1000] {
        let mut schema = String::from(
            "[[address]]\nname = \"Port\"\n\n[[address.field]]\nname = \"port\"\ntype = \"u16\"\n",
        );
        for i in 0..n {
            schema.push_str(&format!("\n[[address.pool]]\npattern = \"port={i}\"\n"));
        }
        std::fs::write(dir.join("many.toml"), schema).unwrap();
        let start = Instant::now();
        let o = run_in(&dir, &["describe", "many.toml"]);
        let took = start.elapsed().as_secs_f64();
        assert_eq!(stderr(&o), "");
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.matches("  1 addresses").count(), n);
        if let Some(p) = previous {
            println!(
                "describe, {n} pools: {took:.3} s ({:.1}x)",
                took / p.max(1e-9)
            );
        }
        previous = Some(took);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_state_file_in_a_missing_directory_cannot_be_written() {
    let dir = scratch("missing-dir");
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    let o = run_in(
        &dir,
        &["plan", "plan.toml", "--state", "no-such-dir/state.json"],
    );
    assert_eq!(
        stderr(&o),
        "error: cannot write the state file `no-such-dir/state.json`: no such file\n"
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(files_in(&dir), ["mac.toml", "plan.toml"]);
    let _ = std::fs::remove_dir_all(&dir);
}

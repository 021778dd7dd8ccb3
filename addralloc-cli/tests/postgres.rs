//! `addralloc plan --store postgres://...` and the shared-space subcommands
//! (`reserve`, `release`, `reclaim`). The tests named `postgres_*` need a server:
//! `scripts/with-postgres cargo test --workspace postgres -- --include-ignored`; the
//! others check the flags without one.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent().unwrap_or(cli)
}

fn addralloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the addralloc binary runs")
}

/// As [`addralloc`], without `ADDRALLOC_DATABASE_URL`.
fn addralloc_no_env(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(args)
        .current_dir(root())
        .env_remove("ADDRALLOC_DATABASE_URL")
        .output()
        .expect("the addralloc binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn url() -> String {
    std::env::var("ADDRALLOC_DATABASE_URL")
        .expect("set ADDRALLOC_DATABASE_URL, or run through scripts/with-postgres")
}

/// A namespace of its own for a test, emptied first.
fn fresh(name: &str) -> String {
    let ns = format!("cli_{name}");
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{ns}\" CASCADE"))
        .unwrap();
    ns
}

#[test]
fn store_flag_needs_a_postgres_url() {
    let o = addralloc(&["plan", "examples/plans/q35.toml", "--store", "state.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`--store` takes a PostgreSQL URL"),
        "{}",
        stderr(&o)
    );
    let o = addralloc(&[
        "plan",
        "examples/plans/q35.toml",
        "--store",
        "postgres://u@h/db",
        "--state",
        "s.json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = addralloc_no_env(&[
        "reserve",
        "--space",
        "s",
        "--schema",
        "schemas/ipv4.toml",
        "--owner",
        "o",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("give `--store postgres://...` or set ADDRALLOC_DATABASE_URL"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreachable_store_is_named_without_its_password() {
    // Nothing listens on port 1.
    let o = addralloc(&[
        "plan",
        "examples/plans/q35.toml",
        "--store",
        "postgres://me:hunter2secret@127.0.0.1:1/db",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("postgres://me:***@127.0.0.1:1/db"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_cli_plan_store_prints_what_the_state_file_does() {
    let ns = fresh("plan");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("addralloc-cli-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("q35.json");
    let _ = std::fs::remove_file(&state);
    let state = state.to_str().unwrap();
    for _ in 0..2 {
        let by_file = addralloc(&["plan", "examples/plans/q35.toml", "--state", state]);
        assert_eq!(by_file.status.code(), Some(0), "{}", stderr(&by_file));
        // `--store` without a value: ADDRALLOC_DATABASE_URL.
        let by_pg = addralloc(&[
            "plan",
            "examples/plans/q35.toml",
            "--store",
            "--namespace",
            &ns,
        ]);
        assert_eq!(by_pg.status.code(), Some(0), "{}", stderr(&by_pg));
        assert_eq!(stdout(&by_file), stdout(&by_pg));
        assert!(stdout(&by_pg).contains("DEVICE"));
    }
    let by_url = addralloc(&[
        "plan",
        "examples/plans/q35.toml",
        "--json",
        "--store",
        &url(),
        "--namespace",
        &ns,
    ]);
    assert_eq!(by_url.status.code(), Some(0), "{}", stderr(&by_url));
    assert!(stdout(&by_url).contains("\"assignments\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --workspace postgres -- --include-ignored"]
fn postgres_cli_reserve_release_reclaim() {
    let ns = fresh("ops");
    let space = |extra: &[&str]| {
        let mut v = vec![
            "--namespace",
            &ns,
            "--space",
            "lan",
            "--schema",
            "schemas/ipv4.toml",
            "--pool",
            "a=192, b=168, c=0..=3",
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let run = |cmd: &str, extra: &[&str]| {
        let mut args = vec![cmd.to_string()];
        args.extend(space(extra));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        addralloc(&refs)
    };
    let hostile = "x'); DROP TABLE r; --";
    let o = run("reserve", &["--owner", hostile]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "192.168.0.0\n");
    let o = run(
        "reserve",
        &["--owner", "vm2", "--pattern", "a=192, b=168, c=2"],
    );
    assert_eq!(stdout(&o), "192.168.2.0\n", "{}", stderr(&o));
    let o = run("release", &["--owner", hostile]);
    assert_eq!(stdout(&o), "192.168.0.0\n", "{}", stderr(&o));
    let o = run("release", &["--owner", hostile]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds nothing"), "{}", stderr(&o));
    // Affinity: a /26 claimed by host h1, reservations inside it.
    let o = run(
        "reserve",
        &["--owner", "a", "--host", "h1", "--block", "d=64"],
    );
    assert_eq!(stdout(&o), "192.168.0.0\n", "{}", stderr(&o));
    let o = run(
        "reserve",
        &["--owner", "b", "--host", "h2", "--block", "d=64"],
    );
    assert_eq!(stdout(&o), "192.168.0.64\n", "{}", stderr(&o));
    let o = addralloc(&[
        "reclaim",
        "--namespace",
        &ns,
        "--space",
        "lan",
        "--host",
        "h1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "192.168.0.0..=192.168.0.63\n");
    // A pattern that does not parse: the reason, exit status 1.
    let o = run("reserve", &["--owner", "c", "--pattern", "e=1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
}

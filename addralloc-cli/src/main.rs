//! `addralloc`: check and describe address schemas, and plan the addresses of a machine
//! or a network from a plan file.
//!
//! ```text
//! addralloc check schemas/*.toml             validate schema files (exit 1 on errors)
//! addralloc describe schemas/pci.toml        fields, ranges, capacity, format, pools
//! addralloc gen schemas/pci.toml             the Rust that include_schema! generates
//! addralloc plan examples/plans/i440fx.toml  assign addresses; --json, --state FILE,
//!                                            --store postgres://...
//! addralloc reserve --space S --schema F --owner O   one address from a shared space
//! addralloc release --space S --schema F --owner O   give an owner's addresses back
//! addralloc reclaim --space S --host H               drop a gone host's claimed blocks
//! ```
//!
//! Exit status: 0 success, 1 errors in the input (schema errors, plan conflicts), 2
//! usage errors.

mod describe;
mod output;
mod plan;
mod shared;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use addralloc::plan::{io_reason, Source};
use addralloc::schema::Schema;

use crate::output::{eprint, eprintln, print, println};

/// Declarative address schemas: check them, describe them, and plan addresses with them.
#[derive(Parser, Debug)]
#[command(name = "addralloc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate schema files; errors show the file, line and column (exit status 1)
    Check {
        /// Schema files (`*.toml`)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Describe each address type of a schema: fields, ranges, capacity, format, pools
    Describe {
        /// A schema file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the Rust code that `include_schema!` generates for a schema file
    Gen {
        /// A schema file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Assign addresses to the devices of a plan file and print them
    Plan {
        /// A plan file (see examples/plans/README.md)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print the assignments as JSON
        #[arg(long)]
        json: bool,
        /// Print the placed topology as a tree, like `lspci -tv`: each controller with
        /// the pools it provides and the devices in them
        #[arg(long, conflicts_with = "json")]
        tree: bool,
        /// Continue from this JSON state file, if it exists (its assignments and the
        /// allocators' state, such as the next-fit position), and write the new state to
        /// it; the file is locked while the run reads and writes it
        #[arg(long, value_name = "STATE")]
        state: Option<PathBuf>,
        /// Place the devices of this scope (overrides the plan's `scope`): other scopes'
        /// devices in the state file are kept as they are, their addresses taken
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
        /// Keep the state in PostgreSQL instead (postgres://user@host/db); without a
        /// value, the URL in ADDRALLOC_DATABASE_URL. A run is one transaction
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "",
              conflicts_with = "state")]
        store: Option<String>,
        /// The PostgreSQL schema holding addralloc's tables (with --store)
        #[arg(long, value_name = "NAME", default_value = addralloc_postgres::DEFAULT_NAMESPACE)]
        namespace: String,
        /// Seconds to wait for another run to finish with the state file (or the
        /// store's plan lock)
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        lock_timeout: u64,
    },
    /// Reserve one address of a space shared through PostgreSQL, for an owner, and print
    /// it (one transaction)
    Reserve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        space: SpaceFlags,
        /// Only addresses matching this pattern (`a=10, b=0, c=1`)
        #[arg(long, value_name = "PATTERN", default_value = "*")]
        pattern: String,
        /// Who holds the address
        #[arg(long, value_name = "OWNER")]
        owner: String,
        /// Place inside blocks claimed by this host, claiming one when they are full
        /// (block affinity); needs --block
        #[arg(
            long,
            value_name = "HOST",
            requires = "block",
            conflicts_with = "pattern"
        )]
        host: Option<String>,
        /// The shape of the blocks a host claims (`d=64`: a /26 of IPv4)
        #[arg(long, value_name = "SHAPE", requires = "host")]
        block: Option<String>,
    },
    /// Release every address an owner holds in a shared space, and print them
    Release {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        space: SpaceFlags,
        /// Whose addresses
        #[arg(long, value_name = "OWNER")]
        owner: String,
    },
    /// Give up the blocks a host (one that is gone) claimed in a shared space; the
    /// reservations in them stay with their owners
    Reclaim {
        #[command(flatten)]
        db: DbArgs,
        /// The space's name
        #[arg(long, value_name = "NAME")]
        space: String,
        /// The host whose blocks go
        #[arg(long, value_name = "HOST")]
        host: String,
    },
}

/// Where the shared state is.
#[derive(clap::Args, Debug)]
struct DbArgs {
    /// The PostgreSQL URL (postgres://user@host/db); default: ADDRALLOC_DATABASE_URL
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// The PostgreSQL schema holding addralloc's tables
    #[arg(long, value_name = "NAME", default_value = addralloc_postgres::DEFAULT_NAMESPACE)]
    namespace: String,
}

/// A shared space: its name, schema and pools.
#[derive(clap::Args, Debug)]
struct SpaceFlags {
    /// The space's name (its rows in the database)
    #[arg(long = "space", value_name = "NAME")]
    name: String,
    /// The schema file of its address type
    #[arg(long, value_name = "FILE")]
    schema: PathBuf,
    /// The address type, when the schema has several
    #[arg(long = "type", value_name = "TYPE")]
    type_name: Option<String>,
    /// A pool to place in (repeatable); default: the type's whole range
    #[arg(long = "pool", value_name = "PATTERN")]
    pools: Vec<String>,
}

impl SpaceFlags {
    fn args(&self) -> shared::SpaceArgs<'_> {
        shared::SpaceArgs {
            name: &self.name,
            schema: &self.schema,
            type_name: self.type_name.as_deref(),
            pools: &self.pools,
        }
    }
}

/// An outcome: the exit status, after the messages were printed.
pub enum Failure {
    /// Errors in the input: exit status 1.
    Input,
    /// A usage error: exit status 2.
    Usage,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files } => check(&files),
        Command::Describe { file } => describe::run(&file),
        Command::Gen { file } => gen(&file),
        Command::Plan {
            file,
            json,
            tree,
            state,
            scope,
            store,
            namespace,
            lock_timeout,
        } => {
            let url = match store.as_deref().map(|s| shared::database_url(Some(s))) {
                Some(Ok(u)) => Some(u),
                Some(Err(f)) => return exit(Err(f)),
                None => None,
            };
            plan::run(
                &file,
                plan::Output::new(json, tree),
                state.as_deref(),
                url.as_ref().map(|url| plan::PgTarget {
                    url,
                    namespace: &namespace,
                }),
                scope.as_deref(),
                std::time::Duration::from_secs(lock_timeout),
            )
        }
        Command::Reserve {
            db,
            space,
            pattern,
            owner,
            host,
            block,
        } => shared::database_url(db.store.as_deref()).and_then(|url| {
            shared::reserve(
                &url,
                &db.namespace,
                &space.args(),
                &pattern,
                &owner,
                host.as_deref().zip(block.as_deref()),
            )
        }),
        Command::Release { db, space, owner } => shared::database_url(db.store.as_deref())
            .and_then(|url| shared::release(&url, &db.namespace, &space.args(), &owner)),
        Command::Reclaim { db, space, host } => shared::database_url(db.store.as_deref())
            .and_then(|url| shared::reclaim(&url, &db.namespace, &space, &host)),
    };
    exit(result)
}

fn exit(result: Result<(), Failure>) -> ExitCode {
    // Standard output closed early (`| head -1`) is not an error; failing to write to
    // it otherwise is.
    let result = match (result, output::stdout_failed()) {
        (Ok(()), true) => Err(Failure::Input),
        (r, _) => r,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input) => ExitCode::from(1),
        Err(Failure::Usage) => ExitCode::from(2),
    }
}

/// Reads a file (a regular file of at most 64 MiB), or prints why not.
pub fn read_file(path: &std::path::Path) -> Result<String, Failure> {
    addralloc::plan::read_text(path).map_err(|e| {
        eprintln!("error: cannot read `{}`: {}", path.display(), io_reason(&e));
        Failure::Input
    })
}

/// Reads and loads a schema file, printing its errors.
pub fn load_schema(path: &std::path::Path) -> Result<(String, Schema), Failure> {
    let text = read_file(path)?;
    match Schema::from_toml(&text) {
        Ok(s) => Ok((text, s)),
        Err(diags) => {
            let shown = path.display().to_string();
            let source = Source::new(&text);
            for d in &diags {
                eprint!("{}", source.render(&shown, d));
            }
            eprintln!(
                "error: `{shown}` has {} error{}",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            Err(Failure::Input)
        }
    }
}

fn check(files: &[PathBuf]) -> Result<(), Failure> {
    let mut bad = 0;
    for path in files {
        match load_schema(path) {
            Ok((_, schema)) => {
                let names: Vec<&str> = schema.types.iter().map(|t| t.name.as_str()).collect();
                println!("ok: {} ({})", path.display(), names.join(", "));
            }
            Err(_) => bad += 1,
        }
    }
    if bad == 0 {
        Ok(())
    } else {
        eprintln!(
            "error: {bad} of {} schema file{} failed the check",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        Err(Failure::Input)
    }
}

fn gen(path: &std::path::Path) -> Result<(), Failure> {
    // Validate first, so that `gen` on a broken schema reports its errors as `check` does.
    let (text, _) = load_schema(path)?;
    let shown = path.display().to_string();
    let code = match addralloc_codegen::generate(&text, "::addralloc") {
        Ok(code) => code,
        Err(errors) => {
            // `line:col: message`, after the file name as rustc prints it.
            for e in &errors {
                eprintln!("error: {shown}:{e}");
            }
            eprintln!(
                "error: `{shown}` has {} error{}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return Err(Failure::Input);
        }
    };
    let header = format!(
        "// The code that `include_schema!(\"{shown}\")` generates (`addralloc gen {shown}`).\n\n"
    );
    match rustfmt(&code) {
        Ok(formatted) => print!("{header}{}", doc_comments(&formatted)),
        Err(why) => {
            eprintln!("note: {why}; the code is printed unformatted");
            println!("{header}{code}");
        }
    }
    Ok(())
}

/// Formats Rust source with `rustfmt --edition 2021`, or says why it could not.
fn rustfmt(code: &str) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "`rustfmt` is not on PATH".to_string(),
            _ => format!("cannot run `rustfmt`: {}", io_reason(&e)),
        })?;
    let mut stdin = child.stdin.take().expect("a piped stdin");
    // Write from another thread: rustfmt may fill its output pipe before reading all.
    let input = code.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run `rustfmt`: {}", io_reason(&e)))?;
    let written = writer.join().unwrap_or(Ok(()));
    match (out.status.success(), written) {
        (true, Ok(())) => String::from_utf8(out.stdout)
            .map_err(|_| "`rustfmt` printed text that is not UTF-8".to_string()),
        (true, Err(e)) => Err(format!("cannot run `rustfmt`: {}", io_reason(&e))),
        (false, _) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!("`rustfmt` failed ({}): {first}", out.status))
        }
    }
}

/// `#[doc = "text"]` lines of formatted code as `/// text` comments, as people write
/// them; a string with escapes other than `\n`, `\"`, `\\`, `\'` and `\t` stays.
fn doc_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let doc = line
            .trim()
            .strip_prefix("#[doc = \"")
            .and_then(|rest| rest.strip_suffix("\"]"))
            .and_then(unescape);
        match doc {
            Some(text) => {
                for l in text.split('\n') {
                    let sep = if l.is_empty() || l.starts_with(' ') {
                        ""
                    } else {
                        " "
                    };
                    out.push_str(format!("{indent}///{sep}{l}").trim_end());
                    out.push('\n');
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The text of a string literal's inside, for the simple escapes only.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                c @ ('"' | '\\' | '\'') => c,
                _ => return None,
            }),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::doc_comments;

    #[test]
    fn doc_attributes_become_comments() {
        let code = "#[doc = \" A `T`.\"]\n#[doc = \" \"]\nstruct T;\nimpl T {\n    #[doc = \"New.\\n\\n# Errors\\n\\nNone \\\"ever\\\".\"]\n    fn new() {}\n    #[doc = \"\\u{1F600}\"]\n    fn f() {}\n}\n";
        assert_eq!(
            doc_comments(code),
            "/// A `T`.\n///\nstruct T;\nimpl T {\n    /// New.\n    ///\n    /// # Errors\n    ///\n    /// None \"ever\".\n    fn new() {}\n    #[doc = \"\\u{1F600}\"]\n    fn f() {}\n}\n"
        );
    }
}

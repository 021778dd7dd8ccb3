//! Where plan state lives between runs: the [`Store`] interface, and its embedded
//! default, the state file: JSON on disk, locked from the read to the rename of its
//! new version, written through symbolic links to their target, atomically, by way of
//! a temporary file of a fixed name beside it.
//!
//! Other stores (the `addralloc-postgres` crate's PostgreSQL store) implement [`Store`]
//! too; [`Plan::run_with_store`](super::Plan::run_with_store) runs a plan against any.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::files::{check_regular, io_reason, read_open};
use super::state::State;
use super::{Placed, Plan, PlanError, RunOptions};

/// Why a state file cannot be used; nothing was written.
#[derive(Debug)]
pub enum StoreError {
    /// The state file cannot be opened or read.
    Read(io::Error),
    /// The state file does not exist and cannot be created (a missing directory,
    /// permissions).
    Create(io::Error),
    /// Another run held the lock for the whole timeout.
    Locked(Duration),
    /// The file's text is not a state: the reason, in lowercase words.
    Unusable(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Read(e) => write!(f, "cannot read the state file: {}", io_reason(e)),
            StoreError::Create(e) => write!(f, "cannot write the state file: {}", io_reason(e)),
            StoreError::Locked(waited) => write!(
                f,
                "another run holds the state file's lock; gave up after {} s",
                waited.as_secs_f64()
            ),
            StoreError::Unusable(reason) => write!(f, "the state file is unusable: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A state file, locked (an advisory lock, [`File::lock`]) from [`StateFile::open`] until
/// it is saved or dropped, so that concurrent runs on one file take turns.
///
/// A file that does not exist is created empty, to hold the lock, and removed again
/// when the run saves nothing; an empty file (left by a run that was killed) is no
/// previous state.
///
/// ```
/// use std::time::Duration;
/// use addralloc::plan::{Plan, RunOptions, StateFile};
///
/// let dir = std::env::temp_dir().join(format!("addralloc-doc-store-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("state.json");
/// # let _ = std::fs::remove_file(&path);
/// let plan = Plan::from_toml(
///     "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n[[device]]\nname = \"net0\"\n",
/// ).unwrap();
/// let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
/// for _ in 0..2 {
///     let file = StateFile::open(&path, Duration::from_secs(10))?;
///     let previous = file.load()?;
///     let mut options = RunOptions::new(schemas);
///     if let Some(state) = &previous {
///         options = options.previous(state, "state.json");
///     }
///     let placed = plan.run(&options)?;
///     assert_eq!(placed.placements().next().unwrap().first, "0000:00:01.0");
///     file.save(&placed.state())?;
/// }
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StateFile {
    /// The file itself, symbolic links followed.
    target: PathBuf,
    /// Open and locked.
    file: File,
    /// Whether this run created the (empty) file.
    created: bool,
    saved: bool,
}

/// Follows symbolic links to the file they name (which need not exist yet).
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::new(
        ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

impl StateFile {
    /// Opens the state file at `path` (through symbolic links) and locks it, waiting at
    /// most `timeout` for another run to finish with it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Read`] when it cannot be opened (permissions, not a regular file),
    /// [`StoreError::Create`] when it does not exist and cannot be created,
    /// [`StoreError::Locked`] after the timeout.
    pub fn open(path: &Path, timeout: Duration) -> Result<StateFile, StoreError> {
        let target = resolve(path).map_err(StoreError::Read)?;
        let start = Instant::now();
        loop {
            if start.elapsed() >= timeout {
                return Err(StoreError::Locked(timeout));
            }
            let (file, created) = match fs::metadata(&target) {
                Ok(meta) => {
                    check_regular(&meta).map_err(StoreError::Read)?;
                    match File::open(&target) {
                        Ok(f) => (f, false),
                        Err(e) if e.kind() == ErrorKind::NotFound => continue,
                        Err(e) => return Err(StoreError::Read(e)),
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    match OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&target)
                    {
                        Ok(f) => (f, true),
                        Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(StoreError::Create(e)),
                    }
                }
                Err(e) => return Err(StoreError::Read(e)),
            };
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(fs::TryLockError::WouldBlock) => {
                        let waited = start.elapsed();
                        if waited >= timeout {
                            return Err(StoreError::Locked(timeout));
                        }
                        std::thread::sleep(Duration::from_millis(5).min(timeout - waited));
                    }
                    Err(fs::TryLockError::Error(e)) => return Err(StoreError::Read(e)),
                }
            }
            // The run before may have renamed a new file in, or removed this one:
            // then lock that one.
            let now = fs::metadata(&target);
            let this = file.metadata().map_err(StoreError::Read)?;
            if matches!(&now, Ok(m) if same_file(m, &this)) {
                return Ok(StateFile {
                    target,
                    file,
                    created,
                    saved: false,
                });
            }
        }
    }

    /// The file written, symbolic links followed.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The previous state: `None` for a file this run created or an empty one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Read`] when it cannot be read (or is larger than
    /// [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE)), [`StoreError::Unusable`] for text
    /// that is not a state.
    pub fn load(&self) -> Result<Option<State>, StoreError> {
        if self.created {
            return Ok(None);
        }
        check_regular(&self.file.metadata().map_err(StoreError::Read)?)
            .map_err(StoreError::Read)?;
        let text = read_open(&self.file).map_err(StoreError::Read)?;
        if text.is_empty() {
            return Ok(None);
        }
        State::from_json(&text)
            .map(Some)
            .map_err(StoreError::Unusable)
    }

    /// Writes `state` atomically: a temporary file of a fixed name in the same
    /// directory (one run at a time writes it, under the lock; a killed run's is
    /// overwritten by the next), synced, then renamed over the file; the directory is
    /// synced too where the platform allows. The lock is released afterwards.
    ///
    /// # Errors
    ///
    /// The I/O error; the previous state is then unchanged and no temporary file stays.
    pub fn save(mut self, state: &State) -> io::Result<()> {
        self.write(state)
    }

    /// [`save`](StateFile::save) without giving up the lock (held until the
    /// `StateFile` is dropped).
    fn write(&mut self, state: &State) -> io::Result<()> {
        let dir = match self.target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state".to_string());
        let tmp = dir.join(format!(".{name}.tmp"));
        let text = state.to_json();
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.target)?;
            // Make the rename durable; not every platform can open a directory.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        match &result {
            Ok(()) => self.saved = true,
            Err(_) => {
                let _ = fs::remove_file(&tmp);
            }
        }
        result
    }
}

/// A place that keeps a plan's [`State`] between runs and commits a run's new state as
/// one unit.
///
/// A run [`load`](Store::load)s the previous state (taking the store's lock or opening
/// its transaction), places the plan, then [`commit`](Store::commit)s the new state,
/// which holds every scope's assignments: other scopes' exactly as loaded, so a run of
/// one scope leaves the others untouched. A store dropped without a commit changes
/// nothing. [`StateFile`] is the embedded store; `addralloc-postgres` has a PostgreSQL
/// one.
///
/// ```
/// use addralloc::plan::{Plan, RunOptions, State, Store};
///
/// /// A store in memory: enough for tests.
/// #[derive(Default)]
/// struct Memory(Option<State>);
///
/// impl Store for Memory {
///     type Error = std::convert::Infallible;
///     fn name(&self) -> String {
///         "memory".to_string()
///     }
///     fn load(&mut self) -> Result<Option<State>, Self::Error> {
///         Ok(self.0.clone())
///     }
///     fn commit(&mut self, state: &State) -> Result<(), Self::Error> {
///         self.0 = Some(state.clone());
///         Ok(())
///     }
/// }
///
/// let plan = Plan::from_toml(
///     "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n[[device]]\nname = \"net0\"\n",
/// ).unwrap();
/// let options = RunOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"));
/// let mut store = Memory::default();
/// let placed = plan.run_with_store(&mut store, &options)?;
/// assert_eq!(placed.placements().next().unwrap().first, "0000:00:01.0");
/// assert_eq!(store.0.unwrap().assignments.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Store {
    /// Why the store cannot be read or written.
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the store is called in messages (a path, a redacted URL); never a
    /// password.
    fn name(&self) -> String;

    /// The previous run's state, `None` for none. From here until
    /// [`commit`](Store::commit) (or the store's drop) no other run of the same store
    /// can commit.
    ///
    /// # Errors
    ///
    /// The store's error; nothing changed.
    fn load(&mut self) -> Result<Option<State>, Self::Error>;

    /// Replaces the stored state with `state`, as one unit: afterwards the store holds
    /// all of it or, after an error, the previous state unchanged.
    ///
    /// # Errors
    ///
    /// The store's error; the stored state is then the previous one.
    fn commit(&mut self, state: &State) -> Result<(), Self::Error>;

    /// Gives up a run after [`load`](Store::load) without committing: the stored state
    /// stays as it was and other runs may go ahead (a transaction is rolled back). By
    /// default nothing: the store's drop does it.
    fn abort(&mut self) {}

    /// Commits a placed plan's [`state`](Placed::state), as [`commit`](Store::commit)
    /// does (the default). A store may override it to keep more of the run: the
    /// PostgreSQL store also writes each assignment as a reservation row in its
    /// address type's packed form ([`Placed::space_types`]).
    ///
    /// # Errors
    ///
    /// As [`commit`](Store::commit).
    fn commit_placed(&mut self, placed: &Placed) -> Result<(), Self::Error> {
        self.commit(&placed.state())
    }
}

/// The state file as a [`Store`]: [`load`](Store::load) is [`StateFile::load`],
/// [`commit`](Store::commit) writes as [`StateFile::save`] does and keeps the lock until
/// the `StateFile` is dropped.
impl Store for StateFile {
    type Error = StoreError;

    fn name(&self) -> String {
        self.target.display().to_string()
    }

    fn load(&mut self) -> Result<Option<State>, StoreError> {
        StateFile::load(self)
    }

    fn commit(&mut self, state: &State) -> Result<(), StoreError> {
        self.write(state).map_err(StoreError::Create)
    }
}

impl Drop for StateFile {
    /// A file this run created and did not save is removed, still under the lock.
    fn drop(&mut self) {
        if self.created && !self.saved {
            let _ = fs::remove_file(&self.target);
        }
    }
}

/// Why [`Plan::run_with_store`] placed nothing: the plan (or the stored state) cannot
/// be placed, or the store cannot be read or written. The stored state is unchanged.
#[derive(Debug)]
pub enum RunError<E> {
    /// The plan's problems, or a stored state the plan cannot continue from.
    Plan(PlanError),
    /// The store's error, from loading or committing.
    Store(E),
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Plan(e) => e.fmt(f),
            RunError::Store(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Plan(e) => Some(e),
            RunError::Store(e) => Some(e),
        }
    }
}

impl Plan {
    /// Places the plan from the state `store` holds and commits the new state to it, as
    /// one unit: [`Store::load`], [`Plan::run`] with that state as the previous one
    /// (named by [`Store::name`] in messages), [`Store::commit`] of
    /// [`Placed::state`]. `options`' own previous state, if any, is replaced by the
    /// store's. On any error nothing is committed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use addralloc::plan::{Plan, RunOptions, StateFile};
    ///
    /// let dir = std::env::temp_dir().join(format!("addralloc-doc-rws-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("state.json");
    /// # let _ = std::fs::remove_file(&path);
    /// let plan = Plan::from_toml(
    ///     "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n[[device]]\nname = \"net0\"\n",
    /// ).unwrap();
    /// let options = RunOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"));
    /// for _ in 0..2 {
    ///     let mut file = StateFile::open(&path, Duration::from_secs(10))?;
    ///     let placed = plan.run_with_store(&mut file, &options)?;
    ///     assert_eq!(placed.placements().next().unwrap().first, "0000:00:01.0");
    /// }
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RunError::Store`] when the store cannot be loaded or committed,
    /// [`RunError::Plan`] as [`Plan::run`].
    pub fn run_with_store<S: Store + ?Sized>(
        &self,
        store: &mut S,
        options: &RunOptions<'_>,
    ) -> Result<Placed, RunError<S::Error>> {
        let previous = store.load().map_err(RunError::Store)?;
        let placed = match &previous {
            Some(state) => {
                let options = options.clone().previous(state, store.name());
                self.run(&options)
            }
            None => self.run(&options.clone().without_previous()),
        }
        .map_err(|e| {
            store.abort();
            RunError::Plan(e)
        })?;
        store.commit_placed(&placed).map_err(RunError::Store)?;
        Ok(placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(scope: &str, devices: &[&str]) -> Plan {
        let mut text =
            format!("scope = \"{scope}\"\n[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n");
        for d in devices {
            text.push_str(&format!("[[device]]\nname = \"{d}\"\n"));
        }
        Plan::from_toml(&text).unwrap()
    }

    fn schemas() -> RunOptions<'static> {
        RunOptions::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"))
    }

    #[test]
    fn state_file_store_keeps_other_scopes_and_fails_atomically() {
        let dir = std::env::temp_dir().join(format!("addralloc-store-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let _ = fs::remove_file(&path);
        let open = || StateFile::open(&path, Duration::from_secs(10)).unwrap();

        plan("vm1", &["a", "b"])
            .run_with_store(&mut open(), &schemas())
            .unwrap();
        let placed = plan("vm2", &["c"])
            .run_with_store(&mut open(), &schemas())
            .unwrap();
        // vm1 holds 01.0 and 01.1; vm2's device goes after them.
        assert_eq!(placed.placements().next().unwrap().first, "0000:00:01.2");
        // vm1 again, with one device fewer: vm2's assignment stays as it was.
        plan("vm1", &["a"])
            .run_with_store(&mut open(), &schemas())
            .unwrap();
        let state = open().load().unwrap().unwrap();
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

        // A plan that cannot be placed commits nothing.
        let before = fs::read_to_string(&path).unwrap();
        let bad = Plan::from_toml(
            "scope = \"vm1\"\n[[space]]\nname = \"pci\"\nschema = \"missing.toml\"\n",
        )
        .unwrap();
        let Err(err) = bad.run_with_store(&mut open(), &schemas()) else {
            panic!("a plan with a missing schema was placed");
        };
        assert!(matches!(err, RunError::Plan(_)), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), before);

        // A store that cannot be read is the store's error, and nothing is written.
        fs::write(&path, "{ not json").unwrap();
        let Err(err) = plan("vm1", &["a"]).run_with_store(&mut open(), &schemas()) else {
            panic!("an unusable state file was used");
        };
        assert!(
            matches!(&err, RunError::Store(StoreError::Unusable(_))),
            "{err}"
        );
        assert!(
            err.to_string().contains("the state file is unusable"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "{ not json");
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! Printing that never panics: standard output closed early (`addralloc check … | head -1`)
//! ends the output quietly, and a closed standard error is ignored. The macros shadow
//! the standard ones of the same names.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

/// Standard output is closed: print nothing more.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Writing to standard output failed for another reason than a closed pipe.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output; after a broken pipe, nothing more is written.
pub fn out(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            FAILED.store(true, Ordering::Relaxed);
            err(&format!(
                "error: cannot write to standard output: {}\n",
                addralloc::plan::io_reason(&e)
            ));
        }
    }
}

/// Writes to standard error, ignoring failures (there is nowhere left to say so).
pub fn err(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Whether writing to standard output failed other than by a closed pipe.
pub fn stdout_failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

macro_rules! print {
    ($($arg:tt)*) => { $crate::output::out(&::std::format!($($arg)*)) };
}
macro_rules! println {
    ($($arg:tt)*) => {{
        let mut __s = ::std::format!($($arg)*);
        __s.push('\n');
        $crate::output::out(&__s)
    }};
}
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::output::err(&::std::format!($($arg)*)) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        let mut __s = ::std::format!($($arg)*);
        __s.push('\n');
        $crate::output::err(&__s)
    }};
}
pub(crate) use {eprint, eprintln, print, println};

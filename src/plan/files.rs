//! Reading the files a user names: regular files only, of at most [`MAX_FILE_SIZE`]
//! bytes, as UTF-8 text; I/O errors in lowercase words.

use std::fs::{self, File, Metadata};
use std::io::{self, ErrorKind, Read as _};
use std::path::Path;

/// The largest plan, schema or state file read: 64 MiB. Larger files are refused
/// before any of them is read.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Refuses what is not a regular file (a directory, a device, a FIFO, a socket) or is
/// larger than [`MAX_FILE_SIZE`].
pub(crate) fn check_regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_dir() {
        return Err(io::Error::new(ErrorKind::IsADirectory, "it is a directory"));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file (a device, a FIFO or a socket)",
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> io::Error {
    io::Error::new(
        ErrorKind::InvalidInput,
        format!(
            "it is larger than the limit of {} MiB",
            MAX_FILE_SIZE / (1024 * 1024)
        ),
    )
}

/// Reads the rest of an open file as text, refusing more than [`MAX_FILE_SIZE`] bytes.
pub(crate) fn read_open(file: &File) -> io::Result<String> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large());
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(ErrorKind::InvalidData, "the file is not valid UTF-8 text"))
}

/// Reads a text file a user named: a regular file (through symbolic links) of at
/// most [`MAX_FILE_SIZE`] bytes, checked before reading, in UTF-8.
///
/// # Errors
///
/// The I/O error; [`io_reason`] words it. A directory, a device, a FIFO or a socket
/// is refused without being opened, so that reading never blocks or runs out of
/// memory.
///
/// ```
/// let dir = std::env::temp_dir();
/// let e = addralloc::plan::read_text(&dir).unwrap_err();
/// assert_eq!(addralloc::plan::io_reason(&e), "it is a directory");
/// ```
pub fn read_text(path: &Path) -> io::Result<String> {
    check_regular(&fs::metadata(path)?)?;
    let file = File::open(path)?;
    // The file may have been replaced between the two looks.
    check_regular(&file.metadata()?)?;
    read_open(&file)
}

/// An I/O error in lowercase words: "no such file", "permission denied", ...
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "no such file".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::InvalidData => "the file is not valid UTF-8 text".to_string(),
        ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => {
            let s = e.to_string();
            // "Is a directory (os error 21)" -> "is a directory (os error 21)"
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_fifos_are_refused_unread() {
        #[cfg(unix)]
        {
            let e = read_text(Path::new("/dev/zero")).unwrap_err();
            assert_eq!(
                io_reason(&e),
                "it is not a regular file (a device, a FIFO or a socket)"
            );
        }
        let e = read_text(Path::new(".")).unwrap_err();
        assert_eq!(io_reason(&e), "it is a directory");
    }

    #[test]
    fn large_files_are_refused_before_reading() {
        let path = std::env::temp_dir().join(format!("addralloc-large-{}", std::process::id()));
        let f = File::create(&path).unwrap();
        // A sparse file: no disk space, but the size says too large.
        f.set_len(MAX_FILE_SIZE + 1).unwrap();
        drop(f);
        let e = read_text(&path).unwrap_err();
        let _ = fs::remove_file(&path);
        assert_eq!(io_reason(&e), "it is larger than the limit of 64 MiB");
    }
}

//! What can go wrong, in words a person can act on; never with a password.

use std::fmt;

use crate::url::DatabaseUrl;

/// Why a store operation failed; the database is unchanged.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database cannot be reached or refused the login.
    Connect {
        /// The connection string, its password replaced by `***`.
        url: String,
        /// The driver's reason.
        reason: String,
    },
    /// The namespace holds tables of another layout version.
    Version {
        /// The namespace.
        namespace: String,
        /// The version found.
        found: i32,
    },
    /// A statement failed.
    Database {
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
        /// The server's or the driver's message.
        message: String,
    },
    /// No free address (or block) matches the request.
    Full {
        /// The space.
        space: String,
        /// What was asked for.
        request: String,
    },
    /// Other clients took every address this one picked, `attempts` times in a row.
    Contention {
        /// The space.
        space: String,
        /// How many placements were tried.
        attempts: usize,
    },
    /// Another plan run of the namespace held its lock for the whole timeout
    /// ([`PgStore::set_lock_timeout`](crate::PgStore::set_lock_timeout)).
    Locked(std::time::Duration),
    /// An argument is unusable (a schema, a type, a pattern, a name).
    Input(String),
    /// The stored plan state cannot be read back.
    Unusable(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect { url, reason } => {
                write!(f, "cannot connect to the database `{url}`: {reason}")
            }
            Error::Version { namespace, found } => write!(
                f,
                "the tables in namespace `{namespace}` are of layout version {found}; this \
                 addralloc uses version {}: use another namespace or a matching addralloc",
                crate::SCHEMA_VERSION
            ),
            Error::Database {
                code: Some(code),
                message,
            } => write!(f, "the database refused a statement ({code}): {message}"),
            Error::Database {
                code: None,
                message,
            } => write!(f, "the database connection failed: {message}"),
            Error::Full { space, request } => {
                write!(f, "space `{space}` has no free {request}")
            }
            Error::Contention { space, attempts } => write!(
                f,
                "other clients took every address picked in space `{space}`, {attempts} times \
                 in a row; try again"
            ),
            Error::Locked(waited) => write!(
                f,
                "another run holds the plan lock of this namespace; gave up after {} s",
                waited.as_secs_f64()
            ),
            Error::Input(reason) => f.write_str(reason),
            Error::Unusable(reason) => write!(f, "the stored plan state is unusable: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

/// The driver error's words, the server's message first.
pub(crate) fn reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = db.message().to_string();
            if let Some(d) = db.detail() {
                s.push_str(" (");
                s.push_str(d);
                s.push(')');
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

impl Error {
    pub(crate) fn from_pg(e: postgres::Error, url: &DatabaseUrl) -> Error {
        Error::Database {
            code: e.code().map(|c| c.code().to_string()),
            message: url.scrub(&reason(&e)),
        }
    }

    /// Whether another client's concurrent work caused the failure, so that placing
    /// again may succeed: an exclusion violation (23P01), a serialization failure
    /// (40001) or a deadlock (40P01).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Database { code: Some(c), .. } if c == "23P01" || c == "40001" || c == "40P01")
    }
}

impl From<addralloc::Error> for Error {
    fn from(e: addralloc::Error) -> Error {
        Error::Input(e.to_string())
    }
}

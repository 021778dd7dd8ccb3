//! The connection string, which never shows its password.

use std::fmt;

/// The environment variable read when no connection string is given.
pub const DATABASE_URL_VAR: &str = "ADDRALLOC_DATABASE_URL";

/// A PostgreSQL connection string (`postgres://user:password@host/db` or
/// `host=/tmp user=me password=secret`), printed (by `Display` and `Debug`) with its
/// password replaced by `***`.
///
/// ```
/// use addralloc_postgres::DatabaseUrl;
///
/// let url = DatabaseUrl::new("postgres://me:s3cret@db.example/ipam");
/// assert_eq!(url.to_string(), "postgres://me:***@db.example/ipam");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// let kv = DatabaseUrl::new("host=/tmp user=me password='s3 cret' dbname=x");
/// assert_eq!(kv.to_string(), "host=/tmp user=me password=*** dbname=x");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
}

impl DatabaseUrl {
    /// Wraps a connection string; it is checked when connecting.
    pub fn new(text: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl { text: text.into() }
    }

    /// The connection string of [`DATABASE_URL_VAR`] (`ADDRALLOC_DATABASE_URL`), if set
    /// and not empty.
    pub fn from_env() -> Option<DatabaseUrl> {
        std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(DatabaseUrl::new)
    }

    /// The connection string itself, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Whether the text looks like a PostgreSQL connection string (a `postgres://` or
    /// `postgresql://` URL), as opposed to a file path.
    pub fn is_postgres_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// The connection string with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.text)
    }

    /// `text` with every occurrence of this string's password (as given, and as the
    /// URL decoding would give it) replaced by `***`: for messages that might quote it.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets() {
            if secret.len() >= 3 {
                out = out.replace(&secret, "***");
            }
        }
        out
    }

    /// The password as written (and percent-decoded), wherever it is.
    fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut scan = |s: &str, range: std::ops::Range<usize>| {
            let raw = &s[range];
            let raw = raw.trim_matches('\'');
            if !raw.is_empty() {
                found.push(raw.to_string());
                found.push(percent_decode(raw));
            }
        };
        let t = &self.text;
        if let Some(r) = url_password(t) {
            scan(t, r);
        }
        for r in keyword_passwords(t) {
            scan(t, r);
        }
        found
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// The byte range of the password of a `scheme://user:password@host` URL.
fn url_password(t: &str) -> Option<std::ops::Range<usize>> {
    let start = t.find("://")? + 3;
    let rest = &t[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// The byte ranges of `password=...` values: keyword/value strings and URL query
/// parameters.
fn keyword_passwords(t: &str) -> Vec<std::ops::Range<usize>> {
    let lower = t.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let key = from + i;
        let mut j = key + "password".len();
        let before_ok = key == 0 || matches!(t.as_bytes()[key - 1], b' ' | b'?' | b'&' | b'\t');
        while t.as_bytes().get(j) == Some(&b' ') {
            j += 1;
        }
        if before_ok && t.as_bytes().get(j) == Some(&b'=') {
            j += 1;
            while t.as_bytes().get(j) == Some(&b' ') {
                j += 1;
            }
            let start = j;
            let end = if t.as_bytes().get(j) == Some(&b'\'') {
                // A quoted value: up to the closing quote (backslash escapes it).
                let mut k = j + 1;
                while k < t.len() && t.as_bytes()[k] != b'\'' {
                    k += if t.as_bytes()[k] == b'\\' { 2 } else { 1 };
                }
                (k + 1).min(t.len())
            } else {
                t[j..]
                    .find([' ', '&', '\t'])
                    .map(|k| j + k)
                    .unwrap_or(t.len())
            };
            out.push(start..end);
            from = end.max(key + 1);
        } else {
            from = key + 1;
        }
    }
    out
}

fn redact(t: &str) -> String {
    let mut ranges = keyword_passwords(t);
    if let Some(r) = url_password(t) {
        ranges.push(r);
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(t.len());
    let mut at = 0;
    for r in ranges {
        if r.start < at {
            continue;
        }
        out.push_str(&t[at..r.start]);
        out.push_str("***");
        at = r.end;
    }
    out.push_str(&t[at..]);
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere() {
        for (given, shown) in [
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            (
                "postgresql://u:p%40ss@h:5432/db?x=1",
                "postgresql://u:***@h:5432/db?x=1",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?password=pw&user=u",
                "postgres://h/db?password=***&user=u",
            ),
            ("host=h password=pw user=u", "host=h password=*** user=u"),
            (
                "host=h password = 'a b\\' c' user=u",
                "host=h password = *** user=u",
            ),
            ("PASSWORD=pw", "PASSWORD=***"),
            ("user=passwordless host=h", "user=passwordless host=h"),
        ] {
            let url = DatabaseUrl::new(given);
            assert_eq!(url.to_string(), shown, "{given}");
            assert_eq!(format!("{url:?}"), format!("DatabaseUrl({shown:?})"));
        }
        let url = DatabaseUrl::new("postgres://u:p%40ssword@h/db");
        assert_eq!(
            url.scrub("failed for p@ssword and p%40ssword"),
            "failed for *** and ***"
        );
    }
}

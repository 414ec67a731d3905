//! The durable local spool: ledger entries a gate wrote while offline, kept
//! until `writ sync` hands them to the authority.
//!
//! Format: an append-only file of frames `len:u32be ‖ sha256(entry):32 ‖ entry`.
//! Each append is one `write` on an `O_APPEND` descriptor followed by
//! `fdatasync`, so once [`Spool::append`] returns the entry survives a crash or
//! `kill -9`. A crash during an append can only leave a torn *last* frame, which
//! [`Spool::read`] detects (short, or digest mismatch) and reports instead of
//! returning.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use writ_core::entry::{Entry, MAX_ENTRY_BYTES};

/// Why the spool could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The file could not be opened, written or synced.
    #[error("spool `{}`: {source}", path.display())]
    Io {
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The entry could not be encoded.
    #[error("entry: {0}")]
    Entry(String),
}

/// What a spool holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SpoolContents {
    /// Complete entries, oldest first (encoded entry bytes).
    pub entries: Vec<Vec<u8>>,
    /// Bytes at the end that do not form a complete, intact frame (a crash
    /// during the last append); 0 when the file is clean.
    pub torn_bytes: usize,
}

/// An open spool file.
#[derive(Debug)]
pub struct Spool {
    file: File,
    path: PathBuf,
}

const FRAME_HEADER: usize = 4 + 32;

impl Spool {
    /// Opens (creating, mode 0600) the spool at `path`.
    ///
    /// # Errors
    ///
    /// [`SpoolError::Io`] if the file cannot be opened for appending.
    pub fn open(path: &Path) -> Result<Self, SpoolError> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| SpoolError::Io { path: path.to_path_buf(), source })?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    /// The spool's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` durably: when this returns `Ok`, it is on disk.
    ///
    /// # Errors
    ///
    /// [`SpoolError::Entry`] if the entry does not encode, [`SpoolError::Io`]
    /// if it cannot be written or synced.
    pub fn append(&self, entry: &Entry) -> Result<(), SpoolError> {
        let bytes = entry.encode().map_err(|e| SpoolError::Entry(e.to_string()))?;
        let frame = frame(&bytes)?;
        let io = |source| SpoolError::Io { path: self.path.clone(), source };
        // One write on an O_APPEND descriptor: frames of concurrent gates do not
        // interleave.
        (&self.file).write_all(&frame).map_err(io)?;
        self.file.sync_data().map_err(io)
    }

    /// Reads every complete entry of the spool at `path` (a missing file is an
    /// empty spool).
    ///
    /// # Errors
    ///
    /// [`SpoolError::Io`] if the file exists but cannot be read.
    pub fn read(path: &Path) -> Result<SpoolContents, SpoolError> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(SpoolContents::default()),
            Err(source) => return Err(SpoolError::Io { path: path.to_path_buf(), source }),
        };
        let mut out = SpoolContents::default();
        let mut rest = data.as_slice();
        while !rest.is_empty() {
            let Some(frame) = split_frame(rest) else {
                out.torn_bytes = rest.len();
                break;
            };
            out.entries.push(frame.0.to_vec());
            rest = frame.1;
        }
        Ok(out)
    }
}

fn frame(bytes: &[u8]) -> Result<Vec<u8>, SpoolError> {
    let len = u32::try_from(bytes.len()).map_err(|_| SpoolError::Entry("entry too large".into()))?;
    let mut frame = Vec::with_capacity(FRAME_HEADER.saturating_add(bytes.len()));
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&Sha256::digest(bytes));
    frame.extend_from_slice(bytes);
    Ok(frame)
}

/// Replaces the spool file at `path` with exactly `entries` (encoded entry
/// bytes), atomically: a temporary file is written and synced, then renamed
/// over `path` (used by `writ sync` to keep what was not uploaded).
///
/// # Errors
///
/// [`SpoolError::Io`] if writing, syncing or renaming fails.
pub fn rewrite(path: &Path, entries: &[Vec<u8>]) -> Result<(), SpoolError> {
    let io = |source| SpoolError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension("rewrite.tmp");
    let mut data = Vec::new();
    for e in entries {
        data.extend_from_slice(&frame(e)?);
    }
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
    f.write_all(&data).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// One intact frame at the start of `buf`: (entry bytes, the rest).
fn split_frame(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if len > MAX_ENTRY_BYTES {
        return None;
    }
    let (digest, rest) = rest.split_first_chunk::<32>()?;
    let (entry, rest) = rest.split_at_checked(len)?;
    (Sha256::digest(entry).as_slice() == digest.as_slice()).then_some((entry, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use writ_core::Timestamp;
    use writ_core::entry::Denial;

    fn entry(n: i64) -> Entry {
        Entry::Denial(Denial {
            time: Timestamp(n),
            request_id: None,
            writ_id: Some(format!("w{n}")),
            code: "expired".into(),
            detail: "d".into(),
            host: None,
        })
    }

    #[test]
    fn appended_entries_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        for n in 0..3 {
            s.append(&entry(n)).unwrap();
        }
        drop(s);
        // Re-opening appends after what is there.
        Spool::open(&path).unwrap().append(&entry(3)).unwrap();
        let c = Spool::read(&path).unwrap();
        assert_eq!(c.torn_bytes, 0);
        let got: Vec<Entry> = c.entries.iter().map(|b| Entry::decode(b).unwrap()).collect();
        assert_eq!(got, (0..4).map(entry).collect::<Vec<_>>());
    }

    #[test]
    fn a_torn_last_frame_is_reported_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        s.append(&entry(1)).unwrap();
        s.append(&entry(2)).unwrap();
        let full = std::fs::read(&path).unwrap();
        // Every possible crash point inside the second frame.
        let first_len = full.len() / 2;
        for cut in first_len + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let c = Spool::read(&path).unwrap();
            assert_eq!(c.entries.len(), 1, "cut at {cut}");
            assert_eq!(c.torn_bytes, cut - first_len);
        }
        // A flipped byte in the last entry is caught by its digest.
        let mut bad = full.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(Spool::read(&path).unwrap().entries.len(), 1);
    }

    #[test]
    fn rewrite_keeps_exactly_the_given_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        for n in 0..3 {
            s.append(&entry(n)).unwrap();
        }
        let all = Spool::read(&path).unwrap().entries;
        rewrite(&path, &all[1..]).unwrap();
        assert_eq!(Spool::read(&path).unwrap().entries, all[1..].to_vec());
    }

    #[test]
    fn a_missing_spool_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Spool::read(&dir.path().join("none")).unwrap(), SpoolContents::default());
    }
}

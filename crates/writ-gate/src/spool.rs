//! The durable local spool: ledger entries a gate wrote while offline (or
//! that the authority did not take), kept until [`Spool::drain`] hands them
//! to the authority.
//!
//! # Format
//!
//! An append-only file of frames
//!
//! ```text
//! "wsp2" ‖ len:u32be ‖ sha256(entry):32 ‖ entry ‖ len:u32be ‖ "wsp."
//! ```
//!
//! The leading magic lets a reader find the next frame after damage; the
//! trailer lets a writer check the last frame with one small read.
//!
//! # Coordination (several gates, `sync`)
//!
//! Every writer and the drain take an exclusive `flock` on `SPOOL.lock` (a
//! file beside the spool that is never renamed) around each step:
//!
//! - **append**: under the lock, the writer re-opens the spool if the path no
//!   longer names the file it holds (a drain moved it away), checks that the
//!   file ends in an intact frame and, if not (a writer died mid-append),
//!   truncates the torn tail back to the last intact frame, then writes its
//!   frame with one `write` and (for [`Durability::Sync`]) `fdatasync`s it.
//!   Nothing is ever appended behind a torn frame.
//! - **drain**: under the lock, `SPOOL` is renamed to `SPOOL.sending` (and the
//!   directory fsynced); gates start a fresh `SPOOL` after that. The lock is
//!   then released and the records of `SPOOL.sending` are sent one by one.
//!   Progress is kept in `SPOOL.sent` (the count of records taken, written
//!   and fsynced after each acknowledgement), so an interrupted drain resumes
//!   after the last acknowledged record. A second drain at the same time is
//!   refused (`SPOOL.sync.lock`).
//!
//! The spool file is created with mode 0600 and its directory is fsynced when
//! it is created and after each rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Another drain of the same spool is running.
    #[error("another sync of `{}` is running; wait for it to finish", .0.display())]
    Busy(PathBuf),
}

/// What a spool holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SpoolContents {
    /// Complete entries, oldest first (encoded entry bytes).
    pub entries: Vec<Vec<u8>>,
    /// Bytes that do not belong to an intact frame (a crash during an
    /// append); 0 when the file is clean. Intact frames after them are still
    /// returned.
    pub torn_bytes: usize,
}

/// Whether an append waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` before returning: the record survives a power loss.
    Sync,
    /// Written to the file (it survives the gate being killed) and made
    /// durable by the next synced append or by the kernel's write-back. Used
    /// for a run's `exec_end`, so that a run costs one `fdatasync` (its
    /// start's); a power loss can then lose at most that end record, which
    /// reads like a run whose gate died.
    Lazy,
}

/// An open spool.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    lock: File,
    file: Mutex<Option<File>>,
}

const MAGIC: &[u8; 4] = b"wsp2";
const TRAILER: &[u8; 4] = b"wsp.";
const HEADER: usize = 4 + 4 + 32;
const FOOTER: usize = 4 + 4;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Holds an exclusive `flock` until dropped.
struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    fn new(f: &'a File) -> io::Result<Self> {
        f.lock()?;
        Ok(Self(f))
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Spool {
    /// Opens (creating, mode 0600, and its directory) the spool at `path`.
    ///
    /// # Errors
    ///
    /// [`SpoolError::Io`] if the directory, the lock file or the spool cannot
    /// be created or opened.
    pub fn open(path: &Path) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(io)?;
            sync_dir(dir).map_err(io)?;
        }
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(with_suffix(path, ".lock"))
            .map_err(io)?;
        Ok(Self { path: path.to_path_buf(), lock, file: Mutex::new(None) })
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
        self.append_with(entry, Durability::Sync)
    }

    /// Appends `entry` with the given durability.
    ///
    /// # Errors
    ///
    /// As [`Spool::append`].
    pub fn append_with(&self, entry: &Entry, durability: Durability) -> Result<(), SpoolError> {
        let bytes = entry.encode().map_err(|e| SpoolError::Entry(e.to_string()))?;
        self.append_bytes(&bytes, durability)
    }

    /// Appends already encoded entry bytes.
    ///
    /// # Errors
    ///
    /// As [`Spool::append`].
    pub fn append_bytes(&self, bytes: &[u8], durability: Durability) -> Result<(), SpoolError> {
        let frame = frame(bytes)?;
        let io = |source| SpoolError::Io { path: self.path.clone(), source };
        let _locked = Locked::new(&self.lock).map_err(io)?;
        let mut held = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let file = self.current(&mut held).map_err(io)?;
        repair_tail(file).map_err(io)?;
        // One write on an O_APPEND descriptor, under the lock.
        (&*file).write_all(&frame).map_err(io)?;
        if durability == Durability::Sync {
            file.sync_data().map_err(io)?;
        }
        Ok(())
    }

    /// The file the path names now (re-opened after a drain moved it).
    fn current<'a>(&self, held: &'a mut Option<File>) -> io::Result<&'a File> {
        let fresh = match (held.as_ref(), std::fs::metadata(&self.path)) {
            (Some(f), Ok(m)) => {
                let mine = f.metadata()?;
                mine.ino() != m.ino() || mine.dev() != m.dev()
            }
            _ => true,
        };
        if fresh {
            let created = !self.path.exists();
            let f = OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(&self.path)?;
            if created {
                f.sync_all()?;
                sync_dir(&self.path)?;
            }
            *held = Some(f);
        }
        held.as_ref().ok_or_else(|| io::Error::other("spool not open"))
    }

    /// Reads every intact entry of the spool at `path` (a missing file is an
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
        Ok(parse(&data))
    }
}

/// Parses a spool: intact frames in order; damaged bytes are skipped up to
/// the next intact frame and counted.
fn parse(data: &[u8]) -> SpoolContents {
    let mut out = SpoolContents::default();
    let mut at = 0usize;
    while at < data.len() {
        let rest = data.get(at..).unwrap_or_default();
        if let Some((entry, used)) = split_frame(rest) {
            out.entries.push(entry.to_vec());
            at = at.saturating_add(used);
            continue;
        }
        // Damage: find the next position where an intact frame starts.
        let mut next = at.saturating_add(1);
        while next < data.len() {
            let r = data.get(next..).unwrap_or_default();
            if r.starts_with(MAGIC) && split_frame(r).is_some() {
                break;
            }
            next = next.saturating_add(1);
        }
        out.torn_bytes = out.torn_bytes.saturating_add(next.saturating_sub(at));
        at = next;
    }
    out
}

/// If `file` does not end in an intact frame, truncates it to the end of its
/// last intact frame (bytes after it can only be a torn append: every writer
/// repairs the tail before it appends, under the lock).
fn repair_tail(file: &File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 || tail_is_intact(file, len)? {
        return Ok(());
    }
    let mut data = Vec::new();
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut data)?;
    let mut good = 0usize;
    let mut at = 0usize;
    while at < data.len() {
        match split_frame(data.get(at..).unwrap_or_default()) {
            Some((_, used)) => {
                at = at.saturating_add(used);
                good = at;
            }
            None => {
                // A damaged frame in the middle (from before this format's
                // repair): keep scanning for intact frames after it.
                let mut next = at.saturating_add(1);
                while next < data.len() {
                    let r = data.get(next..).unwrap_or_default();
                    if r.starts_with(MAGIC) && split_frame(r).is_some() {
                        break;
                    }
                    next = next.saturating_add(1);
                }
                at = next;
            }
        }
    }
    file.set_len(u64::try_from(good).unwrap_or(0))?;
    file.sync_data()
}

fn tail_is_intact(file: &File, len: u64) -> io::Result<bool> {
    let footer = FOOTER as u64;
    if len < (HEADER + FOOTER) as u64 {
        return Ok(false);
    }
    let mut foot = [0u8; FOOTER];
    file.read_exact_at(&mut foot, len.saturating_sub(footer))?;
    let (n, magic) = foot.split_at(4);
    if magic != TRAILER {
        return Ok(false);
    }
    let n = u64::from(u32::from_be_bytes(n.try_into().unwrap_or_default()));
    let total = n.saturating_add((HEADER + FOOTER) as u64);
    if n > MAX_ENTRY_BYTES as u64 || total > len {
        return Ok(false);
    }
    let mut buf = vec![0u8; usize::try_from(total).unwrap_or(0)];
    file.read_exact_at(&mut buf, len.saturating_sub(total))?;
    Ok(split_frame(&buf).is_some_and(|(_, used)| used == buf.len()))
}

fn frame(bytes: &[u8]) -> Result<Vec<u8>, SpoolError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(SpoolError::Entry("entry too large".into()));
    }
    let len = u32::try_from(bytes.len()).map_err(|_| SpoolError::Entry("entry too large".into()))?;
    let mut frame = Vec::with_capacity(HEADER.saturating_add(FOOTER).saturating_add(bytes.len()));
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&Sha256::digest(bytes));
    frame.extend_from_slice(bytes);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(TRAILER);
    Ok(frame)
}

/// One intact frame at the start of `buf`: (entry bytes, frame length).
fn split_frame(buf: &[u8]) -> Option<(&[u8], usize)> {
    let rest = buf.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let n = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if n > MAX_ENTRY_BYTES {
        return None;
    }
    let (digest, rest) = rest.split_first_chunk::<32>()?;
    let (entry, rest) = rest.split_at_checked(n)?;
    let (len2, rest) = rest.split_first_chunk::<4>()?;
    let (trailer, _) = rest.split_first_chunk::<4>()?;
    let ok = len2 == len && trailer == TRAILER && Sha256::digest(entry).as_slice() == digest.as_slice();
    ok.then_some((entry, HEADER.saturating_add(n).saturating_add(FOOTER)))
}

/// Replaces the spool file at `path` with exactly `entries` (encoded entry
/// bytes), atomically: a temporary file is written and synced, then renamed
/// over `path`, and the directory synced.
///
/// # Errors
///
/// [`SpoolError::Io`] if writing, syncing or renaming fails.
pub fn rewrite(path: &Path, entries: &[Vec<u8>]) -> Result<(), SpoolError> {
    let io = |source| SpoolError::Io { path: path.to_path_buf(), source };
    let tmp = with_suffix(path, ".rewrite.tmp");
    let mut data = Vec::new();
    for e in entries {
        data.extend_from_slice(&frame(e)?);
    }
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
    f.write_all(&data).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    sync_dir(path).map_err(io)
}

/// What [`Spool::drain`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Records the authority took (and whose acknowledgement verified).
    pub sent: usize,
    /// Damaged bytes skipped (a crash while appending).
    pub torn_bytes: usize,
}

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The spool could not be read, moved or updated.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The authority did not take a record, or its acknowledgement did not
    /// verify; the record and the ones after it stay for the next drain.
    #[error(
        "the authority did not take record {record} of `{}`: {reason}; sent {sent}, the rest stays for the next sync",
        path.display()
    )]
    NotTaken {
        /// The file being drained.
        path: PathBuf,
        /// 1-based number of the record in that file.
        record: usize,
        /// Records sent before it, in this drain.
        sent: usize,
        /// What the authority (or the acknowledgement check) said.
        reason: String,
    },
}

impl Spool {
    /// Hands every spooled record to `send` (which returns `Ok` only once
    /// the authority took the record and its acknowledgement verified, e.g.
    /// [`crate::Recorder::send_verified`]), oldest first; see the module docs
    /// for the protocol. Each record is sent exactly once unless the drain is
    /// killed between the authority's answer and the progress update, in
    /// which case that one record is sent again by the next drain.
    ///
    /// # Errors
    ///
    /// [`DrainError::NotTaken`] when a record is refused (nothing after it
    /// is sent; it stays for the next drain), [`DrainError::Spool`] for
    /// I/O errors, [`SpoolError::Busy`] when another drain runs.
    pub fn drain(&self, send: &dyn Fn(&[u8]) -> Result<(), String>) -> Result<DrainReport, DrainError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SpoolError::Io { path: p, source }
        };
        let sync_lock_path = with_suffix(&self.path, ".sync.lock");
        let sync_lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&sync_lock_path)
            .map_err(io(&sync_lock_path))?;
        match sync_lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(SpoolError::Busy(self.path.clone()).into()),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&sync_lock_path)(e).into()),
        }
        let _sync = Locked(&sync_lock);
        let sending = with_suffix(&self.path, ".sending");
        let progress = with_suffix(&self.path, ".sent");
        let mut report = DrainReport::default();
        // A leftover from an interrupted drain first, then the current spool.
        for round in 0..2 {
            if round == 1 {
                let _locked = Locked::new(&self.lock).map_err(io(&self.path))?;
                if !self.path.exists() {
                    break;
                }
                std::fs::rename(&self.path, &sending).map_err(io(&self.path))?;
                sync_dir(&self.path).map_err(io(&self.path))?;
            }
            let c = Spool::read(&sending)?;
            let done = read_progress(&progress).min(c.entries.len());
            report.torn_bytes = report.torn_bytes.saturating_add(c.torn_bytes);
            for (i, entry) in c.entries.iter().enumerate().skip(done) {
                if let Err(reason) = send(entry) {
                    return Err(DrainError::NotTaken {
                        path: sending,
                        record: i.saturating_add(1),
                        sent: report.sent,
                        reason,
                    });
                }
                report.sent = report.sent.saturating_add(1);
                write_progress(&progress, i.saturating_add(1)).map_err(io(&progress))?;
            }
            // INVARIANT: the file goes before its progress count, so a crash
            // in between never applies an old count to a new file.
            match std::fs::remove_file(&sending) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&sending)(e).into()),
            }
            sync_dir(&sending).map_err(io(&sending))?;
            match std::fs::remove_file(&progress) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&progress)(e).into()),
            }
        }
        Ok(report)
    }
}

fn read_progress(path: &Path) -> usize {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn write_progress(path: &Path, n: usize) -> io::Result<()> {
    let tmp = with_suffix(path, ".tmp");
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(format!("{n}\n").as_bytes())?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    fn decoded(c: &SpoolContents) -> Vec<Entry> {
        c.entries.iter().map(|b| Entry::decode(b).unwrap()).collect()
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
        Spool::open(&path).unwrap().append_with(&entry(3), Durability::Lazy).unwrap();
        let c = Spool::read(&path).unwrap();
        assert_eq!(c.torn_bytes, 0);
        assert_eq!(decoded(&c), (0..4).map(entry).collect::<Vec<_>>());
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
        bad[full.len() - FOOTER - 1] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(Spool::read(&path).unwrap().entries.len(), 1);
    }

    /// Regression (issue 9 item 7): after a torn append, later records went
    /// behind the torn frame and were lost to the reader.
    #[test]
    fn an_append_after_a_torn_tail_truncates_it_and_keeps_every_intact_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        s.append(&entry(1)).unwrap();
        s.append(&entry(2)).unwrap();
        let full = std::fs::read(&path).unwrap();
        let first_len = full.len() / 2;
        for cut in first_len + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let s = Spool::open(&path).unwrap();
            s.append(&entry(3)).unwrap();
            let c = Spool::read(&path).unwrap();
            assert_eq!(c.torn_bytes, 0, "cut at {cut}: the torn tail was truncated");
            assert_eq!(decoded(&c), vec![entry(1), entry(3)], "cut at {cut}");
        }
    }

    #[test]
    fn damage_in_the_middle_skips_only_the_damaged_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        for n in 0..3 {
            s.append(&entry(n)).unwrap();
        }
        let mut data = std::fs::read(&path).unwrap();
        let one = data.len() / 3;
        data[one + HEADER + 2] ^= 0xff;
        std::fs::write(&path, &data).unwrap();
        let c = Spool::read(&path).unwrap();
        assert_eq!(decoded(&c), vec![entry(0), entry(2)]);
        assert_eq!(c.torn_bytes, one);
    }

    #[test]
    fn a_spool_moved_away_is_reopened_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        s.append(&entry(1)).unwrap();
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        s.append(&entry(2)).unwrap();
        assert_eq!(decoded(&Spool::read(&path).unwrap()), vec![entry(2)]);
        assert_eq!(decoded(&Spool::read(&dir.path().join("moved")).unwrap()), vec![entry(1)]);
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

    #[test]
    fn drain_sends_each_record_once_and_resumes_after_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        for n in 0..4 {
            s.append(&entry(n)).unwrap();
        }
        let got = std::cell::RefCell::new(Vec::new());
        let refuse_at = std::cell::Cell::new(2usize);
        let send = |b: &[u8]| {
            if got.borrow().len() == refuse_at.get() {
                return Err("busy".to_string());
            }
            got.borrow_mut().push(Entry::decode(b).unwrap());
            Ok(())
        };
        let e = s.drain(&send).unwrap_err();
        assert!(matches!(e, DrainError::NotTaken { record: 3, sent: 2, .. }), "{e}");
        // New records meanwhile go to a fresh spool.
        s.append(&entry(9)).unwrap();
        refuse_at.set(usize::MAX);
        let r = s.drain(&send).unwrap();
        assert_eq!(r.sent, 3);
        assert_eq!(*got.borrow(), vec![entry(0), entry(1), entry(2), entry(3), entry(9)]);
        assert!(!path.exists() && !with_suffix(&path, ".sending").exists());
        assert_eq!(s.drain(&send).unwrap().sent, 0);
    }

    #[test]
    fn a_second_drain_at_the_same_time_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        s.append(&entry(1)).unwrap();
        let inner = |_: &[u8]| {
            let e = Spool::open(&path).unwrap().drain(&|_| Ok(())).unwrap_err();
            assert!(matches!(e, DrainError::Spool(SpoolError::Busy(_))), "{e}");
            Ok(())
        };
        assert_eq!(s.drain(&inner).unwrap().sent, 1);
    }
}

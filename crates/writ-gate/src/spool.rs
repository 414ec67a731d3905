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
//!   frame with one `write`. Nothing is ever appended behind a torn frame.
//!   For [`Durability::Sync`] it then waits, after releasing the lock, until
//!   an `fdatasync` covers the frame (see "Group commit" below).
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
//!
//! # Group commit
//!
//! A [`Durability::Sync`] append returns only once its frame is on disk, but
//! concurrent appenders share the `fdatasync` (leader/follower):
//!
//! - The frame is written under the lock (as above); the lock is released
//!   *before* the sync, so other appenders keep writing while one syncs.
//! - One appender at a time is the leader (an in-process mutex, and an
//!   exclusive `flock` on `SPOOL.commit` across processes). The leader reads
//!   the file's length, `fdatasync`s, and publishes "synced up to that
//!   length": every frame that ended at or before it was written before the
//!   sync began, so it is durable. The appenders that queued behind the
//!   leader find their frame covered and return without a sync of their own;
//!   the first one that is not covered becomes the next leader.
//! - Across processes the published length is a hint in `SPOOL.commit`
//!   (the file's device, inode and birth time, the synced length, a
//!   checksum). A repair of a torn tail resets it under the same `flock`, and
//!   a file without a birth time (no `statx` btime) is never covered by it,
//!   so a hint never covers a frame that is not durable: at worst it costs a
//!   sync that was not needed.
//! - A failed `fdatasync` fails every append whose frame it was to cover
//!   (Linux reports a write-back error to a file description once, so a
//!   later sync that succeeds says nothing about those pages).
//!
//! # Waiting without a thread (async callers)
//!
//! [`Spool::write_pending`] writes the frame at once (as above) and returns a
//! [`Pending`]; [`Spool::durable`] is a future that resolves when the frame
//! is covered by a sync. It parks no thread: it registers its waker with the
//! commit state and asks this handle's sync thread (started on first use)
//! for a sync; every leader, that thread or a blocking appender, wakes the
//! registered wakers when it is done, and each future checks again whether
//! its own frame is covered. The rule is the same as for a blocking append:
//! the future resolves `Ok` only after a sync that began after its frame was
//! written, and with the error when that sync failed. The proxy uses it, so
//! that a request's `exec_start` costs no hand-off to a blocking thread and
//! back.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

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

/// An open spool. Shared between threads (`&Spool` is `Sync`), concurrent
/// synced appends share their `fdatasync` (see the module docs).
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    lock: File,
    file: Mutex<Held>,
    /// `SPOOL.commit`: the cross-process leader token (`flock`) and the
    /// published synced length.
    commit_file: File,
    /// What is known synced, and whether a leader is syncing (held only
    /// briefly, never across a sync).
    commit: Mutex<Commit>,
    /// Signalled when a leader is done: its followers all wake at once.
    committed: Condvar,
    appends: AtomicU64,
    synced_appends: AtomicU64,
    syncs: AtomicU64,
    /// The sync thread of [`Spool::durable`] (started on first use; it ends
    /// when this handle is dropped, which drops the sender).
    syncer: Mutex<Option<mpsc::Sender<Written>>>,
}

/// Counters of one open [`Spool`] (this process's appends through it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolStats {
    /// Frames appended.
    pub appends: u64,
    /// Of those, with [`Durability::Sync`] (each durable when it returned).
    pub synced_appends: u64,
    /// `fdatasync` calls made for them (fewer than `synced_appends` when
    /// concurrent appends shared a sync).
    pub syncs: u64,
}

/// The spool file this process writes to.
#[derive(Debug, Default)]
struct Held {
    file: Option<Arc<File>>,
    key: Option<FileKey>,
    /// Bumped whenever the file this handle writes to is another file or
    /// shrank (a torn tail truncated): synced lengths of an older generation
    /// cover nothing written in a newer one.
    generation: u64,
    /// (generation, end) of this handle's last complete write: when the file
    /// still ends there, its tail is that intact frame (only torn tails are
    /// ever truncated, and every writer appends whole frames), so the next
    /// append skips reading it back.
    last_end: Option<(u64, u64)>,
}

/// Which file a synced length is about (device, inode, birth time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    born_secs: u64,
    born_nanos: u32,
}

impl FileKey {
    fn of(f: &File) -> io::Result<Option<Self>> {
        let m = f.metadata()?;
        let born = m.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        Ok(born.map(|b| Self { dev: m.dev(), ino: m.ino(), born_secs: b.as_secs(), born_nanos: b.subsec_nanos() }))
    }
}

#[derive(Debug, Default)]
struct Commit {
    /// (generation, length): every frame of that generation ending at or
    /// before the length is durable.
    synced: Option<(u64, u64)>,
    /// A failed sync: frames of `generation` ending in `(from, upto]` are
    /// not known durable, ever.
    failed: Option<Failure>,
    /// A leader of this process is between reading the length and
    /// publishing it.
    syncing: bool,
    /// Futures ([`Durable`]) waiting for a sync; woken (all) whenever a
    /// leader is done.
    wakers: Vec<Waker>,
}

impl Commit {
    /// Whether `w`'s frame is known durable (an error if the sync that was
    /// to cover it failed).
    fn covers(&self, w: &Written) -> io::Result<bool> {
        if let Some(f) = &self.failed
            && f.generation == w.generation
            && f.from < w.end
            && w.end <= f.upto
        {
            return Err(io::Error::new(f.kind, format!("an earlier fdatasync of this spool failed: {}", f.message)));
        }
        Ok(self.synced.is_some_and(|(g, synced)| g == w.generation && w.end <= synced))
    }
}

/// This process's leader role; dropping it wakes the followers.
struct Lead<'a>(&'a Spool);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let wakers = {
            let mut c = lock(&self.0.commit);
            c.syncing = false;
            std::mem::take(&mut c.wakers)
        };
        self.0.committed.notify_all();
        for w in wakers {
            w.wake();
        }
    }
}

#[derive(Debug)]
struct Failure {
    generation: u64,
    from: u64,
    upto: u64,
    kind: io::ErrorKind,
    message: String,
}

/// A frame written and not yet known durable.
#[derive(Clone)]
struct Written {
    file: Arc<File>,
    key: Option<FileKey>,
    generation: u64,
    end: u64,
}

/// A frame written by [`Spool::write_pending`], not yet known durable.
pub struct Pending(Written);

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("end", &self.0.end).finish_non_exhaustive()
    }
}

/// The future of [`Spool::durable`].
pub struct Durable {
    spool: Arc<Spool>,
    written: Written,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable").field("spool", &self.spool.path).field("end", &self.written.end).finish()
    }
}

impl Future for Durable {
    type Output = Result<(), SpoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let io = |source| SpoolError::Io { path: this.spool.path.clone(), source };
        {
            // Checked and registered under one lock: a leader notes its sync
            // and then takes the wakers under this lock, so a sync that
            // covers this frame either is seen here or wakes this waker.
            let mut c = lock(&this.spool.commit);
            match c.covers(&this.written) {
                Err(e) => return Poll::Ready(Err(io(e))),
                Ok(true) => {
                    drop(c);
                    event(this.written.key.as_ref(), this.written.end, false);
                    return Poll::Ready(Ok(()));
                }
                Ok(false) => {
                    if !c.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                        c.wakers.push(cx.waker().clone());
                    }
                }
            }
        }
        match this.spool.request_sync(&this.written) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(io(e))),
        }
    }
}

/// The sync thread of one spool handle: syncs (as a leader, sharing the
/// blocking appenders' rules) up to the furthest frame asked for, until the
/// handle is dropped.
fn sync_thread(spool: &Weak<Spool>, rx: &mpsc::Receiver<Written>) {
    while let Ok(mut w) = rx.recv() {
        // Every request queued meanwhile is covered by one sync of the
        // furthest frame of the newest file.
        while let Ok(more) = rx.try_recv() {
            if (more.generation, more.end) > (w.generation, w.end) {
                w = more;
            }
        }
        let Some(spool) = spool.upgrade() else { return };
        if let Err(e) = spool.wait_durable(&w) {
            // A failure that did not already mark its frames (the `flock`,
            // a `stat`) marks them now: the waiters get the error instead of
            // asking again for ever.
            let wakers = {
                let mut c = lock(&spool.commit);
                if matches!(c.covers(&w), Ok(false)) {
                    let from = c.synced.filter(|(g, _)| *g == w.generation).map_or(0, |(_, s)| s);
                    c.failed = Some(Failure {
                        generation: w.generation,
                        from,
                        upto: w.end,
                        kind: e.kind(),
                        message: e.to_string(),
                    });
                }
                std::mem::take(&mut c.wakers)
            };
            for waker in wakers {
                waker.wake();
            }
        }
    }
}

/// Test hook: every completed sync `(file, length, true)` and every synced
/// append that returned `(file, end, false)`, in the order they happened.
#[cfg(test)]
static EVENTS: Mutex<Vec<(FileKey, u64, bool)>> = Mutex::new(Vec::new());

#[cfg(test)]
fn event(key: Option<&FileKey>, at: u64, sync: bool) {
    if let Some(k) = key {
        lock(&EVENTS).push((*k, at, sync));
    }
}

#[cfg(not(test))]
fn event(_: Option<&FileKey>, _: u64, _: bool) {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const COMMIT_MAGIC: &[u8; 4] = b"wsc1";
const COMMIT_LEN: usize = 4 + 8 + 8 + 8 + 4 + 8 + 8;

fn commit_body(key: &FileKey, synced: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(COMMIT_LEN);
    b.extend_from_slice(COMMIT_MAGIC);
    b.extend_from_slice(&key.dev.to_be_bytes());
    b.extend_from_slice(&key.ino.to_be_bytes());
    b.extend_from_slice(&key.born_secs.to_be_bytes());
    b.extend_from_slice(&key.born_nanos.to_be_bytes());
    b.extend_from_slice(&synced.to_be_bytes());
    b
}

/// Writes the published synced length (a hint: an error only costs later
/// appenders a sync of their own, so it is not reported).
fn write_commit(f: &File, key: &FileKey, synced: u64) {
    let mut b = commit_body(key, synced);
    let sum = Sha256::digest(&b);
    b.extend_from_slice(sum.get(..8).unwrap_or_default());
    let _ = f.write_all_at(&b, 0);
}

/// The published synced length of `key`'s file, if the hint is intact and
/// about that file.
fn read_commit(f: &File, key: &FileKey) -> Option<u64> {
    let mut b = [0u8; COMMIT_LEN];
    f.read_exact_at(&mut b, 0).ok()?;
    let (body, sum) = b.split_at(COMMIT_LEN.saturating_sub(8));
    if Sha256::digest(body).get(..8) != Some(sum) {
        return None;
    }
    let synced = body.get(COMMIT_LEN.saturating_sub(16)..)?;
    let synced = u64::from_be_bytes(synced.try_into().ok()?);
    (commit_body(key, synced) == body).then_some(synced)
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
        let commit_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(with_suffix(path, ".commit"))
            .map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            lock,
            file: Mutex::new(Held::default()),
            commit_file,
            commit: Mutex::new(Commit::default()),
            committed: Condvar::new(),
            appends: AtomicU64::new(0),
            synced_appends: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            syncer: Mutex::new(None),
        })
    }

    /// This handle's counters (appends, synced appends, `fdatasync`s).
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            appends: self.appends.load(Ordering::Relaxed),
            synced_appends: self.synced_appends.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
        }
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

    /// Appends already encoded entry bytes. With [`Durability::Sync`] it
    /// returns once the frame is durable; concurrent callers share one
    /// `fdatasync` (see the module docs).
    ///
    /// # Errors
    ///
    /// As [`Spool::append`].
    pub fn append_bytes(&self, bytes: &[u8], durability: Durability) -> Result<(), SpoolError> {
        let frame = frame(bytes)?;
        let io = |source| SpoolError::Io { path: self.path.clone(), source };
        let written = self.write_frame(&frame).map_err(io)?;
        self.appends.fetch_add(1, Ordering::Relaxed);
        if durability == Durability::Sync {
            self.synced_appends.fetch_add(1, Ordering::Relaxed);
            self.wait_durable(&written).map_err(io)?;
            event(written.key.as_ref(), written.end, false);
        }
        Ok(())
    }

    /// Writes `bytes` as a frame now (as [`Spool::append_bytes`] does) and
    /// returns the ticket for [`Spool::durable`], which resolves once the
    /// frame is on disk. Counted as a synced append.
    ///
    /// # Errors
    ///
    /// As [`Spool::append`] (the frame could not be written).
    pub fn write_pending(&self, bytes: &[u8]) -> Result<Pending, SpoolError> {
        let frame = frame(bytes)?;
        let written = self.write_frame(&frame).map_err(|source| SpoolError::Io { path: self.path.clone(), source })?;
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.synced_appends.fetch_add(1, Ordering::Relaxed);
        Ok(Pending(written))
    }

    /// A future that resolves once `pending`'s frame is durable (or with the
    /// error of the sync that was to cover it), without parking a thread:
    /// see the module docs, "Waiting without a thread".
    pub fn durable(self: &Arc<Self>, pending: Pending) -> Durable {
        Durable { spool: self.clone(), written: pending.0 }
    }

    /// Asks this handle's sync thread for a sync covering `w` (starting the
    /// thread on first use).
    fn request_sync(self: &Arc<Self>, w: &Written) -> io::Result<()> {
        let mut syncer = lock(&self.syncer);
        if let Some(tx) = syncer.as_ref()
            && tx.send(w.clone()).is_ok()
        {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel::<Written>();
        let weak = Arc::downgrade(self);
        std::thread::Builder::new().name("writ-spool-sync".into()).spawn(move || sync_thread(&weak, &rx))?;
        tx.send(w.clone()).map_err(|_| io::Error::other("the spool's sync thread ended"))?;
        *syncer = Some(tx);
        Ok(())
    }

    /// Writes one frame under the lock (after repairing a torn tail) and
    /// says where it ended.
    fn write_frame(&self, frame: &[u8]) -> io::Result<Written> {
        // The in-process mutex first: threads share the lock file's open
        // file description, so its `flock` does not order them.
        let mut held = lock(&self.file);
        let _locked = Locked::new(&self.lock)?;
        let (file, key) = self.current(&mut held)?;
        let len = match repair_tail(&file, held.last_end.filter(|(g, _)| *g == held.generation).map(|(_, e)| e))? {
            Repair::Intact(len) => len,
            Repair::Needed => {
                let len = self.truncate_torn_tail(&file, key.as_ref())?;
                held.generation = held.generation.saturating_add(1);
                len
            }
        };
        // The file shrank since a length of this generation was known synced
        // (another process truncated a torn tail): that length covers nothing
        // written from now on.
        if lock(&self.commit).synced.is_some_and(|(g, synced)| g == held.generation && len < synced) {
            held.generation = held.generation.saturating_add(1);
        }
        // One write on an O_APPEND descriptor, under the lock.
        held.last_end = None;
        (&*file).write_all(frame)?;
        let end = len.saturating_add(frame.len() as u64);
        held.last_end = Some((held.generation, end));
        Ok(Written { file, key, generation: held.generation, end })
    }

    /// Truncates a torn tail back to the last intact frame, syncs, and
    /// resets the published synced length (under the leader tokens, so no
    /// leader is between reading the length and publishing it).
    fn truncate_torn_tail(&self, file: &File, key: Option<&FileKey>) -> io::Result<u64> {
        let _leader = self.lead(None)?;
        let _token = Locked::new(&self.commit_file)?;
        let good = truncate_to_intact(file)?;
        event(key, good, true);
        if let Some(k) = key {
            write_commit(&self.commit_file, k, good);
        }
        Ok(good)
    }

    /// Returns once `w`'s frame is durable: covered by a sync that began
    /// after it was written (this process's, or another's published one), or
    /// by the sync this caller makes as the leader.
    fn wait_durable(&self, w: &Written) -> io::Result<()> {
        // Followers wait here while the leader syncs.
        let Some(_leader) = self.lead(Some(w))? else { return Ok(()) };
        let _token = Locked::new(&self.commit_file)?;
        let published = w.key.as_ref().and_then(|k| read_commit(&self.commit_file, k));
        let note = |synced: u64| {
            let mut c = lock(&self.commit);
            let known = c.synced.filter(|(g, _)| *g == w.generation).map_or(0, |(_, s)| s);
            c.synced = Some((w.generation, synced.max(known)));
        };
        if let Some(synced) = published.filter(|s| w.end <= *s) {
            note(synced);
            return Ok(());
        }
        // Every byte below `len` was written before this sync begins.
        let len = w.file.metadata()?.len().max(w.end);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        match w.file.sync_data() {
            Ok(()) => {
                event(w.key.as_ref(), len, true);
                note(len);
                if let Some(k) = &w.key
                    && published.is_none_or(|s| s < len)
                {
                    write_commit(&self.commit_file, k, len);
                }
                Ok(())
            }
            Err(e) => {
                let mut c = lock(&self.commit);
                let from = c.synced.filter(|(g, _)| *g == w.generation).map_or(0, |(_, s)| s);
                c.failed =
                    Some(Failure { generation: w.generation, from, upto: len, kind: e.kind(), message: e.to_string() });
                Err(e)
            }
        }
    }

    /// Waits until `w` is known durable (`None`) or this caller is this
    /// process's leader (`Some`; without `w`, until it is the leader).
    fn lead(&self, w: Option<&Written>) -> io::Result<Option<Lead<'_>>> {
        let mut c = lock(&self.commit);
        loop {
            if let Some(w) = w
                && c.covers(w)?
            {
                return Ok(None);
            }
            if !c.syncing {
                c.syncing = true;
                return Ok(Some(Lead(self)));
            }
            c = self.committed.wait(c).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The file the path names now (re-opened after a drain moved it).
    fn current(&self, held: &mut Held) -> io::Result<(Arc<File>, Option<FileKey>)> {
        let fresh = match (held.file.as_ref(), std::fs::metadata(&self.path)) {
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
            held.key = FileKey::of(&f)?;
            held.file = Some(Arc::new(f));
            held.generation = held.generation.saturating_add(1);
        }
        let file = held.file.clone().ok_or_else(|| io::Error::other("spool not open"))?;
        Ok((file, held.key))
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

/// Whether the file ends in an intact frame (then its length).
enum Repair {
    Intact(u64),
    Needed,
}

/// Checks that `file` ends in an intact frame (bytes after the last one can
/// only be a torn append: every writer repairs the tail before it appends,
/// under the lock). `known` is where this handle's own last frame ended.
fn repair_tail(file: &File, known: Option<u64>) -> io::Result<Repair> {
    let len = file.metadata()?.len();
    if len == 0 || known == Some(len) || tail_is_intact(file, len)? {
        return Ok(Repair::Intact(len));
    }
    Ok(Repair::Needed)
}

/// Truncates `file` to the end of its last intact frame and syncs it;
/// returns the new length.
fn truncate_to_intact(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 || tail_is_intact(file, len)? {
        return Ok(len);
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
    let good = u64::try_from(good).unwrap_or(0);
    file.set_len(good)?;
    file.sync_data()?;
    Ok(good)
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
                // This process's appenders too (they share the lock's file description).
                let _held = lock(&self.file);
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

    /// Every synced append that returned on `key`'s file was covered by a
    /// sync of that file that completed before it returned and began after
    /// the frame was written (its length reached the frame's end).
    fn assert_durable_on_return(key: &FileKey) -> usize {
        let events: Vec<(u64, bool)> =
            lock(&EVENTS).iter().filter(|(k, _, _)| k == key).map(|(_, at, sync)| (*at, *sync)).collect();
        let mut best = 0u64;
        let mut returned = 0usize;
        for (at, sync) in events {
            if sync {
                best = best.max(at);
            } else {
                assert!(at <= best, "a frame ending at {at} returned, but syncs had covered only {best}");
                returned += 1;
            }
        }
        returned
    }

    fn key_of(path: &Path) -> Option<FileKey> {
        FileKey::of(&File::open(path).unwrap()).unwrap()
    }

    /// Appends from `threads` threads, `each` records apiece, through the
    /// spools in `spools` (round robin); returns the tags in call order of
    /// each thread.
    fn hammer(spools: &[&Spool], threads: usize, each: usize) {
        std::thread::scope(|sc| {
            for t in 0..threads {
                let s = spools[t % spools.len()];
                sc.spawn(move || {
                    for n in 0..each {
                        let e = entry(i64::try_from(t * 10_000 + n).unwrap());
                        let d = if n % 5 == 4 { Durability::Lazy } else { Durability::Sync };
                        s.append_with(&e, d).unwrap();
                    }
                });
            }
        });
    }

    /// What `hammer` wrote is all there, intact, once each, and each thread's
    /// records in the order it appended them.
    fn assert_all_back(path: &Path, threads: usize, each: usize) {
        let c = Spool::read(path).unwrap();
        assert_eq!(c.torn_bytes, 0);
        let got = decoded(&c);
        assert_eq!(got.len(), threads * each, "none lost, none twice");
        let mut next = vec![0usize; threads];
        for e in got {
            let Entry::Denial(d) = e else { panic!("not a denial") };
            let t = usize::try_from(d.time.0).unwrap() / 10_000;
            let n = usize::try_from(d.time.0).unwrap() % 10_000;
            assert_eq!(n, next[t], "thread {t}'s records in the order it appended them");
            next[t] += 1;
        }
        assert!(next.iter().all(|n| *n == each));
    }

    #[test]
    fn concurrent_appenders_share_fdatasyncs_and_each_is_durable_on_return() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        let (threads, each) = (16, 40);
        hammer(&[&s], threads, each);
        assert_all_back(&path, threads, each);
        let st = s.stats();
        assert_eq!(st.appends, (threads * each) as u64);
        assert_eq!(st.synced_appends, (threads * each * 4 / 5) as u64);
        assert!(st.syncs < st.synced_appends, "group commit: {st:?}");
        eprintln!("{st:?}");
        match key_of(&path) {
            Some(k) => assert_eq!(assert_durable_on_return(&k), threads * each * 4 / 5),
            None => eprintln!("no birth time on this file system: the durability order is not checked"),
        }
    }

    /// Drives `futs` to completion on this thread (a waker that unparks
    /// it), polling all of them whenever any is woken.
    fn drive_all(futs: Vec<Durable>) -> Vec<Result<(), SpoolError>> {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut futs: Vec<Option<Durable>> = futs.into_iter().map(Some).collect();
        let mut out: Vec<Option<Result<(), SpoolError>>> = futs.iter().map(|_| None).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while out.iter().any(Option::is_none) {
            for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
                if let Some(fut) = f
                    && let Poll::Ready(r) = Pin::new(fut).poll(&mut cx)
                {
                    *o = Some(r);
                    *f = None;
                }
            }
            assert!(std::time::Instant::now() < deadline, "a durable future was never woken");
            if out.iter().any(Option::is_none) {
                std::thread::park();
            }
        }
        out.into_iter().flatten().collect()
    }

    #[test]
    fn a_durable_future_resolves_only_after_a_sync_covering_its_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Arc::new(Spool::open(&path).unwrap());
        let bytes = entry(7).encode().unwrap();
        let pending = s.write_pending(&bytes).unwrap();
        let results = drive_all(vec![s.durable(pending)]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(decoded(&Spool::read(&path).unwrap()), vec![entry(7)]);
        let st = s.stats();
        assert_eq!((st.appends, st.synced_appends, st.syncs), (1, 1, 1), "the sync thread synced it");
        if let Some(k) = key_of(&path) {
            assert_eq!(assert_durable_on_return(&k), 1);
        }
    }

    /// Futures waiting through the sync thread and threads appending with a
    /// blocking wait share one spool: everything is back intact and in
    /// order, fewer syncs than synced appends, and every frame resolved or
    /// returned only after a sync that reached it.
    #[test]
    fn durable_futures_and_blocking_appenders_share_syncs_and_each_is_durable_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Arc::new(Spool::open(&path).unwrap());
        let (threads, each) = (4, 40);
        std::thread::scope(|sc| {
            sc.spawn(|| hammer(&[&s], threads, each));
            sc.spawn(|| {
                // The async writer is "thread" `threads`: 8 futures at a time.
                for batch in 0..each / 8 {
                    let futs: Vec<Durable> = (0..8)
                        .map(|i| {
                            let tag = i64::try_from(threads * 10_000 + batch * 8 + i).unwrap();
                            s.durable(s.write_pending(&entry(tag).encode().unwrap()).unwrap())
                        })
                        .collect();
                    let results = drive_all(futs);
                    assert!(results.iter().all(Result::is_ok), "{results:?}");
                }
            });
        });
        assert_all_back(&path, threads + 1, each);
        let st = s.stats();
        let synced = (threads * each * 4 / 5 + each) as u64;
        assert_eq!(st.synced_appends, synced);
        assert!(st.syncs < st.synced_appends, "group commit: {st:?}");
        if let Some(k) = key_of(&path) {
            assert_eq!(assert_durable_on_return(&k) as u64, synced);
        }
    }

    /// Two handles on one spool are two processes as far as locking goes
    /// (separate open file descriptions, separate mutexes): their frames
    /// interleave intact, and a sync by one covers the other's frames
    /// through the published length.
    #[test]
    fn two_handles_like_two_processes_interleave_intact_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let (a, b) = (Spool::open(&path).unwrap(), Spool::open(&path).unwrap());
        let (threads, each) = (12, 30);
        hammer(&[&a, &b], threads, each);
        assert_all_back(&path, threads, each);
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(sa.synced_appends + sb.synced_appends, (threads * each * 4 / 5) as u64);
        assert!(sa.syncs + sb.syncs < sa.synced_appends + sb.synced_appends, "{sa:?} {sb:?}");
        if let Some(k) = key_of(&path) {
            assert_eq!(assert_durable_on_return(&k), threads * each * 4 / 5);
        }
    }

    /// A length this process knew synced stops covering anything once
    /// another process truncated a torn tail below it: the next append
    /// syncs again (it would have returned unsynced otherwise).
    #[test]
    fn a_tail_truncated_by_another_process_is_not_covered_by_an_old_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let a = Spool::open(&path).unwrap();
        let f1 = frame(&entry(1).encode().unwrap()).unwrap();
        let w = a.write_frame(&f1).unwrap();
        // A third writer dies in the middle of a large frame, after `a`
        // wrote and before `a`'s leader read the length.
        let mut torn = frame(&vec![7u8; 4096]).unwrap();
        torn.truncate(3000);
        OpenOptions::new().append(true).open(&path).unwrap().write_all(&torn).unwrap();
        a.wait_durable(&w).unwrap();
        assert_eq!(a.stats().syncs, 1);
        // Another process repairs the tail and appends.
        let b = Spool::open(&path).unwrap();
        b.append(&entry(2)).unwrap();
        // `a`'s next frame ends below the length it once synced.
        a.append(&entry(3)).unwrap();
        assert_eq!(a.stats().syncs, 2, "the append after the truncation made its own sync");
        let c = Spool::read(&path).unwrap();
        assert_eq!((decoded(&c), c.torn_bytes), (vec![entry(1), entry(2), entry(3)], 0));
    }

    #[test]
    fn the_published_synced_length_is_checked_and_about_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let f =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.path().join("c")).unwrap();
        let k = FileKey { dev: 1, ino: 2, born_secs: 3, born_nanos: 4 };
        assert_eq!(read_commit(&f, &k), None, "empty");
        write_commit(&f, &k, 1234);
        assert_eq!(read_commit(&f, &k), Some(1234));
        assert_eq!(read_commit(&f, &FileKey { born_nanos: 5, ..k }), None, "another file (same inode, born later)");
        let mut b = [0u8; COMMIT_LEN];
        f.read_exact_at(&mut b, 0).unwrap();
        b[30] ^= 1;
        f.write_all_at(&b, 0).unwrap();
        assert_eq!(read_commit(&f, &k), None, "a damaged hint covers nothing");
    }

    /// A drain in the same process as appending threads loses nothing: each
    /// acknowledged record is either sent or still in the spool.
    #[test]
    fn drain_while_threads_append_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let s = Spool::open(&path).unwrap();
        let sent = Mutex::new(Vec::new());
        std::thread::scope(|sc| {
            sc.spawn(|| hammer(&[&s], 8, 25));
            for _ in 0..20 {
                let _ = s.drain(&|b| {
                    lock(&sent).push(b.to_vec());
                    Ok(())
                });
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        s.drain(&|b| {
            lock(&sent).push(b.to_vec());
            Ok(())
        })
        .unwrap();
        let mut got: Vec<i64> = lock(&sent)
            .iter()
            .map(|b| match Entry::decode(b).unwrap() {
                Entry::Denial(d) => d.time.0,
                _ => panic!("not a denial"),
            })
            .collect();
        got.sort_unstable();
        let mut want: Vec<i64> = (0..8).flat_map(|t| (0..25).map(move |n| t * 10_000 + n)).collect();
        want.sort_unstable();
        assert_eq!(got, want);
    }
}

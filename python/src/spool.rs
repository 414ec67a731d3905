//! The gate's durable spool, framed exactly as `writ_gate::spool` (see that
//! module for the protocol `writ sync` follows):
//!
//! ```text
//! "wsp2" ‖ len:u32be ‖ sha256(entry):32 ‖ entry ‖ len:u32be ‖ "wsp."
//! ```
//!
//! Every append takes the exclusive `flock` on `<spool>.lock` (shared with
//! native gates and the drain), re-opens the spool if a drain moved it away,
//! truncates a torn tail back to the last intact frame, then writes the frame
//! with one `write` on an `O_APPEND` descriptor and, for
//! [`Durability::Sync`], `fdatasync`s it. The file is created with mode 0600
//! and its directory is fsynced when it is created.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};
use writ_core::entry::{Entry, MAX_ENTRY_BYTES};

const MAGIC: &[u8; 4] = b"wsp2";
const TRAILER: &[u8; 4] = b"wsp.";
const HEADER: usize = 4 + 4 + 32;
const FOOTER: usize = 4 + 4;

/// Whether an append waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` before returning.
    Sync,
    /// Written to the file; made durable by the next synced append.
    Lazy,
}

/// An open spool.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    lock: File,
    file: Mutex<Option<File>>,
}

/// What a spool holds.
#[derive(Debug, Default)]
pub struct Contents {
    /// Intact entries, oldest first.
    pub entries: Vec<Vec<u8>>,
    /// Bytes outside intact frames.
    pub torn_bytes: usize,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

fn err(path: &Path, e: &io::Error) -> String {
    format!("spool `{}`: {e}; check that its directory exists and is writable", path.display())
}

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
    /// Opens (creating its directory and lock file) the spool at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let io = |e: io::Error| err(path, &e);
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, entry: &Entry, durability: Durability) -> Result<(), String> {
        let bytes = entry.encode().map_err(|e| format!("entry: {e}"))?;
        self.append_bytes(&bytes, durability)
    }

    pub fn append_bytes(&self, bytes: &[u8], durability: Durability) -> Result<(), String> {
        let frame = frame(bytes)?;
        let io = |e: io::Error| err(&self.path, &e);
        let _locked = Locked::new(&self.lock).map_err(io)?;
        let mut held = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let file = self.current(&mut held).map_err(io)?;
        repair_tail(file).map_err(io)?;
        (&*file).write_all(&frame).map_err(io)?;
        if durability == Durability::Sync {
            file.sync_data().map_err(io)?;
        }
        Ok(())
    }

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
}

/// Reads every intact entry of the spool at `path` (missing = empty).
pub fn read(path: &Path) -> Result<Contents, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(err(path, &e)),
    };
    let mut out = Contents::default();
    let mut at = 0usize;
    while at < data.len() {
        if let Some((entry, used)) = split_frame(data.get(at..).unwrap_or_default()) {
            out.entries.push(entry.to_vec());
            at = at.saturating_add(used);
            continue;
        }
        let next = next_frame(&data, at);
        out.torn_bytes = out.torn_bytes.saturating_add(next.saturating_sub(at));
        at = next;
    }
    Ok(out)
}

/// The first position after `at` where an intact frame starts (or the end).
fn next_frame(data: &[u8], at: usize) -> usize {
    let mut next = at.saturating_add(1);
    while next < data.len() {
        let r = data.get(next..).unwrap_or_default();
        if r.starts_with(MAGIC) && split_frame(r).is_some() {
            break;
        }
        next = next.saturating_add(1);
    }
    next
}

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
            None => at = next_frame(&data, at),
        }
    }
    file.set_len(u64::try_from(good).unwrap_or(0))?;
    file.sync_data()
}

fn tail_is_intact(file: &File, len: u64) -> io::Result<bool> {
    if len < (HEADER + FOOTER) as u64 {
        return Ok(false);
    }
    let mut foot = [0u8; FOOTER];
    file.read_exact_at(&mut foot, len.saturating_sub(FOOTER as u64))?;
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

fn frame(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let too_large = || format!("entry is {} bytes, over the limit of {MAX_ENTRY_BYTES}; shorten it", bytes.len());
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(too_large());
    }
    let len = u32::try_from(bytes.len()).map_err(|_| too_large())?;
    let mut frame = Vec::with_capacity(HEADER.saturating_add(FOOTER).saturating_add(bytes.len()));
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&Sha256::digest(bytes));
    frame.extend_from_slice(bytes);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(TRAILER);
    Ok(frame)
}

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

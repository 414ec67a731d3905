//! The monitor's persisted state: the last verified checkpoint and the
//! tree's frontier (`state.json`, replaced atomically and fsynced), and the
//! entries read so far (`entries.bin`, appended and fsynced before
//! `state.json` names them; a torn or uncommitted tail is cut on load).

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_tlog::checkpoint::Checkpoint;
use writ_tlog::note;
use writ_tlog::tree::Frontier;

use crate::MonitorError;
use crate::store::EntriesStore;

const STATE: &str = "state.json";
const ENTRIES: &str = "entries.bin";

/// What the monitor verified before.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    note: Option<Vec<u8>>,
    checkpoint: Option<Checkpoint>,
    frontier: Frontier,
    /// Byte length of `entries.bin` holding exactly the committed entries.
    entries_len: u64,
    /// Bytes and count of entries appended but not yet committed.
    pending: u64,
    pending_count: u64,
}

fn err(path: &Path, detail: impl std::fmt::Display) -> MonitorError {
    MonitorError::State { path: path.to_path_buf(), detail: detail.to_string() }
}

fn sync_dir(dir: &Path) -> Result<(), MonitorError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(dir, format!("cannot sync the directory: {e}")))
}

/// Reads the length-prefixed records of `entries.bin`: the byte length of
/// the first `want` records, and the records themselves if `keep`.
fn scan_entries(path: &Path, want: u64, keep: bool) -> Result<(u64, Vec<Vec<u8>>), MonitorError> {
    let mut data = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut data).map_err(|e| err(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(path, e)),
    }
    let (mut at, mut n, mut out) = (0usize, 0u64, Vec::new());
    while n < want {
        let len =
            data.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(|b| u32::from_be_bytes(b) as usize);
        let Some(rec) = len.and_then(|l| data.get(at + 4..at + 4 + l)) else {
            return Err(err(
                path,
                format!("holds {n} entries; the state names {want} (delete the state directory to start over)"),
            ));
        };
        if keep {
            out.push(rec.to_vec());
        }
        at += 4 + rec.len();
        n += 1;
    }
    Ok((at as u64, out))
}

impl State {
    /// Loads the state in `dir`, creating the directory if needed.
    ///
    /// # Errors
    /// Unreadable or inconsistent files.
    pub fn load(dir: PathBuf) -> Result<Self, MonitorError> {
        fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let path = dir.join(STATE);
        let (note_bytes, checkpoint, frontier) = match fs::read(&path) {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| err(&path, e))?;
                let note_text = v
                    .get("checkpoint")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| err(&path, "no `checkpoint`"))?;
                let text = note::parse(note_text.as_bytes()).map_err(|e| err(&path, e))?.text;
                let cp = Checkpoint::parse(&text).map_err(|e| err(&path, e))?;
                let hashes = v
                    .get("frontier")
                    .and_then(serde_json::Value::as_array)
                    .ok_or_else(|| err(&path, "no `frontier`"))?
                    .iter()
                    .map(|h| {
                        h.as_str()
                            .and_then(|s| STANDARD.decode(s).ok())
                            .and_then(|b| <[u8; 32]>::try_from(b).ok())
                            .ok_or_else(|| err(&path, "a frontier hash is not base64 of 32 bytes"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let frontier = Frontier::from_parts(cp.size, hashes).map_err(|e| err(&path, e))?;
                if frontier.root() != cp.root {
                    return Err(err(&path, "the frontier does not give the checkpoint's root"));
                }
                (Some(note_text.as_bytes().to_vec()), Some(cp), frontier)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None, Frontier::new()),
            Err(e) => return Err(err(&path, e)),
        };
        let (entries_len, _) = scan_entries(&dir.join(ENTRIES), frontier.size(), false)?;
        Ok(Self { dir, note: note_bytes, checkpoint, frontier, entries_len, pending: 0, pending_count: 0 })
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last verified checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// Its note, as the log served it.
    #[must_use]
    pub fn note(&self) -> Option<&[u8]> {
        self.note.as_deref()
    }

    /// The frontier of the verified tree.
    #[must_use]
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Appends (and fsyncs) entries after the committed ones, cutting any
    /// uncommitted tail first.
    pub(crate) fn append_entries(&mut self, entries: &[Vec<u8>]) -> Result<(), MonitorError> {
        let path = self.dir.join(ENTRIES);
        let mut f =
            OpenOptions::new().create(true).write(true).truncate(false).open(&path).map_err(|e| err(&path, e))?;
        f.set_len(self.entries_len).map_err(|e| err(&path, e))?;
        let mut buf = Vec::new();
        for e in entries {
            let len = u32::try_from(e.len()).map_err(|_| err(&path, "an entry over 4 GiB"))?;
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(e);
        }
        use std::io::Seek as _;
        f.seek(std::io::SeekFrom::Start(self.entries_len)).map_err(|e| err(&path, e))?;
        f.write_all(&buf).and_then(|()| f.sync_all()).map_err(|e| err(&path, e))?;
        sync_dir(&self.dir)?;
        self.pending = buf.len() as u64;
        self.pending_count = entries.len() as u64;
        Ok(())
    }

    /// Every committed and just-appended entry, for the semantic audit.
    pub(crate) fn entries_store(&self) -> Result<EntriesStore, MonitorError> {
        let (_, entries) = scan_entries(&self.dir.join(ENTRIES), self.frontier.size() + self.pending_count, true)?;
        Ok(EntriesStore(entries))
    }

    /// Records `cp` (its note as served) and the frontier that gives its
    /// root: `state.json` written to a temporary file, fsynced, renamed over
    /// the old one, and the directory fsynced.
    pub(crate) fn commit(
        &mut self,
        note_bytes: &[u8],
        cp: &Checkpoint,
        frontier: Frontier,
    ) -> Result<(), MonitorError> {
        let path = self.dir.join(STATE);
        let note_text = std::str::from_utf8(note_bytes).map_err(|_| err(&path, "the checkpoint is not UTF-8"))?;
        let body = serde_json::json!({
            "checkpoint": note_text,
            "size": cp.size,
            "frontier": frontier.hashes().iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
        });
        let tmp = self.dir.join(format!(".{STATE}.tmp"));
        let mut f = File::create(&tmp).map_err(|e| err(&tmp, e))?;
        f.write_all(body.to_string().as_bytes()).and_then(|()| f.sync_all()).map_err(|e| err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
        sync_dir(&self.dir)?;
        self.entries_len += self.pending;
        self.pending = 0;
        self.pending_count = 0;
        self.note = Some(note_bytes.to_vec());
        self.checkpoint = Some(cp.clone());
        self.frontier = frontier;
        Ok(())
    }
}

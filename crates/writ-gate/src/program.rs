//! The program file: opened once, hashed from the open descriptor, executed
//! from that same descriptor.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::LaunchError;
use crate::sys::{self, FileIdentity};

/// Largest program file the gate hashes (1 GiB).
pub const MAX_PROGRAM_BYTES: u64 = 1 << 30;

/// An open program file and the SHA-256 of its bytes, read from the open
/// descriptor.
///
/// INVARIANT: the descriptor hashed is the descriptor executed
/// (`execveat(fd, "", …, AT_EMPTY_PATH)`), so renaming, replacing or
/// symlink-swapping the path after [`Program::open`] cannot change what runs. A
/// rewrite of the same inode in place changes its size or times, which the child
/// re-checks with `fstat` immediately before the exec (and the kernel refuses to
/// exec a file that is open for writing, `ETXTBSY`).
#[derive(Debug)]
pub struct Program {
    file: File,
    path: PathBuf,
    sha256: [u8; 32],
    identity: FileIdentity,
    script: bool,
}

impl Program {
    /// Opens `path` (which must be absolute: the gate never searches `PATH`)
    /// and hashes it from the open descriptor.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Program`] if the path is relative, cannot be opened, is not
    /// a regular file, is larger than [`MAX_PROGRAM_BYTES`] or cannot be read.
    pub fn open(path: &Path) -> Result<Self, LaunchError> {
        let err = |detail: String| LaunchError::Program { path: path.to_path_buf(), detail };
        if !path.is_absolute() {
            return Err(err("the program path must be absolute".into()));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .map_err(|e| err(format!("cannot open: {e}")))?;
        let (identity, mode) = sys::fstat_identity(file.as_raw_fd()).map_err(|e| err(format!("cannot stat: {e}")))?;
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(err("not a regular file".into()));
        }
        let size = u64::try_from(identity.size).unwrap_or(u64::MAX);
        if size > MAX_PROGRAM_BYTES {
            return Err(err(format!("larger than {MAX_PROGRAM_BYTES} bytes")));
        }
        let (sha256, head) = hash_fd(&file, size).map_err(|e| err(format!("cannot read: {e}")))?;
        Ok(Self { file, path: path.to_path_buf(), sha256, identity, script: head == *b"#!" })
    }

    /// The path the program was opened from (for records and messages only;
    /// it is never opened again).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the bytes read from the open descriptor.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// [`Program::sha256`] as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Whether the file starts with `#!` (an interpreter script).
    pub fn is_script(&self) -> bool {
        self.script
    }

    pub(crate) fn into_parts(self) -> (File, FileIdentity, bool) {
        (self.file, self.identity, self.script)
    }
}

/// Hashes exactly `size` bytes with positional reads (the descriptor's offset is
/// left alone) and returns the digest and the first two bytes.
fn hash_fd(file: &File, size: u64) -> io::Result<([u8; 32], [u8; 2])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = [0u8; 2];
    let mut off: u64 = 0;
    loop {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        if off == 0
            && let Some(h) = chunk.get(..2)
        {
            head.copy_from_slice(h);
        }
        hasher.update(chunk);
        off = off.saturating_add(n as u64);
        if off > size {
            // The file grew while it was being read: it is being written to.
            return Err(io::Error::other("the file changed while it was hashed"));
        }
    }
    if off != size {
        return Err(io::Error::other("the file changed while it was hashed"));
    }
    Ok((hasher.finalize().into(), head))
}

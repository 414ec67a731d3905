//! The program file: read once into a sealed memfd while it is hashed, and
//! executed from that memfd.
//!
//! INVARIANT: the bytes hashed are the bytes that run. [`Program::open`] reads
//! the file once, feeding every chunk both to SHA-256 and into a new memfd,
//! then seals the memfd (`F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
//! F_SEAL_SEAL`). The launcher executes the memfd (`execveat(…, AT_EMPTY_PATH)`),
//! so renaming, replacing, symlink-swapping or rewriting the file in place
//! after `open` — even while the program runs — changes nothing that runs.
//!
//! A `#!` script is not handed to the kernel's script loader (which would
//! reopen the interpreter by path and hand it a path to read the script from).
//! The gate parses the `#!` line itself, reads the interpreter into a sealed
//! memfd as well (its digest is [`Program::interpreter`], for the record), and
//! executes the sealed interpreter with the sealed script as `/proc/self/fd/N`:
//! `argv = [interpreter, optional #! argument, /proc/self/fd/N, args…]`, as
//! the kernel would build it but with the script's path replaced by its sealed
//! copy. The writ binds the script by its digest; a writ that must bind the
//! interpreter too names the interpreter as its program and the script as a
//! `file` argument. Interpreters that are themselves scripts are refused.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::LaunchError;
use crate::sys;

/// Largest program file the gate hashes (1 GiB).
pub const MAX_PROGRAM_BYTES: u64 = 1 << 30;

/// Largest `#!` line the kernel reads (`BINPRM_BUF_SIZE`).
const MAX_SHEBANG: usize = 256;

/// A read-only copy of a file's bytes in a sealed memfd, and their SHA-256.
///
/// Used for the program, a script's interpreter, and file arguments a writ
/// binds by digest (`ArgRule::File`): the program receives
/// [`SealedFile::proc_path`] in place of the path and reads exactly the
/// bytes that were hashed.
#[derive(Debug)]
pub struct SealedFile {
    path: PathBuf,
    sha256: [u8; 32],
    memfd: OwnedFd,
    head: Vec<u8>,
}

impl SealedFile {
    /// Reads the regular file at the absolute `path` into a sealed memfd,
    /// hashing it on the way.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Program`] if the path is relative, cannot be opened, is
    /// not a regular file, is larger than [`MAX_PROGRAM_BYTES`], cannot be
    /// read, or the memfd cannot be created or sealed.
    pub fn open(path: &Path) -> Result<Self, LaunchError> {
        let err = |detail: String| LaunchError::Program { path: path.to_path_buf(), detail };
        if !path.is_absolute() {
            return Err(err("the path must be absolute".into()));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .map_err(|e| err(format!("cannot open: {e}")))?;
        let meta = file.metadata().map_err(|e| err(format!("cannot stat: {e}")))?;
        if !meta.file_type().is_file() {
            return Err(err("not a regular file".into()));
        }
        if meta.len() > MAX_PROGRAM_BYTES {
            return Err(err(format!("larger than {MAX_PROGRAM_BYTES} bytes")));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let memfd = sys::memfd(&name).map_err(|e| err(format!("cannot create a memfd: {e}")))?;
        let (sha256, head) = copy_hashing(file, &memfd).map_err(|e| err(format!("cannot read: {e}")))?;
        sys::seal(memfd.as_raw_fd()).map_err(|e| err(format!("cannot seal the copy: {e}")))?;
        Ok(Self { path: path.to_path_buf(), sha256, memfd, head })
    }

    /// The path the file was read from (for records and messages only; it is
    /// never opened again).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the sealed bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// A new read-only descriptor on the sealed copy (for handing to the
    /// program), close-on-exec until the launcher clears it in the child.
    pub(crate) fn reader(&self) -> io::Result<OwnedFd> {
        let f = File::open(format!("/proc/self/fd/{}", self.memfd.as_raw_fd()))?;
        let fd: OwnedFd = f.into();
        // Keep it clear of stdio (see `sys::memfd`).
        if fd.as_raw_fd() > 2 { Ok(fd) } else { fd.try_clone() }
    }

    fn memfd(&self) -> &OwnedFd {
        &self.memfd
    }
}

/// Reads `from` to its end, hashing every chunk and writing it to `to`;
/// returns the digest and the first [`MAX_SHEBANG`] bytes.
fn copy_hashing(mut from: File, to: &OwnedFd) -> io::Result<([u8; 32], Vec<u8>)> {
    let mut out = File::from(to.try_clone()?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut total: u64 = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if head.len() < MAX_SHEBANG {
            let take = (MAX_SHEBANG - head.len()).min(chunk.len());
            head.extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
        hasher.update(chunk);
        out.write_all(chunk)?;
        total = total.saturating_add(n as u64);
        if total > MAX_PROGRAM_BYTES {
            return Err(io::Error::other(format!("the file grew past {MAX_PROGRAM_BYTES} bytes while it was read")));
        }
    }
    Ok((hasher.finalize().into(), head))
}

/// A `#!` script's interpreter, read into a sealed memfd like the program.
#[derive(Debug)]
struct Interpreter {
    file: SealedFile,
    /// The optional single argument after the interpreter on the `#!` line.
    arg: Option<OsString>,
}

/// The program: its sealed bytes and their SHA-256, and for a `#!` script its
/// sealed interpreter.
#[derive(Debug)]
pub struct Program {
    file: SealedFile,
    interpreter: Option<Interpreter>,
}

/// What the launcher executes for a [`Program`].
#[derive(Debug)]
pub(crate) struct Exec {
    /// The sealed memfd passed to `execveat`.
    pub(crate) exec_fd: OwnedFd,
    /// For a script: the argv elements that replace `argv[0]` (interpreter
    /// path, optional `#!` argument) and the sealed script, whose descriptor
    /// number goes into argv as `/proc/self/fd/N`.
    pub(crate) script: Option<(Vec<OsString>, OwnedFd)>,
    /// The memfds (kept open until the program started).
    pub(crate) keep: Vec<OwnedFd>,
}

impl Program {
    /// Opens `path` (which must be absolute: the gate never searches `PATH`),
    /// reads it into a sealed memfd while hashing it, and for a `#!` script
    /// does the same with its interpreter.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Program`] if the path is relative, cannot be opened, is not
    /// a regular file, is larger than [`MAX_PROGRAM_BYTES`], cannot be read or
    /// sealed, or is a script whose `#!` line names no absolute interpreter, an
    /// interpreter that cannot be opened, or an interpreter that is a script.
    pub fn open(path: &Path) -> Result<Self, LaunchError> {
        let file = SealedFile::open(path)?;
        let interpreter = match shebang(&file.head) {
            None => None,
            Some(parsed) => {
                let err = |detail: String| LaunchError::Program { path: path.to_path_buf(), detail };
                let (interp, arg) = parsed.map_err(err)?;
                let sealed = SealedFile::open(&interp).map_err(|e| err(format!("interpreter: {e}")))?;
                if sealed.head.starts_with(b"#!") {
                    return Err(err(format!(
                        "the interpreter `{}` is itself a script; name its interpreter in the `#!` line",
                        interp.display()
                    )));
                }
                Some(Interpreter { file: sealed, arg })
            }
        };
        Ok(Self { file, interpreter })
    }

    /// The path the program was opened from (for records and messages only;
    /// it is never opened again).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// SHA-256 of the sealed bytes (what runs).
    pub fn sha256(&self) -> &[u8; 32] {
        self.file.sha256()
    }

    /// [`Program::sha256`] as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.file.sha256())
    }

    /// Whether the file starts with `#!` (an interpreter script).
    pub fn is_script(&self) -> bool {
        self.interpreter.is_some()
    }

    /// For a script: the interpreter's path and the SHA-256 of the sealed copy
    /// of it that runs.
    pub fn interpreter(&self) -> Option<(&Path, &[u8; 32])> {
        self.interpreter.as_ref().map(|i| (i.file.path(), i.file.sha256()))
    }

    pub(crate) fn into_exec(self) -> io::Result<Exec> {
        match self.interpreter {
            None => {
                let exec_fd = self.file.memfd().try_clone()?;
                Ok(Exec { exec_fd, script: None, keep: vec![self.file.memfd] })
            }
            Some(i) => {
                let exec_fd = i.file.memfd().try_clone()?;
                let reader = self.file.reader()?;
                let mut prefix = vec![i.file.path().as_os_str().to_owned()];
                prefix.extend(i.arg);
                Ok(Exec { exec_fd, script: Some((prefix, reader)), keep: vec![self.file.memfd, i.file.memfd] })
            }
        }
    }
}

/// Parses a `#!` line as the kernel does (`fs/binfmt_script.c`): the
/// interpreter up to the first blank, then the rest of the line, trimmed, as
/// one optional argument. `None` if the file is not a script.
fn shebang(head: &[u8]) -> Option<Result<(PathBuf, Option<OsString>), String>> {
    let rest = head.strip_prefix(b"#!")?;
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        return Some(Err(format!("the `#!` line is longer than {MAX_SHEBANG} bytes or not terminated")));
    };
    let line = rest.get(..end).unwrap_or_default();
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = trim(line, blank);
    let (interp, arg) = match line.iter().position(blank) {
        None => (line, None),
        Some(i) => {
            let a = trim(line.get(i..).unwrap_or_default(), blank);
            (line.get(..i).unwrap_or_default(), (!a.is_empty()).then(|| OsString::from_vec(a.to_vec())))
        }
    };
    let interp = PathBuf::from(OsString::from_vec(interp.to_vec()));
    if !interp.is_absolute() {
        return Some(Err(format!("the `#!` interpreter `{}` is not an absolute path", interp.display())));
    }
    Some(Ok((interp, arg)))
}

fn trim(mut s: &[u8], blank: impl Fn(&u8) -> bool) -> &[u8] {
    while let [first, rest @ ..] = s
        && blank(first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && blank(last)
    {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_parse_like_the_kernel() {
        let p = |s: &[u8]| shebang(s).map(|r| r.map(|(i, a)| (i.display().to_string(), a)));
        assert_eq!(p(b"\x7fELF"), None);
        assert_eq!(p(b"#!/bin/sh\necho"), Some(Ok(("/bin/sh".into(), None))));
        assert_eq!(p(b"#! /bin/sh -e \n"), Some(Ok(("/bin/sh".into(), Some("-e".into())))));
        assert_eq!(p(b"#!/usr/bin/env python3 -u\n"), Some(Ok(("/usr/bin/env".into(), Some("python3 -u".into())))));
        assert!(matches!(p(b"#!sh\n"), Some(Err(_))));
        assert!(matches!(p(b"#!/bin/sh"), Some(Err(_))), "unterminated within the buffer");
    }

    #[test]
    fn the_copy_is_sealed_and_hashes_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let f = SealedFile::open(&path).unwrap();
        assert_eq!(f.sha256(), &<[u8; 32]>::from(Sha256::digest(b"hello")));
        let seals = sys::seals(f.memfd.as_raw_fd()).unwrap();
        let want = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
        assert_eq!(seals & want, want);
        // Neither the memfd nor a reopened descriptor can change the bytes.
        let mut w = std::fs::OpenOptions::new().write(true).open(format!("/proc/self/fd/{}", f.memfd.as_raw_fd()));
        if let Ok(w) = &mut w {
            assert!(w.write_all(b"evil").is_err());
        }
        std::fs::write(&path, b"changed").unwrap();
        let mut s = String::new();
        File::from(f.reader().unwrap()).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }
}

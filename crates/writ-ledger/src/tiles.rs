//! C2SP `tlog-tiles`: building tiles from the store and writing them to a
//! directory any static file server can serve.
//!
//! Layout under the tiles directory: `checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`. Full tiles are immutable; partial tiles are
//! rewritten (as new `.p/<W>` files) as the tree grows. Every file is written
//! to a temporary name, fsynced and renamed, and `checkpoint` is written last,
//! so a reader never sees a checkpoint whose tiles are missing.

use std::io::Write as _;
use std::path::Path;

use writ_tlog::checkpoint;
use writ_tlog::note::VerifierKey;
use writ_tlog::tile::{self, TILE_HEIGHT, TILE_WIDTH, Tile};

use crate::checkpoint::SignedCheckpoint;
use crate::error::{LedgerError, Result};
use crate::store::Store;

/// The bytes of `tile` for a tree of `size` entries.
///
/// # Errors
/// [`LedgerError::OutOfRange`] if the tile is not (yet) available at `size`.
pub fn tile_bytes(store: &mut dyn Store, t: &Tile, size: u64) -> Result<Vec<u8>> {
    let w = u64::from(t.width);
    let end = t.index.saturating_mul(TILE_WIDTH).saturating_add(w);
    match t.level {
        None => {
            if end > size {
                return Err(LedgerError::OutOfRange { index: end.saturating_sub(1), size });
            }
            let rows = store.scan_entries(t.index * TILE_WIDTH, t.width.into())?;
            if rows.len() as u64 != w {
                return Err(LedgerError::Corrupt(format!("entries of bundle {} are missing", t.index)));
            }
            for (expect, (i, _)) in (t.index * TILE_WIDTH..).zip(rows.iter()) {
                if *i != expect {
                    return Err(LedgerError::Corrupt(format!("entry {expect} is missing")));
                }
            }
            Ok(tile::encode_bundle(rows.iter().map(|(_, d)| d.as_slice()))?)
        }
        Some(l) => {
            let shift = u32::from(l) * TILE_HEIGHT;
            if shift >= 64 || end > (size >> shift) {
                return Err(LedgerError::OutOfRange { index: end.saturating_sub(1), size });
            }
            let ix: Vec<u64> = t.nodes().iter().map(|n| n.stored_index()).collect();
            let hashes = store.read_hashes(&ix)?;
            Ok(hashes.concat())
        }
    }
}

fn write_atomic(dir: &Path, rel: &str, data: &[u8]) -> Result<()> {
    let path = dir.join(rel);
    let parent = path.parent().unwrap_or(dir);
    let ctx = |what: &str| format!("cannot {what} tile file `{}`", path.display());
    std::fs::create_dir_all(parent).map_err(|e| LedgerError::io(ctx("create the directory of"), e))?;
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("tile")
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| LedgerError::io(ctx("create"), e))?;
    f.write_all(data).map_err(|e| LedgerError::io(ctx("write"), e))?;
    f.sync_all().map_err(|e| LedgerError::io(ctx("sync"), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| LedgerError::io(ctx("rename"), e))?;
    Ok(())
}

/// Write every tile that changed between `from` and `cp`'s size, then `checkpoint`.
///
/// # Errors
/// Store and I/O errors.
pub fn write_tiles(store: &mut dyn Store, dir: &Path, from: u64, cp: &SignedCheckpoint) -> Result<()> {
    let size = cp.checkpoint.size;
    let from = from.min(size);
    let mut level: u8 = 0;
    loop {
        let shift = u32::from(level) * TILE_HEIGHT;
        if shift >= 64 || size >> shift == 0 {
            break;
        }
        for t in tile::tiles_for_size(Some(level), from, size) {
            let data = tile_bytes(store, &t, size)?;
            write_atomic(dir, &t.path(), &data)?;
        }
        level += 1;
    }
    for t in tile::tiles_for_size(None, from, size) {
        let data = tile_bytes(store, &t, size)?;
        write_atomic(dir, &t.path(), &data)?;
    }
    write_atomic(dir, "checkpoint", cp.note.as_bytes())
}

/// The size of the checkpoint already published in `dir` (0 if none or invalid).
#[must_use]
pub fn published_size(dir: &Path, origin: &str, verifier: &VerifierKey) -> u64 {
    std::fs::read(dir.join("checkpoint"))
        .ok()
        .and_then(|b| checkpoint::open(&b, origin, verifier).ok())
        .map_or(0, |c| c.size)
}

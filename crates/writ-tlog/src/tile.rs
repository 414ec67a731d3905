//! C2SP `tlog-tiles` (<https://c2sp.org/tlog-tiles>) paths and geometry.
//!
//! Hash tiles `tile/<L>/<N>[.p/<W>]` hold up to 256 hashes; a level-`L`
//! tile's hashes are tree nodes at height `8·L`. Entry bundles
//! `tile/entries/<N>[.p/<W>]` hold up to 256 entries, each prefixed by a
//! big-endian `u16` length. `N` is written in groups of three digits, every
//! group but the last prefixed with `x`: 1234067 → `x001/x234/067`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::TlogError;
use crate::tree::NodeId;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// Highest tile level accepted in a path.
pub const MAX_TILE_LEVEL: u8 = 5;
/// Longest tile path accepted.
pub const MAX_TILE_PATH: usize = 96;
/// Largest entry that fits an entry bundle (u16 length prefix).
pub const MAX_BUNDLE_ENTRY: usize = u16::MAX as usize;

/// A tile: level, index, and width (1..=256; 256 is a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// `None` for entry bundles, `Some(L)` for hash tiles at tile level `L`.
    pub level: Option<u8>,
    /// Tile index `N`.
    pub index: u64,
    /// Number of hashes / entries, 1..=256.
    pub width: u16,
}

impl Tile {
    /// Whether this tile is full (width 256).
    #[must_use]
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path, relative to the log prefix (`tile/0/x001/234.p/5`).
    #[must_use]
    pub fn path(&self) -> String {
        let l = match self.level {
            Some(l) => format!("{l}"),
            None => String::from("entries"),
        };
        let mut p = format!("tile/{l}/{}", encode_index(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parse a path like `tile/0/x001/234.p/5` or `tile/entries/000`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] for anything not in canonical form.
    pub fn parse_path(path: &str) -> Result<Self, TlogError> {
        let bad = |detail| TlogError::Malformed { what: "tile path", detail };
        if path.len() > MAX_TILE_PATH {
            return Err(TlogError::TooLarge { what: "tile path", max: MAX_TILE_PATH });
        }
        let rest = path.strip_prefix("tile/").ok_or(bad("must start with `tile/`"))?;
        let (l, rest) = rest.split_once('/').ok_or(bad("missing level"))?;
        let level = if l == "entries" {
            None
        } else {
            if l.is_empty() || l.len() > 1 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("level must be a single decimal digit or `entries`"));
            }
            let v: u8 = l.parse().map_err(|_| bad("level"))?;
            if v > MAX_TILE_LEVEL {
                return Err(bad("level too high"));
            }
            Some(v)
        };
        let (n, width) = match rest.split_once(".p/") {
            Some((n, w)) => {
                if w.is_empty() || w.starts_with('0') || w.len() > 3 || !w.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("partial width must be decimal 1..255 without leading zeros"));
                }
                let w: u16 = w.parse().map_err(|_| bad("width"))?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(bad("partial width must be 1..255"));
                }
                (n, w)
            }
            None => (rest, 256),
        };
        let index = decode_index(n).ok_or(bad("index must be `x`-prefixed groups of three digits"))?;
        Ok(Self { level, index, width })
    }

    /// The tree nodes whose hashes this hash tile holds, in order
    /// (empty for an entry bundle).
    #[must_use]
    pub fn nodes(&self) -> Vec<NodeId> {
        let Some(l) = self.level else {
            return Vec::new();
        };
        let level = (u32::from(l) * TILE_HEIGHT) as u8;
        let start = self.index * TILE_WIDTH;
        (0..u64::from(self.width)).map(|i| NodeId { level, index: start + i }).collect()
    }
}

/// Encode a tile index as `x`-prefixed groups of three digits.
#[must_use]
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            s.push_str(&format!("x{g:03}/"));
        } else {
            s.push_str(&format!("{g:03}"));
        }
    }
    s
}

fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let last = parts.len().checked_sub(1)?;
    if last > 6 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i < last { p.strip_prefix('x')? } else { p };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let g: u64 = digits.parse().ok()?;
        if i == 0 && last > 0 && g == 0 {
            return None; // not canonical: leading zero group
        }
        n = n.checked_mul(1000)?.checked_add(g)?;
    }
    Some(n)
}

/// The tiles (full and the one partial, if any) at tile level `level` for a
/// tree of `size` leaves, restricted to tiles that changed since `old_size`.
/// `level = None` lists entry bundles.
#[must_use]
pub fn tiles_for_size(level: Option<u8>, old_size: u64, size: u64) -> Vec<Tile> {
    let shift = u32::from(level.unwrap_or(0)) * TILE_HEIGHT;
    let nodes = size >> shift; // nodes at this tile's base level
    let old_nodes = old_size >> shift;
    let mut out = Vec::new();
    if nodes == old_nodes {
        return out;
    }
    let first = old_nodes / TILE_WIDTH;
    let end_full = nodes / TILE_WIDTH;
    for index in first..end_full {
        out.push(Tile { level, index, width: 256 });
    }
    let rem = nodes % TILE_WIDTH;
    if rem > 0 {
        out.push(Tile { level, index: end_full, width: rem as u16 });
    }
    out
}

/// Encode entries as an entry bundle (`u16` big-endian length prefixes).
///
/// # Errors
/// [`TlogError::TooLarge`] if an entry exceeds [`MAX_BUNDLE_ENTRY`].
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, TlogError> {
    let mut out = Vec::new();
    for e in entries {
        let len =
            u16::try_from(e.len()).map_err(|_| TlogError::TooLarge { what: "bundle entry", max: MAX_BUNDLE_ENTRY })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decode an entry bundle.
///
/// # Errors
/// [`TlogError::Malformed`] on truncation or more than 256 entries.
pub fn decode_bundle(data: &[u8]) -> Result<Vec<Vec<u8>>, TlogError> {
    let bad = |detail| TlogError::Malformed { what: "entry bundle", detail };
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if out.len() as u64 >= TILE_WIDTH {
            return Err(bad("more than 256 entries"));
        }
        let (len, r) = rest.split_first_chunk::<2>().ok_or(bad("truncated length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (e, r) = r.split_at_checked(len).ok_or(bad("truncated entry"))?;
        out.push(e.to_vec());
        rest = r;
    }
    Ok(out)
}

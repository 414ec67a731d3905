//! Time without a clock: UTC instants as Unix seconds, written in the one
//! RFC 3339 form writ accepts, `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! The core never reads the system clock; the current time always arrives
//! through the verification context.

use alloc::string::String;
use core::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// An instant, in whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(pub i64);

/// Earliest accepted instant: 1970-01-01T00:00:00Z.
const MIN: i64 = 0;
/// Latest accepted instant: 9999-12-31T23:59:59Z.
const MAX: i64 = 253_402_300_799;

impl Timestamp {
    /// Builds a timestamp from Unix seconds, within year 1970..=9999.
    #[must_use]
    pub fn from_unix(secs: i64) -> Option<Self> {
        (MIN..=MAX).contains(&secs).then_some(Self(secs))
    }

    /// Unix seconds.
    #[must_use]
    pub fn unix(self) -> i64 {
        self.0
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` exactly (no offsets other than `Z`, no
    /// fractional seconds, no leap seconds).
    ///
    /// # Errors
    /// Returns a message naming the expected form.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const FORM: &str = "time must be RFC 3339 UTC of the form YYYY-MM-DDTHH:MM:SSZ";
        let b = text.as_bytes();
        if b.len() != 20 {
            return Err(FORM);
        }
        let digits = |range: core::ops::Range<usize>| -> Result<i64, &'static str> {
            let part = b.get(range).ok_or(FORM)?;
            let mut v: i64 = 0;
            for &c in part {
                if !c.is_ascii_digit() {
                    return Err(FORM);
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Ok(v)
        };
        let sep = |i: usize, c: u8| b.get(i) == Some(&c);
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':') && sep(19, b'Z')) {
            return Err(FORM);
        }
        let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (h, mi, s) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if y < 1970 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
            return Err("time is out of range (year 1970-9999, valid month, day, hour, minute, second)");
        }
        Ok(Self(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s))
    }

    /// The canonical text form.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        alloc::format!("{self}")
    }

    /// `self + secs`, saturating within the accepted range.
    #[must_use]
    pub fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs).clamp(MIN, MAX))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(de::Error::custom)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().0, 0);
        assert_eq!(Timestamp::parse("2026-11-26T03:21:12Z").unwrap().0, 1_795_663_272);
        assert_eq!(Timestamp::parse("2000-02-29T12:00:00Z").unwrap().to_rfc3339(), "2000-02-29T12:00:00Z");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "2026-11-26T03:21:12+00:00",
            "2026-11-26T03:21:12.5Z",
            "2026-11-26 03:21:12Z",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-11-26t03:21:12z",
            "+026-11-26T03:21:12Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(secs in MIN..=MAX) {
            let t = Timestamp(secs);
            prop_assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        }
    }
}

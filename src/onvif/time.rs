//! `xsd:duration` and `xsd:dateTime` as cameras write them (pure).
//!
//! Cameras send `…Z`, milliseconds, microseconds, and sometimes no zone at all (read as UTC).
//! We parse with jiff and only add the leniency it lacks.

use std::time::Duration;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};

/// Parses an ISO 8601 / `xsd:duration` such as `PT60S`, `PT10M`, `PT1H`, `P1DT2H` or `PT0.5S`.
/// Years and months have no fixed length and are refused.
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    // jiff also reads its friendly format ("10 minutes"); a camera sending that is broken.
    if !text.trim_start_matches(['-', '+']).starts_with(['P', 'p']) {
        return None;
    }
    if let Ok(d) = text.parse::<SignedDuration>() {
        return Some(d);
    }
    let span: Span = text.parse().ok()?;
    span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()
}

/// Formats a duration as whole seconds, `PT600S`: the form every camera accepts.
pub fn format_duration(d: Duration) -> String {
    format!("PT{}S", d.as_secs())
}

/// Parses an `xsd:dateTime`: with `Z` or an offset, with any fraction of a second, or without
/// a zone (taken as UTC, as Ajax sends it). `None` for nonsense such as `0000-00-00T00:00:00Z`.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: DateTime = text.parse().ok()?;
    TimeZone::UTC.to_timestamp(civil).ok()
}

/// Formats a timestamp as `xsd:dateTime` in UTC with whole seconds, `2026-11-29T08:15:00Z`.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Builds a timestamp from the separate fields of a GetSystemDateAndTime answer. Overflowing
/// fields (`Minute` 61, `Second` 60) are carried over instead of refused.
pub fn from_fields(
    year: i16,
    month: i8,
    day: i8,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<Timestamp> {
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    let midnight = TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()));
    let seconds = hour
        .checked_mul(3600)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    midnight
        .ok()?
        .checked_add(SignedDuration::from_secs(seconds))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table = [
            ("PT60S", 60_000),
            ("PT10M", 600_000),
            ("PT1H", 3_600_000),
            (" PT600S ", 600_000),
            ("PT0.5S", 500),
            ("P1DT1S", 86_401_000),
            ("PT1M30S", 90_000),
        ];
        assert!(!table.is_empty());
        for (text, millis) in table {
            let d = parse_duration(text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(d.as_millis(), millis, "{text:?}");
        }
        for bad in ["", "60", "P1Y", "PT", "10 minutes"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(600)), "PT600S");
    }

    #[test]
    fn times() {
        let base: Timestamp = "2026-11-29T08:15:00Z".parse().unwrap();
        let table = [
            ("2026-11-29T08:15:00Z", 0),
            ("2026-11-29T08:15:00.123Z", 123_000),
            ("2026-11-29T08:15:00.123456Z", 123_456),
            ("2026-11-29T08:15:00.123456", 123_456),
            ("2026-11-29T08:15:00", 0),
            ("2026-11-29T09:15:00+01:00", 0),
            ("\n 2026-11-29T08:15:00Z \n", 0),
        ];
        assert!(!table.is_empty());
        for (text, micros) in table {
            let t = parse_time(text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(
                t.duration_since(base),
                SignedDuration::from_micros(micros),
                "{text:?}"
            );
        }
        for bad in ["0000-00-00T00:00:00Z", "", "yesterday"] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
        assert_eq!(format_time(base), "2026-11-29T08:15:00Z");
    }

    #[test]
    fn fields_carry_overflow() {
        let t = from_fields(2024, 8, 17, 0, 61, 16).unwrap();
        assert_eq!(format_time(t), "2024-08-17T01:01:16Z");
        assert_eq!(from_fields(2024, 13, 1, 0, 0, 0), None);
    }
}

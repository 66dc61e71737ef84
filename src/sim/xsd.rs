//! XML Schema time values as ONVIF uses them: `xsd:duration` (`PT60S`), `xsd:dateTime`
//! (`2024-05-01T12:00:00Z`), and the WS-BaseNotification "duration or date-time" union used by
//! InitialTerminationTime and Renew.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, SpanRelativeTo, Timestamp};

/// Parses an `xsd:duration` (days count as 24 hours; months and years are refused).
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    if let Ok(d) = text.parse::<SignedDuration>() {
        return Some(d);
    }
    let span: jiff::Span = text.parse().ok()?;
    span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()
}

/// Parses an `xsd:dateTime`; a value without an offset is taken as UTC.
pub fn parse_date_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: DateTime = text.parse().ok()?;
    civil
        .to_zoned_datetime(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Formats a time as `xsd:dateTime` in UTC with whole seconds (`2024-05-01T12:00:00Z`).
pub fn format_date_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats a time with milliseconds, as cameras stamp `UtcTime`.
pub fn format_precise(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A requested termination: relative (`PT10M`) or absolute (`2024-05-01T12:10:00Z`), resolved
/// to a duration from `now` (the device clock). `None` when it is neither.
pub fn parse_termination(text: &str, now: Timestamp) -> Option<SignedDuration> {
    let text = text.trim();
    if text.starts_with('P') || text.starts_with("-P") {
        return parse_duration(text);
    }
    parse_date_time(text).map(|t| t.duration_since(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("PT1S", Some(1.0)),
            ("PT60S", Some(60.0)),
            ("PT5M", Some(300.0)),
            ("PT1H30M", Some(5400.0)),
            ("PT0.5S", Some(0.5)),
            ("P1D", Some(86400.0)),
            (" PT10S ", Some(10.0)),
            ("10", None),
            ("", None),
        ];
        assert!(!cases.is_empty());
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text).map(|d| d.as_secs_f64()),
                secs,
                "{text:?}"
            );
        }
    }

    #[test]
    fn date_times_and_terminations() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().expect("time");
        assert_eq!(parse_date_time("2024-05-01T12:00:00"), Some(now));
        assert_eq!(parse_date_time("2024-05-01T14:00:00+02:00"), Some(now));
        assert_eq!(format_date_time(now), "2024-05-01T12:00:00Z");
        assert_eq!(format_precise(now), "2024-05-01T12:00:00.000Z");
        let ten = SignedDuration::from_mins(10);
        assert_eq!(parse_termination("PT10M", now), Some(ten));
        assert_eq!(parse_termination("2024-05-01T12:10:00Z", now), Some(ten));
        assert_eq!(
            parse_termination("2024-05-01T11:59:00Z", now),
            Some(-SignedDuration::from_mins(1))
        );
        assert_eq!(parse_termination("soon", now), None);
    }
}

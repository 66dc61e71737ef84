//! Human units in the config: durations (`30s`, `10m`, `1h30m`, `30d`) and sizes (`8MiB`, `2GiB`).
//! Written here because the duration crates in our set either reject days (jiff's
//! `SignedDuration`) or are not in the measured crate set; the grammar is small.

use std::time::Duration;

/// Parses a duration such as `500ms`, `30s`, `10m`, `1h30m`, `30d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty; write a duration such as 30s, 10m or 30d".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration; write a number and a unit, such as 30s, 10m or 30d"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let millis: u64 = match unit {
            "ms" => 1,
            "s" | "sec" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => {
                return Err(format!(
                    "{text:?} has no unit; write {n}s, {n}m, {n}h or {n}d"
                ));
            }
            other => {
                return Err(format!(
                    "{text:?} has an unknown unit {other:?}; use ms, s, m, h, d or w"
                ));
            }
        };
        let add = n
            .checked_mul(millis)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        total = total
            .checked_add(Duration::from_millis(add))
            .ok_or_else(|| format!("{text:?} is too large"))?;
    }
    Ok(total)
}

/// Parses a size in bytes such as `8MiB`, `2GiB`, `500MB`, `4096` or `10 KiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return Err(format!(
            "{text:?} is not a size; write a number and a unit, such as 8MiB or 2GiB"
        ));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let factor: u64 = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "{text:?} has an unknown unit {other:?}; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("10m", 600_000),
            ("1h30m", 5_400_000),
            ("1h 30m", 5_400_000),
            ("30d", 2_592_000_000),
            ("2w", 1_209_600_000),
            ("0s", 0),
        ];
        assert!(!cases.is_empty());
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "10", "ten seconds", "5y", "s", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("10").unwrap_err().contains("10s"));
    }

    #[test]
    fn sizes() {
        let cases = [
            ("4096", 4096),
            ("8MiB", 8 << 20),
            ("2GiB", 2 << 30),
            ("10 KiB", 10 << 10),
            ("500MB", 500_000_000),
        ];
        assert!(!cases.is_empty());
        for (text, n) in cases {
            assert_eq!(parse_size(text), Ok(n), "{text}");
        }
        for bad in ["", "MiB", "8 mb", "1 PiB", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! Watson's date and time helpers over text values: `yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss`
//! (optionally followed by an IANA zone), `HH:mm:ss` and `HH:mm` — the formats Watson's system
//! entities and `now()` produce. Formatting follows Java's `SimpleDateFormat` letters, in
//! English, as Watson's `reformatDateTime` does.
//!
//! Where IBM's documentation is silent (what a time shift of a date-time returns), fluxo follows
//! the documentation's examples: day, month and year shifts keep the input's form; hour, minute
//! and second shifts return `HH:mm:ss`.

use jiff::civil::{Date, DateTime, Time};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// A parsed date/time text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Date(Date),
    Time(Time),
    DateTime(DateTime),
}

fn parse(s: &str) -> Result<Moment, String> {
    let t = s.trim();
    // A trailing zone name (`yyyy-MM-dd HH:mm:ss Europe/London`) does not change the wall time.
    let t = match t.rsplit_once(' ') {
        Some((head, zone)) if zone.contains('/') || zone.starts_with("GMT") => head,
        _ => t,
    };
    if let Ok(dt) = DateTime::strptime("%Y-%m-%d %H:%M:%S", t) {
        return Ok(Moment::DateTime(dt));
    }
    if let Ok(dt) = DateTime::strptime("%Y-%m-%d %H:%M", t) {
        return Ok(Moment::DateTime(dt));
    }
    if let Ok(d) = Date::strptime("%Y-%m-%d", t) {
        return Ok(Moment::Date(d));
    }
    if let Ok(tm) = Time::strptime("%H:%M:%S", t) {
        return Ok(Moment::Time(tm));
    }
    if let Ok(tm) = Time::strptime("%H:%M", t) {
        return Ok(Moment::Time(tm));
    }
    Err(format!(
        "`{}` is not a date or time (yyyy-MM-dd, yyyy-MM-dd HH:mm:ss, HH:mm:ss)",
        short(s)
    ))
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Orders two date/time texts. A time compared with a date (or a date with a time) is an error,
/// as Watson documents; a date-time compared with a time compares the times only.
pub(crate) fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (x, y) = (parse(a)?, parse(b)?);
    Ok(match (x, y) {
        (Moment::Date(p), Moment::Date(q)) => p.cmp(&q),
        (Moment::Time(p), Moment::Time(q)) => p.cmp(&q),
        (Moment::DateTime(p), Moment::DateTime(q)) => p.cmp(&q),
        (Moment::DateTime(p), Moment::Time(q)) => p.time().cmp(&q),
        (Moment::DateTime(p), Moment::Date(q)) => p.date().cmp(&q),
        (Moment::Date(p), Moment::DateTime(q)) => p.cmp(&q.date()),
        _ => {
            return Err(format!(
                "cannot compare `{}` with `{}`: one is a date, the other a time",
                short(a),
                short(b)
            ))
        }
    })
}

/// Units of [`shift`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Days,
    Months,
    Years,
    Hours,
    Minutes,
    Seconds,
}

/// Moves a date/time by `n` units.
pub(crate) fn shift(s: &str, unit: Unit, n: i64) -> Result<String, String> {
    let m = parse(s)?;
    let overflow = || format!("`{}` moved by {n} is out of range", short(s));
    let span = match unit {
        Unit::Days => jiff::Span::new().try_days(n),
        Unit::Months => jiff::Span::new().try_months(n),
        Unit::Years => jiff::Span::new().try_years(n),
        Unit::Hours => jiff::Span::new().try_hours(n),
        Unit::Minutes => jiff::Span::new().try_minutes(n),
        Unit::Seconds => jiff::Span::new().try_seconds(n),
    }
    .map_err(|_| overflow())?;
    let date_unit = matches!(unit, Unit::Days | Unit::Months | Unit::Years);
    Ok(match m {
        Moment::Date(d) if date_unit => d.checked_add(span).map_err(|_| overflow())?.to_string(),
        Moment::DateTime(dt) if date_unit => {
            fmt_datetime(dt.checked_add(span).map_err(|_| overflow())?)
        }
        Moment::Time(t) if !date_unit => fmt_time(t.wrapping_add(span)),
        Moment::DateTime(dt) if !date_unit => {
            fmt_time(dt.checked_add(span).map_err(|_| overflow())?.time())
        }
        _ => {
            return Err(format!(
                "`{}` is a {} and cannot move by {}",
                short(s),
                if date_unit { "time" } else { "date" },
                match unit {
                    Unit::Days => "days",
                    Unit::Months => "months",
                    Unit::Years => "years",
                    Unit::Hours => "hours",
                    Unit::Minutes => "minutes",
                    Unit::Seconds => "seconds",
                }
            ))
        }
    })
}

fn fmt_time(t: Time) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

fn fmt_datetime(dt: DateTime) -> String {
    format!("{} {}", dt.date(), fmt_time(dt.time()))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Formats a date/time text with a Java `SimpleDateFormat` pattern (English names). A time
/// alone is on 1970-01-01, as Watson documents.
pub(crate) fn reformat(s: &str, pattern: &str) -> Result<String, String> {
    let dt = match parse(s)? {
        Moment::Date(d) => d.to_datetime(Time::midnight()),
        Moment::Time(t) => Date::constant(1970, 1, 1).to_datetime(t),
        Moment::DateTime(dt) => dt,
    };
    if pattern.len() > 256 {
        return Err("the date pattern is longer than 256 characters".into());
    }
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\'' {
            // Quoted text; `''` is a single quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while let Some(&q) = chars.get(i) {
                if q == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(q);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        out.push_str(&field(dt, c, n)?);
    }
    Ok(out)
}

/// Java's week year (`Y`) with US weeks, as Watson formats: weeks start on Sunday and week 1
/// is the one with January 1, so the last days of December may belong to the next year.
fn week_year(d: Date) -> i64 {
    let to_saturday = 6 - i64::from(d.weekday().to_sunday_zero_offset());
    let saturday = d
        .checked_add(jiff::Span::new().days(to_saturday))
        .unwrap_or(d);
    i64::from(saturday.year())
}

fn pad(v: i64, n: usize) -> String {
    format!("{v:0n$}")
}

fn field(dt: DateTime, c: char, n: usize) -> Result<String, String> {
    let hour = i64::from(dt.hour());
    let weekday = usize::from(dt.weekday().to_monday_zero_offset().unsigned_abs());
    let month = usize::from(dt.month().unsigned_abs()).saturating_sub(1);
    Ok(match c {
        'G' => "AD".into(),
        'y' | 'Y' => {
            let y = if c == 'Y' {
                week_year(dt.date())
            } else {
                i64::from(dt.year())
            };
            if n == 2 {
                pad(y.rem_euclid(100), 2)
            } else {
                pad(y, n)
            }
        }
        'u' => (weekday + 1).to_string(),
        'M' | 'L' => match n {
            1 | 2 => pad(i64::from(dt.month()), n),
            3 => MONTHS.get(month).map_or("", |m| &m[..3]).to_owned(),
            _ => MONTHS.get(month).copied().unwrap_or("").to_owned(),
        },
        'd' => pad(i64::from(dt.day()), n),
        'D' => pad(i64::from(dt.day_of_year()), n),
        'E' => {
            let name = DAYS.get(weekday).copied().unwrap_or("");
            if n >= 4 {
                name.to_owned()
            } else {
                name.get(..3).unwrap_or(name).to_owned()
            }
        }
        'a' => if hour < 12 { "AM" } else { "PM" }.into(),
        'H' => pad(hour, n),
        'k' => pad(if hour == 0 { 24 } else { hour }, n),
        'K' => pad(hour % 12, n),
        'h' => pad(if hour % 12 == 0 { 12 } else { hour % 12 }, n),
        'm' => pad(i64::from(dt.minute()), n),
        's' => pad(i64::from(dt.second()), n),
        'S' => pad(i64::from(dt.millisecond()), n),
        'z' => "GMT".into(),
        'Z' => "+0000".into(),
        'X' => "Z".into(),
        other => return Err(format!("`{other}` is not a date pattern letter")),
    })
}

/// `now()` / `today()`: the conversation's clock (`__now` in the system roots, RFC 3339) in
/// `zone` (an IANA name; GMT when absent or unknown).
pub(crate) fn now(system: &Json, zone: Option<&str>, date_only: bool) -> Option<String> {
    let ts: jiff::Timestamp = system.get("__now")?.as_str()?.parse().ok()?;
    let tz = zone
        .and_then(|z| jiff::tz::TimeZone::get(z.trim()).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let explicit = zone.is_some_and(|z| jiff::tz::TimeZone::get(z.trim()).is_ok());
    let local = ts.to_zoned(tz);
    let dt = local.datetime();
    if date_only {
        return Some(dt.date().to_string());
    }
    let mut s = fmt_datetime(dt);
    if explicit {
        let secs = local.offset().seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let secs = secs.unsigned_abs();
        s.push_str(&format!(
            " GMT{sign}{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60
        ));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(
            reformat("2017-12-29", "EEEE, MMMM d").unwrap(),
            "Friday, December 29"
        );
        assert_eq!(reformat("20:00:00", "h:mm a").unwrap(), "8:00 PM");
        assert_eq!(reformat("2018-03-09", "MM/dd/yyyy").unwrap(), "03/09/2018");
        assert_eq!(reformat("2018-03-09", "EEEEE").unwrap(), "Friday");
        assert_eq!(reformat("2018-03-09", "E u").unwrap(), "Fri 5");
        // `Y` is the week year: 2026-12-27 is a Sunday, the week holds January 1, 2027.
        assert_eq!(reformat("2026-12-26", "Y").unwrap(), "2026");
        assert_eq!(reformat("2026-12-27", "YYYY yyyy").unwrap(), "2027 2026");
        assert_eq!(
            reformat("2018-03-09 00:05:00", "hh 'o''clock' a").unwrap(),
            "12 o'clock AM"
        );
    }

    #[test]
    fn comparisons_and_shifts() {
        assert_eq!(compare("2026-01-01", "2026-02-01"), Ok(Ordering::Less));
        assert_eq!(
            compare("2026-01-01 13:00:00", "12:00:00"),
            Ok(Ordering::Greater)
        );
        assert!(compare("12:00:00", "2026-01-01").is_err());
        assert_eq!(shift("2026-01-31", Unit::Months, 1).unwrap(), "2026-02-28");
        assert_eq!(shift("23:30:00", Unit::Hours, 1).unwrap(), "00:30:00");
        assert_eq!(
            shift("2026-01-01 08:00:00", Unit::Hours, 1).unwrap(),
            "09:00:00"
        );
        assert!(shift("2026-01-01", Unit::Days, i64::MAX).is_err());
    }
}

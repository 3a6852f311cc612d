//! Business hours of the human team.

use crate::error::{Error, ErrorKind};
use crate::model::Integration;

/// True when `now` is outside the integration's business hours (or on a holiday); an error of
/// kind [`ErrorKind::BusinessHours`] when they cannot be read (an unknown time zone).
pub fn out_of_hours(integ: &Integration, now: i64) -> Result<bool, Error> {
    let unreadable = |detail: String| Error::new(ErrorKind::BusinessHours, detail);
    let Some(bh) = &integ.business_hours else {
        return Ok(false);
    };
    let tz = jiff::tz::TimeZone::get(&bh.timezone)
        .map_err(|_| unreadable(format!("unknown time zone `{}`", bh.timezone)))?;
    let ts = jiff::Timestamp::from_millisecond(now).map_err(|e| unreadable(e.to_string()))?;
    let local = ts.to_zoned(tz);
    let date = local.date().to_string();
    if bh.holidays.contains(&date) {
        return Ok(true);
    }
    let day = match local.weekday() {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    };
    let hhmm = format!("{:02}:{:02}", local.hour(), local.minute());
    let open = bh.weekly.get(day).is_some_and(|ranges| {
        ranges
            .iter()
            .any(|[a, b]| a.as_str() <= hhmm.as_str() && hhmm.as_str() < b.as_str())
    });
    Ok(!open)
}

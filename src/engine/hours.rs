//! Business hours of the human team.

use crate::model::Integration;

/// True when `now` is outside the integration's business hours (or on a holiday).
pub fn out_of_hours(integ: &Integration, now: i64) -> Result<bool, String> {
    let Some(bh) = &integ.business_hours else {
        return Ok(false);
    };
    let tz = jiff::tz::TimeZone::get(&bh.timezone)
        .map_err(|_| format!("unknown time zone `{}`", bh.timezone))?;
    let ts = jiff::Timestamp::from_millisecond(now).map_err(|e| e.to_string())?;
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

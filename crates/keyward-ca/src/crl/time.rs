//! The two times of RFC 5280: `Time` (UTCTime through 2049, GeneralizedTime from 2050,
//! §4.1.2.5 / §5.1.2.4) and the GeneralizedTime of invalidityDate (§5.3.2).

use std::time::Duration;

use der::asn1::{GeneralizedTime, UtcTime};
use der::DateTime;
use x509_cert::time::Time;

use super::crl_err;
use crate::CaError;

/// The last year UTCTime may carry (RFC 5280: years 1950–2049).
const LAST_UTC_YEAR: u16 = 2049;

/// `unix` (seconds) as a DateTime; before 1970 or past 9999 is refused naming `field()` (a
/// closure: an entry's field name is only built for an error, not for every entry).
fn date_time(unix: i64, field: impl Fn() -> String) -> Result<DateTime, CaError> {
    let secs =
        u64::try_from(unix).map_err(|_| crl_err(&field(), format!("{unix} is before 1970")))?;
    DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|e| crl_err(&field(), format!("{unix} cannot be a date: {e}")))
}

/// `unix` as RFC 5280's `Time`: UTCTime through 2049, GeneralizedTime from 2050.
pub(super) fn rfc5280_time(unix: i64, field: impl Fn() -> String) -> Result<Time, CaError> {
    let dt = date_time(unix, &field)?;
    if dt.year() <= LAST_UTC_YEAR {
        UtcTime::from_date_time(dt)
            .map(Time::UtcTime)
            .map_err(|e| crl_err(&field(), e.to_string()))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// `unix` as a GeneralizedTime (whole seconds, `Z`), as invalidityDate always is.
pub(super) fn generalized_time(
    unix: i64,
    field: impl Fn() -> String,
) -> Result<GeneralizedTime, CaError> {
    date_time(unix, field).map(GeneralizedTime::from_date_time)
}

#[cfg(test)]
mod tests {
    use der::Encode;

    use super::*;

    /// 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z.
    const END_OF_2049: i64 = 2_524_607_999;

    #[test]
    fn utc_time_through_2049_generalized_time_after() {
        let last = rfc5280_time(END_OF_2049, || "t".into())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(last[0], 0x17, "UTCTime");
        assert_eq!(&last[2..], b"491231235959Z");
        let first = rfc5280_time(END_OF_2049 + 1, || "t".into())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(first[0], 0x18, "GeneralizedTime");
        assert_eq!(&first[2..], b"20500101000000Z");
    }

    #[test]
    fn invalidity_dates_are_generalized_times_and_bad_times_name_the_field() {
        let t = generalized_time(1_700_000_000, || "t".into())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&t[2..], b"20231114221320Z");
        let err = rfc5280_time(-1, || "this_update".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("this_update") && err.contains("before 1970"),
            "{err}"
        );
        let err = generalized_time(i64::MAX, || "invalidity_date".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalidity_date"), "{err}");
    }
}

//! The `keyward ra batch --csv` input: header, columns, field sizes, one row each. Every row
//! accepted has a subject, numbers counting up from 1, and no field over the size limit or
//! holding a control character other than a newline.
#![no_main]

use keyward_ra::batch::parse_rows;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = parse_rows("fuzz.csv", data) else {
        return;
    };
    assert!(!rows.is_empty());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.number, i + 1);
        assert!(!row.subject.is_empty());
        let fields = [
            Some(&row.subject),
            row.email.as_ref(),
            row.key_spec.as_ref(),
            row.pin_email.as_ref(),
            row.pin_letter.as_ref(),
            row.file.as_ref(),
        ];
        for field in fields.into_iter().flatten() {
            assert!(field.chars().count() <= 4096);
            assert!(!field.chars().any(|c| c.is_control() && c != '\n'));
            assert_eq!(field.trim(), field, "fields are trimmed");
        }
    }
});

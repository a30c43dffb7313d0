//! Norwegian organisation numbers, the way Maskinporten names consumers and
//! suppliers (`0192:<orgno>`).
//!
//! An organisation number has nine digits; the ninth is a mod-11 check digit
//! over the first eight with the weights 3 2 7 6 5 4 3 2: `11 - (sum mod 11)`,
//! where 11 means 0 and 10 means that no organisation number starts with
//! those eight digits. This module is the one place that check lives:
//! `#[require_consumer]` and `orgnos![]` apply it when the code compiles,
//! `maskinporten-actix` applies it to lists read at run time.
//!
//! ```
//! use maskinporten_names::orgno::{check_digit, validate, OrgnoErrorKind};
//!
//! assert!(validate("991825827").is_ok());
//! assert_eq!(check_digit(*b"99182582"), Some(7));
//!
//! let err = validate("123456789").unwrap_err();
//! assert_eq!(err.kind(), OrgnoErrorKind::CheckDigit);
//! assert!(err.to_string().contains("the check digit must be 5"));
//! ```

use std::fmt;

/// A valid organisation number, for messages that show what valid looks like.
pub const EXAMPLE: &str = "991825827";

/// The weights of the first eight digits.
const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

/// The check digit an organisation number starting with these eight ASCII
/// digits needs, or `None` when no digit works (the remainder gives 10) or
/// when a byte is not an ASCII digit.
pub fn check_digit(first_eight: [u8; 8]) -> Option<u8> {
    let mut sum = 0;
    for (byte, weight) in first_eight.iter().zip(WEIGHTS) {
        if !byte.is_ascii_digit() {
            return None;
        }
        sum += u32::from(byte - b'0') * weight;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        digit => Some(digit as u8),
    }
}

/// Checks that `orgno` is a Norwegian organisation number: exactly nine ASCII
/// digits whose last is the mod-11 check digit of the first eight.
///
/// The error says what is wrong in one sentence; for a wrong check digit it
/// says which digit those first eight digits need.
pub fn validate(orgno: &str) -> Result<(), OrgnoError> {
    if orgno.is_empty() {
        return Err(OrgnoError::new(
            OrgnoErrorKind::Empty,
            "the organisation number is empty",
        ));
    }
    if let Some(c) = orgno.chars().find(|c| !c.is_ascii_digit()) {
        return Err(OrgnoError::new(
            OrgnoErrorKind::NotDigits,
            format!(
                "`{}` is not a digit; an organisation number is nine digits and nothing else",
                c.escape_debug()
            ),
        ));
    }
    if orgno.len() != 9 {
        return Err(OrgnoError::new(
            OrgnoErrorKind::Length,
            format!(
                "an organisation number has nine digits, this one has {}",
                orgno.len()
            ),
        ));
    }
    let bytes = orgno.as_bytes();
    let first_eight: [u8; 8] = bytes[..8].try_into().expect("nine digits");
    let found = bytes[8] - b'0';
    let message = match check_digit(first_eight) {
        Some(digit) if digit == found => return Ok(()),
        Some(digit) => format!(
            "the check digit is wrong: for an organisation number starting with `{}`, \
             the check digit must be {digit}, not {found}",
            &orgno[..8]
        ),
        None => format!(
            "no organisation number starts with `{}`: the mod-11 check over those eight \
             digits leaves 10, which no check digit can match",
            &orgno[..8]
        ),
    };
    let message = if orgno == "123456789" {
        format!(
            "this is the placeholder from the NAIS documentation, not a real \
             organisation number; {message}"
        )
    } else {
        message
    };
    Err(OrgnoError::new(OrgnoErrorKind::CheckDigit, message))
}

/// Why a string is not an organisation number.
///
/// `Display` gives one sentence for a person; [`OrgnoError::kind`] gives the
/// category for code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgnoError {
    kind: OrgnoErrorKind,
    message: String,
}

impl OrgnoError {
    /// What kind of mistake the number holds.
    pub fn kind(&self) -> OrgnoErrorKind {
        self.kind
    }

    fn new(kind: OrgnoErrorKind, message: impl Into<String>) -> Self {
        OrgnoError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for OrgnoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OrgnoError {}

/// The categories of [`OrgnoError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrgnoErrorKind {
    /// The empty string.
    Empty,
    /// A character that is not an ASCII digit (a letter, a space, `-`).
    NotDigits,
    /// Not nine digits.
    Length,
    /// Nine digits, but the last is not the check digit of the first eight,
    /// or no check digit fits them.
    CheckDigit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers() {
        // Real organisation numbers, and the ones whose check digit is 0.
        for orgno in [EXAMPLE, "974760673", "974761076", "889640782", "910000020"] {
            assert_eq!(validate(orgno), Ok(()), "{orgno}");
        }
    }

    #[test]
    fn the_check_digit_follows_the_weights() {
        // 9*3 + 9*2 + 1*7 + 8*6 + 2*5 + 5*4 + 8*3 + 2*2 = 158; 158 % 11 = 4; 11 - 4 = 7.
        assert_eq!(check_digit(*b"99182582"), Some(7));
        // Sum 0 gives remainder 0, 11 - 0 = 11, which means 0.
        assert_eq!(check_digit(*b"00000000"), Some(0));
        // 1*3 + 2*2 + 3*7 + 4*6 + 5*5 + 6*4 + 7*3 + 8*2 = 138; 138 % 11 = 6; 11 - 6 = 5.
        assert_eq!(check_digit(*b"12345678"), Some(5));
        // 4*3 = 12; 12 % 11 = 1; 11 - 1 = 10: no check digit works.
        assert_eq!(check_digit(*b"40000000"), None);
        assert_eq!(check_digit(*b"4000000a"), None);
    }

    #[test]
    fn every_eight_digit_prefix_has_at_most_one_valid_number() {
        for prefix in ["99182582", "97476067", "40000000", "12345678"] {
            let valid: Vec<u8> = (0..=9)
                .filter(|d| validate(&format!("{prefix}{d}")).is_ok())
                .collect();
            let expected: Vec<u8> = check_digit(prefix.as_bytes().try_into().unwrap())
                .into_iter()
                .collect();
            assert_eq!(valid, expected, "{prefix}");
        }
    }

    #[test]
    fn rejects_with_a_message_that_names_the_mistake() {
        use OrgnoErrorKind::*;
        let cases: &[(&str, OrgnoErrorKind, &str)] = &[
            ("", Empty, "the organisation number is empty"),
            (
                "99182582",
                Length,
                "an organisation number has nine digits, this one has 8",
            ),
            (
                "9918258270",
                Length,
                "an organisation number has nine digits, this one has 10",
            ),
            (
                "99182582x",
                NotDigits,
                "`x` is not a digit; an organisation number is nine digits and nothing else",
            ),
            (
                "991 825 827",
                NotDigits,
                "` ` is not a digit; an organisation number is nine digits and nothing else",
            ),
            (
                "991825828",
                CheckDigit,
                "the check digit is wrong: for an organisation number starting with \
                 `99182582`, the check digit must be 7, not 8",
            ),
            (
                "400000000",
                CheckDigit,
                "no organisation number starts with `40000000`: the mod-11 check over \
                 those eight digits leaves 10, which no check digit can match",
            ),
            (
                "123456789",
                CheckDigit,
                "this is the placeholder from the NAIS documentation, not a real \
                 organisation number; the check digit is wrong: for an organisation \
                 number starting with `12345678`, the check digit must be 5, not 9",
            ),
            (
                "٩٩١٨٢٥٨٢٧",
                NotDigits,
                "`٩` is not a digit; an organisation number is nine digits and nothing else",
            ),
        ];
        for (orgno, kind, message) in cases {
            let err = validate(orgno).unwrap_err();
            assert_eq!(err.kind(), *kind, "{orgno}");
            assert_eq!(err.to_string(), *message, "{orgno}");
        }
    }
}

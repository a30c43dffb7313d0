//! The organisations a token names: the `consumer`, the `supplier`, and
//! the one an Altinn system user acts for, read strictly from
//! `authorization_details`.

use std::fmt;

use serde_json::{Map, Value};

use super::set::ClaimSet;

/// The ISO 6523 code of Norwegian organisation numbers (`0192:<orgno>`).
const NORWEGIAN_ORGNO: &str = "0192";

/// An organisation named in a token: the `consumer` that called, the
/// `supplier` that called on its behalf, or the organisation an Altinn
/// system user acts for.
///
/// ```text
/// {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Organization<'a> {
    pub(super) authority: &'a str,
    pub(super) id: &'a str,
}

impl<'a> Organization<'a> {
    /// The identifier scheme, `iso6523-actorid-upis` for Maskinporten.
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The identifier as issued, e.g. `0192:991825827`.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The Norwegian organisation number (nine digits), when the ID is of the
    /// form `0192:<orgno>`. Further colon-separated parts are tolerated.
    pub fn orgno(&self) -> Option<&'a str> {
        // The second colon-separated part, found without a split iterator:
        // handlers ask this on every request. Nine digits followed by the
        // end or a colon are exactly a second part of nine digits.
        let rest = self.id.strip_prefix(NORWEGIAN_ORGNO)?.strip_prefix(':')?;
        let orgno = rest.get(..9)?;
        let ends = matches!(rest.as_bytes().get(9), None | Some(b':'));
        (ends && orgno.bytes().all(|b| b.is_ascii_digit())).then_some(orgno)
    }

    pub(super) fn to_value(self) -> Value {
        let mut object = Map::with_capacity(2);
        object.insert("authority".into(), Value::String(self.authority.to_owned()));
        object.insert("ID".into(), Value::String(self.id.to_owned()));
        Value::Object(object)
    }
}

impl fmt::Debug for Organization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

/// What a token's `authorization_details` says of an Altinn system user.
pub(super) enum Details<'a> {
    /// No such claim, or no entry of the system-user type: the token acts
    /// for its `consumer`.
    None,
    /// The one system-user entry, and the organisation it acts for.
    SystemUser(&'a Map<String, Value>, Organization<'a>),
    /// A claim that cannot be read as the Altinn shape: it acts for nobody
    /// known, and the consumer guards refuse it. Why, for the log.
    Unreadable(&'static str),
}

impl ClaimSet {
    /// What `authorization_details` says of an Altinn system user, read in
    /// place and strictly: the consumer guards ask this on every request,
    /// and a token without other claims answers at once.
    pub(super) fn details(&self) -> Details<'_> {
        let Some(details) = self
            .other
            .as_ref()
            .and_then(|other| other.get("authorization_details"))
        else {
            return Details::None;
        };
        let Value::Array(entries) = details else {
            return Details::Unreadable("authorization_details is not an array");
        };
        let mut system_user = None;
        for entry in entries {
            let Some(entry) = entry.as_object() else {
                return Details::Unreadable("an authorization_details entry is not an object");
            };
            match entry.get("type").and_then(Value::as_str) {
                None => {
                    return Details::Unreadable("an authorization_details entry has no string type")
                }
                Some(SYSTEM_USER_TYPE) if system_user.is_some() => {
                    return Details::Unreadable(
                        "authorization_details holds more than one system-user entry",
                    )
                }
                Some(SYSTEM_USER_TYPE) => system_user = Some(entry),
                Some(_) => {}
            }
        }
        match system_user {
            None => Details::None,
            Some(entry) => match entry_organization(entry) {
                Some(organization) => Details::SystemUser(entry, organization),
                None => Details::Unreadable(
                    "the system-user entry names no iso6523-actorid-upis organisation",
                ),
            },
        }
    }
}

/// The `authorization_details` type of an Altinn system user.
pub(super) const SYSTEM_USER_TYPE: &str = "urn:altinn:systemuser";

/// An Altinn system user, from an `authorization_details` entry of type
/// `urn:altinn:systemuser`; see [`MaskinportenClaims::system_user`](crate::MaskinportenClaims::system_user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemUser {
    /// `authority` and `ID` of the system user's organisation.
    organization: Option<(String, String)>,
    ids: Vec<String>,
    system_id: Option<String>,
}

/// The first of `names` that `entry` has, in the order given.
fn entry_field<'a>(entry: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| entry.get(*name))
}

/// The authority of the organisations Maskinporten names.
const ORGANIZATION_AUTHORITY: &str = "iso6523-actorid-upis";

/// The system user's organisation in a system-user entry (`systemuser_org`
/// or `systemuserorg`, with `ID` or `id`, of authority
/// `iso6523-actorid-upis`), borrowed from the entry; `None` when it is not
/// there in that shape.
fn entry_organization(entry: &Map<String, Value>) -> Option<Organization<'_>> {
    let org = entry_field(entry, &["systemuser_org", "systemuserorg"])?.as_object()?;
    let id = org.get("ID").or_else(|| org.get("id"))?.as_str()?;
    let authority = org.get("authority")?.as_str()?;
    (authority == ORGANIZATION_AUTHORITY).then_some(Organization { authority, id })
}

impl SystemUser {
    pub(super) fn from_entry(
        entry: &Map<String, Value>,
        organization: Organization<'_>,
    ) -> SystemUser {
        let field = |names: &[&str]| entry_field(entry, names);
        let organization = Some((
            organization.authority.to_owned(),
            organization.id.to_owned(),
        ));
        let ids = match field(&["systemuser_id", "systemuserid"]) {
            Some(Value::String(id)) => vec![id.clone()],
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let system_id = field(&["system_id", "systemid"])
            .and_then(Value::as_str)
            .map(str::to_owned);
        SystemUser {
            organization,
            ids,
            system_id,
        }
    }

    /// The organisation that owns the system user (`systemuser_org`).
    pub fn organization(&self) -> Option<Organization<'_>> {
        self.organization
            .as_ref()
            .map(|(authority, id)| Organization { authority, id })
    }

    /// The system user's id(s) (`systemuser_id`), usually one UUID.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The system the user belongs to (`system_id`), e.g.
    /// `991825827_smartcloud`.
    pub fn system_id(&self) -> Option<&str> {
        self.system_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> Organization<'_> {
        Organization {
            authority: "iso6523-actorid-upis",
            id,
        }
    }

    #[test]
    fn orgno_is_parsed_tolerantly() {
        assert_eq!(org("0192:991825827").orgno(), Some("991825827"));
        assert_eq!(org("0192:991825827:extra").orgno(), Some("991825827"));
        assert_eq!(org("0193:991825827").orgno(), None);
        assert_eq!(org("0192:99182582").orgno(), None);
        assert_eq!(org("0192").orgno(), None);
    }

    #[test]
    fn orgno_is_the_second_part_when_it_is_nine_digits() {
        // What the split on colons says, against every ID built from these
        // pieces.
        fn reference(id: &str) -> Option<&str> {
            let mut parts = id.split(':');
            (parts.next() == Some(NORWEGIAN_ORGNO))
                .then(|| parts.next())
                .flatten()
                .filter(|p| p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()))
        }
        let pieces = [
            "",
            ":",
            "0192",
            "0192:",
            "00192",
            "991825827",
            "9918258270",
            "99182582",
            "99182582a",
            "æøå",
            "١٢٣",
            " ",
            "::",
            "0192:991825827",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let id = format!("{a}{b}{c}");
                    assert_eq!(org(&id).orgno(), reference(&id), "{id:?}");
                }
            }
        }
    }
}

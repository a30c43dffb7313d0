//! The rules guards hold: the lists (`Scopes`, `Orgnos`), what a guard
//! requires of a token (`Rule`), and the one decision every guard form
//! makes with them.
//!
//! `#[require_scope]`, `#[require_consumer]`, [`RequireScope`](crate::RequireScope)
//! and [`RequireConsumer`](crate::RequireConsumer) all hold one [`Rule`] and
//! end in [`Rule::decide`]: the claims of the request's (once) validated
//! token and the rule in, allow or a rejection out. The attribute and the
//! middleware differ only in where they sit and how their lists are held.

use std::{fmt, ops::Deref, sync::Arc};

use crate::{observe, ErrorKind, MaskinportenClaims, MaskinportenError};

/// A shared list of a middleware's [`Rule`]: the one [`Scopes`] or
/// [`Orgnos`] hold, so that building the rule copies no string.
pub(crate) type Shared = Arc<[Box<str>]>;

/// What a guard requires of a validated token: the one rule type of every
/// guard form. `#[require_scope]` and `#[require_consumer]` expand to a
/// constant `Rule` of static lists (the default `L`, named through
/// `__private`); [`RequireScope`](crate::RequireScope) and
/// [`RequireConsumer`](crate::RequireConsumer) hold one of shared lists
/// (`Shared`); both decide in `Rule::decide`. The lists were checked
/// when they were made (by the macro, or by [`Scopes::new`] and
/// [`Orgnos::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule<L = &'static [&'static str]> {
    /// `#[require_scope]`, `RequireScope`: all or any of the scopes.
    Scopes(L, Match),
    /// `#[require_consumer]`, `RequireConsumer`: the organisation the token
    /// acts for is one of these organisation numbers, and a delegated or
    /// system-user token satisfies the delegation option.
    Consumers(L, Delegation<L>),
}

/// How the scopes of a [`Rule`] combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The token must hold every scope.
    All,
    /// The token must hold at least one of the scopes.
    Any,
}

/// What a consumer allow-list does with a delegated token (one a supplier
/// fetched on the consumer's behalf) or an Altinn system-user token (one a
/// system's vendor fetched for its customer): the option of
/// `#[require_consumer]` and of [`RequireConsumer`](crate::RequireConsumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delegation<L = &'static [&'static str]> {
    /// No option: judged by the organisation it acts for alone, whose data
    /// it is.
    Allowed,
    /// `refuse_delegated`: refused, whoever it acts for.
    Refused,
    /// `suppliers(...)`: allowed when the supplier, or the vendor, is on
    /// this list too.
    Suppliers(L),
}

impl<L> Rule<L> {
    /// The decision for a request: `Ok` lets it through, `Err` is its
    /// rejection, rendered by the handle that validated the token. A
    /// rejection is noted on the request's record (`observe`), so that the
    /// request counts as rejected even when its token was valid: every
    /// guard form decides here.
    pub(crate) fn decide<S>(
        &self,
        record: Option<&observe::Record>,
        claims: &MaskinportenClaims,
    ) -> Result<(), MaskinportenError>
    where
        L: Deref<Target = [S]>,
        S: AsRef<str>,
    {
        let (decision, scopes): (_, &[S]) = match self {
            Rule::Scopes(scopes, match_) => (claims.check(scopes, *match_ == Match::Any), scopes),
            Rule::Consumers(consumers, delegation) => (
                check_consumer(claims, consumers, delegation).map_err(|e| claims.render(e)),
                &[],
            ),
        };
        observe::judged(record, scopes, decision.as_ref().err().map(|e| e.kind()));
        decision
    }

    /// A rejection of the request's validation as this guard gives it: a
    /// scope guard names its own scopes where the token held none the API
    /// exposes.
    pub(crate) fn refine<S>(&self, rejection: MaskinportenError) -> MaskinportenError
    where
        L: Deref<Target = [S]>,
        S: AsRef<str>,
    {
        match self {
            Rule::Scopes(scopes, match_) => {
                rejection.for_scope_guard(scopes, *match_ == Match::Any)
            }
            Rule::Consumers(..) => rejection,
        }
    }
}

/// The consumer allow-list. It judges the organisation the token acts for
/// (`MaskinportenClaims::acting_for`): for a system-user token the system
/// user's organisation, never its vendor; a token whose
/// `authorization_details` cannot be read is refused. The vendor of a system-user token stands where the supplier of a
/// delegated token does: both count as delegation.
fn check_consumer<L, S>(
    claims: &MaskinportenClaims,
    consumers: &[S],
    delegation: &Delegation<L>,
) -> Result<(), MaskinportenError>
where
    L: Deref<Target = [S]>,
    S: AsRef<str>,
{
    // An empty list is a programming or configuration error: refuse, never
    // let everyone in.
    if consumers.is_empty() {
        tracing::error!("a guard allowed an empty list of consumer organisations");
        return Err(MaskinportenError::new(
            ErrorKind::Misconfigured,
            "the service allowed an empty list of organisations",
        ));
    }
    let (acting_for, system_user) = match claims.acting_for_system_user() {
        Ok(read) => read,
        // Whose data it is cannot be read: refused, whatever the list and
        // the delegation option say, never judged by the vendor.
        Err(reason) => {
            tracing::warn!(
                reason,
                "Maskinporten access denied: the token's authorization_details cannot be read"
            );
            return Err(denied());
        }
    };
    let consumer = acting_for.and_then(|o| o.orgno());
    let supplier = claims.supplier().and_then(|s| s.orgno());
    // The vendor of a system user's system: the token's `consumer`.
    let vendor = match system_user {
        true => claims.consumer().and_then(|c| c.orgno()),
        false => None,
    };
    let delegated = claims.is_delegated();
    let refusal = if !listed(consumers, consumer) {
        Some(match system_user {
            true => "the organisation the system user acts for is not on the allow-list",
            false => "the consumer is not on the allow-list",
        })
    } else if delegated || system_user {
        match delegation {
            Delegation::Allowed => None,
            Delegation::Refused if system_user => Some("system-user tokens are refused"),
            Delegation::Refused => Some("delegated tokens are refused"),
            // A token that is both answers for both.
            Delegation::Suppliers(suppliers) if system_user && !listed(suppliers, vendor) => {
                Some("the vendor of the system user is not on the supplier allow-list")
            }
            Delegation::Suppliers(suppliers) if delegated && !listed(suppliers, supplier) => {
                Some("the supplier is not on the allow-list")
            }
            Delegation::Suppliers(_) => None,
        }
    } else {
        None
    };
    match refusal {
        None => Ok(()),
        Some(reason) => {
            // Organisation numbers identify organisations, not secrets; the
            // token is never logged.
            tracing::warn!(
                consumer = consumer.unwrap_or("none"),
                supplier = match system_user {
                    true => vendor,
                    false => supplier,
                }
                .unwrap_or("none"),
                delegated = delegated || system_user,
                system_user,
                reason,
                "Maskinporten access denied"
            );
            Err(denied())
        }
    }
}

/// The consumer allow-list's refusal: it never says which organisations
/// may.
fn denied() -> MaskinportenError {
    MaskinportenError::new(
        ErrorKind::AccessDenied,
        "the calling organisation may not use this resource",
    )
}

/// Whether `orgno` is on `list`, exactly; no organisation number is on any
/// list.
fn listed<S: AsRef<str>>(list: &[S], orgno: Option<&str>) -> bool {
    orgno.is_some_and(|orgno| list.iter().any(|allowed| allowed.as_ref() == orgno))
}

/// A non-empty list of Maskinporten scopes, each valid under the NAIS
/// grammar, none listed twice: what [`RequireScope`](crate::RequireScope)
/// requires.
///
/// Build it with [`scopes!`](crate::scopes), which checks the literals when
/// the code compiles, or with [`Scopes::new`] for a list read at run time.
///
/// ```
/// use maskinporten_actix::{scopes, Scopes};
///
/// let known = scopes!["nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"];
/// let configured = Scopes::new("nav:helse/sykepenger/afp.read nav:helse/sykepenger/afp.write".split(' '))?;
/// assert_eq!(known, configured);
///
/// assert!(Scopes::new(Vec::<String>::new()).is_err()); // never an empty guard
/// assert!(Scopes::new(["nav:test/a"]).is_err()); // not a NAIS scope
/// # Ok::<(), maskinporten_actix::ListError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Scopes {
    pub(crate) list: Shared,
}

impl Scopes {
    /// Checks every scope against the NAIS grammar (see
    /// [`scope::validate`](crate::scope::validate)); refuses an empty list
    /// and a scope listed twice.
    pub fn new<I>(scopes: I) -> Result<Scopes, ListError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let list = checked_list(scopes, ListKind::Scopes, |scope| {
            maskinporten_names::validate(scope).map_err(|e| e.to_string())
        })?;
        Ok(Scopes { list })
    }

    /// What `scopes![]` expands to (through `__private`): the literals were
    /// checked when it did.
    pub(crate) fn checked(scopes: &[&str]) -> Scopes {
        Scopes {
            list: scopes.iter().map(|&s| Box::from(s)).collect(),
        }
    }

    /// The scopes, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|s| &**s)
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A non-empty list of Norwegian organisation numbers, each nine digits
/// with a valid mod-11 check digit, none listed twice: what
/// [`RequireConsumer`](crate::RequireConsumer) allows.
///
/// Build it with [`orgnos!`](crate::orgnos), which checks the literals when
/// the code compiles, or with [`Orgnos::new`] for a list read at run time.
///
/// ```
/// use maskinporten_actix::{orgnos, Orgnos};
///
/// let known = orgnos!["991825827", "974760673"];
/// let configured = Orgnos::new("991825827,974760673".split(','))?;
/// assert_eq!(known, configured);
///
/// assert!(Orgnos::new(Vec::<String>::new()).is_err()); // never an empty guard
/// let err = Orgnos::new(["123456789"]).unwrap_err(); // the check digit would be 5
/// assert!(err.to_string().contains("the check digit must be 5"));
/// # Ok::<(), maskinporten_actix::ListError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Orgnos {
    pub(crate) list: Shared,
}

impl Orgnos {
    /// Checks every organisation number (nine digits, mod-11 check digit, see
    /// [`orgno::validate`](crate::orgno::validate)); refuses an empty list and
    /// a number listed twice.
    pub fn new<I>(orgnos: I) -> Result<Orgnos, ListError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let list = checked_list(orgnos, ListKind::Orgnos, |orgno| {
            maskinporten_names::orgno::validate(orgno).map_err(|e| e.to_string())
        })?;
        Ok(Orgnos { list })
    }

    /// What `orgnos![]` expands to (through `__private`): the literals were
    /// checked when it did.
    pub(crate) fn checked(orgnos: &[&str]) -> Orgnos {
        Orgnos {
            list: orgnos.iter().map(|&s| Box::from(s)).collect(),
        }
    }

    /// The organisation numbers, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|s| &**s)
    }

    /// Whether `orgno` is on the list (exactly).
    pub fn contains(&self, orgno: &str) -> bool {
        self.iter().any(|listed| listed == orgno)
    }
}

impl fmt::Debug for Orgnos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Clone, Copy)]
enum ListKind {
    Scopes,
    Orgnos,
}

impl ListKind {
    fn item(self) -> &'static str {
        match self {
            ListKind::Scopes => "scope",
            ListKind::Orgnos => "organisation number",
        }
    }
}

fn checked_list<I>(
    items: I,
    kind: ListKind,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Shared, ListError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut list: Vec<Box<str>> = Vec::new();
    for (position, item) in items.into_iter().enumerate() {
        let item = item.as_ref();
        let what = || {
            format!(
                "{} {} (`{}`)",
                kind.item(),
                position + 1,
                item.escape_debug()
            )
        };
        if let Err(problem) = check(item) {
            return Err(ListError {
                message: format!("{}: {problem}", what()),
            });
        }
        if list.iter().any(|listed| &**listed == item) {
            return Err(ListError {
                message: format!("{} is listed twice", what()),
            });
        }
        list.push(item.into());
    }
    if list.is_empty() {
        return Err(ListError {
            message: format!(
                "the list of {}s is empty; a guard with an empty list would refuse every request",
                kind.item()
            ),
        });
    }
    Ok(list.into())
}

/// A list of scopes or organisation numbers a guard cannot be built from:
/// empty, with an entry that is not valid, or with one listed twice. The
/// message names the entry (its position and value) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ListError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_name_the_bad_entry() {
        let err = Scopes::new(["nav:helse/sykepenger/afp.read", "nav:test/a"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "scope 2 (`nav:test/a`): the name `a` is too short; it needs at least two letters or digits"
        );
        let err = Orgnos::new(["991825827", "991825827"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "organisation number 2 (`991825827`) is listed twice"
        );
        let err = Orgnos::new(["99182582"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "organisation number 1 (`99182582`): an organisation number has nine digits, this one has 8"
        );
        let err = Orgnos::new([" 991825827"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("organisation number 1 (` 991825827`): ` ` is not a digit"),
            "{err}"
        );
    }

    #[test]
    fn empty_lists_are_refused() {
        assert_eq!(
            Scopes::new(Vec::<&str>::new()).unwrap_err().to_string(),
            "the list of scopes is empty; a guard with an empty list would refuse every request"
        );
        assert_eq!(
            Orgnos::new(Vec::<&str>::new()).unwrap_err().to_string(),
            "the list of organisation numbers is empty; a guard with an empty list would refuse every request"
        );
    }
}

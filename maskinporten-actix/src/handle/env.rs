//! The builders read from the environment NAIS gives an application with
//! Maskinporten enabled (the variables' names are in [`nais`](super::nais)).

use super::{
    keys::{parse_endpoint, parse_key_url, KeySet},
    nais::{INTROSPECTION_ENDPOINT, ISSUER, JWKS_URI, WELL_KNOWN_URL},
    Maskinporten, MaskinportenBuilder,
};
use crate::error::ConfigError;

impl Maskinporten {
    /// The recommended set-up on NAIS: introspection through the sidecar at
    /// `NAIS_TOKEN_INTROSPECTION_ENDPOINT`, which NAIS sets for applications
    /// with Maskinporten enabled, with the issuer (`MASKINPORTEN_ISSUER`) and
    /// the signature check in front of the sidecar (`MASKINPORTEN_JWKS_URI`
    /// or `MASKINPORTEN_WELL_KNOWN_URL`) when they are set. A missing or
    /// invalid value is a [`ConfigError`] naming the variable. The builder
    /// takes the exposed scopes, an audience, a realm or cache options on
    /// top, and must be told the exposed scopes (or to accept any) before
    /// it [`build`](MaskinportenBuilder::build)s.
    ///
    /// ```no_run
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder_from_env()?
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"]) // or exposed_scopes!() from the manifest
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn builder_from_env() -> Result<MaskinportenBuilder, ConfigError> {
        let endpoint = std::env::var(INTROSPECTION_ENDPOINT).map_err(|e| {
            ConfigError::new(
                Some(INTROSPECTION_ENDPOINT),
                match e {
                    std::env::VarError::NotPresent => {
                        "is not set; NAIS sets it when the application has Maskinporten enabled \
                         (spec.maskinporten.enabled: true)"
                    }
                    std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                },
            )
        })?;
        let endpoint = parse_endpoint(&endpoint)
            .map_err(|message| ConfigError::unusable(INTROSPECTION_ENDPOINT, message))?;
        let mut builder = Self::builder().endpoint_url(endpoint);
        // NAIS sets the issuer beside the endpoint; with it, tokens from
        // another issuer are refused without a round trip.
        let issuer = optional_env(ISSUER)?;
        // With Maskinporten's keys known (NAIS sets the JWKS URI and the
        // metadata URL beside the endpoint), a token's signature is checked
        // here before the sidecar is asked: forged tokens never reach it.
        builder.signature_check = match (optional_env(JWKS_URI)?, &issuer) {
            (Some(jwks_uri), Some(_)) => Some(Ok(keys_from_env(&jwks_uri)?)),
            (Some(_), None) => return Err(issuer_missing_from_env()),
            (None, _) => match optional_env(WELL_KNOWN_URL)? {
                Some(url) => Some(Ok(discovered_keys_from_env(&url)?)),
                None => None,
            },
        };
        if let Some(issuer) = issuer {
            builder = builder.issuer(issuer);
        }
        Ok(builder)
    }

    /// Local validation from the variables NAIS sets for an application with
    /// Maskinporten enabled: `MASKINPORTEN_ISSUER` and
    /// `MASKINPORTEN_JWKS_URI`, or, when both are absent, the metadata at
    /// `MASKINPORTEN_WELL_KNOWN_URL` (read on first need, not here). A missing
    /// or invalid variable is a [`ConfigError`] naming it. Never touches the
    /// network. The builder takes an audience, the exposed scopes, a realm or
    /// cache options on top.
    ///
    /// ```no_run
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::local_builder_from_env()?
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"]) // or exposed_scopes!()
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn local_builder_from_env() -> Result<MaskinportenBuilder, ConfigError> {
        let issuer = optional_env(ISSUER)?;
        let jwks_uri = optional_env(JWKS_URI)?;
        match (issuer, jwks_uri) {
            (Some(issuer), Some(jwks_uri)) => {
                let mut builder = Self::builder().issuer(issuer);
                builder.local = Some(Ok(keys_from_env(&jwks_uri)?));
                Ok(builder)
            }
            (Some(_), None) => Err(ConfigError::new(
                Some(JWKS_URI),
                format!("is not set, while {ISSUER} is; NAIS sets both"),
            )),
            (None, Some(_)) => Err(issuer_missing_from_env()),
            (None, None) => {
                let Some(url) = optional_env(WELL_KNOWN_URL)? else {
                    return Err(ConfigError::new(
                        Some(ISSUER),
                        format!(
                            "is not set, nor are {JWKS_URI} and {WELL_KNOWN_URL}; NAIS \
                             sets them when the application has Maskinporten enabled"
                        ),
                    ));
                };
                let mut builder = Self::builder();
                builder.local = Some(Ok(discovered_keys_from_env(&url)?));
                Ok(builder)
            }
        }
    }
}

/// An environment variable that may be absent, but not invalid.
fn optional_env(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(ConfigError::new(Some(name), "is not valid UTF-8"))
        }
    }
}

/// The key set `MASKINPORTEN_JWKS_URI` names, for tokens from the issuer
/// `MASKINPORTEN_ISSUER` names.
fn keys_from_env(jwks_uri: &str) -> Result<KeySet, ConfigError> {
    parse_key_url(jwks_uri)
        .map(KeySet::Jwks)
        .map_err(|message| ConfigError::unusable(JWKS_URI, message))
}

/// The issuer and key set read from the metadata `MASKINPORTEN_WELL_KNOWN_URL`
/// names.
fn discovered_keys_from_env(url: &str) -> Result<KeySet, ConfigError> {
    parse_key_url(url)
        .map(KeySet::Discovery)
        .map_err(|message| ConfigError::unusable(WELL_KNOWN_URL, message))
}

/// `MASKINPORTEN_JWKS_URI` without the issuer its keys are for.
fn issuer_missing_from_env() -> ConfigError {
    ConfigError::new(
        Some(ISSUER),
        format!("is not set, while {JWKS_URI} is; NAIS sets both"),
    )
}

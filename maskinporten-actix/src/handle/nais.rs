//! The names of the variables NAIS sets for an application with Maskinporten
//! enabled: what the builder's messages and the environment's builders name.

/// The environment variable NAIS sets to the introspection endpoint of the
/// Texas sidecar.
pub const INTROSPECTION_ENDPOINT: &str = "NAIS_TOKEN_INTROSPECTION_ENDPOINT";

/// The environment variable NAIS sets to Maskinporten's issuer
/// (`https://maskinporten.no/`, or `https://test.maskinporten.no/`).
pub const ISSUER: &str = "MASKINPORTEN_ISSUER";

/// The environment variable NAIS sets to Maskinporten's JWKS URI, for local
/// validation.
pub const JWKS_URI: &str = "MASKINPORTEN_JWKS_URI";

/// The environment variable NAIS sets to Maskinporten's authorization server
/// metadata, from which local validation can discover the issuer and the
/// JWKS URI.
pub const WELL_KNOWN_URL: &str = "MASKINPORTEN_WELL_KNOWN_URL";

//! Where a handle's keys come from, as its builder is told (a JWKS URI, or
//! the metadata that names one), and the parsing of the URLs the builder and
//! the environment give: the one place both read them.

use reqwest::Url;

use crate::strategy::jwks;

/// Where a handle's keys come from, as the builder was told.
pub(crate) enum KeySet {
    /// A JWKS URI, whose keys sign for the builder's [`issuer`](super::MaskinportenBuilder::issuer).
    Jwks(Url),
    /// The authorization server metadata at this URL: the issuer and the
    /// JWKS URI are read from it on the first fetch.
    Discovery(Url),
}

/// A URL keys are fetched from: see [`jwks::fetchable`](jwks::fetchable).
pub(crate) fn parse_key_url(url: &str) -> Result<Url, String> {
    let parsed = parse_endpoint(url)?;
    jwks::fetchable(&parsed)
        .map_err(|problem| format!("`{}` {problem}", crate::http::redacted(&parsed)))?;
    Ok(parsed)
}

pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    // The value is quoted as the crate shows URLs: without credentials or
    // query, which may hold secrets.
    let shown = || crate::http::redacted_str(endpoint);
    let url = Url::parse(endpoint.trim())
        .map_err(|e| format!("`{}` is not a valid URL: {e}", shown()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{}` is not an http(s) URL with a host", shown()));
    }
    Ok(url)
}

//! The one reading of an `Authorization: Bearer <token>` value (RFC 6750 section 2.1,
//! RFC 9110 section 11.4), for every place a token arrives: the HTTP header, the rate
//! limiter's key, a WebSocket upgrade, and a graphql-transport-ws `connection_init` payload.
//! The scheme is case-insensitive, separated by spaces; the token is a `b64token` of at
//! most [`MAX_TOKEN_BYTES`].

/// Far more than any access token we issue (a few hundred bytes); a longer value is not
/// verified at all.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// What a credentials value holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// A bearer token, syntactically valid (not yet verified).
    Bearer(&'a str),
    /// Another scheme (`Basic …`): no bearer token at all.
    OtherScheme,
    /// The bearer scheme with no token, or one that is not a `b64token` or too long.
    Malformed(&'static str),
}

impl<'a> Credentials<'a> {
    pub fn parse(value: &'a str) -> Self {
        let value = value.trim_matches([' ', '\t']);
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Credentials::OtherScheme;
        }
        let token = rest.trim_start_matches([' ', '\t']);
        if token.is_empty() {
            return Credentials::Malformed("the bearer token is missing");
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Credentials::Malformed("the bearer token is too long");
        }
        // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let body = token.trim_end_matches('=');
        let b64 = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !b64 {
            return Credentials::Malformed("the bearer token has characters a token cannot have");
        }
        Credentials::Bearer(token)
    }

    /// The token, if this is a well-formed bearer credential.
    pub fn bearer(self) -> Option<&'a str> {
        match self {
            Credentials::Bearer(token) => Some(token),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_set_of_rules_for_scheme_spacing_and_token() {
        assert_eq!(
            Credentials::parse("Bearer abc.def-_"),
            Credentials::Bearer("abc.def-_")
        );
        assert_eq!(
            Credentials::parse("  bearer   abc=="),
            Credentials::Bearer("abc==")
        );
        assert_eq!(
            Credentials::parse("BEARER\tabc"),
            Credentials::Bearer("abc")
        );
        assert_eq!(
            Credentials::parse("Basic dXNlcjpwdw=="),
            Credentials::OtherScheme
        );
        assert_eq!(Credentials::parse("Bearerabc"), Credentials::OtherScheme);
        assert!(matches!(
            Credentials::parse("Bearer"),
            Credentials::Malformed(_)
        ));
        assert!(matches!(
            Credentials::parse("Bearer a b"),
            Credentials::Malformed(_)
        ));
        assert!(matches!(
            Credentials::parse("Bearer =="),
            Credentials::Malformed(_)
        ));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert!(matches!(
            Credentials::parse(&long),
            Credentials::Malformed(_)
        ));
    }
}

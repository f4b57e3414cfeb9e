//! Server-side negotiation of the compression extensions: permessage-deflate (RFC 7692 §7)
//! and the older deflate-frame / x-webkit-deflate-frame (draft-tyoshino-hybi-websocket-
//! perframe-deflate), with the server policy ([`DeflateConfig`]) and the handler's forced
//! response parameters ([`ResponseOverrides`], [`FrameResponseOverrides`]).
//!
//! The input is the already parsed `Sec-WebSocket-Extensions` offers
//! ([`crate::handshake::parse_extensions`]); the output is what was agreed plus the one
//! element to put in the response header ([`crate::handshake::format_extensions`]). An offer
//! this module does not like is declined, never an error: the next offer is tried, and if
//! none fits the connection simply runs uncompressed. At most one compression extension is
//! accepted per connection, the first acceptable offer in the client's order, as pywebsocket
//! does. Nothing here compresses; see [`super::Compressor`] and [`super::Decompressor`].

use std::fmt;

use crate::handshake::ExtensionOffer;

/// Extension token of RFC 7692.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";
/// Extension token of the per-frame draft (pywebsocket before 2020).
pub const DEFLATE_FRAME: &str = "deflate-frame";
/// Vendor-prefixed spelling of [`DEFLATE_FRAME`] used by old WebKit and Chrome.
pub const X_WEBKIT_DEFLATE_FRAME: &str = "x-webkit-deflate-frame";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";
const MAX_WINDOW_BITS: &str = "max_window_bits";
const NO_CONTEXT_TAKEOVER: &str = "no_context_takeover";

/// Smallest LZ77 window RFC 7692 §7.1.2 allows (256 bytes).
pub(crate) const MIN_WINDOW_BITS: u8 = 8;
/// Largest LZ77 window (32 KiB), the default of both peers.
pub(crate) const MAX_WINDOW_BITS_VALUE: u8 = 15;

/// Default window of our own compressor: 4 KiB (see [`DeflateConfig::server_max_window_bits`]).
pub const DEFAULT_SERVER_MAX_WINDOW_BITS: u8 = 12;
/// Default zlib `memLevel` of our own compressor (see [`DeflateConfig::mem_level`]).
pub const DEFAULT_MEM_LEVEL: u8 = 5;
/// Default compression level: zlib's `Z_DEFAULT_COMPRESSION`, which is level 6.
pub const DEFAULT_LEVEL: u8 = 6;

/// The server's compression policy.
///
/// Out-of-range values are clamped where they are used (never a panic); call
/// [`DeflateConfig::validate`] when the values come from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Accept compression offers at all (default true: pywebsocket accepts permessage-deflate
    /// unless a handler removes it, and WPT and browser tests rely on that).
    pub enabled: bool,
    /// Also accept `deflate-frame` and `x-webkit-deflate-frame` (default false, as
    /// pywebsocket3, which removed them in 2020; old pywebsocket accepted them).
    pub deflate_frame: bool,
    /// Largest LZ77 window, as a power of two (8..=15), our compressor uses when the client
    /// does not ask for a smaller one with `server_max_window_bits`. Default 12 (4 KiB).
    ///
    /// Measured with zlib-rs at `mem_level` 5, after one message: the compressor holds
    /// 165,120 bytes at 12 bits and 279,808 at 15, because the window costs four bytes per
    /// position (twice the window for the data, two bytes per `prev` link) on top of a fixed
    /// 128 KiB hash table. 12 bits saves 115 KB per connection with context takeover, at the
    /// price of back-references reaching only the last 4 KiB: on a stream of small similar
    /// JSON messages the output was 22 % larger than with 15 bits, on one 92 KB message
    /// 12 %. A client can always still ask for less; the decompressor is not affected.
    pub server_max_window_bits: u8,
    /// zlib `memLevel` (1..=9) of our compressor. Default 5.
    ///
    /// In zlib-rs it only sizes the symbol buffer, `7 << (mem_level + 6)` bytes: 112 KiB at
    /// zlib's default 8, 14 KiB at 5. A block is closed every `1 << (mem_level + 6)` symbols,
    /// so messages below about 2,000 bytes compress to exactly the same bytes at 5 as at 8,
    /// and larger ones lose under 1 % (measured on JSON). Below 5 the saving is a few KiB and
    /// large messages lose more (13 % at 1).
    pub mem_level: u8,
    /// zlib compression level (0..=9). Default 6, zlib's `Z_DEFAULT_COMPRESSION`, which is
    /// what pywebsocket uses: small messages (one deflate block) then come out byte for byte
    /// as pywebsocket's (`f2 48 cd c9 c9 07 00` for "Hello"). zlib-rs is not bit-identical to
    /// C zlib on larger inputs (a 219 KB JSON stream differed from zlib 1.2.13's from the
    /// second byte on: 24,882 against 23,377 bytes), so byte identity beyond small messages
    /// is not promised; any conforming peer inflates either.
    pub level: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: true,
            deflate_frame: false,
            server_max_window_bits: DEFAULT_SERVER_MAX_WINDOW_BITS,
            mem_level: DEFAULT_MEM_LEVEL,
            level: DEFAULT_LEVEL,
        }
    }
}

/// A [`DeflateConfig`] value outside its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDeflateConfig {
    /// The field name.
    pub field: &'static str,
    /// The rejected value.
    pub value: u8,
}

impl fmt::Display for InvalidDeflateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = match self.field {
            "server_max_window_bits" => "8..=15",
            "mem_level" => "1..=9",
            _ => "0..=9",
        };
        write!(f, "deflate {} = {} is outside {range}", self.field, self.value)
    }
}

impl std::error::Error for InvalidDeflateConfig {}

impl DeflateConfig {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<(), InvalidDeflateConfig> {
        let check = |field, value: u8, ok: bool| match ok {
            true => Ok(()),
            false => Err(InvalidDeflateConfig { field, value }),
        };
        let bits = self.server_max_window_bits;
        check("server_max_window_bits", bits, (MIN_WINDOW_BITS..=15).contains(&bits))?;
        check("mem_level", self.mem_level, (1..=9).contains(&self.mem_level))?;
        check("level", self.level, self.level <= 9)
    }

    pub(crate) fn clamped_window_bits(&self) -> u8 {
        self.server_max_window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS_VALUE)
    }
}

/// Response parameters a handler forces for permessage-deflate (pywebsocket's
/// `set_client_max_window_bits` and `set_client_no_context_takeover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseOverrides {
    /// Ask the client to compress with at most this window (8..=15). Only possible when
    /// the client offered `client_max_window_bits` (RFC 7692 §7.1.2.2): an offer without it
    /// is then declined, as pywebsocket does. A value outside 8..=15 declines every offer.
    pub client_max_window_bits: Option<u8>,
    /// Ask the client not to use context takeover (RFC 7692 §7.1.1.2); our decompressor is
    /// then reset after every message.
    pub client_no_context_takeover: bool,
}

/// What a permessage-deflate negotiation agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Our compressor starts every message from an empty window (offered by the client,
    /// echoed in the response).
    pub server_no_context_takeover: bool,
    /// The client starts every message from an empty window (we put it in the response);
    /// our decompressor resets after every message.
    pub client_no_context_takeover: bool,
    /// Largest window our compressor may use, 8..=15: the smaller of the client's
    /// `server_max_window_bits` and [`DeflateConfig::server_max_window_bits`]. 8 is
    /// compressed with 9; see [`Negotiated::compressor_window_bits`].
    pub server_max_window_bits: u8,
    /// Largest window the client compresses with: our response's `client_max_window_bits`,
    /// else the value in its offer, else 15. Informational: we always inflate with 15.
    pub client_max_window_bits: u8,
}

impl Negotiated {
    /// The window our compressor is built with: `server_max_window_bits`, except that 8 is
    /// raised to 9.
    ///
    /// zlib and zlib-rs refuse a raw 8-bit window. A 9-bit compressor is still safe for a
    /// peer that allowed only 256 bytes: deflate never emits a match farther back than
    /// `w_size - MIN_LOOKAHEAD` = 512 − 262 = 250 bytes, which fits in 256. pywebsocket does
    /// the same (crbug 691074), and a test here inflates 9-bit output with an 8-bit window.
    pub fn compressor_window_bits(&self) -> u8 {
        compressor_bits(self.server_max_window_bits)
    }

    /// A compressor for our messages on this connection.
    pub fn compressor(&self, cfg: &DeflateConfig) -> super::Compressor {
        super::Compressor::new(self.server_max_window_bits, self.server_no_context_takeover, cfg)
    }

    /// A decompressor for the client's messages on this connection.
    pub fn decompressor(&self) -> super::Decompressor {
        super::Decompressor::new(self.client_no_context_takeover)
    }

    /// The same agreement seen from the client: `server_*` and `client_*` swapped, so that
    /// [`Negotiated::compressor`] and [`Negotiated::decompressor`] serve the client's side.
    pub fn for_client(&self) -> Negotiated {
        Negotiated {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits,
            client_max_window_bits: self.server_max_window_bits,
        }
    }
}

/// The client side of RFC 7692 §7: reads a server's `permessage-deflate` response.
///
/// Returns the agreement in the server's terms (use [`Negotiated::for_client`] to build
/// the client's codecs), or `None` if the response is not acceptable: another extension,
/// an unknown or repeated parameter, a flag with a value, or window bits missing or out of
/// 8..=15. RFC 7692 §7 then requires the client to fail the WebSocket connection.
pub fn accept_response(response: &ExtensionOffer) -> Option<Negotiated> {
    if response.name != PERMESSAGE_DEFLATE {
        return None;
    }
    let mut agreed = Negotiated {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: MAX_WINDOW_BITS_VALUE,
        client_max_window_bits: MAX_WINDOW_BITS_VALUE,
    };
    let mut seen: Vec<&str> = Vec::with_capacity(4);
    for (name, value) in &response.params {
        if seen.contains(&name.as_str()) {
            return None;
        }
        seen.push(name);
        match (name.as_str(), value.as_deref()) {
            (SERVER_NO_CONTEXT_TAKEOVER, None) => agreed.server_no_context_takeover = true,
            (CLIENT_NO_CONTEXT_TAKEOVER, None) => agreed.client_no_context_takeover = true,
            (SERVER_MAX_WINDOW_BITS, Some(v)) => {
                agreed.server_max_window_bits = parse_window_bits(v)?
            }
            (CLIENT_MAX_WINDOW_BITS, Some(v)) => {
                agreed.client_max_window_bits = parse_window_bits(v)?
            }
            _ => return None,
        }
    }
    Some(agreed)
}

pub(crate) fn compressor_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS + 1, MAX_WINDOW_BITS_VALUE)
}

/// Parses a window-bits value: a decimal integer 8..=15 without leading zeros or sign
/// (RFC 7692 §7.1.2.1).
fn parse_window_bits(value: &str) -> Option<u8> {
    let bits = match value {
        "8" => 8,
        "9" => 9,
        "10" => 10,
        "11" => 11,
        "12" => 12,
        "13" => 13,
        "14" => 14,
        "15" => 15,
        _ => return None,
    };
    Some(bits)
}

/// Accepts or declines one permessage-deflate offer (RFC 7692 §7.1). `None` declines it.
fn accept_permessage(
    offer: &ExtensionOffer,
    cfg: &DeflateConfig,
    overrides: &ResponseOverrides,
) -> Option<(Negotiated, ExtensionOffer)> {
    if !cfg.enabled || offer.name != PERMESSAGE_DEFLATE {
        return None;
    }
    let mut server_nct = false;
    let mut client_nct = false;
    let mut server_bits: Option<u8> = None;
    // None: absent; Some(None): present without a value; Some(Some(n)): with a value.
    let mut client_bits: Option<Option<u8>> = None;
    for (name, value) in &offer.params {
        let value = value.as_deref();
        // §7: "A server MUST decline an extension negotiation offer for this extension if
        // any of the following conditions are met: The negotiation offer contains an
        // extension parameter not defined for use in an offer. The negotiation offer
        // contains an extension parameter with an invalid value. The negotiation offer
        // contains multiple extension parameters with the same name."
        match name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER if value.is_none() && !server_nct => server_nct = true,
            CLIENT_NO_CONTEXT_TAKEOVER if value.is_none() && !client_nct => client_nct = true,
            SERVER_MAX_WINDOW_BITS if server_bits.is_none() => {
                server_bits = Some(parse_window_bits(value?)?);
            }
            CLIENT_MAX_WINDOW_BITS if client_bits.is_none() => {
                client_bits = Some(match value {
                    None => None,
                    Some(v) => Some(parse_window_bits(v)?),
                });
            }
            _ => return None,
        }
    }

    // §7.1.2.2: client_max_window_bits may only appear in the response if the client
    // offered it, with a value no larger than the offered one.
    let client_bits_response = match overrides.client_max_window_bits {
        None => None,
        Some(n) if !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS_VALUE).contains(&n) => return None,
        Some(n) => Some(client_bits?.map_or(n, |offered| n.min(offered))),
    };
    let ours = cfg.clamped_window_bits();
    // §7.1.2.1: the response carries server_max_window_bits with "the same or smaller
    // value as the offer"; without it in the offer we may use any window up to 15 and
    // say nothing.
    let server_window = server_bits.map_or(ours, |offered| offered.min(ours));

    // Order and spelling as pywebsocket's get_extension_response.
    let mut response = ExtensionOffer::new(PERMESSAGE_DEFLATE);
    if server_bits.is_some() {
        response.params.push((SERVER_MAX_WINDOW_BITS.into(), Some(server_window.to_string())));
    }
    if server_nct {
        response.params.push((SERVER_NO_CONTEXT_TAKEOVER.into(), None));
    }
    if let Some(bits) = client_bits_response {
        response.params.push((CLIENT_MAX_WINDOW_BITS.into(), Some(bits.to_string())));
    }
    if overrides.client_no_context_takeover {
        response.params.push((CLIENT_NO_CONTEXT_TAKEOVER.into(), None));
    }
    let negotiated = Negotiated {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: overrides.client_no_context_takeover,
        server_max_window_bits: server_window,
        client_max_window_bits: client_bits_response
            .or(client_bits.flatten())
            .unwrap_or(MAX_WINDOW_BITS_VALUE),
    };
    Some((negotiated, response))
}

/// Negotiates permessage-deflate (RFC 7692 §7): the first acceptable `permessage-deflate`
/// offer wins; other extensions are skipped.
///
/// Accepted offer parameters: `server_no_context_takeover`, `client_no_context_takeover`
/// (no value), `server_max_window_bits=8..15`, `client_max_window_bits` with or without a
/// value. An offer with an unknown, duplicated or badly valued parameter is declined and
/// the next one is tried. Unlike pywebsocket, `client_no_context_takeover` and a valued
/// `client_max_window_bits` are accepted, so Autobahn's
/// `permessage-deflate; client_no_context_takeover; client_max_window_bits` is.
///
/// The response echoes `server_max_window_bits=N` (N lowered to our configured window if
/// that is smaller) and then `server_no_context_takeover` when offered, then
/// `client_max_window_bits=N` and `client_no_context_takeover` only when `overrides`
/// force them. A plain offer gets exactly `permessage-deflate`.
pub fn negotiate(
    offers: &[ExtensionOffer],
    cfg: &DeflateConfig,
    overrides: &ResponseOverrides,
) -> Option<(Negotiated, ExtensionOffer)> {
    offers.iter().find_map(|offer| accept_permessage(offer, cfg, overrides))
}

/// Response parameters a handler forces for deflate-frame (old pywebsocket's
/// `set_response_window_bits` and `set_response_no_context_takeover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameResponseOverrides {
    /// `max_window_bits=N` in the response: the client should compress with at most this
    /// window (8..=15; another value declines every offer).
    pub max_window_bits: Option<u8>,
    /// `no_context_takeover` in the response: the client should reset per frame; our
    /// decompressor then resets after every frame.
    pub no_context_takeover: bool,
}

/// What a deflate-frame negotiation agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameNegotiated {
    /// The extension token to use: `deflate-frame` or `x-webkit-deflate-frame`.
    pub name: String,
    /// Our compressor resets after every frame (the client's `no_context_takeover`).
    pub no_context_takeover: bool,
    /// Largest window our compressor may use (the client's `max_window_bits`, lowered to
    /// our configured window). 8 is compressed with 9, as for permessage-deflate.
    pub max_window_bits: u8,
    /// The client resets after every frame (we said `no_context_takeover`).
    pub client_no_context_takeover: bool,
    /// Largest window we asked the client to use (15 if we asked nothing).
    pub client_max_window_bits: u8,
}

impl FrameNegotiated {
    /// A compressor for our frames; call [`super::Compressor::compress_frame`] per frame.
    pub fn compressor(&self, cfg: &DeflateConfig) -> super::Compressor {
        super::Compressor::new(self.max_window_bits, self.no_context_takeover, cfg)
    }

    /// A decompressor for the client's frames; call
    /// [`super::Decompressor::finish_message`] at the end of every frame.
    pub fn decompressor(&self) -> super::Decompressor {
        super::Decompressor::new(self.client_no_context_takeover)
    }
}

/// Accepts or declines one deflate-frame offer. Unknown parameters are ignored and a
/// repeated one counts once (its first value), as in old pywebsocket.
fn accept_deflate_frame(
    offer: &ExtensionOffer,
    cfg: &DeflateConfig,
    overrides: &FrameResponseOverrides,
) -> Option<(FrameNegotiated, ExtensionOffer)> {
    if !cfg.enabled
        || !cfg.deflate_frame
        || !(offer.name == DEFLATE_FRAME || offer.name == X_WEBKIT_DEFLATE_FRAME)
    {
        return None;
    }
    let window = match offer.param(MAX_WINDOW_BITS) {
        None => None,
        Some(value) => Some(parse_window_bits(value?)?),
    };
    let no_context_takeover = match offer.param(NO_CONTEXT_TAKEOVER) {
        None => false,
        Some(None) => true,
        Some(Some(_)) => return None,
    };
    if overrides
        .max_window_bits
        .is_some_and(|n| !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS_VALUE).contains(&n))
    {
        return None;
    }
    let mut response = ExtensionOffer::new(offer.name.clone());
    if let Some(bits) = overrides.max_window_bits {
        response.params.push((MAX_WINDOW_BITS.into(), Some(bits.to_string())));
    }
    if overrides.no_context_takeover {
        response.params.push((NO_CONTEXT_TAKEOVER.into(), None));
    }
    let ours = cfg.clamped_window_bits();
    let negotiated = FrameNegotiated {
        name: offer.name.clone(),
        no_context_takeover,
        max_window_bits: window.map_or(ours, |w| w.min(ours)),
        client_no_context_takeover: overrides.no_context_takeover,
        client_max_window_bits: overrides.max_window_bits.unwrap_or(MAX_WINDOW_BITS_VALUE),
    };
    Some((negotiated, response))
}

/// Negotiates deflate-frame / x-webkit-deflate-frame alone: the first acceptable offer of
/// either name wins. Needs [`DeflateConfig::deflate_frame`].
///
/// Parameters: `max_window_bits=8..15` (no value or a bad value declines the offer) and
/// `no_context_takeover` (a value declines it); anything else is ignored. The response
/// holds only what `overrides` force, in that order.
pub fn negotiate_deflate_frame(
    offers: &[ExtensionOffer],
    cfg: &DeflateConfig,
    overrides: &FrameResponseOverrides,
) -> Option<(FrameNegotiated, ExtensionOffer)> {
    offers.iter().find_map(|offer| accept_deflate_frame(offer, cfg, overrides))
}

/// The compression extension a connection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compression {
    /// permessage-deflate (RFC 7692): RSV1 on a message's first frame, one deflate stream
    /// per message.
    PerMessage(Negotiated),
    /// deflate-frame: RSV1 on each compressed frame, each frame compressed on its own.
    PerFrame(FrameNegotiated),
}

impl Compression {
    /// A compressor for our side of the connection.
    pub fn compressor(&self, cfg: &DeflateConfig) -> super::Compressor {
        match self {
            Compression::PerMessage(n) => n.compressor(cfg),
            Compression::PerFrame(n) => n.compressor(cfg),
        }
    }

    /// A decompressor for the peer's side of the connection.
    pub fn decompressor(&self) -> super::Decompressor {
        match self {
            Compression::PerMessage(n) => n.decompressor(),
            Compression::PerFrame(n) => n.decompressor(),
        }
    }
}

/// Negotiates at most one compression extension: the first offer, in the client's order,
/// that is acceptable as permessage-deflate or (if enabled) as deflate-frame wins, as in
/// pywebsocket (`permessage-deflate, deflate-frame` gives permessage-deflate only).
pub fn negotiate_compression(
    offers: &[ExtensionOffer],
    cfg: &DeflateConfig,
    permessage: &ResponseOverrides,
    per_frame: &FrameResponseOverrides,
) -> Option<(Compression, ExtensionOffer)> {
    offers.iter().find_map(|offer| {
        accept_permessage(offer, cfg, permessage)
            .map(|(n, r)| (Compression::PerMessage(n), r))
            .or_else(|| {
                accept_deflate_frame(offer, cfg, per_frame)
                    .map(|(n, r)| (Compression::PerFrame(n), r))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{format_extensions, parse_extensions};

    fn response(s: &str) -> Option<Negotiated> {
        accept_response(&parse_extensions(s).unwrap()[0])
    }

    #[test]
    fn rfc7692_7_client_accepts_valid_responses_and_swaps_roles() {
        let n =
            response("permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
                .unwrap();
        assert_eq!((n.server_max_window_bits, n.client_max_window_bits), (10, 15));
        assert!(n.client_no_context_takeover && !n.server_no_context_takeover);
        let mine = n.for_client();
        assert_eq!((mine.server_max_window_bits, mine.client_max_window_bits), (15, 10));
        assert!(mine.server_no_context_takeover && !mine.client_no_context_takeover);
        assert_eq!(response("permessage-deflate").unwrap().server_max_window_bits, 15);
    }

    #[test]
    fn rfc7692_7_client_refuses_invalid_responses() {
        for bad in [
            "deflate-frame",
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(response(bad), None, "{bad}");
        }
    }

    fn cfg() -> DeflateConfig {
        DeflateConfig::default()
    }

    /// The response header for `offer`, or `None` if declined, with default policy.
    fn respond(offer: &str) -> Option<String> {
        respond_with(offer, &ResponseOverrides::default())
    }

    fn respond_with(offer: &str, ov: &ResponseOverrides) -> Option<String> {
        let offers = parse_extensions(offer).unwrap();
        negotiate(&offers, &cfg(), ov).map(|(_, r)| format_extensions(&[r]))
    }

    fn agreed(offer: &str) -> Negotiated {
        negotiate(&parse_extensions(offer).unwrap(), &cfg(), &ResponseOverrides::default())
            .unwrap()
            .0
    }

    #[test]
    fn rfc7692_7_plain_offer_gets_a_plain_response() {
        assert_eq!(respond("permessage-deflate").as_deref(), Some("permessage-deflate"));
        let n = agreed("permessage-deflate");
        assert_eq!(
            n,
            Negotiated {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: DEFAULT_SERVER_MAX_WINDOW_BITS,
                client_max_window_bits: 15,
            }
        );
    }

    /// One row per parameter and value: `Some(response)` if accepted, `None` if declined.
    #[test]
    fn rfc7692_7_1_parameter_table() {
        let table: &[(&str, Option<&str>)] = &[
            // §7.1.1.1 server_no_context_takeover: a flag, echoed.
            ("server_no_context_takeover", Some("server_no_context_takeover")),
            ("server_no_context_takeover=1", None),
            ("server_no_context_takeover=\"x\"", None),
            // §7.1.1.2 client_no_context_takeover: a flag, accepted, not echoed.
            ("client_no_context_takeover", Some("")),
            ("client_no_context_takeover=true", None),
            // §7.1.2.1 server_max_window_bits: 8..15, echoed (lowered to our 12).
            ("server_max_window_bits=8", Some("server_max_window_bits=8")),
            ("server_max_window_bits=9", Some("server_max_window_bits=9")),
            ("server_max_window_bits=10", Some("server_max_window_bits=10")),
            ("server_max_window_bits=12", Some("server_max_window_bits=12")),
            ("server_max_window_bits=15", Some("server_max_window_bits=12")),
            ("server_max_window_bits=\"10\"", Some("server_max_window_bits=10")),
            ("server_max_window_bits", None),
            ("server_max_window_bits=7", None),
            ("server_max_window_bits=16", None),
            ("server_max_window_bits=0", None),
            ("server_max_window_bits=08", None),
            ("server_max_window_bits=010", None),
            ("server_max_window_bits=+9", None),
            ("server_max_window_bits=9.0", None),
            ("server_max_window_bits=abc", None),
            ("server_max_window_bits=3000000", None),
            ("server_max_window_bits=99999999999999999999", None),
            // §7.1.2.2 client_max_window_bits: with or without a value, not echoed.
            ("client_max_window_bits", Some("")),
            ("client_max_window_bits=8", Some("")),
            ("client_max_window_bits=15", Some("")),
            ("client_max_window_bits=7", None),
            ("client_max_window_bits=16", None),
            ("client_max_window_bits=09", None),
            // Unknown parameters, and known ones in the wrong case.
            ("foo=bar", None),
            ("foo", None),
            ("Server_No_Context_Takeover", None),
            ("max_window_bits=10", None),
            ("no_context_takeover", None),
            // Duplicates (§7: "multiple extension parameters with the same name").
            ("server_no_context_takeover; server_no_context_takeover", None),
            ("client_no_context_takeover; client_no_context_takeover", None),
            ("server_max_window_bits=10; server_max_window_bits=10", None),
            ("server_max_window_bits=10; server_max_window_bits=11", None),
            ("client_max_window_bits; client_max_window_bits", None),
            ("client_max_window_bits=9; client_max_window_bits", None),
        ];
        for (param, want) in table {
            let offer = format!("permessage-deflate; {param}");
            let want = want.map(|p| match p {
                "" => "permessage-deflate".to_owned(),
                p => format!("permessage-deflate; {p}"),
            });
            assert_eq!(respond(&offer), want, "{offer}");
        }
    }

    /// pywebsocket's response order: server_max_window_bits, server_no_context_takeover,
    /// client_max_window_bits, client_no_context_takeover, whatever the offer's order.
    #[test]
    fn rfc7692_7_response_order_is_pywebsockets() {
        let ov = ResponseOverrides {
            client_max_window_bits: Some(10),
            client_no_context_takeover: true,
        };
        assert_eq!(
            respond_with(
                "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                 server_no_context_takeover; server_max_window_bits=10",
                &ov
            )
            .as_deref(),
            Some(
                "permessage-deflate; server_max_window_bits=10; server_no_context_takeover; \
                 client_max_window_bits=10; client_no_context_takeover"
            )
        );
        assert_eq!(
            respond("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
                .as_deref(),
            Some("permessage-deflate; server_max_window_bits=10; server_no_context_takeover")
        );
    }

    /// §7.1.2.2: client_max_window_bits=N in the response only if the client offered the
    /// parameter; otherwise the offer is declined (pywebsocket), and N never exceeds the
    /// offered value.
    #[test]
    fn rfc7692_7_1_2_2_forced_client_max_window_bits() {
        let ov = ResponseOverrides { client_max_window_bits: Some(10), ..Default::default() };
        assert_eq!(
            respond_with("permessage-deflate; client_max_window_bits", &ov).as_deref(),
            Some("permessage-deflate; client_max_window_bits=10")
        );
        assert_eq!(
            respond_with("permessage-deflate; client_max_window_bits=9", &ov).as_deref(),
            Some("permessage-deflate; client_max_window_bits=9")
        );
        assert_eq!(respond_with("permessage-deflate", &ov), None);
        // The first offer lacks it, the second has it.
        assert_eq!(
            respond_with("permessage-deflate, permessage-deflate; client_max_window_bits", &ov)
                .as_deref(),
            Some("permessage-deflate; client_max_window_bits=10")
        );
        let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
        let (n, _) = negotiate(&offers, &cfg(), &ov).unwrap();
        assert_eq!(n.client_max_window_bits, 10);
        for bad in [0, 7, 16, 255] {
            let ov = ResponseOverrides { client_max_window_bits: Some(bad), ..Default::default() };
            assert_eq!(respond_with("permessage-deflate; client_max_window_bits", &ov), None);
        }
        // Without an override the client's own promise is recorded.
        assert_eq!(
            agreed("permessage-deflate; client_max_window_bits=11").client_max_window_bits,
            11
        );
    }

    /// §7.1.1.2: a forced client_no_context_takeover is added even if not offered, and the
    /// decompressor then resets per message.
    #[test]
    fn rfc7692_7_1_1_2_forced_client_no_context_takeover() {
        let ov = ResponseOverrides { client_no_context_takeover: true, ..Default::default() };
        let offers = parse_extensions("permessage-deflate").unwrap();
        let (n, r) = negotiate(&offers, &cfg(), &ov).unwrap();
        assert_eq!(format_extensions(&[r]), "permessage-deflate; client_no_context_takeover");
        assert!(n.client_no_context_takeover);
        assert!(n.decompressor().no_context_takeover());
        // Offered by the client but not forced: accepted, not echoed, no reset needed.
        let n = agreed("permessage-deflate; client_no_context_takeover");
        assert!(!n.client_no_context_takeover);
    }

    /// Autobahn 13.x offers (case12_x_x.py DEFLATE_PARAMS), alone and in the three-offer
    /// case: all accepted, the first one wins.
    #[test]
    fn rfc7692_7_autobahn_13_offers() {
        let cases = [
            ("permessage-deflate", "permessage-deflate"),
            (
                "permessage-deflate; client_no_context_takeover; client_max_window_bits",
                "permessage-deflate",
            ),
            (
                "permessage-deflate; server_max_window_bits=9",
                "permessage-deflate; server_max_window_bits=9",
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
                "permessage-deflate; server_max_window_bits=9; server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover; \
                 client_max_window_bits; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=12; server_no_context_takeover",
            ),
            (
                "permessage-deflate; server_max_window_bits=9, permessage-deflate; \
                 server_max_window_bits=15, permessage-deflate",
                "permessage-deflate; server_max_window_bits=9",
            ),
        ];
        for (offer, want) in cases {
            assert_eq!(respond(offer).as_deref(), Some(want), "{offer}");
        }
        let n = agreed("permessage-deflate; server_no_context_takeover; server_max_window_bits=9");
        assert!(n.server_no_context_takeover);
        assert_eq!(n.server_max_window_bits, 9);
        let c = n.compressor(&cfg());
        assert!(c.no_context_takeover() && !c.is_allocated());
    }

    /// §7: declined offers are skipped, the first acceptable one wins, other extensions are
    /// ignored, and nothing acceptable means no compression.
    #[test]
    fn rfc7692_7_first_acceptable_offer_wins() {
        // pywebsocket, verified: the second offer is accepted when the first is declined
        // (here for an unknown parameter; pywebsocket also for client_no_context_takeover).
        assert_eq!(
            respond("permessage-deflate; foo=bar, permessage-deflate; server_max_window_bits=10")
                .as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
        assert_eq!(
            respond(
                "x-foo, permessage-deflate; server_max_window_bits=20, permessage-deflate; \
                 server_no_context_takeover, permessage-deflate"
            )
            .as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        assert_eq!(respond("permessage-deflate; foo=bar"), None);
        assert_eq!(respond("permessage-deflate; server_max_window_bits=3000000"), None);
        assert_eq!(respond("x-foo, deflate-frame"), None);
        // Extension names are case-sensitive tokens, as in pywebsocket.
        assert_eq!(respond("Permessage-Deflate"), None);
        // Disabled.
        let off = DeflateConfig { enabled: false, ..cfg() };
        let offers = parse_extensions("permessage-deflate").unwrap();
        assert_eq!(negotiate(&offers, &off, &ResponseOverrides::default()), None);
    }

    #[test]
    fn rfc7692_7_1_2_1_our_window_policy() {
        let small = DeflateConfig { server_max_window_bits: 9, ..cfg() };
        let offers = parse_extensions("permessage-deflate; server_max_window_bits=11").unwrap();
        let (n, r) = negotiate(&offers, &small, &ResponseOverrides::default()).unwrap();
        assert_eq!(format_extensions(&[r]), "permessage-deflate; server_max_window_bits=9");
        assert_eq!(n.server_max_window_bits, 9);
        let big = DeflateConfig { server_max_window_bits: 15, ..cfg() };
        let (n, r) = negotiate(&offers, &big, &ResponseOverrides::default()).unwrap();
        assert_eq!(format_extensions(&[r]), "permessage-deflate; server_max_window_bits=11");
        assert_eq!(n.server_max_window_bits, 11);
        // Out-of-range configuration is clamped, and reported by validate().
        let wild = DeflateConfig { server_max_window_bits: 40, mem_level: 0, level: 12, ..cfg() };
        assert_eq!(
            wild.validate().unwrap_err().to_string(),
            "deflate server_max_window_bits = 40 is outside 8..=15"
        );
        let (n, _) =
            negotiate(&parse_extensions("permessage-deflate").unwrap(), &wild, &Default::default())
                .unwrap();
        assert_eq!(n.server_max_window_bits, 15);
        let mut out = Vec::new();
        n.compressor(&wild).compress(b"Hello", &mut out);
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert!(cfg().validate().is_ok());
        let bad_mem = DeflateConfig { mem_level: 0, ..cfg() };
        assert_eq!(
            bad_mem.validate().unwrap_err().to_string(),
            "deflate mem_level = 0 is outside 1..=9"
        );
        let bad_level = DeflateConfig { level: 10, ..cfg() };
        assert_eq!(bad_level.validate().unwrap_err().field, "level");
    }

    fn frame_cfg() -> DeflateConfig {
        DeflateConfig { deflate_frame: true, ..cfg() }
    }

    fn respond_any(offer: &str, pf: &FrameResponseOverrides) -> Option<(Compression, String)> {
        let offers = parse_extensions(offer).unwrap();
        negotiate_compression(&offers, &frame_cfg(), &ResponseOverrides::default(), pf)
            .map(|(c, r)| (c, format_extensions(&[r])))
    }

    /// deflate-frame parameters as pywebsocket answered them: unknown ones ignored.
    #[test]
    fn deflate_frame_parameter_table() {
        let none = FrameResponseOverrides::default();
        let table: &[(&str, Option<(bool, u8)>)] = &[
            ("deflate-frame", Some((false, 12))),
            ("x-webkit-deflate-frame", Some((false, 12))),
            ("deflate-frame; no_context_takeover", Some((true, 12))),
            ("deflate-frame; max_window_bits=10", Some((false, 10))),
            ("deflate-frame; max_window_bits=15", Some((false, 12))),
            ("deflate-frame; max_window_bits=8; no_context_takeover", Some((true, 8))),
            ("deflate-frame; foo=bar; max_window_bits=9", Some((false, 9))),
            ("deflate-frame; max_window_bits", None),
            ("deflate-frame; max_window_bits=7", None),
            ("deflate-frame; max_window_bits=010", None),
            ("deflate-frame; no_context_takeover=1", None),
            ("Deflate-Frame", None),
        ];
        for (offer, want) in table {
            let got = respond_any(offer, &none).map(|(c, header)| match c {
                Compression::PerFrame(n) => {
                    assert_eq!(header, n.name, "{offer}: response has no parameters");
                    (n.no_context_takeover, n.max_window_bits)
                }
                other => panic!("{offer}: {other:?}"),
            });
            assert_eq!(got, *want, "{offer}");
        }
        // Off by default, and never without `enabled`.
        let offers = parse_extensions("deflate-frame").unwrap();
        assert_eq!(negotiate_deflate_frame(&offers, &cfg(), &none), None);
        let off = DeflateConfig { enabled: false, ..frame_cfg() };
        assert_eq!(negotiate_deflate_frame(&offers, &off, &none), None);
        assert!(negotiate_deflate_frame(&offers, &frame_cfg(), &none).is_some());
    }

    #[test]
    fn deflate_frame_forced_response_parameters() {
        let pf = FrameResponseOverrides { max_window_bits: Some(10), no_context_takeover: true };
        let (c, header) = respond_any("x-webkit-deflate-frame", &pf).unwrap();
        assert_eq!(header, "x-webkit-deflate-frame; max_window_bits=10; no_context_takeover");
        let Compression::PerFrame(n) = c else { panic!() };
        assert!(n.client_no_context_takeover);
        assert_eq!(n.client_max_window_bits, 10);
        assert!(n.decompressor().no_context_takeover());
        let bad = FrameResponseOverrides { max_window_bits: Some(16), ..Default::default() };
        assert!(respond_any("deflate-frame", &bad).is_none());
    }

    /// At most one compression extension, the first acceptable offer across both kinds
    /// (pywebsocket: `permessage-deflate, deflate-frame` gives permessage-deflate only).
    #[test]
    fn one_compression_extension_first_acceptable_wins() {
        let none = FrameResponseOverrides::default();
        let (c, header) = respond_any("permessage-deflate, deflate-frame", &none).unwrap();
        assert!(matches!(c, Compression::PerMessage(_)));
        assert_eq!(header, "permessage-deflate");
        let (c, header) = respond_any("deflate-frame, permessage-deflate", &none).unwrap();
        assert!(matches!(c, Compression::PerFrame(_)));
        assert_eq!(header, "deflate-frame");
        let (c, _) = respond_any(
            "permessage-deflate; foo, deflate-frame; max_window_bits, x-webkit-deflate-frame, \
             permessage-deflate",
            &none,
        )
        .unwrap();
        assert!(matches!(c, Compression::PerFrame(ref n) if n.name == X_WEBKIT_DEFLATE_FRAME));
        // Without deflate_frame the same header falls through to permessage-deflate.
        let offers = parse_extensions("deflate-frame, permessage-deflate").unwrap();
        let (c, _) =
            negotiate_compression(&offers, &cfg(), &ResponseOverrides::default(), &none).unwrap();
        assert!(matches!(c, Compression::PerMessage(_)));
    }
}

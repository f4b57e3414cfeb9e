"""Small HTTP header parsing helpers (RFC 2616 tokens, LWS, quoted-string).

A ParsingState holds the string being parsed and the index of the next
character (``head``).  The consume_* functions advance ``head`` only when
they succeed.
"""

import urllib.parse

_SEPARATORS = '()<>@,;:\\"/[]?={} \t'


def _is_char(c):
    return ord(c) <= 127


def _is_ctl(c):
    return ord(c) <= 31 or ord(c) == 127


class ParsingState(object):
    def __init__(self, data):
        self.data = data
        self.head = 0


def peek(state, pos=0):
    """The character pos positions after head, or None past the end."""
    index = state.head + pos
    if index >= len(state.data):
        return None
    return state.data[index]


def consume(state, amount=1):
    """Consumes and returns amount characters, or None (consuming nothing)
    if fewer remain."""
    end = state.head + amount
    if end > len(state.data):
        return None
    result = state.data[state.head:end]
    state.head = end
    return result


def consume_string(state, expected):
    """Consumes expected if data continues with it; returns True/False."""
    for i, c in enumerate(expected):
        if peek(state, i) != c:
            return False
    consume(state, len(expected))
    return True


def consume_lws(state):
    """Consumes one LWS = [CRLF] 1*(SP | HT).  Returns True if consumed."""
    start = state.head
    consume_string(state, '\r\n')
    count = 0
    while peek(state, count) in (' ', '\t'):
        count += 1
    if count == 0:
        state.head = start
        return False
    consume(state, count)
    return True


def consume_lwses(state):
    """Consumes *LWS."""
    while consume_lws(state):
        pass


def _is_token_char(c):
    return _is_char(c) and not _is_ctl(c) and c not in _SEPARATORS


def consume_token(state):
    """Consumes and returns a token, or None if there is none at head."""
    count = 0
    while True:
        c = peek(state, count)
        if c is None or not _is_token_char(c):
            break
        count += 1
    if count == 0:
        return None
    return consume(state, count)


def consume_token_or_quoted_string(state):
    """Consumes a token or a quoted-string and returns the token or the
    unquoted string (quoted-pairs resolved, each LWS replaced by one space).
    Returns None and consumes nothing if neither is found or the
    quoted-string is malformed (unterminated, CTL in qdtext, non-CHAR in a
    quoted-pair)."""
    start = state.head
    if not consume_string(state, '"'):
        return consume_token(state)
    chars = []
    escaped = False
    while True:
        if not escaped and consume_lws(state):
            chars.append(' ')
            continue
        c = consume(state)
        if c is None:
            state.head = start
            return None
        if escaped:
            if not _is_char(c):
                state.head = start
                return None
            chars.append(c)
            escaped = False
        elif c == '\\':
            escaped = True
        elif c == '"':
            return ''.join(chars)
        elif _is_ctl(c):
            state.head = start
            return None
        else:
            chars.append(c)


def quote_if_necessary(s):
    """Returns s unchanged if it is a token, else as a quoted-string
    ('"' and CTLs backslash-escaped).  '' becomes '""'."""
    if s == '':
        return '""'
    needs_quotes = False
    out = []
    for c in s:
        if c == '"' or not _is_token_char(c):
            needs_quotes = True
        if c == '"' or _is_ctl(c):
            out.append('\\' + c)
        else:
            out.append(c)
    body = ''.join(out)
    if needs_quotes:
        return '"' + body + '"'
    return body


def parse_uri(uri):
    """Parses a request URI and returns (host, port, resource).

    For a ws:// or wss:// absolute URI returns the host name, the port
    (default 80/443) and the path ('/' if empty) with '?query' and
    '#fragment' re-appended.  Any other string is taken as a relative URI
    and returned as (None, None, uri).  (None, None, None) means an absolute
    URI without a host or with an invalid port.
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ('ws', 'wss'):
        return None, None, uri
    if parsed.hostname is None:
        return None, None, None
    try:
        port = parsed.port
    except ValueError:
        return None, None, None
    if port is None:
        port = 80 if parsed.scheme == 'ws' else 443
    path = parsed.path or '/'
    if parsed.query:
        path += '?' + parsed.query
    if parsed.fragment:
        path += '#' + parsed.fragment
    return parsed.hostname, port, path

"""Secrets out of text: credentials inside URLs (`https://user:key@host`, `?api_key=...`) are masked before
anything is logged, printed or stored. Pure string functions; the console applies them to every log line.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://[user[:password]@]host : everything between :// and @ that holds no slash is user info.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^/@\s:]*)(?::(?P<password>[^/@\s]*))?@")
_QUERY_SECRET = re.compile(r"(?i)(?P<key>[?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|sig)=)"
                           r"(?P<value>[^&#\s]+)")


def _userinfo(match: re.Match[str]) -> str:
    if match["password"] is not None:  # user:password@ -> keep the user name, mask the password
        return f"{match['scheme']}{match['user']}:{MASK}@"
    return f"{match['scheme']}{MASK}@"  # a lone user part is usually a token (https://TOKEN@host)


def redact(text: str) -> str:
    """`text` with URL credentials and secret query parameters replaced by ***."""
    return _QUERY_SECRET.sub(lambda m: m["key"] + MASK, _USERINFO.sub(_userinfo, text))

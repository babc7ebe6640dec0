r"""A small grok engine: named patterns expanded into one anchored Python regex.

Grok references are ``%{NAME}``, ``%{NAME:field}`` and ``%{NAME:field:type}``; inline named
groups ``(?<field>...)`` (Oniguruma) or ``(?P<field>...)`` capture a string field too. Types follow
Glue's custom-classifier docs (``byte``, ``short``, ``int``, ``long``, ``float``, ``double``,
``boolean``, ``string``) and are reported as Hive types (``long`` -> ``bigint``).

Custom patterns use Glue's ``CustomPatterns`` format: one ``NAME regex`` per line; they may
reference built-in patterns and each other, and override built-ins of the same name.

A compiled pattern matches a whole line (``fullmatch``), never a prefix of it. Fields become
internal group names, so backreferences to them (``(?P=name)``, ``\k<name>``) are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from etl.crawler.types import widen
from etl.errors import ClassificationError

# The standard library, written for Python's ``re`` (3.11+: atomic groups, possessive quantifiers).
_BASE = r"""
USERNAME [a-zA-Z0-9._-]+
USER %{USERNAME}
EMAILLOCALPART [a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*
EMAILADDRESS %{EMAILLOCALPART}@%{HOSTNAME}
INT [+-]?[0-9]+
BASE10NUM (?<![0-9.+-])(?>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))
NUMBER %{BASE10NUM}
BASE16NUM (?<![0-9A-Fa-f])[+-]?(?:0x)?[0-9A-Fa-f]+
BASE16FLOAT \b[+-]?(?:0x)?(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?|\.[0-9A-Fa-f]+)\b
POSINT \b[1-9][0-9]*\b
NONNEGINT \b[0-9]+\b
WORD \b\w+\b
NOTSPACE \S+
SPACE \s*
DATA .*?
GREEDYDATA .*
QUOTEDSTRING (?>"(?:[^"\\]|\\.)*+"|'(?:[^'\\]|\\.)*+'|`(?:[^`\\]|\\.)*+`)
QS %{QUOTEDSTRING}
UUID [A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}
CISCOMAC (?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4}
WINDOWSMAC (?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2}
COMMONMAC (?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2}
MAC (?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})
IPV4OCTET (?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])
IPV4 (?<![0-9])%{IPV4OCTET}(?:\.%{IPV4OCTET}){3}(?![0-9])
IPV6 %{IPV6FULL}(?:%[0-9A-Za-z]+)?
IPV6FULL (?:(?:%{H16}:){7}%{H16}|(?:%{H16}:){1,7}:|(?:%{H16}:){1,6}:%{H16}|(?:%{H16}:){1,5}(?::%{H16}){1,2}|(?:%{H16}:){1,4}(?::%{H16}){1,3}|(?:%{H16}:){1,3}(?::%{H16}){1,4}|(?:%{H16}:){1,2}(?::%{H16}){1,5}|%{H16}:(?::%{H16}){1,6}|:(?:(?::%{H16}){1,7}|:)|(?:%{H16}:){6}%{IPV4}|(?:%{H16}:){1,5}:%{IPV4}|::(?:ffff(?::0{1,4})?:)?%{IPV4})
H16 [0-9A-Fa-f]{1,4}
IP (?:%{IPV6}|%{IPV4})
HOSTNAME \b[0-9A-Za-z][0-9A-Za-z-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z-]{0,62})*(?:\.|\b)
HOST %{HOSTNAME}
IPORHOST (?:%{IP}|%{HOSTNAME})
HOSTPORT %{IPORHOST}:%{POSINT}
UNIXPATH (?:/[\w%!$@:.,+~-]*)+
WINPATH (?:[A-Za-z]+:|\\)(?:\\[^\\?*]*)+
PATH (?:%{UNIXPATH}|%{WINPATH})
TTY /dev/(?:pts|tty[pq]?)(?:\w+)?/?[0-9]+
URIPROTO [A-Za-z][A-Za-z0-9+.-]+
URIHOST %{IPORHOST}(?::%{POSINT})?
URIPATH (?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_-]*)+
URIPARAM \?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\[\]<>-]*
URIPATHPARAM %{URIPATH}(?:%{URIPARAM})?
URI %{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?
MONTH \b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]une?|[Jj]uly?|[Aa]ug(?:ust)?|[Ss]ep(?:t(?:ember)?)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\b
MONTHNUM (?:0?[1-9]|1[0-2])
MONTHNUM2 (?:0[1-9]|1[0-2])
MONTHDAY (?:0[1-9]|[12][0-9]|3[01]|[1-9])
DAY \b(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)\b
YEAR (?>\d\d){1,2}
HOUR (?:2[0-3]|[01]?[0-9])
MINUTE [0-5][0-9]
SECOND (?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?
TIME (?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])
DATE_US %{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}
DATE_EU %{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}
DATE (?:%{DATE_US}|%{DATE_EU})
DATESTAMP %{DATE}[- ]%{TIME}
ISO8601_TIMEZONE (?:Z|[+-]%{HOUR}(?::?%{MINUTE}))
ISO8601_SECOND %{SECOND}
TIMESTAMP_ISO8601 %{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?
TZ \b(?:[APMCE][SD]T|UTC|GMT)\b
DATESTAMP_RFC822 %{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}
DATESTAMP_RFC2822 %{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}
DATESTAMP_OTHER %{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}
DATESTAMP_EVENTLOG %{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}
HTTPDATE %{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}
SYSLOGTIMESTAMP %{MONTH} +%{MONTHDAY} %{TIME}
PROG [\x21-\x5a\x5c\x5e-\x7e]+
SYSLOGPROG %{PROG:program}(?:\[%{POSINT:pid}\])?
SYSLOGHOST %{IPORHOST}
SYSLOGFACILITY <%{NONNEGINT:facility}\.%{NONNEGINT:priority}>
SYSLOGBASE %{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} %{SYSLOGPROG}:
LOGLEVEL \b(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|[Ww]arn(?:ing)?|WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|CRIT(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|[Ee]merg(?:ency)?|EMERG(?:ENCY)?)\b
COMMONAPACHELOG %{IPORHOST:clientip} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" %{NUMBER:response} (?:%{NUMBER:bytes}|-)
COMBINEDAPACHELOG %{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}
LINUXKERNELLOG (?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp}) %{SYSLOGHOST:logsource} kernel: (?:\[ *%{BASE10NUM:uptime:double}\] ?)?%{GREEDYDATA:message}
IISLOG %{TIMESTAMP_ISO8601:timestamp} %{IPORHOST:s_ip} %{NOTSPACE:cs_method} %{NOTSPACE:cs_uri_stem} %{NOTSPACE:cs_uri_query} %{INT:s_port:int} %{NOTSPACE:cs_username} %{IPORHOST:c_ip} %{NOTSPACE:cs_user_agent}(?: %{NOTSPACE:cs_referer})? %{INT:sc_status:int} %{INT:sc_substatus:int} %{INT:sc_win32_status:long} %{INT:time_taken:int}
RUBY_LOGLEVEL (?:DEBUG|INFO|WARN|ERROR|FATAL|UNKNOWN|ANY)
RUBY_LOGGER [DIWEFAU], \[%{TIMESTAMP_ISO8601:timestamp} #%{POSINT:pid:int}\] +%{RUBY_LOGLEVEL:loglevel} -- %{DATA:progname}: %{GREEDYDATA:message}
SQUID3 %{NUMBER:timestamp:double} +%{INT:duration:int} %{IPORHOST:client_address} %{WORD:cache_result}/%{NONNEGINT:status_code:int} %{INT:bytes:long} %{NOTSPACE:request_method} %{NOTSPACE:url} %{NOTSPACE:user} %{WORD:hierarchy_code}/%{NOTSPACE:server} %{NOTSPACE:content_type}
"""  # noqa: E501 - one pattern per line, as in a grok patterns file

# Grok's cast names (Glue's docs) and Hive's own names, to the Hive type recorded in the catalog.
_TYPES = {
    "string": "string", "boolean": "boolean", "bool": "boolean",
    "byte": "tinyint", "tinyint": "tinyint", "short": "smallint", "smallint": "smallint",
    "int": "int", "integer": "int", "long": "bigint", "bigint": "bigint",
    "float": "float", "double": "double",
}
# %{NAME}, %{NAME:field}, %{NAME:field:type}, or an inline named group (?<field> / (?P<field>.
_TOKEN = re.compile(
    r"%\{(?P<name>\w+)(?::(?P<field>[^:}]+))?(?::(?P<type>[^:}]+))?\}"
    r"|(?<!\\)\(\?P?<(?P<inline>[A-Za-z_][\w.@-]*)>"
)
_DEFINITION = re.compile(r"(\w+)\s+(.+)")


def parse_patterns(text: str) -> dict[str, str]:
    """``NAME regex`` lines to a dict; blank lines and ``#`` comments are skipped.

    Raises:
        ClassificationError: a line is not ``NAME regex``.
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _DEFINITION.fullmatch(line)
        if not match:
            raise ClassificationError(
                f"custom grok pattern line {number} is not 'NAME regex': {line!r}"
            )
        out[match.group(1)] = match.group(2)
    return out


BUILTIN_PATTERNS: dict[str, str] = parse_patterns(_BASE)


@dataclass(frozen=True)
class Grok:
    """A compiled grok pattern.

    Attributes:
        pattern: the grok source.
        regex: the expanded regex; use :meth:`match`, which matches whole lines only.
        fields: (field, Hive type) in order of first appearance; a field named twice (in
            alternatives) is one column.
        groups: the regex group names holding each field's value.
    """

    pattern: str
    regex: re.Pattern[str]
    fields: tuple[tuple[str, str], ...]
    groups: dict[str, tuple[str, ...]]

    def match(self, line: str) -> dict[str, str | None] | None:
        """Field values (as text) when the whole line matches, else None."""
        found = self.regex.fullmatch(line)
        if found is None:
            return None
        values = found.groupdict()
        return {
            name: next((values[g] for g in groups if values[g] is not None), None)
            for name, groups in self.groups.items()
        }


@lru_cache(maxsize=256)
def compile_grok(pattern: str, custom_patterns: str = "") -> Grok:
    """Expand ``pattern`` with the built-in and custom patterns and compile it.

    Raises:
        ClassificationError: unknown or recursive pattern names, unknown types, bad custom
            pattern lines, or a regex Python cannot compile.
    """
    library = {**BUILTIN_PATTERNS, **parse_patterns(custom_patterns)}
    types: dict[str, str] = {}
    groups: dict[str, list[str]] = {}

    def capture(field: str, hive_type: str) -> str:
        group = f"_g{sum(len(g) for g in groups.values())}"
        groups.setdefault(field, []).append(group)
        types[field] = widen(types[field], hive_type)[0] if field in types else hive_type
        return group

    def expand(text: str, stack: tuple[str, ...]) -> str:
        def replace(token: re.Match[str]) -> str:
            if token.group("inline"):
                return f"(?P<{capture(token.group('inline'), 'string')}>"
            name, field, cast = token.group("name", "field", "type")
            if name in stack:
                chain = " -> ".join((*stack, name))
                raise ClassificationError(f"grok pattern %{{{name}}} is recursive: {chain}")
            if name not in library:
                raise ClassificationError(f"unknown grok pattern %{{{name}}}")
            if field is None:
                return f"(?:{expand(library[name], (*stack, name))})"
            group = capture(field, _hive_type(cast, field))
            return f"(?P<{group}>{expand(library[name], (*stack, name))})"

        return _TOKEN.sub(replace, text)

    source = expand(pattern, ())
    try:
        regex = re.compile(source)
    except re.error as exc:
        raise ClassificationError(f"grok pattern {pattern!r} is not a valid regex: {exc}") from exc
    return Grok(
        pattern=pattern,
        regex=regex,
        fields=tuple((name, str(t)) for name, t in types.items()),
        groups={name: tuple(g) for name, g in groups.items()},
    )


def _hive_type(cast: str | None, field: str) -> str:
    if cast is None:
        return "string"
    hive = _TYPES.get(cast.lower())
    if hive is None:
        raise ClassificationError(
            f"grok field {field!r}: unknown type {cast!r} (use one of {', '.join(sorted(_TYPES))})"
        )
    return hive

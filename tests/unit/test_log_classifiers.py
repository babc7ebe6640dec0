"""Grok engine and Glue's log classifiers, on real-looking log files (no JVM)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from etl.crawler.classifiers import logs
from etl.crawler.classifiers.grok import BUILTIN_PATTERNS, compile_grok
from etl.crawler.classifiers.logs import GrokClassifier, custom_grok_classifier
from etl.crawler.sample import FileSample
from etl.errors import ClassificationError

# --------------------------------------------------------------------------------------------
# Sample lines, one realistic set per format
# --------------------------------------------------------------------------------------------

COMBINED = [
    '203.0.113.7 - frank [10/Oct/2023:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    '198.51.100.23 - - [12/Jan/2024:06:25:01 +0000] "POST /api/v1/orders?id=42&x=y HTTP/1.1" '
    '201 512 "-" "curl/8.4.0"',
    '2001:db8::1 - - [12/Jan/2024:06:25:02 +0000] "GET /index.html HTTP/2.0" 304 - '
    '"https://www.google.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"',
    'crawler-7.search.example.net - - [12/Jan/2024:06:25:03 +0100] "HEAD / HTTP/1.1" 200 0 '
    '"-" "Googlebot/2.1 (+http://www.google.com/bot.html)"',
    '192.0.2.200 - alice [12/Jan/2024:06:25:04 +0000] "-" 408 - "-" "-"',
    '192.0.2.201 - - [12/Jan/2024:06:25:05 +0000] "GET /search?q=%22quoted%22 HTTP/1.1" 200 1043 '
    '"-" "Agent with \\"escaped\\" quotes"',
]
COMMON = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    '203.0.113.9 - - [12/Jan/2024:06:25:01 +0000] "GET /favicon.ico HTTP/1.1" 404 209',
    'host-12.example.org - bob [12/Jan/2024:06:25:01 +0000] "DELETE /api/items/7 HTTP/1.1" 204 -',
    '192.0.2.1 - - [12/Jan/2024:06:25:09 +0000] "GET /legacy" 200 17',
    '192.0.2.2 - - [12/Jan/2024:06:25:10 +0000] "\\x16\\x03\\x01\\x02" 400 226',
]
KERNEL = [
    "Jan 12 06:25:01 host kernel: [  123.456789] usb 1-1: new high-speed USB device number 2 "
    "using xhci_hcd",
    "Jan 12 06:25:01 host kernel: [  123.601234] usb 1-1: New USB device found, idVendor=0781",
    "Jan  3 22:10:45 web-01 kernel: [    0.000000] Linux version 6.5.0-14-generic (buildd@lcy02)",
    "Feb 28 01:02:03 web-01 kernel: [98765.432100] EXT4-fs (sda1): mounted filesystem",
    "Feb 28 01:02:04 web-01 kernel: Out of memory: Killed process 4242 (java) total-vm:8123456kB",
    "2024-03-01T10:11:12.345678+00:00 db-2 kernel: [ 5.123] e1000e 0000:00:19.0 eth0: Link Up",
]
IIS_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2024-01-02 10:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
]
IIS = [
    "2024-01-02 10:00:00 10.0.0.1 GET /default.htm - 80 - 192.168.1.10 "
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - 200 0 0 15",
    "2024-01-02 10:00:01 10.0.0.1 POST /api/login.aspx ReturnUrl=%2Fhome 443 CONTOSO\\jdoe "
    "192.168.1.11 Mozilla/5.0+(Macintosh) https://intranet.contoso.com/ 302 0 0 31",
    "2024-01-02 10:00:02 10.0.0.1 GET /missing.png - 443 - 2001:db8::42 curl/8.4.0 - 404 0 2 0",
    "2024-01-02 10:00:03 10.0.0.1 GET /secure - 443 - 192.168.1.12 - - 401 2 2148074254 4",
]
RUBY = [
    "I, [2024-01-02T10:00:00.123456 #1234]  INFO -- progname: message",
    "D, [2024-01-02T10:00:00.223456 #1234] DEBUG -- Rails::Engine: loaded 12 routes",
    "W, [2024-01-02T10:00:01.000001 #1234]  WARN -- : deprecated call: foo(bar: 1)",
    "E, [2024-01-02T10:00:02.512000 #98765] ERROR -- worker: undefined method `each' for nil",
    "F, [2024-01-02T10:00:03.000000 #1] FATAL -- boot: cannot connect to db",
    "A, [2024-01-02T10:00:04.000000 #1]   ANY -- : unknown severity",
]
SQUID_LINES = [
    "1286536309.450    118 192.168.0.68 TCP_MISS/200 507 GET http://www.google.com/ - "
    "HIER_DIRECT/74.125.224.52 text/html",
    "1286536309.582     32 192.168.0.68 TCP_HIT/200 1023 GET http://www.example.com/logo.png - "
    "HIER_NONE/- image/png",
    "1704189600.001      0 10.1.2.3 TCP_DENIED/403 3955 CONNECT bad.example.org:443 jdoe "
    "HIER_NONE/- text/html",
    "1704189601.742  60012 10.1.2.4 TCP_TUNNEL/200 48211 CONNECT api.github.com:443 - "
    "HIER_DIRECT/140.82.121.6 -",
    "1704189602.100      5 10.1.2.5 NONE_NONE/400 3800 NONE error:invalid-request - "
    "HIER_NONE/- text/html",
]
JSON_LINES = [json.dumps({"id": i, "name": f"n{i}", "tags": ["a", "b"]}) for i in range(20)]
CSV_LINES = ["id,name,amount,created"] + [
    f"{i},name {i},{i * 1.5},2024-01-0{i % 9 + 1}" for i in range(20)
]
SYSLOG = [
    "Jan 12 06:25:01 host CRON[4242]: (root) CMD (command -v debian-sa1 > /dev/null)",
    "Jan 12 06:25:02 host systemd[1]: Started Session 42 of user ubuntu.",
    "Jan 12 06:25:03 host sshd[777]: Accepted publickey for ubuntu from 203.0.113.5 port 50514",
    "Jan 12 06:25:04 host kernel: [  123.456789] usb 1-1: new high-speed USB device",
]

FORMATS = {
    "combined_apache": COMBINED,
    "apache": COMMON,
    "linux_kernel": KERNEL,
    "microsoft_log": IIS_HEADER + IIS,
    "ruby_logger": RUBY,
    "squid": SQUID_LINES,
}
BUILTINS = {
    "combined_apache": logs.COMBINED_APACHE,
    "apache": logs.APACHE,
    "linux_kernel": logs.LINUX_KERNEL,
    "microsoft_log": logs.MICROSOFT_LOG,
    "ruby_logger": logs.RUBY_LOGGER,
    "squid": logs.SQUID,
}
S = "string"
EXPECTED_COLUMNS = {
    "combined_apache": [
        ("clientip", S), ("ident", S), ("auth", S), ("timestamp", S), ("verb", S), ("request", S),
        ("httpversion", S), ("rawrequest", S), ("response", S), ("bytes", S), ("referrer", S),
        ("agent", S),
    ],
    "apache": [
        ("clientip", S), ("ident", S), ("auth", S), ("timestamp", S), ("verb", S), ("request", S),
        ("httpversion", S), ("rawrequest", S), ("response", S), ("bytes", S),
    ],
    "linux_kernel": [("timestamp", S), ("logsource", S), ("uptime", "double"), ("message", S)],
    "microsoft_log": [
        ("timestamp", S), ("s_ip", S), ("cs_method", S), ("cs_uri_stem", S), ("cs_uri_query", S),
        ("s_port", "int"), ("cs_username", S), ("c_ip", S), ("cs_user_agent", S), ("cs_referer", S),
        ("sc_status", "int"), ("sc_substatus", "int"), ("sc_win32_status", "bigint"),
        ("time_taken", "int"),
    ],
    "ruby_logger": [
        ("timestamp", S), ("pid", "int"), ("loglevel", S), ("progname", S), ("message", S),
    ],
    "squid": [
        ("timestamp", "double"), ("duration", "int"), ("client_address", S), ("cache_result", S),
        ("status_code", "int"), ("bytes", "bigint"), ("request_method", S), ("url", S), ("user", S),
        ("hierarchy_code", S), ("server", S), ("content_type", S),
    ],
}


def write(path: Path, lines: list[str], compress: bool = False) -> FileSample:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return FileSample.of(path)


def columns(result) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in result.columns]


# --------------------------------------------------------------------------------------------
# Built-in classifiers: positives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_builtin_matches_its_own_format(tmp_path, fmt):
    classifier = BUILTINS[fmt]
    result = classifier.classify(write(tmp_path / f"{fmt}.log", FORMATS[fmt]))
    assert result is not None
    assert result.certainty == 1.0
    assert result.classification == fmt
    assert result.classifier == fmt
    assert columns(result) == EXPECTED_COLUMNS[fmt]
    assert result.parameters == {"grokPattern": classifier.grok_pattern, "typeOfData": "file"}
    assert result.serde == {
        "SerializationLibrary": "com.amazonaws.glue.serde.GrokSerDe",
        "Parameters": {"input.format": classifier.grok_pattern},
    }
    assert result.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert result.output_format == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    data_lines = [line for line in FORMATS[fmt] if not line.startswith("#")]
    assert result.record_count == len(data_lines)
    assert result.reason == f"{fmt}: {len(data_lines)}/{len(data_lines)} sampled lines match"


def test_builtin_pattern_names_match_glue():
    assert logs.COMBINED_APACHE.grok_pattern == "%{COMBINEDAPACHELOG}"
    assert logs.APACHE.grok_pattern == "%{COMMONAPACHELOG}"


def test_combined_apache_field_values():
    grok = logs.COMBINED_APACHE.grok
    row = grok.match(COMBINED[1])
    assert row == {
        "clientip": "198.51.100.23", "ident": "-", "auth": "-",
        "timestamp": "12/Jan/2024:06:25:01 +0000", "verb": "POST",
        "request": "/api/v1/orders?id=42&x=y", "httpversion": "1.1", "rawrequest": None,
        "response": "201", "bytes": "512", "referrer": '"-"', "agent": '"curl/8.4.0"',
    }
    assert grok.match(COMBINED[2])["clientip"] == "2001:db8::1"
    assert grok.match(COMBINED[2])["bytes"] is None  # "-"
    malformed = grok.match(COMBINED[4])
    assert malformed["rawrequest"] == "-" and malformed["verb"] is None
    assert grok.match(COMBINED[5])["agent"] == '"Agent with \\"escaped\\" quotes"'


def test_other_builtin_field_values():
    kernel = logs.LINUX_KERNEL.grok
    assert kernel.match(KERNEL[0])["uptime"] == "123.456789"
    assert kernel.match(KERNEL[0])["message"].startswith("usb 1-1: new high-speed")
    assert kernel.match(KERNEL[4])["uptime"] is None
    assert kernel.match(KERNEL[5])["timestamp"] == "2024-03-01T10:11:12.345678+00:00"
    iis = logs.MICROSOFT_LOG.grok.match(IIS[1])
    assert iis["cs_username"] == "CONTOSO\\jdoe" and iis["cs_referer"] == "https://intranet.contoso.com/"
    assert logs.MICROSOFT_LOG.grok.match(IIS[3])["sc_win32_status"] == "2148074254"
    ruby = logs.RUBY_LOGGER.grok
    assert ruby.match(RUBY[1])["progname"] == "Rails::Engine"
    assert ruby.match(RUBY[2])["progname"] == ""
    assert ruby.match(RUBY[2])["message"] == "deprecated call: foo(bar: 1)"
    squid = logs.SQUID.grok.match(SQUID_LINES[2])
    assert squid["cache_result"] == "TCP_DENIED" and squid["status_code"] == "403"
    assert squid["user"] == "jdoe" and squid["server"] == "-"


def test_iis_without_referer_field_still_matches():
    """IIS 7 default fields have no cs(Referer)."""
    line = "2024-01-02 10:00:00 10.0.0.1 GET /index.htm - 80 - 192.168.1.10 Mozilla/5.0 200 0 0 15"
    row = logs.MICROSOFT_LOG.grok.match(line)
    assert row is not None
    assert row["cs_user_agent"] == "Mozilla/5.0" and row["cs_referer"] is None
    assert row["sc_status"] == "200"


def test_gzip_log_is_decompressed_and_classified(tmp_path):
    sample = write(tmp_path / "access.log.gz", COMBINED * 50, compress=True)
    assert sample.compression == "gzip"
    result = logs.COMBINED_APACHE.classify(sample)
    assert result is not None and result.certainty == 1.0
    assert result.record_count == len(COMBINED) * 50
    assert result.parameters["compressionType"] == "gzip"
    assert logs.APACHE.classify(sample) is None


# --------------------------------------------------------------------------------------------
# Built-in classifiers: negatives and the certainty rule
# --------------------------------------------------------------------------------------------

OTHERS = {**FORMATS, "json": JSON_LINES, "csv": CSV_LINES, "syslog": SYSLOG}


@pytest.mark.parametrize(
    ("fmt", "other"), [(fmt, other) for fmt in BUILTINS for other in OTHERS if fmt != other]
)
def test_builtin_rejects_other_formats(tmp_path, fmt, other):
    result = BUILTINS[fmt].classify(write(tmp_path / f"{other}.txt", OTHERS[other]))
    assert result is None


def test_common_and_combined_do_not_match_each_other_even_line_by_line():
    for line in COMBINED:
        assert logs.APACHE.grok.match(line) is None, line
    for line in COMMON:
        assert logs.COMBINED_APACHE.grok.match(line) is None, line


def test_some_unparsed_lines_lower_certainty(tmp_path):
    lines = COMMON * 4  # 20 lines
    mostly = lines[:19] + ["garbage that is not a log line"]
    result = logs.APACHE.classify(write(tmp_path / "mostly.log", mostly))
    assert result is not None
    assert result.certainty == pytest.approx(0.95)
    assert result.reason == "apache: 19/20 sampled lines match"

    too_many_bad = lines[:8] + ["garbage"] * 2  # 80%
    assert logs.APACHE.classify(write(tmp_path / "bad.log", too_many_bad)) is None


def test_empty_comment_only_and_binary_files_give_none(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert logs.APACHE.classify(FileSample.of(empty)) is None
    assert logs.MICROSOFT_LOG.classify(write(tmp_path / "iis.log", IIS_HEADER)) is None
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100 + "\n".join(COMMON).encode())
    assert logs.APACHE.classify(FileSample.of(binary)) is None


def test_sampling_stops_at_1000_lines_but_counts_all(tmp_path):
    lines = COMMON * 300  # 1,500 lines, well under 1 MB
    result = logs.APACHE.classify(write(tmp_path / "big.log", lines))
    assert result.reason == "apache: 1000/1000 sampled lines match"
    assert result.record_count == 1500
    # Lines after the first 1,000 are not looked at.
    tail_garbage = COMMON * 200 + ["not a log line"] * 500
    assert logs.APACHE.classify(write(tmp_path / "tail.log", tail_garbage)).certainty == 1.0


def test_truncated_sample_has_no_record_count(tmp_path):
    path = tmp_path / "long.log"
    path.write_text("\n".join(COMMON * 100) + "\n")
    sample = FileSample.of(path, limit=2000)
    assert sample.truncated
    result = logs.APACHE.classify(sample)
    assert result is not None and result.certainty == 1.0
    assert result.record_count is None


def test_every_builtin_pattern_compiles():
    for name in BUILTIN_PATTERNS:
        compile_grok(f"%{{{name}}}")


def test_builtin_patterns_do_not_backtrack_catastrophically(tmp_path):
    hostile = ['"' * 300 + " - - [" * 50, "a" * 5000 + " ", "1" * 3000 + ".", " " * 2000 + "x"]
    sample = write(tmp_path / "hostile.txt", hostile * 25)
    started = time.perf_counter()
    for classifier in BUILTINS.values():
        assert classifier.classify(sample) is None
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------------------------
# The grok engine and custom classifiers
# --------------------------------------------------------------------------------------------

ORDER_PATTERNS = """
# orders service log
MYDATE %{YEAR}/%{MONTHNUM2}/%{MONTHDAY}
ORDERID ORD-%{INT}
ORDERHEAD %{MYDATE:day} %{TIME:time} order=%{ORDERID:order_id}
ORDERLINE %{ORDERHEAD} qty=%{INT:qty:int} total=%{NUMBER:total:double}
"""
ORDER_LINES = [
    "2024/01/02 10:00:00 order=ORD-1 qty=3 total=19.99 paid=true big=9000000000 note=first order",
    "2024/01/02 10:05:13 order=ORD-2 qty=1 total=5 paid=false big=1 note=",
    "2024/01/03 23:59:59 order=ORD-317 qty=12 total=120.50 paid=true big=-4 note=bulk, gift wrap",
]
ORDER_GROK = "%{ORDERLINE} paid=%{WORD:paid:boolean} big=%{INT:big:long} note=%{GREEDYDATA:note}"


def test_custom_grok_classifier_with_custom_patterns_and_types(tmp_path):
    classifier = custom_grok_classifier("orders", "orders_log", ORDER_GROK, ORDER_PATTERNS)
    result = classifier.classify(write(tmp_path / "orders.log", ORDER_LINES))
    assert result is not None and result.certainty == 1.0
    assert result.classification == "orders_log" and result.classifier == "orders"
    assert columns(result) == [
        ("day", S), ("time", S), ("order_id", S), ("qty", "int"), ("total", "double"),
        ("paid", "boolean"), ("big", "bigint"), ("note", S),
    ]
    assert result.parameters == {
        "grokPattern": ORDER_GROK, "typeOfData": "file", "grokCustomPatterns": ORDER_PATTERNS,
    }
    assert result.serde["Parameters"] == {
        "input.format": ORDER_GROK, "input.grokCustomPatterns": ORDER_PATTERNS,
    }
    row = classifier.grok.match(ORDER_LINES[2])
    assert row["order_id"] == "ORD-317" and row["note"] == "bulk, gift wrap" and row["big"] == "-4"
    assert classifier.classify(write(tmp_path / "apache.log", COMBINED)) is None


def test_custom_grok_classifier_from_crawler_spec(tmp_path):
    from etl.crawler.spec import CustomClassifier

    spec = CustomClassifier.model_validate({"GrokClassifier": {
        "Name": "orders", "Classification": "orders_log", "GrokPattern": ORDER_GROK,
        "CustomPatterns": ORDER_PATTERNS,
    }})
    classifier = spec.build()
    assert isinstance(classifier, GrokClassifier)
    assert classifier.classify(write(tmp_path / "o.log", ORDER_LINES)).certainty == 1.0


def test_grok_is_anchored_to_the_whole_line():
    grok = compile_grok("%{WORD:first} %{INT:n:int}")
    assert grok.match("hello 42") == {"first": "hello", "n": "42"}
    assert grok.match("hello 42 trailing") is None
    assert grok.match("leading hello 42") is None


def test_glue_style_field_names_inline_groups_and_repeated_fields():
    grok = compile_grok(
        r"(?:%{DATE_US:when}|%{DATE_EU:when}) (?<code>[A-Z]{3})-%{POSINT:item-id:short} "
        r"%{UUID:request.id}"
    )
    assert grok.fields == (("when", S), ("code", S), ("item-id", "smallint"), ("request.id", S))
    row = grok.match("31.12.2023 ABC-7 123e4567-e89b-12d3-a456-426614174000")
    assert row == {"when": "31.12.2023", "code": "ABC", "item-id": "7",
                   "request.id": "123e4567-e89b-12d3-a456-426614174000"}


def test_repeated_field_with_different_types_widens():
    grok = compile_grok("(?:%{INT:v:int}|%{NUMBER:v:double}|%{WORD:v})")
    assert grok.fields == (("v", S),)
    assert compile_grok("(?:%{INT:v:int}|%{INT:v:long})").fields == (("v", "bigint"),)


@pytest.mark.parametrize(("pattern", "matches", "rejects"), [
    ("%{IP}", ["10.0.0.255", "::1", "fe80::1ff:fe23:4567:890a", "2001:db8:0:0:0:0:2:1"],
     ["256.1.1.1", "1.2.3"]),
    ("%{HOSTNAME}", ["example.com", "a-b.c.example.org", "localhost"], ["-bad.example", "a b"]),
    ("%{TIMESTAMP_ISO8601}",
     ["2024-01-02T10:00:00Z", "2024-01-02 10:00:00,123", "2024-01-02T10:00:00+05:30"],
     ["2024-13-02T10:00:00", "02/01/2024 10:00"]),
    ("%{SYSLOGTIMESTAMP}", ["Jan  2 10:00:00", "Dec 31 23:59:59"], ["2024-01-02 10:00:00"]),
    ("%{HTTPDATE}", ["10/Oct/2000:13:55:36 -0700"], ["10/Oct/2000 13:55:36"]),
    ("%{URI}", ["https://user@example.com:8443/a/b?c=d&e=f", "ftp://10.0.0.1/pub/file.txt"],
     ["/relative/path"]),
    ("%{NUMBER}", ["42", "-3.5", ".5", "+7"], ["1e", "abc", "4.2.1"]),
    ("%{POSINT}", ["7", "120"], ["0", "-1"]),
    ("%{QUOTEDSTRING}", ['"a \\" b"', "'single'"], ['"unterminated', '"a" "b"']),
    ("%{LOGLEVEL}", ["INFO", "warning", "ERROR", "Fatal"], ["LOUD"]),
    ("%{SYSLOGBASE} %{GREEDYDATA}", ["Jan 12 06:25:01 host CRON[42]: (root) CMD (true)"],
     ["host CRON: x"]),
    ("%{MAC}", ["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"], ["00:1a:2b"]),
    ("%{DATESTAMP}", ["12/31/2023 23:59:59", "31.12.2023 23:59:59"], ["2023-12-31T23:59:59"]),
])
def test_standard_patterns(pattern, matches, rejects):
    grok = compile_grok(pattern)
    for text in matches:
        assert grok.match(text) is not None, text
    for text in rejects:
        assert grok.match(text) is None, text


def test_syslogbase_fields():
    grok = compile_grok("%{SYSLOGBASE} %{GREEDYDATA:message}")
    assert [name for name, _ in grok.fields] == [
        "timestamp", "facility", "priority", "logsource", "program", "pid", "message",
    ]
    row = grok.match("Jan 12 06:25:01 host CRON[4242]: (root) CMD (true)")
    assert row["program"] == "CRON" and row["pid"] == "4242"
    assert row["message"] == "(root) CMD (true)"


def test_custom_patterns_override_builtins():
    grok = compile_grok("%{WORD:w}", "WORD [a-z]+")
    assert grok.match("abc") is not None
    assert grok.match("ABC") is None


def test_unknown_pattern_name_is_an_error():
    with pytest.raises(ClassificationError, match=r"unknown grok pattern %\{NOPE\}"):
        compile_grok("%{IP:ip} %{NOPE:x}")
    with pytest.raises(ClassificationError, match=r"%\{MISSING\}"):
        compile_grok("%{MINE}", "MINE %{INT} %{MISSING}")
    with pytest.raises(ClassificationError, match="NOPE"):
        custom_grok_classifier("c", "c", "%{NOPE}")


def test_recursive_patterns_are_an_error():
    with pytest.raises(ClassificationError, match=r"recursive: A -> B -> A"):
        compile_grok("%{A:a}", "A x%{B}\nB y%{A}")
    with pytest.raises(ClassificationError, match=r"%\{SELF\} is recursive"):
        compile_grok("%{SELF}", "SELF (?:a|%{SELF})")
    with pytest.raises(ClassificationError, match="recursive"):
        custom_grok_classifier("c", "c", "%{LOOP}", "LOOP %{LOOP}")


def test_bad_types_lines_and_regexes_are_errors():
    with pytest.raises(ClassificationError, match="unknown type 'decimal'"):
        compile_grok("%{NUMBER:n:decimal}")
    with pytest.raises(ClassificationError, match="line 2 is not 'NAME regex'"):
        compile_grok("%{INT}", "GOOD \\d+\nBADLINE")
    with pytest.raises(ClassificationError, match="not a valid regex"):
        compile_grok("%{INT:n} (unclosed")

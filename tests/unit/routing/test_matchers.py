"""Alertmanager matcher syntax: what rule authors copy from alertmanager.yml and amtool must work here."""

from __future__ import annotations

import re

import pytest

from responder.errors import MatcherError
from responder.routing.matchers import Matcher, MatchType, parse_matcher, parse_matchers

EQ, NE, RE, NRE = MatchType.EQ, MatchType.NE, MatchType.RE, MatchType.NRE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('alertname = "APIQuotaExhaustion"', Matcher("alertname", EQ, "APIQuotaExhaustion")),
        ('alertname="APIQuotaExhaustion"', Matcher("alertname", EQ, "APIQuotaExhaustion")),
        ('severity=~"critical|high"', Matcher("severity", RE, "critical|high")),
        ("env!=prod", Matcher("env", NE, "prod")),
        ('job !~ "node.*"', Matcher("job", NRE, "node.*")),
        ('foo=""', Matcher("foo", EQ, "")),
        ("foo = bar", Matcher("foo", EQ, "bar")),
        ("dings !=bums", Matcher("dings", NE, "bums")),
        ("foo=~[a-z]+", Matcher("foo", RE, "[a-z]+")),
        ("statuscode=~5..", Matcher("statuscode", RE, "5..")),
        ("  \talertname\n=\n Watchdog  ", Matcher("alertname", EQ, "Watchdog")),
        ("_private_1=x", Matcher("_private_1", EQ, "x")),
        ("foo=bar,", Matcher("foo", EQ, "bar")),
        ("instance=host:9100", Matcher("instance", EQ, "host:9100")),
    ],
)
def test_parse_matcher_reads_every_operator_quoted_or_unquoted(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


def test_parse_matcher_returns_the_operator_as_a_match_type() -> None:
    matcher = parse_matcher('severity=~"critical|high"')

    assert matcher.type is MatchType.RE
    assert f"{matcher.type}" == "=~"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'a="say \"hi\""', 'say "hi"'),
        (r'a="C:\\temp"', "C:\\temp"),
        (r'a="line one\nline two"', "line one\nline two"),
        (r'a="tab\there"', "tab\there"),
        (r'a="bar,baz"', "bar,baz"),
        (r'a="{x=\"y\"}, z"', '{x="y"}, z'),
        (r'a="foo!=bar =~ ~ \x60"', "foo!=bar =~ ~ `"),
        (r'a="it\u2019s"', "it\u2019s"),
        (r'a="\U0001f642"', "\U0001f642"),
        (r'a="\xf0\x9f\x99\x82"', "\U0001f642"),
        (r'a="\101\102"', "AB"),
        (r'a="\a\b\f\r\v"', "\a\b\f\r\v"),
        ('a="a\tliteral\ttab"', "a\tliteral\ttab"),
    ],
)
def test_quoted_values_decode_go_escapes(text: str, value: str) -> None:
    assert parse_matcher(text).value == value


def test_quoted_regex_needs_a_doubled_backslash_as_in_alertmanager() -> None:
    matcher = parse_matcher(r'code=~"\\d+"')

    assert matcher.value == r"\d+"
    assert matcher.matches({"code": "503"})
    assert not matcher.matches({"code": "5xx"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo=Προμηθεύς", Matcher("foo", EQ, "Προμηθεύς")),
        ('foo="🙂bar"', Matcher("foo", EQ, "🙂bar")),
        ("foo=🙂", Matcher("foo", EQ, "🙂")),
        ('"service.name"="api"', Matcher("service.name", EQ, "api")),
        ('"Προμηθεύς" != "Zeus"', Matcher("Προμηθεύς", NE, "Zeus")),
        ('"with space"=~"a|b"', Matcher("with space", RE, "a|b")),
        ('"alertname"="Foo"', Matcher("alertname", EQ, "Foo")),
    ],
)
def test_utf8_names_and_values_are_accepted(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{a="b", c=~"d"}', [Matcher("a", EQ, "b"), Matcher("c", RE, "d")]),
        ('a="b",c!~"x.*"', [Matcher("a", EQ, "b"), Matcher("c", NRE, "x.*")]),
        ("{foo=bar,}", [Matcher("foo", EQ, "bar")]),
        ("foo=bar,", [Matcher("foo", EQ, "bar")]),
        ('{foo = "bar", dings != "bums", }', [Matcher("foo", EQ, "bar"), Matcher("dings", NE, "bums")]),
        ("foo=bar, dings!=bums", [Matcher("foo", EQ, "bar"), Matcher("dings", NE, "bums")]),
        ('{"foo"="bar","baz"!~"q.*"}', [Matcher("foo", EQ, "bar"), Matcher("baz", NRE, "q.*")]),
        ("", []),
        ("   ", []),
        ("{}", []),
        ("{ }", []),
    ],
)
def test_parse_matchers_reads_lists_with_or_without_braces(text: str, expected: list[Matcher]) -> None:
    assert parse_matchers(text) == expected


def test_commas_and_braces_inside_quotes_do_not_split_the_list() -> None:
    matchers = parse_matchers(r'{quote="She said: \"Hi, ladies!\"", path="/a/{id}", x="}"}')

    assert matchers == [
        Matcher("quote", EQ, 'She said: "Hi, ladies!"'),
        Matcher("path", EQ, "/a/{id}"),
        Matcher("x", EQ, "}"),
    ]


def test_documented_multiline_expression_equals_its_compact_form() -> None:
    # configuration.md, "Composition of matchers": whitespace outside quotes has no effect.
    spread = '{\n   alertname = "Watchdog",\n   severity =~ "warning|critical",\n}'
    compact = '{alertname="Watchdog",severity=~"warning|critical"}'

    assert parse_matchers(spread) == parse_matchers(compact)


def test_documented_composition_example_matches_as_the_docs_say() -> None:
    matchers = parse_matchers('{alertname="Watchdog", severity=~"warning|critical"}')

    assert all(m.matches({"alertname": "Watchdog", "severity": "critical"}) for m in matchers)
    assert not all(m.matches({"alertname": "Watchdog", "severity": "none"}) for m in matchers)


def test_documented_yaml_block_example_with_escaped_quotes_parses() -> None:
    # configuration.md, "More examples" 4: a matcher in a YAML block scalar keeps its trailing newline.
    block = '{quote=~"She said: \\"Hi, all!( How\'re you…)?\\""}\n'

    (matcher,) = parse_matchers(block)

    assert matcher == Matcher("quote", RE, 'She said: "Hi, all!( How\'re you…)?"')
    assert matcher.matches({"quote": 'She said: "Hi, all!"'})
    assert matcher.matches({"quote": 'She said: "Hi, all! How\'re you…"'})


def test_documented_short_form_yaml_entry_with_a_comma_in_quotes_is_one_matcher() -> None:
    # configuration.md, "More examples" 2: matchers: [ "foo = \"bar,baz\"", "dings != bums" ]
    assert parse_matcher('foo = "bar,baz"') == Matcher("foo", EQ, "bar,baz")


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('alertname="Foo"', {"alertname": "Foo"}, True),
        ('alertname="Foo"', {"alertname": "foo"}, False),
        ('alertname="Foo"', {}, False),
        ('env!="prod"', {"env": "staging"}, True),
        ('env!="prod"', {"env": "prod"}, False),
        ('env!="prod"', {}, True),
        ('severity=~"critical|high"', {"severity": "high"}, True),
        ('severity=~"critical|high"', {"severity": "low"}, False),
        ('severity!~"critical|high"', {"severity": "low"}, True),
        ('severity!~"critical|high"', {"severity": "critical"}, False),
        ('severity!~"critical|high"', {}, True),
        ('severity=~"(?i)critical"', {"severity": "CRITICAL"}, True),
    ],
)
def test_matches_follows_the_operator(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('foo=~"foo"', "foobar", False),
        ('foo=~"foo"', "barfoo", False),
        ('foo=~"foo"', "foo", True),
        ('foo=~"a|b"', "ab", False),
        ('foo=~"a|b"', "b", True),
        ('foo=~"foo"', "foo\n", False),
        ('foo=~"foo$"', "foo\n", False),
        ('foo!~"foo"', "foobar", True),
        ('foo=~".*"', "", True),
    ],
)
def test_regex_matcher_is_fully_anchored(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches({"foo": value}) is expected


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('foo=""', {}, True),
        ('foo=""', {"foo": ""}, True),
        ('foo=""', {"foo": "bar"}, False),
        ('foo!=""', {}, False),
        ('foo!=""', {"foo": "bar"}, True),
        ('foo=~".+"', {}, False),
        ('foo=~".*"', {}, True),
        ('foo!~".+"', {}, True),
    ],
)
def test_missing_label_matches_as_the_empty_string(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


def test_regex_is_compiled_once_at_parse_time(monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = parse_matcher('job=~"api-.*"')

    def no_compiling(*args: object, **kwargs: object) -> re.Pattern[str]:
        raise AssertionError("matches() compiled a regex")

    monkeypatch.setattr(re, "compile", no_compiling)
    assert matcher.matches({"job": "api-gateway"})
    assert not matcher.matches({"job": "web"})


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("alertname", EQ, "Foo"), 'alertname="Foo"'),
        (Matcher("env", NE, "prod"), 'env!="prod"'),
        (Matcher("severity", RE, "critical|high"), 'severity=~"critical|high"'),
        (Matcher("job", NRE, "node.*"), 'job!~"node.*"'),
        (Matcher("foo", EQ, ""), 'foo=""'),
        (Matcher("quote", EQ, 'say "hi"\nback\\slash'), r'quote="say \"hi\"\nback\\slash"'),
        (Matcher("foo", EQ, "Προμηθεύς"), 'foo="Προμηθεύς"'),
        (Matcher("service.name", EQ, "api"), '"service.name"="api"'),
        (Matcher("with space", RE, "a\tb"), r'"with space"=~"a\tb"'),
    ],
)
def test_str_is_the_canonical_alertmanager_form(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text


@pytest.mark.parametrize(
    "text",
    [
        'alertname = "APIQuotaExhaustion"',
        r'quote=~"She said: \"Hi, all!\"\n\\d+"',
        "foo=Προμηθεύς",
        r'"service.name"!~"a\tb\u00e9"',
        'foo=""',
        r'x="{a,b}"',
    ],
)
def test_str_parses_back_to_an_equal_matcher(text: str) -> None:
    matcher = parse_matcher(text)

    assert parse_matcher(str(matcher)) == matcher


def test_equal_matchers_compare_and_hash_equal() -> None:
    assert parse_matcher('a =~ "b.*"') == Matcher("a", RE, "b.*")
    assert len({parse_matcher("a=b"), parse_matcher('a="b"'), parse_matcher('"a" = b')}) == 1
    assert parse_matcher("a=b") != parse_matcher("a!=b")


def test_building_a_matcher_with_an_invalid_regex_raises() -> None:
    with pytest.raises(MatcherError) as info:
        Matcher("foo", RE, "(a")

    assert str(info.value) == (
        'invalid regular expression "(a" for label "foo": missing ), unterminated subpattern at position 0'
    )


def test_building_a_matcher_accepts_the_operator_as_a_string() -> None:
    matcher = Matcher("foo", "!~", "a.*")  # type: ignore[arg-type]  # what YAML-fed callers pass

    assert matcher.type is MatchType.NRE
    assert not matcher.matches({"foo": "abc"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Missing or wrong operator.
        (
            "alertname ~ foo",
            'invalid matcher "alertname ~ foo": expected one of =, !=, =~, !~ after "alertname"',
        ),
        ("alertname", 'invalid matcher "alertname": expected one of =, !=, =~, !~ after "alertname"'),
        ("foo!bar", 'invalid matcher "foo!bar": expected one of =, !=, =~, !~ after "foo"'),
        ('"a b" "c"', r'invalid matcher "\"a b\" \"c\"": expected one of =, !=, =~, !~ after "a b"'),
        # Missing, empty or invalid name.
        ("=foo", 'invalid matcher "=foo": expected a label name, found "=" at column 1'),
        ("", 'invalid matcher "": expected a label name, found end of input'),
        (",", 'invalid matcher ",": expected a label name, found "," at column 1'),
        ('""=foo', r'invalid matcher "\"\"=foo": empty label name at column 1'),
        (
            "foo.bar=x",
            'invalid matcher "foo.bar=x": invalid label name "foo.bar" at column 1: unquoted names are '
            "letters, digits and underscores, not starting with a digit; double-quote others",
        ),
        (
            "5xx=true",
            'invalid matcher "5xx=true": invalid label name "5xx" at column 1: unquoted names are '
            "letters, digits and underscores, not starting with a digit; double-quote others",
        ),
        # Missing value.
        (
            "foo=",
            'invalid matcher "foo=": expected a value after "foo=", found end of input; '
            'write foo="" to match an empty or missing label',
        ),
        (
            "foo!~,",
            'invalid matcher "foo!~,": expected a value after "foo!~", found "," at column 6; '
            'write foo!~"" to match an empty or missing label',
        ),
        ("foo==bar", 'invalid matcher "foo==bar": expected a value after "foo=", found "=" at column 5'),
        (
            "foo='bar'",
            'invalid matcher "foo=\'bar\'": expected a value after "foo=", found "\'" at column 5; '
            "quote with double quotes",
        ),
        # Quoting and escapes.
        ('foo="bar', r'invalid matcher "foo=\"bar": missing closing " for the string starting at column 5'),
        (
            r'foo="bar\"',
            r'invalid matcher "foo=\"bar\\\"": missing closing " for the string starting at column 5',
        ),
        (
            r'foo=~"\d+"',
            r'invalid matcher "foo=~\"\\d+\"": invalid escape \d at column 7; '
            r"write \\d for a literal backslash",
        ),
        (
            'foo="a\nb"',
            r'invalid matcher "foo=\"a\nb\"": line break in the string at column 7; write \n instead',
        ),
        (
            r'foo="\xf0\x9f"',
            r'invalid matcher "foo=\"\\xf0\\x9f\"": the string starting at column 5 is not valid UTF-8',
        ),
        (
            r'foo="\u12"',
            r'invalid matcher "foo=\"\\u12\"": invalid escape \u12 at column 6: \u takes 4 hex digits',
        ),
        (
            r'foo="\ud800"',
            r'invalid matcher "foo=\"\\ud800\"": invalid escape \ud800 at column 6: not a Unicode code point',
        ),
        (
            r'foo="\400"',
            r'invalid matcher "foo=\"\\400\"": invalid escape \400 at column 6: '
            r"octal escapes are \000 to \377",
        ),
        # Bad regular expressions.
        (
            'foo=~"(a"',
            r'invalid matcher "foo=~\"(a\"": invalid regular expression "(a" for label "foo": '
            "missing ), unterminated subpattern at position 0 (value at column 6)",
        ),
        (
            'foo!~"a)|(b"',
            r'invalid matcher "foo!~\"a)|(b\"": invalid regular expression "a)|(b" for label "foo": '
            "unbalanced parenthesis at position 1 (value at column 6)",
        ),
        (
            'foo=~"[[:digit:]]+"',
            r'invalid matcher "foo=~\"[[:digit:]]+\"": invalid regular expression "[[:digit:]]+" for label '
            '"foo": POSIX class [:digit:] at position 1 is not supported; use a range like [0-9] '
            "(value at column 6)",
        ),
        # Stray characters after a matcher.
        (
            "foo=bar baz",
            'invalid matcher "foo=bar baz": expected end of input after foo="bar", found "baz" at column 9',
        ),
        (
            'foo="bar"x',
            r'invalid matcher "foo=\"bar\"x": expected end of input after foo="bar", found "x" at column 10',
        ),
        (
            r"foo=bar\n",
            r'invalid matcher "foo=bar\\n": expected end of input after foo="bar", found "\\" at column 8',
        ),
        # A single matcher is not a list.
        ("a=b,c=d", 'invalid matcher "a=b,c=d": expected one matcher, found 2'),
        ("{a=b}", 'invalid matcher "{a=b}": unexpected "{" at column 1: braces enclose a list of matchers'),
        ("a=b}", 'invalid matcher "a=b}": unexpected "}" at column 4: braces enclose a list of matchers'),
    ],
)
def test_parse_matcher_rejects_invalid_input_with_a_precise_message(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matcher(text)

    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{a=b", 'invalid matchers "{a=b": missing closing "}" for the "{" at column 1'),
        ("{", 'invalid matchers "{": missing closing "}" for the "{" at column 1'),
        ("a=b}", 'invalid matchers "a=b}": unexpected "}" at column 4 without an opening "{"'),
        ("}", 'invalid matchers "}": unexpected "}" at column 1 without an opening "{"'),
        ("{{a=b}}", 'invalid matchers "{{a=b}}": expected a label name, found "{" at column 2'),
        ("{a=b}}", 'invalid matchers "{a=b}}": expected end of input after "}", found "}" at column 6'),
        ("a=b,,c=d", 'invalid matchers "a=b,,c=d": expected a label name, found "," at column 5'),
        ("{,}", 'invalid matchers "{,}": expected a label name, found "," at column 2'),
        (
            "a=b c=d",
            'invalid matchers "a=b c=d": expected "," or end of input after a="b", found "c" at column 5',
        ),
        (
            '{foo=:"bar"}',
            r'invalid matchers "{foo=:\"bar\"}": expected "," or "}" after foo=":", found "bar" at column 7',
        ),
        (
            "{a=b, c}",
            'invalid matchers "{a=b, c}": expected one of =, !=, =~, !~ after "c"',
        ),
        (
            '{a="b", c=~"(x"}',
            r'invalid matchers "{a=\"b\", c=~\"(x\"}": invalid regular expression "(x" for label "c": '
            "missing ), unterminated subpattern at position 0 (value at column 12)",
        ),
    ],
)
def test_parse_matchers_rejects_invalid_lists_with_a_precise_message(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(text)

    assert str(info.value) == message

r"""Alertmanager label matchers: ``alertname="Foo"``, ``severity=~"critical|high"``, ``env!=prod``.

The grammar is that of Alertmanager's UTF-8 matcher parser (``matcher/parse``), which amtool and
``alertmanager.yml`` accept, so rule authors write what they already write there:

* a matcher is a label name, an operator (``=``, ``!=``, ``=~``, ``!~``) and a value, with any
  whitespace around the operator;
* names and values are either double-quoted Go string literals (escapes such as ``\"``, ``\\``,
  ``\n``, ``\t``, ``\xf0``, ``\u00e9``) or unquoted runs of characters other than whitespace and
  the reserved ``{}!=~,\"'`` and backtick; an unquoted name must also be a classic label name
  (``[a-zA-Z_][a-zA-Z0-9_]*``), so any other name is written quoted;
* a list is comma-separated, optionally inside one pair of braces, with one optional trailing comma.

Regular expressions are fully anchored, as in Alertmanager: ``=~"foo"`` does not match ``foobar``.
They are compiled once, when the matcher is built, with Python's ``re`` (see :func:`_compile`).
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from responder.errors import MatcherError

__all__ = ["MatchType", "Matcher", "parse_matcher", "parse_matchers"]


class MatchType(enum.StrEnum):
    """The four matcher operators, spelled as in Alertmanager."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label matcher. Equal matchers compare and hash equal; the compiled regex is not compared.

    Raises:
        MatcherError: on construction, when a regex matcher's value is not a valid regular expression.
    """

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", MatchType(self.type))
        except ValueError:
            operator = _go_quote(str(self.type))
            raise MatcherError(f"unknown matcher operator {operator}: {_OPERATORS}") from None
        if self.type in (MatchType.RE, MatchType.NRE):
            object.__setattr__(self, "_regex", _compile(self.name, self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher. A missing label matches as the empty string."""
        value = labels.get(self.name, "")
        if self.type is MatchType.EQ:
            return value == self.value
        if self.type is MatchType.NE:
            return value != self.value
        assert self._regex is not None  # set in __post_init__ for both regex types
        found = self._regex.fullmatch(value) is not None
        return found if self.type is MatchType.RE else not found

    def __str__(self) -> str:
        """The canonical spelling, as Alertmanager prints it: ``alertname="Foo"``.

        Names that are not classic label names are quoted (``"service.name"="api"``), which both our
        parser and Alertmanager's read back; the value is then quoted with Go rules, as Alertmanager does.
        """
        if _CLASSIC_NAME.fullmatch(self.name):
            return f'{self.name}{self.type}"{_openmetrics_escape(self.value)}"'
        return f"{_go_quote(self.name)}{self.type}{_go_quote(self.value)}"


def parse_matcher(text: str) -> Matcher:
    """Parse exactly one matcher, such as ``alertname = "APIQuotaExhaustion"`` or ``env!=prod``.

    A trailing comma is tolerated (as Alertmanager does); braces are not, since they enclose a list.

    Raises:
        MatcherError: the text is not exactly one valid matcher; the message quotes the input and says
            what is wrong and at which column (counted in characters from 1).
    """
    matchers = _Parser(text, single=True).parse()
    if len(matchers) != 1:
        raise MatcherError(f"invalid matcher {_go_quote(text)}: expected one matcher, found {len(matchers)}")
    return matchers[0]


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list: ``{a="b", c=~"d"}`` or ``a="b",c!~"x.*"``.

    Braces are optional but must be paired; one trailing comma is allowed; ``""`` and ``{}`` are
    the empty list.

    Raises:
        MatcherError: the text is not a valid list of matchers; the message quotes the input and says
            what is wrong and at which column (counted in characters from 1).
    """
    return _Parser(text, single=False).parse()


_OPERATORS = "expected one of =, !=, =~, !~"
_CLASSIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Alertmanager's reserved characters: they end an unquoted literal (whitespace too, see _is_reserved).
_RESERVED = frozenset("{}!=~,\\\"'`")
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"',
}  # fmt: skip
_GO_ESCAPES = {v: "\\" + k for k, v in _SIMPLE_ESCAPES.items()}
_HEX_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset(string.hexdigits)
_OCTAL = frozenset(string.octdigits)
_POSIX_CLASS = re.compile(
    r"\[:\^?(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]"
)


def _compile(name: str, value: str) -> re.Pattern[str]:
    """Compile a matcher regex; :meth:`Matcher.matches` anchors it with ``fullmatch``.

    ``fullmatch`` is Alertmanager's ``^(?:...)$`` without its pitfall in Python, where ``$`` also
    matches before a trailing newline. Compiling the value on its own (not wrapped in a group) also
    keeps a leading ``(?i)`` legal and rejects unbalanced input such as ``a)|(b`` instead of letting
    it escape the anchors.
    """
    posix = _POSIX_CLASS.search(value)
    if posix:
        # RE2 reads [[:digit:]] as a digit; Python silently reads it as a set of the letters in "digit".
        raise MatcherError(
            f"invalid regular expression {_go_quote(value)} for label {_go_quote(name)}: "
            f"POSIX class {posix.group()} at position {posix.start()} is not supported; "
            "use a range like [0-9]"
        )
    try:
        return re.compile(value)
    except re.error as exc:
        raise MatcherError(
            f"invalid regular expression {_go_quote(value)} for label {_go_quote(name)}: {exc}"
        ) from None


def _openmetrics_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _go_quote(text: str) -> str:
    """Quote like Go's ``strconv.Quote``: the form Alertmanager prints and its parser reads."""
    out = ['"']
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _prefix_of(text: str, allowed: frozenset[str]) -> str:
    """The longest prefix of ``text`` made of ``allowed`` characters."""
    end = 0
    while end < len(text) and text[end] in allowed:
        end += 1
    return text[:end]


def _is_reserved(char: str) -> bool:
    return char.isspace() or char in _RESERVED


class _Kind(enum.Enum):
    OPEN = "{"
    CLOSE = "}"
    COMMA = ","
    OPERATOR = "operator"
    QUOTED = "quoted"
    UNQUOTED = "unquoted"
    INVALID = "invalid"  # a reserved character that starts no token; the parser says what it expected
    EOF = "end of input"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    raw: str  # as written in the input
    column: int  # 1-based, in characters
    text: str = ""  # the decoded string of a QUOTED or UNQUOTED token

    def describe(self) -> str:
        if self.kind is _Kind.EOF:
            return "end of input"
        shown = self.raw if self.kind is _Kind.QUOTED else _go_quote(self.raw)
        hint = "; quote with double quotes" if self.raw in ("'", "`") else ""
        return f"{shown} at column {self.column}{hint}"


class _Parser:
    """A small hand-written lexer and parser over one input string; errors carry its prefix."""

    def __init__(self, text: str, *, single: bool) -> None:
        self.text = text
        self.single = single
        self.prefix = f"invalid matcher{'' if single else 's'} {_go_quote(text)}"
        self.tokens = self._lex()

    def fail(self, message: str) -> NoReturn:
        raise MatcherError(f"{self.prefix}: {message}")

    def parse(self) -> list[Matcher]:
        matchers: list[Matcher] = []
        opening: _Token | None = None
        token = next(self.tokens)
        if token.kind is _Kind.OPEN:
            self._refuse_brace(token)
            opening, token = token, next(self.tokens)
        while True:
            if token.kind is _Kind.CLOSE:
                self._refuse_brace(token)
                if opening is None:
                    self.fail(f'unexpected "}}" at column {token.column} without an opening "{{"')
                token = next(self.tokens)
                if token.kind is not _Kind.EOF:
                    self.fail(f'expected end of input after "}}", found {token.describe()}')
                return matchers
            if token.kind is _Kind.EOF:
                if opening is not None:
                    self.fail(f'missing closing "}}" for the "{{" at column {opening.column}')
                if self.single and not matchers:
                    self.fail("expected a label name, found end of input")
                return matchers
            matcher, token = self._matcher(token)
            matchers.append(matcher)
            if token.kind is _Kind.COMMA:
                token = next(self.tokens)
            elif token.kind not in (_Kind.CLOSE, _Kind.EOF):
                if self.single:
                    expected = "end of input"
                else:
                    expected = '"," or "}"' if opening else '"," or end of input'
                self.fail(f"expected {expected} after {matcher}, found {token.describe()}")

    def _refuse_brace(self, token: _Token) -> None:
        if self.single:
            self.fail(f'unexpected "{token.raw}" at column {token.column}: braces enclose a list of matchers')

    def _matcher(self, token: _Token) -> tuple[Matcher, _Token]:
        """Parse name, operator and value starting at ``token``; return the matcher and the next token."""
        if token.kind is _Kind.QUOTED:
            if not token.text:
                self.fail(f"empty label name at column {token.column}")
        elif token.kind is _Kind.UNQUOTED:
            if not _CLASSIC_NAME.fullmatch(token.text):
                self.fail(
                    f"invalid label name {_go_quote(token.text)} at column {token.column}: unquoted names "
                    "are letters, digits and underscores, not starting with a digit; double-quote others"
                )
        else:
            self.fail(f"expected a label name, found {token.describe()}")
        name = token.text

        operator = next(self.tokens)
        if operator.kind is not _Kind.OPERATOR:
            self.fail(f"{_OPERATORS} after {_go_quote(name)}")
        match_type = MatchType(operator.raw)

        value = next(self.tokens)
        if value.kind not in (_Kind.QUOTED, _Kind.UNQUOTED):
            message = f"expected a value after {_go_quote(name + operator.raw)}, found {value.describe()}"
            if value.kind in (_Kind.EOF, _Kind.COMMA, _Kind.CLOSE):
                empty = Matcher(name, match_type, "")
                message += f"; write {empty} to match an empty or missing label"
            self.fail(message)
        try:
            matcher = Matcher(name, match_type, value.text)
        except MatcherError as exc:
            self.fail(f"{exc} (value at column {value.column})")
        return matcher, next(self.tokens)

    def _lex(self) -> Iterator[_Token]:
        text = self.text
        i = 0
        while i < len(text):
            char = text[i]
            column = i + 1
            if char.isspace():
                i += 1
            elif char in "{},":
                yield _Token(_Kind(char), char, column)
                i += 1
            elif text[i : i + 2] in ("!=", "=~", "!~"):
                yield _Token(_Kind.OPERATOR, text[i : i + 2], column)
                i += 2
            elif char == "=":
                yield _Token(_Kind.OPERATOR, "=", column)
                i += 1
            elif char == '"':
                end, decoded = self._quoted(i)
                yield _Token(_Kind.QUOTED, text[i:end], column, decoded)
                i = end
            elif _is_reserved(char):
                yield _Token(_Kind.INVALID, char, column)
                i += 1
            else:
                end = i
                while end < len(text) and not _is_reserved(text[end]):
                    end += 1
                yield _Token(_Kind.UNQUOTED, text[i:end], column, text[i:end])
                i = end
        while True:
            yield _Token(_Kind.EOF, "", len(text) + 1)

    def _quoted(self, start: int) -> tuple[int, str]:
        """Decode the Go string literal at ``start``; return the index after it and the decoded value."""
        text = self.text
        out = bytearray()  # \x and octal escapes give bytes, which together must be UTF-8
        i = start + 1
        while True:
            if i >= len(text):
                self.fail(f'missing closing " for the string starting at column {start + 1}')
            char = text[i]
            if char == '"':
                break
            if char == "\n":
                self.fail(f"line break in the string at column {i + 1}; write \\n instead")
            if char == "\\":
                i = self._escape(i, start, out)
            else:
                out += char.encode("utf-8", "surrogatepass")
                i += 1
        try:
            return i + 1, out.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"the string starting at column {start + 1} is not valid UTF-8")

    def _escape(self, i: int, start: int, out: bytearray) -> int:
        """Decode the escape at ``text[i] == "\\"`` into ``out``; return the index after it."""
        text = self.text
        if i + 1 >= len(text):
            self.fail(f'missing closing " for the string starting at column {start + 1}')
        kind = text[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[kind].encode()
            return i + 2
        if kind in _HEX_ESCAPE_DIGITS:
            width = _HEX_ESCAPE_DIGITS[kind]
            digits = _prefix_of(text[i + 2 : i + 2 + width], _HEX)
            shown = f"\\{kind}{digits}"
            if len(digits) < width:
                self.fail(f"invalid escape {shown} at column {i + 1}: \\{kind} takes {width} hex digits")
            code = int(digits, 16)
            if kind == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                self.fail(f"invalid escape {shown} at column {i + 1}: not a Unicode code point")
            else:
                out += chr(code).encode()
            return i + 2 + width
        if kind in _OCTAL:
            digits = _prefix_of(text[i + 1 : i + 4], _OCTAL)
            if len(digits) < 3 or int(digits, 8) > 0xFF:
                self.fail(f"invalid escape \\{digits} at column {i + 1}: octal escapes are \\000 to \\377")
            out.append(int(digits, 8))
            return i + 4
        self.fail(f"invalid escape \\{kind} at column {i + 1}; write \\\\{kind} for a literal backslash")

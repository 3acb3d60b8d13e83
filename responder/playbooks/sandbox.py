"""The Jinja2 sandbox step templates run in, with caps on the size of what they compute.

Jinja2's sandbox keeps templates away from Python internals, but not from exhausting the
worker: ``{{ 'a' * 10**9 }}`` allocates a gigabyte, and ``{{ 10**(10**7) }}`` is one C call
that runs for seconds, past the step's timeout (RQ's alarm cannot interrupt it). So every
operation whose result can outgrow its operands is checked *before* it runs:

- the operators ``*``, ``**``, ``+`` and ``%`` (the sandbox's operator hooks) and ``~``
  (through the code generator: Jinja2 has no hook for it);
- the string methods that pad, repeat or join (``center``, ``ljust``, ``rjust``, ``zfill``,
  ``expandtabs``, ``replace``, ``translate``, ``join``, ``format``, ``format_map``);
- the filters that do the same (``center``, ``indent``, ``format``, ``join``, ``replace``,
  ``wordwrap``, ``truncate``, ``sum``), and ``lipsum``.

A computed string or list holds at most :data:`MAX_LENGTH` characters or items, an integer
at most :data:`MAX_INT_BITS` bits; ``range`` is capped by Jinja2 itself (100,000 items).
Rendered output has its own cap (:mod:`responder.playbooks.templating`). Over a cap,
:class:`CapExceeded` says which.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from string import Formatter
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_environment, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_LENGTH = 100_000
"""Characters of a string, or items of a list, that a template may compute."""
MAX_INT_BITS = 4096
"""Bits of an integer a template may compute (about 1,200 decimal digits)."""

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class CapExceeded(SecurityError):
    """Raised when a template would compute a value over a size cap; the message names the cap."""


def length_cap(size: int, what: str) -> None:
    if size > MAX_LENGTH:
        raise CapExceeded(
            f"{what} would be {size} long, "
            f"over the cap of {MAX_LENGTH} characters or items (sandbox.MAX_LENGTH)"
        )


def _bits_cap(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise CapExceeded(
            f"{what} would have about {bits} bits, over the cap of {MAX_INT_BITS} bits (sandbox.MAX_INT_BITS)"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _text_length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int):
        return int(value.bit_length()) // 3 + 2  # decimal digits, without converting a huge number
    return len(str(value))


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Raises :class:`CapExceeded` when ``left operator right`` would be over a cap."""
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        _bits_cap(abs(left).bit_length() * right, "a power")
    elif operator == "*":
        if _is_int(left) and _is_int(right):
            _bits_cap(abs(left).bit_length() + abs(right).bit_length(), "a product")
        elif _is_sequence(left) and _is_int(right):
            length_cap(len(left) * max(right, 0), "a repeated string or list")
        elif _is_int(left) and _is_sequence(right):
            length_cap(len(right) * max(left, 0), "a repeated string or list")
    elif operator == "+" and _is_sequence(left) and _is_sequence(right):
        length_cap(len(left) + len(right), "a concatenation")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


def _check_printf(template: str, args: Any) -> None:
    """``template % args``: every conversion may be as wide as its width or the longest value."""
    values = (
        list(args.values())
        if isinstance(args, Mapping)
        else list(args)
        if isinstance(args, tuple)
        else [args]
    )
    specs = _PRINTF_SPEC.findall(template)
    widths = [int(n) for spec in specs for n in spec if n.isdigit()]
    if any("*" in spec for spec in specs):
        widths += [abs(v) for v in values if _is_int(v)]
    longest = max((_text_length(v) for v in values), default=0)
    length_cap(len(template) + len(specs) * (max(widths, default=0) + longest), "a %-formatted string")


def _check_format(template: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """``template.format(...)``: every field may be as wide as its width or the longest value."""
    try:
        fields = [spec or "" for _, name, spec, _ in Formatter().parse(template) if name is not None]
    except ValueError:
        return  # str.format raises the same error itself, before producing anything
    widths = [int(n) for spec in fields for n in re.findall(r"\d+", spec)]
    longest = max((_text_length(v) for v in [*args, *kwargs.values()]), default=0)
    length_cap(len(template) + len(fields) * (max(widths, default=0) + longest), "a formatted string")


def _check_replace(text: str, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(old, str) and isinstance(new, str)) or len(new) <= len(old):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    length_cap(len(text) + hits * (len(new) - len(old)), "a replacement")


def _check_join(separator: Any, items: Sequence[Any]) -> None:
    length_cap(len(items), "a joined list")
    total = _text_length(separator) * max(len(items) - 1, 0)
    for item in items:
        total += _text_length(item)
        length_cap(total, "a joined string")


def _check_padding(name: str, text: str, args: Sequence[Any]) -> None:
    if not args or not _is_int(args[0]):
        return
    if name == "expandtabs":
        length_cap(len(text) + text.count("\t") * max(args[0], 0), "str.expandtabs")
    else:
        length_cap(args[0], f"str.{name}")


def _check_translate(text: str, table: Any) -> None:
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        length_cap(len(text) * longest, "str.translate")


# --- filters, each checked before Jinja2's own does the work ----------------------------------


def _filters(env: CappedSandbox) -> dict[str, Callable[..., Any]]:
    original = dict(env.filters)

    def center(value: Any, width: int = 80) -> Any:
        length_cap(width if _is_int(width) else 0, "filter center")
        return original["center"](value, width)

    def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> Any:
        pad = width if _is_int(width) else len(str(width))
        lines = str(s).count("\n") + 1
        length_cap(len(str(s)) + lines * max(int(pad), 0), "filter indent")
        return original["indent"](s, width, first, blank)

    def format_(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_printf(str(value), dict(kwargs) if kwargs else tuple(args))
        return original["format"](value, *args, **kwargs)

    @pass_eval_context
    def join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        pieces = (
            items if attribute is None else list(map(make_attrgetter(eval_ctx.environment, attribute), items))
        )
        _check_join(d, pieces)
        return original["join"](eval_ctx, items, d, attribute)

    @pass_eval_context
    def replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(str(s), old, new, count)
        return original["replace"](eval_ctx, s, old, new, count)

    @pass_environment
    def wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
                 wrapstring: str | None = None, break_on_hyphens: bool = True) -> Any:  # fmt: skip
        length_cap(len(str(s)) * (1 + len(wrapstring or "\n")), "filter wordwrap")
        return original["wordwrap"](environment, s, width, break_long_words, wrapstring, break_on_hyphens)

    @pass_environment
    def truncate(environment: Any, s: Any, length: int = 255, killwords: bool = False,
                 end: str = "...", leeway: int | None = None) -> Any:  # fmt: skip
        length_cap(length if _is_int(length) else 0, "filter truncate")
        return original["truncate"](environment, s, length, killwords, end, leeway)

    @pass_environment
    def sum_(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        items = list(iterable)
        if attribute is not None:
            items = list(map(make_attrgetter(environment, attribute), items))
        if _is_sequence(start) or any(_is_sequence(v) for v in items):
            length_cap(sum(len(v) for v in [start, *items] if _is_sequence(v)), "filter sum")
        return original["sum"](environment, items, start=start)

    return {
        "center": center,
        "indent": indent,
        "format": format_,
        "join": join,
        "replace": replace,
        "wordwrap": wordwrap,
        "truncate": truncate,
        "sum": sum_,
    }


class _CappedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # ``a ~ b`` compiles to a call of Jinja2's own str_join, out of reach of the sandbox's hooks.
        self.write("environment.capped_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class CappedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with every size-growing operation checked against the caps."""

    code_generator_class = _CappedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.filters.update(_filters(self))
        lipsum: Callable[..., Any] = self.globals["lipsum"]  # type: ignore[assignment]

        def capped_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
            length_cap(n * max * 10 if _is_int(n) and _is_int(max) else 0, "lipsum")
            return lipsum(n, html, min, max)

        self.globals["lipsum"] = capped_lipsum

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def capped_concat(self, values: Iterable[Any]) -> str:
        parts = [v if isinstance(v, str) else str(v) for v in values]
        length_cap(sum(map(len, parts)), "a ~ concatenation")
        return "".join(parts)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
                _check_padding(name, owner, args)
            elif name == "replace" and len(args) >= 2:
                _check_replace(owner, *args[:3])
            elif name == "translate" and args:
                _check_translate(owner, args[0])
            elif name == "join" and args:
                items = list(args[0])
                _check_join(owner, items)
                args = (items, *args[1:])
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                _check_format(template, (), args[0] if args and isinstance(args[0], Mapping) else {})
            else:
                _check_format(template, args, kwargs)
            return wrapped(*args, **kwargs)

        return checked

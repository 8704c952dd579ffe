"""Random strings that match a simple regex: literals, classes, groups with alternatives, quantifiers.

Enough for the id-like patterns specs declare (`^MX[0-9]{10}$`, `^[A-Z]{2}$`, `^[^@ ]+@[^@ ]+$`);
anything else (look-arounds, back-references, anchors inside) raises `GeneratorError`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import numpy as np

from orchestrator.generator.exceptions import GeneratorError

_DIGITS = string.digits
_WORD = string.ascii_letters + string.digits + "_"
# What a negated class or `.` draws from: plain characters that never need quoting in CSV, JSON or XML.
_SAFE = string.ascii_letters + string.digits + "._-"
_ESCAPED_CLASSES = {"d": _DIGITS, "w": _WORD, "s": " "}
_UNBOUNDED_EXTRA = 8
# A run of at least this many digits can carry a counter, which makes generated ids unique.
MIN_COUNTER_DIGITS = 4


@dataclass(frozen=True)
class _Chars:
    alphabet: str


@dataclass(frozen=True)
class _Group:
    alternatives: tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True)
class _Node:
    atom: _Chars | _Group
    least: int
    most: int


class _Parser:
    """Recursive descent over the supported regex subset."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.text = pattern.removeprefix("^")
        if self.text.endswith("$") and not self.text.endswith("\\$"):
            self.text = self.text[:-1]
        self.pos = 0

    def fail(self, what: str) -> GeneratorError:
        return GeneratorError(f"regex {self.pattern!r}: {what} is beyond what the generator can produce")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char

    def alternatives(self) -> tuple[tuple[_Node, ...], ...]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence())
        return tuple(branches)

    def sequence(self) -> tuple[_Node, ...]:
        nodes = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            least, most = self.quantifier()
            nodes.append(_Node(atom, least, most))
        return tuple(nodes)

    def atom(self) -> _Chars | _Group:
        char = self.take()
        if char == "(":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.peek() == "?":
                raise self.fail("a look-around or named group")
            group = _Group(self.alternatives())
            if self.take() != ")":
                raise self.fail("an unclosed group")
            return group
        if char == "[":
            return _Chars(self.char_class())
        if char == ".":
            return _Chars(_SAFE)
        if char == "\\":
            return _Chars(self.escape())
        if char in "^$*+?{":
            raise self.fail(f"{char!r} in this position")
        return _Chars(char)

    def escape(self) -> str:
        char = self.take()
        if char in _ESCAPED_CLASSES:
            return _ESCAPED_CLASSES[char]
        if char.isalnum() or char == "":
            raise self.fail(f"the escape \\{char}")
        return char

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.take()
        members: list[str] = []
        first = True
        while True:
            char = self.take()
            if char == "":
                raise self.fail("an unclosed character class")
            if char == "]" and not first:
                break
            first = False
            if char == "\\":
                members.append(self.escape())
            elif self.peek() == "-" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] != "]":
                self.take()
                end = self.take()
                members.append("".join(chr(code) for code in range(ord(char), ord(end) + 1)))
            else:
                members.append(char)
        chosen = set("".join(members))
        alphabet = "".join(char for char in _SAFE if char not in chosen) if negated else "".join(sorted(chosen))
        if not alphabet:
            raise self.fail("an empty character class")
        return alphabet

    def quantifier(self) -> tuple[int, int]:
        char = self.peek()
        if char == "?":
            self.take()
            return 0, 1
        if char == "*":
            self.take()
            return 0, _UNBOUNDED_EXTRA
        if char == "+":
            self.take()
            return 1, 1 + _UNBOUNDED_EXTRA
        if char != "{":
            return 1, 1
        end = self.text.find("}", self.pos)
        match = re.fullmatch(r"(\d+)(,(\d*))?", self.text[self.pos + 1 : end]) if end > 0 else None
        if match is None:
            raise self.fail("this quantifier")
        self.pos = end + 1
        least = int(match.group(1))
        if match.group(2) is None:
            return least, least
        return least, int(match.group(3)) if match.group(3) else least + _UNBOUNDED_EXTRA


def _fixed_width_text(codes: np.ndarray) -> np.ndarray:
    """Rows of a 2-D array of code points as one string each (code point 0 ends a row early)."""
    width = codes.shape[1]
    if width == 0:
        return np.full(codes.shape[0], "", dtype="<U1")
    joined: np.ndarray = np.ascontiguousarray(codes, dtype="<u4").view(f"<U{width}").ravel()
    return joined


def digits_text(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded decimal strings of the given width (higher digits dropped)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values.astype(np.int64)[:, None] // powers) % 10
    return _fixed_width_text(digits + ord("0"))


def _sample_chars(alphabet: str, counts: np.ndarray, most: int, rng: np.random.Generator) -> np.ndarray:
    codes = np.frombuffer(alphabet.encode("utf-32-le"), dtype="<u4")
    picked = codes[rng.integers(0, len(codes), size=(len(counts), most))]
    picked[np.arange(most)[None, :] >= counts[:, None]] = 0
    return _fixed_width_text(picked)


def _sample_nodes(
    nodes: tuple[_Node, ...],
    size: int,
    rng: np.random.Generator,
    counter: _Node | None,
    counter_text: np.ndarray | None,
) -> np.ndarray:
    text = np.full(size, "", dtype="<U1")
    for node in nodes:
        if node is counter and counter_text is not None:
            text = np.char.add(text, counter_text)
            continue
        counts = rng.integers(node.least, node.most + 1, size=size)
        if isinstance(node.atom, _Chars):
            part = _sample_chars(node.atom.alphabet, counts, node.most, rng)
        else:
            part = np.full(size, "", dtype="<U1")
            for repetition in range(node.most):
                branch = rng.integers(0, len(node.atom.alternatives), size=size)
                choices = [_sample_nodes(nodes_, size, rng, None, None) for nodes_ in node.atom.alternatives]
                picked = np.choose(branch, choices) if len(choices) > 1 else choices[0]
                part = np.char.add(part, np.where(counts > repetition, picked, ""))
        text = np.char.add(text, part)
    return text


@dataclass(frozen=True)
class Pattern:
    """A parsed regex that can produce matching strings."""

    regex: str
    nodes: tuple[_Node, ...]

    @property
    def counter_width(self) -> int:
        """Digits available for a counter (0 when the pattern has no fixed run of digits)."""
        counter = self._counter()
        return counter.least if counter else 0

    def _counter(self) -> _Node | None:
        runs = [
            node
            for node in self.nodes
            if isinstance(node.atom, _Chars)
            and node.atom.alphabet == _DIGITS
            and node.least == node.most >= MIN_COUNTER_DIGITS
        ]
        return max(runs, key=lambda node: node.least) if runs else None

    def sample(self, size: int, rng: np.random.Generator, counter: np.ndarray | None = None) -> np.ndarray:
        """`size` matching strings; a counter fills the longest fixed digit run, making the strings distinct."""
        node = self._counter() if counter is not None else None
        if counter is not None and node is None:
            raise GeneratorError(f"regex {self.regex!r}: no run of {MIN_COUNTER_DIGITS}+ digits to number ids with")
        counter_text = digits_text(counter, node.least) if counter is not None and node is not None else None
        text = _sample_nodes(self.nodes, size, rng, node, counter_text)
        if size and not re.fullmatch(self.regex, str(text[0])):
            raise GeneratorError(f"regex {self.regex!r}: generated {text[0]!r}, which does not match")
        return text


def parse_pattern(regex: str) -> Pattern:
    """Parse a column regex, or raise `GeneratorError` if it uses unsupported syntax."""
    parser = _Parser(regex)
    branches = parser.alternatives()
    if parser.pos != len(parser.text):
        raise parser.fail("an unbalanced ')'")
    nodes = branches[0] if len(branches) == 1 else (_Node(_Group(branches), 1, 1),)
    return Pattern(regex, nodes)

"""Which answer cells look alike: AST normalisation, then copydetect's winnowing, scored for all pairs at once.

Each answer is parsed and walked into a stream of tokens (node types, numbers, library names) in which
every name the student binds (variables, arguments, attributes set on ``self``, functions, classes)
becomes one placeholder, comments and docstrings and imports disappear, the layout is lost, and a class's
methods are put in a canonical order. Each token remembers its source line. Every run of K_TOKENS tokens
is hashed (deterministically, so a report is the same on every run) and copydetect's winnowing keeps the
fingerprints; fingerprints of the release's own code (the answer cell's stub) are dropped. One sparse matrix product counts the shared fingerprints of every pair,
so the class-wide comparison costs a few milliseconds; only the pairs above the threshold are expanded
into matching lines for the page.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
from dataclasses import dataclass, field

import numpy as np

K_TOKENS = 12        # noise threshold: shorter common runs are never counted (copydetect's k)
WINDOW = 4           # winnowing window: every common run of K_TOKENS + WINDOW - 1 tokens is found
THRESHOLD = 0.8      # pairs whose score reaches this are listed for a human to look at
MIN_FINGERPRINTS = 8 # answers with fewer fingerprints (a stub, one import) are too short to compare

METHOD = (f"answers parsed with Python's ast; names the student binds replaced by one placeholder, comments, "
          f"docstrings, imports and layout dropped, methods put in a canonical order; fingerprints of "
          f"{K_TOKENS}-token runs chosen by winnowing (copydetect, window {WINDOW}); the release's stub "
          f"excluded; score = shared fingerprints / fingerprints of the shorter answer")

@dataclass
class Normalised:
    """An answer as a token stream: one character per token (for copydetect) and each token's source line."""

    text: str
    lines: list[int]


@dataclass
class Pair:
    """Two answers to one cell whose score reached the threshold, with the lines that match on each side."""

    cell: str
    first: str
    second: str
    score: float
    shared: int
    first_lines: set[int] = field(default_factory=set)
    second_lines: set[int] = field(default_factory=set)


@dataclass
class Comparison:
    """The outcome for one answer cell: pairs above the threshold and the answers too short to compare."""

    cell: str
    compared: int
    pairs: list[Pair]
    too_short: list[str]
    unparsable: list[str]
    all_scores: list[float]   # every pair that shares at least one fingerprint


class _Vocabulary:
    """Maps token strings to single characters so copydetect's character k-grams become token k-grams."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    def __getitem__(self, token: str) -> str:
        code = self.codes.get(token)
        if code is None:
            code = self.codes[token] = chr(0x4E00 + len(self.codes))  # a block of 20,000 printable characters
        return code


def _bound_names(tree: ast.AST) -> tuple[set[str], dict[str, str]]:
    """Names the answer itself defines, and import aliases mapped to the module path they stand for."""
    bound: set[str] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            bound.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds a; `import a.b as c` binds c to a.b
                top = alias.name.split(".")[0]
                aliases[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
    bound -= set(aliases)
    bound -= {name for name in bound if name.startswith("__") and name.endswith("__")}
    return bound, aliases


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


class _Tokens(ast.NodeVisitor):
    """Walks a tree into (token, line) pairs with the normalisations described in the module docstring."""

    def __init__(self, bound: set[str], aliases: dict[str, str], given: set[str]) -> None:
        self.bound, self.aliases, self.given = bound, aliases, given
        self.given_types = {text.split("(", 1)[0] for text in given}
        self.out: list[tuple[str, int]] = []
        self.line = 1

    def name(self, identifier: str) -> str:
        if identifier in self.bound:
            return "$"
        return self.aliases.get(identifier, identifier)

    def emit(self, token: str) -> None:
        self.out.append((token, self.line))

    def body(self, statements: list[ast.stmt], sort: bool = False) -> None:
        kept = [s for s in statements if not _is_docstring(s) and not isinstance(s, (ast.Import, ast.ImportFrom))
                and not (type(s).__name__ in self.given_types and ast.dump(s) in self.given)]
        if not sort:
            for statement in kept:
                self.visit(statement)
            return
        # definitions in a canonical order, so reordering methods or functions changes nothing
        parts = []
        for statement in kept:
            walker = _Tokens(self.bound, self.aliases, self.given)
            walker.visit(statement)
            definition = isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            parts.append((not definition, " ".join(t for t, _ in walker.out) if definition else "", walker.out))
        for _, _, tokens in sorted(parts, key=lambda part: part[:2]):
            self.out.extend(tokens)

    def visit_Module(self, node: ast.Module) -> None:
        self.body(node.body, sort=True)  # no token of its own: it has no line to mark

    def generic_visit(self, node: ast.AST) -> None:
        self.line = getattr(node, "lineno", self.line)
        self.emit(type(node).__name__)
        for name, value in ast.iter_fields(node):
            if name in ("ctx", "type_comment", "kind"):
                continue
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.body(value, sort=isinstance(node, (ast.Module, ast.ClassDef)))
                self.line = getattr(node, "lineno", self.line)
            elif isinstance(value, list):
                for item in value:
                    self.visit_value(item)
            else:
                self.visit_value(value)
        self.emit(")")

    def visit_value(self, value: object) -> None:
        if isinstance(value, ast.AST):
            self.visit(value)
        elif isinstance(value, str):
            self.emit(self.name(value))
        elif value is not None:
            self.emit(repr(value) if isinstance(value, (int, float, bool)) else type(value).__name__)

    def visit_Constant(self, node: ast.Constant) -> None:
        self.line = getattr(node, "lineno", self.line)
        value = node.value
        self.emit("str" if isinstance(value, (str, bytes)) else repr(value))

    def visit_Name(self, node: ast.Name) -> None:
        self.line = node.lineno
        self.emit(self.name(node.id))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        if dotted and dotted.split(".")[0] in self.aliases:  # nn.Conv2d and torch.nn.Conv2d read the same
            self.line = node.lineno
            head, _, rest = dotted.partition(".")
            self.emit(f"{self.aliases[head]}.{rest}")
            return
        self.generic_visit(node)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _fallback_tokens(source: str) -> list[tuple[str, int]]:
    """Tokens of code that does not parse: Python's tokenizer, every name a placeholder, comments dropped."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME:
                out.append(("$" if tok.string not in _KEYWORDS else tok.string, tok.start[0]))
            elif tok.type in (tokenize.OP, tokenize.NUMBER):
                out.append((tok.string, tok.start[0]))
            elif tok.type == tokenize.STRING:
                out.append(("str", tok.start[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


_KEYWORDS = frozenset(keyword.kwlist)


def given_statements(stub: str) -> set[str]:
    """The statements of the release's answer cell (its stub), which a student's answer may keep unchanged."""
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return set()
    return {ast.dump(node) for node in ast.walk(tree) if isinstance(node, ast.stmt)}


def normalise(source: str, vocabulary: _Vocabulary, given: set[str] = frozenset()) -> tuple[Normalised, bool]:
    """The answer's token stream and whether it parsed (unparsable code is tokenised more crudely)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tokens, parsed = _fallback_tokens(source), False
    else:
        walker = _Tokens(*_bound_names(tree), set(given))
        walker.visit(tree)
        tokens, parsed = walker.out, True
    return Normalised("".join(vocabulary[t] for t, _ in tokens), [line for _, line in tokens]), parsed


def _kgram_hashes(text: str) -> np.ndarray:
    """A hash of every run of K_TOKENS tokens, the same in every process (Python's own str hash is salted)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, K_TOKENS)
    powers = np.array([pow(1_000_003, K_TOKENS - 1 - j, 2**64) for j in range(K_TOKENS)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (windows * powers).sum(axis=1, dtype=np.uint64).view(np.int64)


def _fingerprints(doc: Normalised, boilerplate: np.ndarray) -> tuple[set[int], dict[int, list[int]]]:
    """copydetect's winnowing over the token k-gram hashes, minus the boilerplate: fingerprint -> positions."""
    from copydetect.utils import winnow  # imported here: `autograde` never needs it

    if len(doc.text) < K_TOKENS:
        return set(), {}
    hashes, positions = winnow(_kgram_hashes(doc.text), WINDOW, remove_duplicates=False)
    found: dict[int, list[int]] = {}
    skip = set(boilerplate.tolist())
    for value, position in zip(hashes.tolist(), positions.tolist()):
        if value not in skip:
            found.setdefault(value, []).append(position)
    return set(found), found


def _matched_lines(doc: Normalised, positions: dict[int, list[int]], shared: set[int]) -> set[int]:
    from copydetect.utils import get_copied_slices

    starts = np.array([p for h in shared for p in positions.get(h, [])], dtype=int)
    slices = get_copied_slices(starts, K_TOKENS)
    lines: set[int] = set()
    for start, end in zip(slices[0], slices[1]):
        lines.update(doc.lines[int(start):int(min(end, len(doc.lines)))])
    return lines


def compare(cell: str, answers: dict[str, str], stub: str = "", threshold: float = THRESHOLD) -> Comparison:
    """Score every pair of `answers` (student -> source) to one cell; keep the pairs at or above `threshold`."""
    vocabulary = _Vocabulary()
    given = given_statements(stub)
    stub_doc, _ = normalise(stub, vocabulary) if stub.strip() else (Normalised("", []), True)
    boilerplate = np.array(sorted(_fingerprints(stub_doc, np.array([]))[0]), dtype=np.int64)
    students, prints, positions, docs = [], [], {}, {}
    too_short, unparsable = [], []
    for student in sorted(answers):
        doc, parsed = normalise(answers[student], vocabulary, given)
        if not parsed:
            unparsable.append(student)
        hashes, where = _fingerprints(doc, boilerplate)
        if len(hashes) < MIN_FINGERPRINTS:
            too_short.append(student)
            continue
        students.append(student)
        prints.append(hashes)
        positions[student], docs[student] = where, doc
    pairs: list[Pair] = []
    top: list[float] = []
    if len(students) >= 2:
        rows, cols, scores = _pair_scores(prints)
        top = scores.tolist()
        above = np.flatnonzero(scores >= threshold - 1e-9)
        for i, j, score in zip(rows[above].tolist(), cols[above].tolist(), scores[above].tolist()):
            a, b = students[i], students[j]
            shared = prints[i] & prints[j]
            pairs.append(Pair(cell, a, b, score, len(shared), _matched_lines(docs[a], positions[a], shared),
                              _matched_lines(docs[b], positions[b], shared)))
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    return Comparison(cell, len(students), pairs, too_short, unparsable, top)


def _pair_scores(prints: list[set[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, score) of every pair sharing a fingerprint, first < second; score = shared / smaller."""
    from scipy import sparse

    index: dict[int, int] = {}
    rows, cols = [], []
    for row, hashes in enumerate(prints):
        for h in hashes:
            rows.append(row)
            cols.append(index.setdefault(h, len(index)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(prints), len(index)))
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    sizes = np.array([len(p) for p in prints], dtype=np.float32)
    smaller = np.minimum(sizes[shared.row], sizes[shared.col])
    return shared.row, shared.col, (shared.data / smaller).astype(float)

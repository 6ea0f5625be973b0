"""A small interpreter for the dialplan we generate, to trace calls against a fake AstDB and device states.

It understands just what `extensions_clusterpbx.conf` uses: contexts, exact and `_` pattern
extensions, priorities and labels, Goto/GotoIf/Gosub/Return/ExecIf/Set, `${DB()}`, `${CUT()}`,
`${CHANNEL()}`, `${DEVICE_STATE()}`, `${LEN()}`, `${VAR:offset:length}` and `$[...]` expressions.
Every other application is recorded with its expanded arguments and, where it ends the call, stops.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_LINE = re.compile(r"^\s*(exten|same)\s*=>\s*(.*)$")


@dataclass
class Step:
    exten: str
    label: str | None
    app: str
    data: str


@dataclass
class Dialplan:
    # context -> exten -> list of steps (priority = index + 1)
    contexts: dict[str, dict[str, list[Step]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Dialplan:
        dp = cls()
        current: dict[str, list[Step]] | None = None
        last_exten = None
        for raw in text.splitlines():
            line = _strip_comment(raw)
            if not line.strip():
                continue
            if line.startswith("["):
                name = line[1 : line.index("]")]
                current = dp.contexts.setdefault(name, {})
                continue
            m = _LINE.match(line)
            if not m or current is None:
                raise ValueError(f"cannot parse dialplan line {raw!r}")
            kind, rest = m.groups()
            if kind == "exten":
                exten, prio, app = rest.split(",", 2)
                if prio == "hint":
                    continue
                last_exten = exten
                if prio != "1":
                    raise ValueError(f"only priority 1 is numbered in generated dialplan: {raw!r}")
                label = None
            else:
                prio, app = rest.split(",", 1)
                assert last_exten is not None
                exten = last_exten
                lm = re.fullmatch(r"n(?:\((\w+)\))?", prio)
                if not lm:
                    raise ValueError(f"bad priority in {raw!r}")
                label = lm.group(1)
            name, _, data = app.partition("(")
            if not data.endswith(")"):
                raise ValueError(f"bad application call in {raw!r}")
            current.setdefault(exten, []).append(Step(exten, label, name, data[:-1]))
        return dp

    def match(self, context: str, exten: str) -> str | None:
        exts = self.contexts[context]
        if exten in exts:
            return exten
        candidates = [p for p in exts if p.startswith("_") and _pattern_match(p[1:], exten)]
        if not candidates:
            return None
        # Asterisk prefers the more specific pattern; our patterns differ by literal prefix length.
        return max(candidates, key=lambda p: len(re.match(r"[^XZN.!\[]*", p[1:]).group(0)))  # type: ignore[union-attr]


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).rstrip()


def _pattern_match(pattern: str, exten: str) -> bool:
    rx = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "X":
            rx += "[0-9]"
        elif ch == "Z":
            rx += "[1-9]"
        elif ch == "N":
            rx += "[2-9]"
        elif ch == ".":
            rx += ".+"
        elif ch == "!":
            rx += ".*"
        elif ch == "[":
            j = pattern.index("]", i)
            rx += "[" + pattern[i + 1 : j] + "]"
            i = j
        else:
            rx += re.escape(ch)
        i += 1
    return re.fullmatch(rx, exten) is not None


def split_args(data: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses, braces and brackets."""
    out, depth, cur = [], 0, []
    for ch in data:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


# ----------------------------------------------------------------------------- expressions

_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|!=|<=|>=|=~|[|&=<>+\-*/%()!]|[^\s|&=<>+\-*/%()!"]+)')


def evaluate(expr: str) -> str:
    tokens = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"bad expression {expr!r}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    parser = _ExprParser(tokens)
    value = parser.parse_or()
    if parser.pos != len(tokens):
        raise ValueError(f"trailing tokens in {expr!r}")
    return value


def _num(v: str) -> int | None:
    try:
        return int(v)
    except ValueError:
        return None


def _truth(v: str) -> bool:
    return v not in ("", "0")


class _ExprParser:
    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse_or(self) -> str:
        left = self.parse_and()
        while self.peek() == "|":
            self.take()
            right = self.parse_and()
            left = left if _truth(left) else (right if _truth(right) else "0")
        return left

    def parse_and(self) -> str:
        left = self.parse_cmp()
        while self.peek() == "&":
            self.take()
            right = self.parse_cmp()
            left = left if _truth(left) and _truth(right) else "0"
        return left

    def parse_cmp(self) -> str:
        left = self.parse_add()
        while self.peek() in ("=", "!=", "<", ">", "<=", ">="):
            op = self.take()
            right = self.parse_add()
            a, b = _num(left), _num(right)
            x: int | str
            y: int | str
            x, y = (a, b) if a is not None and b is not None else (left, right)
            result = {
                "=": x == y,
                "!=": x != y,
                "<": x < y,  # type: ignore[operator]
                ">": x > y,  # type: ignore[operator]
                "<=": x <= y,  # type: ignore[operator]
                ">=": x >= y,  # type: ignore[operator]
            }[op]
            left = "1" if result else "0"
        return left

    def parse_add(self) -> str:
        left = self.parse_unary()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.parse_unary()
            a, b = int(left or 0), int(right or 0)
            left = str(a + b if op == "+" else a - b)
        return left

    def parse_unary(self) -> str:
        tok = self.peek()
        if tok == "!":
            self.take()
            return "0" if _truth(self.parse_unary()) else "1"
        if tok == "(":
            self.take()
            value = self.parse_or()
            assert self.take() == ")"
            return value
        if tok is None:
            return ""
        self.take()
        if tok.startswith('"'):
            return tok[1:-1]
        return tok


# ----------------------------------------------------------------------------- channel and tracer


class Hangup(Exception):
    pass


@dataclass
class Event:
    app: str
    data: str
    context: str
    exten: str


@dataclass
class Channel:
    channeltype: str = "PJSIP"
    endpoint: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    inherit: set[str] = field(default_factory=set)  # names set as __NAME
    name: str = "PJSIP/test-00000001"


DialHandler = Callable[["Tracer", str], str]


@dataclass
class Tracer:
    dialplan: Dialplan
    astdb: dict[str, str] = field(default_factory=dict)
    device_states: dict[str, str] = field(default_factory=dict)
    # Called for every Dial with the expanded Dial data; returns DIALSTATUS.
    on_dial: DialHandler = lambda tracer, data: "NOANSWER"
    dtmf: list[str] = field(default_factory=list)  # answers to successive Read()s
    follow_local: bool = False  # also trace the Local/ legs of every Dial
    events: list[Event] = field(default_factory=list)
    legs: list[Tracer] = field(default_factory=list)
    confbridge: dict[str, str] = field(default_factory=dict)
    conference_parties: dict[str, int] = field(default_factory=dict)  # room -> active and waiting users
    # SHARED() variables of all channels of the call: (channel name, variable) -> value
    shared: dict[tuple[str, str], str] = field(default_factory=dict)
    max_steps: int = 2000

    def __post_init__(self) -> None:
        self.channel = Channel()
        self._args: list[dict[str, str]] = [{}]
        self._stack: list[tuple[str, str, int]] = []
        self.context = ""
        self.exten = ""

    # ------------------------------------------------------------------ variables
    def get(self, name: str) -> str:
        if name.startswith("ARG") and name[3:].isdigit():
            return self._args[-1].get(name, "")
        if name == "EXTEN":
            return self.exten
        if name == "CONTEXT":
            return self.context
        if name == "CHANNEL":
            return self.channel.name
        if name == "EPOCH":
            return "1795799518"
        if name == "UNIQUEID":
            return "1795799518.1"
        return self.channel.variables.get(name, "")

    def set(self, name: str, value: str) -> None:
        if name.startswith("__"):
            self.channel.inherit.add(name[2:])
        name = name.lstrip("_")
        m = re.fullmatch(r"(\w+)\((.*)\)", name)
        if m:
            func, arg = m.groups()
            if func == "DB":
                self.astdb[arg] = value
            elif func == "CONFBRIDGE":
                kind, opt = arg.split(",", 1)
                self.confbridge[f"{kind},{opt}"] = value
            elif func == "DEVICE_STATE":
                self.device_states[arg] = value
            elif func == "CHANNEL":
                self.channel.variables[f"CHANNEL({arg})"] = value
            elif func == "SHARED":
                var, _, chan = arg.partition(",")
                self.shared[(chan or self.channel.name, var)] = value
            else:
                self.channel.variables[name] = value
            return
        self.channel.variables[name] = value

    def function(self, func: str, arg: str) -> str:
        if func == "DB":
            return self.astdb.get(arg, "")
        if func == "DB_EXISTS":
            return "1" if arg in self.astdb else "0"
        if func == "DB_DELETE":
            return self.astdb.pop(arg, "")
        if func == "CUT":
            var, delim, fieldno = split_args(arg)
            parts = self.get(var).split(delim or "-")
            idx = int(fieldno)
            return parts[idx - 1] if 0 < idx <= len(parts) else ""
        if func == "LEN":
            return str(len(arg))
        if func == "CHANNEL":
            if arg == "channeltype":
                return self.channel.channeltype
            if arg == "endpoint":
                return self.channel.endpoint if self.channel.channeltype == "PJSIP" else ""
            return self.channel.variables.get(f"CHANNEL({arg})", "")
        if func == "DEVICE_STATE":
            return self.device_states.get(arg, "UNKNOWN")
        if func == "SHARED":
            var, _, chan = arg.partition(",")
            return self.shared.get((chan or self.channel.name, var), "")
        if func == "STRFTIME":
            return "2026/11/27"
        if func == "PJSIP_PARSE_URI_FROM":
            var, part = split_args(arg)
            value = self.get(var)
            addr = re.search(r"<([^<>]*)>\s*$", value)  # name-addr: the URI is in the last <...>
            m = re.fullmatch(r"sips?:([^@;]+)@([^;>]+).*", addr.group(1) if addr else value)
            assert part in ("user", "host")
            return (m.group(1) if part == "user" else m.group(2)) if m else ""
        if func == "MESSAGE":
            return self.channel.variables.get(f"MESSAGE({arg})", "")
        if func == "CONFBRIDGE_INFO":
            kind, room = split_args(arg)
            assert kind == "parties"
            return str(self.conference_parties.get(room, 0))
        raise NotImplementedError(f"function {func}")

    def expand(self, text: str) -> str:
        out = []
        i = 0
        while i < len(text):
            if text.startswith("${", i) or text.startswith("$[", i):
                opener, closer = ("{", "}") if text[i + 1] == "{" else ("[", "]")
                depth, j = 0, i + 1
                while j < len(text):
                    if text[j] == opener:
                        depth += 1
                    elif text[j] == closer:
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                inner = self.expand(text[i + 2 : j])
                out.append(self._variable(inner) if opener == "{" else evaluate(inner))
                i = j + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _variable(self, inner: str) -> str:
        m = re.fullmatch(r"(\w+)\((.*)\)", inner, re.S)
        if m:
            return self.function(m.group(1), m.group(2))
        m = re.fullmatch(r"(\w+)(?::(-?\d+)(?::(\d+))?)?", inner)
        if not m:
            raise ValueError(f"bad variable reference ${{{inner}}}")
        value = self.get(m.group(1))
        if m.group(2) is not None:
            start = int(m.group(2))
            value = value[start:]
            if m.group(3) is not None:
                value = value[: int(m.group(3))]
        return value

    # ------------------------------------------------------------------ execution
    def call(
        self,
        context: str,
        exten: str,
        endpoint: str = "",
        channeltype: str = "PJSIP",
        variables: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> Tracer:
        self.channel = Channel(
            channeltype=channeltype,
            endpoint=endpoint,
            variables=dict(variables or {}),
            name=f"{channeltype}/{endpoint or exten}-00000001",
        )
        self._args = [{f"ARG{i}": v for i, v in enumerate(args, 1)}]
        if channeltype == "Local":
            self.channel.inherit = set(self.channel.variables)  # inherited __ variables keep inheriting
        self.run(context, exten, 1)
        return self

    def run(self, context: str, exten: str, priority: int) -> None:
        self.exten = exten
        self._goto(context, exten, priority)
        steps = 0
        try:
            while True:
                steps += 1
                if steps > self.max_steps:
                    raise RuntimeError("dialplan loop")
                key = self.dialplan.match(self.context, self.exten)
                if key is None:
                    raise RuntimeError(f"no extension {self.exten} in {self.context}")
                prog = self.dialplan.contexts[self.context][key]
                if self.priority > len(prog):
                    return  # fell off the end: Asterisk hangs up
                step = prog[self.priority - 1]
                self.priority += 1
                self.execute(step.app, step.data)
        except Hangup:
            return

    def _goto(self, context: str, exten: str, priority: int) -> None:
        self.context, self.exten, self.priority = context, exten, priority

    def _label(self, target: str) -> None:
        parts = [p.strip() for p in target.split(",")]
        context, exten = self.context, self.exten
        if len(parts) == 3:
            context, exten, label = parts
        elif len(parts) == 2:
            exten, label = parts
        else:
            label = parts[0]
        key = self.dialplan.match(context, exten)
        if key is None:
            raise RuntimeError(f"goto to missing {exten}@{context}")
        prog = self.dialplan.contexts[context][key]
        if label.isdigit():
            prio = int(label)
        else:
            found = [i for i, s in enumerate(prog, 1) if s.label == label]
            if not found:
                raise RuntimeError(f"no label {label!r} in {key}@{context}")
            prio = found[0]
        self._goto(context, exten, prio)

    def execute(self, app: str, raw: str) -> None:
        if app == "GotoIf":
            cond, _, targets = raw.partition("?")
            iftrue, _, iffalse = targets.partition(":")
            chosen = iftrue if _truth(self.expand(cond).strip()) else iffalse
            if chosen:
                self._label(chosen)
            return
        if app == "ExecIf":
            cond, _, body = raw.partition("?")
            body = split_args(body, ":")[0]
            if _truth(self.expand(cond).strip()):
                name, _, data = body.partition("(")
                self.execute(name, data[:-1])
            return
        if app == "Set":
            name, _, value = raw.partition("=")
            self.set(self.expand(name), self.expand(value))
            return
        if app == "Goto":
            self._label(self.expand(raw))
            return
        if app == "Gosub":
            target, _, args = raw.partition("(")
            args = args[:-1] if args else ""
            expanded = [self.expand(a) for a in split_args(args)] if args else []
            self._stack.append((self.context, self.exten, self.priority))
            self._args.append({f"ARG{i}": v for i, v in enumerate(expanded, 1)})
            parts = self.expand(target).split(",")
            ctx, ext, prio = (parts + ["", "", ""])[:3]
            self.exten = ext
            self._goto(ctx, ext, int(prio))
            return
        if app == "Return":
            self.channel.variables["GOSUB_RETVAL"] = self.expand(raw)
            if not self._stack:
                raise Hangup()
            self._args.pop()
            self._goto(*self._stack.pop())
            return
        data = self.expand(raw)
        self.events.append(Event(app, data, self.context, self.exten))
        if app == "Read":
            var = split_args(data)[0]
            self.channel.variables[var] = self.dtmf.pop(0) if self.dtmf else ""
        elif app == "Dial":
            self.channel.variables["DIALSTATUS"] = self.on_dial(self, data)
            if self.follow_local:
                for target in split_args(data)[0].split("&"):
                    m = re.fullmatch(r"Local/([^@]+)@([^/]+)(?:/n)?", target)
                    if m:
                        leg = Tracer(
                            self.dialplan,
                            astdb=self.astdb,
                            device_states=self.device_states,
                            on_dial=self.on_dial,
                            follow_local=True,
                            shared=self.shared,
                        )
                        inherited = {k: self.channel.variables[k] for k in self.channel.inherit}
                        leg.call(m.group(2), m.group(1), channeltype="Local", variables=inherited)
                        self.legs.append(leg)
        elif app in ("Hangup", "Busy", "Congestion"):
            raise Hangup()

    # ------------------------------------------------------------------ helpers for tests
    def apps(self) -> list[str]:
        return [e.app for e in self.events]

    def find(self, app: str) -> list[Event]:
        return [e for e in self.events if e.app == app]

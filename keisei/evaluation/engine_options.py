"""The options a USI engine declares (its ``option`` lines) and the checks of a value
against them: type (spin, check, combo, button, string, filename), min, max, var.

An engine ignores a ``setoption`` value it does not accept (Fairy-Stockfish keeps its
``Skill Level`` at 20 when told 99) or breaks on it, while a match would be labelled with
the setting asked for; so keisei refuses such a value before any game, naming the allowed
ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from keisei.evaluation.players import PlayerError


class EngineOptionError(PlayerError):
    """An engine option the engine does not have, or a value outside what it declares."""


# The words of an ``option`` line that start a field (USI: ``option name N type T
# default D min A max B var V ...``).
_OPTION_FIELDS = ("type", "default", "min", "max", "var")
# How many values of a combo an error message lists.
_LISTED_VALUES = 20


@dataclass(frozen=True)
class EngineOption:
    """One option as the engine declares it in its answer to ``usi``."""

    name: str
    type: str
    min: int | None = None
    max: int | None = None
    values: tuple[str, ...] = ()  # a combo's ``var`` values

    @classmethod
    def parse(cls, line: str) -> EngineOption | None:
        """``option name Skill Level type spin default 20 min -20 max 20`` -> an option;
        None for a line that is not an option or names none."""
        if not line.startswith("option name "):
            return None
        name, _, rest = line[len("option name ") :].partition(" type ")
        name = name.strip()
        if not name:
            return None
        fields: list[tuple[str, list[str]]] = [("type", [])]
        for word in rest.split():
            if word in _OPTION_FIELDS:
                fields.append((word, []))
            else:
                fields[-1][1].append(word)
        values = {key: " ".join(words) for key, words in fields if key != "var"}

        def number(key: str) -> int | None:
            try:
                return int(values.get(key, ""))
            except ValueError:
                return None

        return cls(
            name=name,
            type=values.get("type", "").lower(),
            min=number("min"),
            max=number("max"),
            values=tuple(" ".join(words) for key, words in fields if key == "var"),
        )

    def problem(self, value: str) -> str | None:
        """What is wrong with ``value`` for this option by its declaration, or None."""
        if self.type == "spin":
            try:
                number = int(value)
            except ValueError:
                number = None
            low = -(2**63) if self.min is None else self.min
            high = 2**63 - 1 if self.max is None else self.max
            if number is None or not low <= number <= high:
                if self.min is not None and self.max is not None:
                    allowed = f"an integer from {self.min} to {self.max}"
                elif self.min is not None:
                    allowed = f"an integer >= {self.min}"
                elif self.max is not None:
                    allowed = f"an integer <= {self.max}"
                else:
                    allowed = "an integer"
                return f"takes {allowed}, got {value!r}"
        elif self.type == "check":
            if value not in ("true", "false"):
                return f"takes true or false, got {value!r}"
        elif self.type == "combo":
            if self.values and value.lower() not in {v.lower() for v in self.values}:
                listed = ", ".join(self.values[:_LISTED_VALUES])
                more = len(self.values) - _LISTED_VALUES
                if more > 0:
                    listed += f" and {more} more"
                return f"takes one of {listed}; got {value!r}"
        elif self.type == "button" and value:
            return f"is a button and takes no value, got {value!r}"
        return None  # string, filename, or a type this keisei does not know

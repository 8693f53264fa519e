"""The `dlpk` argument parser: argparse with did-you-mean for unknown options and choices, ArcGIS
parameter names explained where dlpk has no equivalent, no silent abbreviations, and each
command's examples at the end of its --help."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dlpk.cli import arcgis_names
from dlpk.cli.examples import examples_text
from dlpk.validator.suggest import closest

_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class HelpFormatter(argparse.HelpFormatter):
    """`--raster, --in-raster IMAGE`: an option's spellings, then its value once."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        default = self._get_default_metavar_for_optional(action)
        return f"{', '.join(action.option_strings)} {self._format_args(action, default)}"


class DlpkParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors say what was probably meant. Abbreviations are off: with
    ArcGIS's names beside dlpk's, a prefix such as `--tile-siz` would be ambiguous, and a typo
    is better answered with the option it resembles than matched silently."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._given: list[str] = []

    @property
    def command(self) -> str:
        """The command this parser reads (`export-chips`, `images build`), "" at the top."""
        return self.prog.partition(" ")[2]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._given, namespace)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            leaf = self._chosen(parsed)
            leaf.error(leaf.unknown_message() or f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def error(self, message: str) -> NoReturn:
        """A missing required option is often a misspelt one: name the misspelling instead."""
        if message.startswith("the following arguments are required"):
            message = self.unknown_message() or message
        super().error(message)

    def format_help(self) -> str:
        return super().format_help() + examples_text(self.command)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        guess = closest(str(value), choices)
        hint = f"; did you mean {guess.value}?" if guess else ""
        raise argparse.ArgumentError(
            action, f"invalid choice: {value!r}{hint} (choose from {', '.join(choices)})"
        )

    def _chosen(self, parsed: argparse.Namespace) -> DlpkParser:
        """The (sub)command parser that read the command line's last command name."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if isinstance(chosen, DlpkParser):
                    return chosen._chosen(parsed)
        return self

    def _unknown_options(self) -> list[str]:
        unknown = []
        for word in self._given:
            if word == "--":
                break
            if not word.startswith("-") or word == "-" or _NUMBER.match(word) or " " in word:
                continue
            name = word.partition("=")[0]
            known = self._option_string_actions
            if name in known or (not word.startswith("--") and word[:2] in known):
                continue
            unknown.append(name)
        return unknown

    def unknown_message(self) -> str | None:
        """One line for the options this parser was given and does not know, or None."""
        parts = []
        for option in dict.fromkeys(self._unknown_options()):
            spelt = "--" + option.lstrip("-").replace("_", "-").lower()
            arcgis = arcgis_names.unmapped(self.command, spelt)
            if arcgis is not None:
                tool = arcgis_names.TOOLS.get(self.command, "ArcGIS")
                parts.append(
                    f"{option}: ArcGIS's {arcgis.arcgis} ({tool}) has no dlpk equivalent: "
                    f"{arcgis.note}"
                )
                continue
            options = [o for o in self._option_string_actions if o.startswith("--")]
            guess = closest(option, options)
            parts.append(
                f"unknown option {option}" + (f"; did you mean {guess.value}?" if guess else "")
            )
        return "; ".join(parts) or None

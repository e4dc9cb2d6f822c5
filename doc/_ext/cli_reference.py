"""A Sphinx directive that documents the command line from its argparse parser.

``.. cli-reference::`` renders, for every subcommand of
:func:`sklearn_isd.cli.build_parser`, its usage, description and options, at
build time: the page cannot drift from the parser, and needs no extension
beyond Sphinx.
"""

import argparse
import re

from sphinx.util.docutils import SphinxDirective

_TRAILING_UNDERSCORE = re.compile(r"(\w)_(?=\W|$)")


def _text(text):
    """Plain text as reST: markup characters escaped."""
    text = text.replace("\\", "\\\\")
    for char in "*`|":
        text = text.replace(char, "\\" + char)
    return _TRAILING_UNDERSCORE.sub(r"\1\\_", text)


def _paragraphs(text):
    """Paragraphs of a help text wrapped by hand (blank lines between them)."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text or "")]


def _option(action):
    """The term of an option: its spellings and metavar."""
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}"
        if action.choices
        else action.dest.upper()
    )
    return ", ".join(f"{spelling} {metavar}" for spelling in action.option_strings)


def _help(action):
    if action.help is None:
        return ""
    help_text = action.help
    if "%(" in help_text:
        help_text = help_text % {"default": action.default, "prog": "sklearn-isd"}
    return help_text


def command_lines(name, parser):
    """The reST of one subcommand."""
    title = f"sklearn-isd {name}"
    lines = [title, "-" * len(title), "", "::", ""]
    usage = parser.format_usage().strip().replace("usage: ", "", 1)
    lines += ["   " + line for line in usage.splitlines()] + [""]
    for paragraph in _paragraphs(parser.description):
        lines += [_text(paragraph), ""]
    actions = [
        a
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]
    if actions:
        lines += [".. rubric:: Arguments", ""]
    for action in actions:
        lines += [f"``{_option(action)}``"]
        lines += ["   " + _text(" ".join(_help(action).split())) or "   ", ""]
    return lines


class CLIReference(SphinxDirective):
    """``.. cli-reference::``: every subcommand of ``sklearn-isd``."""

    has_content = False

    def run(self):
        from sklearn_isd.cli import build_parser

        parser = build_parser()
        subparsers = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        )
        lines = []
        for name, subparser in subparsers.choices.items():
            lines += command_lines(name, subparser)
        lines += [".. rubric:: Exit codes", "", "::", ""]
        lines += ["   " + line for line in (parser.epilog or "").splitlines()]
        lines += [""]
        return self.parse_text_to_nodes("\n".join(lines), allow_section_headings=True)


def setup(app):
    app.add_directive("cli-reference", CLIReference)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

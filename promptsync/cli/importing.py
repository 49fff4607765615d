"""`promptsync import`: existing prompts into prompt files (promptsync/importing/ does the work)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.output import echo, echo_err

if TYPE_CHECKING:
    from promptsync.importing.model import ImportReport, Result

FORMAT_CHOICES = ("text", "markdown", "csv", "prompty", "dotprompt")


def _line(result: Result) -> str:
    """One result as the user reads it."""
    from promptsync.importing.model import Outcome  # start-up cost: the importer's modules

    where = display(result.path)
    if result.outcome == Outcome.SKIPPED:
        return f"skipped {result.origin}: {result.reason}"
    verb = {Outcome.IMPORTED: "imported", Outcome.WOULD_IMPORT: "would import",
            Outcome.ALREADY_THERE: "already there:"}[result.outcome]
    line = f"{verb} {result.origin} as {result.slug} ({where})"
    if result.renamed:
        line += f": renamed, {result.renamed}"
    return line


def _summary(report: ImportReport, dry_run: bool) -> str:
    from promptsync.importing.model import Outcome  # start-up cost

    done = report.with_outcome(Outcome.WOULD_IMPORT if dry_run else Outcome.IMPORTED)
    renamed = sum(1 for r in done if r.renamed)
    parts = [f"{'would import' if dry_run else 'imported'} {len(done)}"
             + (f" ({renamed} renamed)" if renamed else "")]
    if there := report.with_outcome(Outcome.ALREADY_THERE):
        parts.append(f"{len(there)} already there")
    parts.append(f"{len(report.with_outcome(Outcome.SKIPPED))} skipped")
    summary = ", ".join(parts)
    if report.transliterated:
        summary += "; non-ASCII names transliterated to ASCII (anyascii)"
    if report.hashed:
        summary += "; names with nothing to keep named prompt-<hash>"
    return summary


@click.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "format_", type=click.Choice(FORMAT_CHOICES),
              help="Read every source as this format [default: by extension: .txt/.md text, "
                   ".csv, .prompty, .prompt (Dotprompt)].")
@click.option("--prefix", default="", metavar="DIR/",
              help="Put the prompts under this folder of the prompts dir (a slug prefix).")
@click.option("--name-column", metavar="C",
              help="CSV: the column (header or 1-based number) naming each prompt "
                   "[default: name, title or act].")
@click.option("--text-column", metavar="C",
              help="CSV: the column holding each prompt's text [default: prompt, text, "
                   "template or content].")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@pass_obj
def import_(obj: Obj, sources: tuple[Path, ...], format_: str | None, prefix: str,
            name_column: str | None, text_column: str | None, dry_run: bool) -> None:
    """Turn existing prompts into prompt files; never overwrites a file.

    Text and Markdown files become text prompts kept exactly ("{{" escaped as "\\{{"), CSV rows
    one prompt each, Prompty and Dotprompt files prompts with their variables, roles and
    model settings. Names become valid slugs; a name taken gets -2, -3, ...; template logic
    is reported and its file skipped. Exit 1 when anything was skipped.
    """
    from promptsync.importing.model import Outcome  # start-up cost: PyYAML and the readers
    from promptsync.importing.run import ImportOptions, import_sources

    repo = obj.repo()
    options = ImportOptions(format_, prefix, name_column, text_column, dry_run)
    report = import_sources(list(sources), repo.dir, options, display=display)
    for result in report.results:
        # A dry run's list is data (stdout); what was done or refused are messages.
        echo(_line(result), err=result.outcome != Outcome.WOULD_IMPORT)
        for note in result.notes:
            echo_err(f"  note: {note}")
    echo_err(_summary(report, dry_run))
    if not report.ok:
        sys.exit(1)


COMMANDS = [import_]

"""`opsrun design`: the operations design (ops.yml) as a readable document, Markdown or HTML, en or ja."""

import logging
import sys
from pathlib import Path

from opsrun.design import Format, Language
from opsrun.design.load import load_design
from opsrun.design.render import render_design
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope

COMMAND = "design"

log = logging.getLogger(__name__)


def design(
    options: GlobalOptions,
    *,
    ops_file: Path,
    language: Language = "en",
    output_format: Format = "md",
) -> int:
    """Print the document of `ops_file`; raises DesignError (exit code 78) when the design is not valid."""
    loaded = load_design(ops_file)
    document = render_design(loaded.design, str(ops_file), language=language, output_format=output_format)
    log.info("design %s rendered as %s in %s", ops_file, output_format, language)
    if options.output is OutputFormat.JSON:
        result = {"file": str(ops_file), "lang": language, "format": output_format, "document": document}
        print_envelope(envelope(COMMAND, 0, result))
    else:
        sys.stdout.write(document)
        sys.stdout.flush()
    return 0

#!/usr/bin/env python3
"""Reference renderer for tests/test_jinja.cpp: renders a chat template with python3-jinja2 the
way HF transformers does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
a {% generation %} tag that renders its body, HF's tojson, raise_exception, strftime_now).

Usage: render_ref.py TEMPLATE CONTEXT_JSON NOW
  NOW: the fixed time strftime_now reads ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS").
  Writes the rendered bytes to stdout (exit 0), or one error line to stderr (exit 1).
or:    render_ref.py --batch MANIFEST_JSON
  MANIFEST_JSON: a list of {"template", "context", "now", "out"} paths; each render goes to
  "out", or its error line to "out" + ".err".
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: renders the body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body", []), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def render(template_path, context_path, now):
    """Returns (True, text) or (False, error line)."""
    with open(template_path, encoding="utf-8", newline="") as f:
        source = f.read()
    with open(context_path, encoding="utf-8") as f:
        context = json.load(f)
    fixed = datetime.fromisoformat(now)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    # HF's tojson: no HTML escaping, non-ASCII kept, keys in their order.
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return fixed.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    try:
        return True, env.from_string(source).render(**context)
    except Exception as e:  # every template failure: the C++ side must fail too
        return False, "ERROR: %s: %s" % (type(e).__name__, str(e).replace("\n", " "))


def main():
    if sys.argv[1] == "--batch":
        with open(sys.argv[2], encoding="utf-8") as f:
            jobs = json.load(f)
        for job in jobs:
            ok, text = render(job["template"], job["context"], job["now"])
            if ok:
                with open(job["out"], "wb") as f:
                    f.write(text.encode("utf-8", "surrogateescape"))
            else:
                with open(job["out"] + ".err", "w", encoding="utf-8") as f:
                    f.write(text + "\n")
        return 0
    ok, text = render(sys.argv[1], sys.argv[2], sys.argv[3])
    if not ok:
        sys.stderr.write(text + "\n")
        return 1
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
